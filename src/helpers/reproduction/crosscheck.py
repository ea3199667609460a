"""The built ledger against an independent R oracle (tests/r/ledger_oracle.R), for the tests and the build.

The R script reads only the cohort CSVs of studies 000, 003 and 004 and recomputes, with R's own
functions (survfit, survdiff, coxph, cmprsk::cuminc, wilcox.test, fisher.test, glm, base
counting), every ledger row the synthetic data decide: the published numbers whose basis is
``synthetic`` and the papers' claims (rows whose register_id is a claim id of
``data/published_claims.csv``). Its output (:data:`ORACLE_COLUMNS`: register_id, value, p_value,
method) is committed as :data:`ORACLE_FIXTURE`.

Which R output stands for "R's values" (:func:`oracle_for`)
-----------------------------------------------------------
The committed fixture, when the data are the ones it was computed from: the sha256 of the cohort
CSVs the script reads (:func:`data_fingerprint`: their paths relative to the data folder, sorted,
and their bytes) is recorded beside it in :data:`ORACLE_FINGERPRINT` (``<sha256>  <what>``, one
line, written by :func:`write_fixture`). Otherwise a live ``Rscript`` run when R is installed;
otherwise no oracle, with the reason.

The comparison (:func:`mismatches`)
-----------------------------------
Rows compared: every ledger row whose basis is ``synthetic`` or whose evidence class is
``emergent`` or ``constructed`` (the two coincide in a merged ledger). Each needs exactly one
oracle row and each oracle row one such ledger row, so a chapter that records a number or a claim
R does not know is a mismatch, and so is a stale fixture. A claim row whose oracle row says
``not covered: <reason>`` (:func:`uncovered`) is the one exception: it is listed, not compared.

Numbers. The ledger prints the book's value rounded (``reproduced``); R's value is unrounded.
They agree when R's value lies within half a unit of the last digit the ledger prints, i.e. when
R's value rounds to the printed text; a slack of 1e-9 x max(1, |value|) (:data:`TIE_SLACK`) lets
a value that sits exactly on a rounding tie pass whichever way it was rounded. Per shape of the
printed text:

* ``12.3``, ``12.3%``, ``31``, ``0.00631``  half a unit of the last printed decimal;
* ``2.26e-03``                              half a unit of the last printed mantissa digit;
* ``k/n (p%)``                              the counts k and n must equal R's (the R method
                                            ends with ``k/n = <k>/<n>``), and the percentage
                                            as above;
* a count in words ("One hundred and twenty-six")  equal to R's count.

Claims. The ledger prints the evidence as ``<measure> <estimate> (95% CI <lower>–<upper>), P =
<P>`` (:func:`helpers.reproduction.ledger.evidence_text`: the estimate to 3 significant digits, P
by :func:`helpers.stats.format.format_p`). They agree when R's estimate and R's P, printed the
same way (each also at 1 -/+ :data:`TIE_SLACK`), give the ledger's text, *and* the status R's
values imply under the claim's rule (:func:`helpers.reproduction.claims.decide`: P < 0.05 and
the estimate on the expected side of the null for ``significant``, the side alone for
``direction``, P >= 0.05 for ``no-difference``) is the ledger's status. The CI is not compared.

Not covered (R output ``not covered: ...``; the R script's header says the same)
--------------------------------------------------------------------------------
* ``000-claim-multi-ablkd-response`` and ``000-claim-multi-lbc-response``: both come from the
  multivariable logistic model of response in study 000, whose maximum-likelihood fit is
  separated, so the book reports Firth's penalised-likelihood fit (firthmodels; for the CML-LBC
  claim, the larger P of that fit and of the ML model of MRD-negative CR is the Firth fit's).
  R's ``logistf`` is not in Debian's archive, and the exact identity ``tests/r/logistic.R`` uses
  for Firth (a saturated model equals glm on the counts + 1/2) does not hold for four factors.

Every other claim with evidence (34 of the register's 40; the four not-testable claims have no
evidence) is recomputed: differences of proportions with fisher.test, the univariable logistic
models with glm (ML; the R script checks that no cell is zero, i.e. that ML is what the book
uses), log-rank P with Cox hazard ratios, Cox Wald terms, Gray's test, and Wilcoxon rank-sum
tests with Hodges-Lehmann ratios.

Regenerate the committed fixture after changing the data or the R script::

    .venv/bin/python tests/test_ledger_oracle.py --regenerate
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable, Optional

import pandas as pd

from helpers.paths import ORACLE_FINGERPRINT, ORACLE_FIXTURE, ORACLE_SCRIPT, REPO_ROOT, SYNTHETIC_DIR
from helpers.reproduction.claims import decide, load_claims
from helpers.stats.format import format_p

ORACLE_COLUMNS = ("register_id", "value", "p_value", "method")
# What the R script reads (a file that is absent is skipped there, and counts as absent here).
ORACLE_STUDIES = ("000", "003", "004")
ORACLE_TABLES = ("patients", "outcomes", "responses", "treatments", "adverse_events", "labs", "kinetics")
NOT_COVERED = "not covered: "
TIE_SLACK = 1e-9        # relative slack at a rounding tie
R_TIMEOUT = 300.0       # seconds for one run of the R script (about 4 s on the synthetic data)
# The ledger rows R must recompute: decided by the synthetic data.
SYNTHETIC_EVIDENCE = ("emergent", "constructed")
MISMATCH_COLUMNS = ("register_id", "ledger_value", "r_value", "r_p_value", "why")


class OracleError(RuntimeError):
    """Rscript is missing or the R oracle failed."""


# --------------------------------------------------------------------------- #
# the data the oracle reads, and the committed fixture
# --------------------------------------------------------------------------- #
def oracle_inputs(data_dir: str | Path) -> list[Path]:
    """The cohort CSVs under ``data_dir`` that the R script reads, sorted by relative path."""
    data_dir = Path(data_dir)
    found = [data_dir / study / f"{table}.csv" for study in ORACLE_STUDIES for table in ORACLE_TABLES]
    return sorted((p for p in found if p.is_file()), key=lambda p: p.relative_to(data_dir).as_posix())


def data_fingerprint(data_dir: str | Path) -> str:
    """sha256 over the cohort CSVs the R script reads: each file's path relative to ``data_dir``
    and its length, then its bytes, in sorted path order (so renaming or moving data between
    files changes it too)."""
    data_dir = Path(data_dir)
    digest = hashlib.sha256()
    for path in oracle_inputs(data_dir):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(data_dir).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def recorded_fingerprint(path: str | Path = ORACLE_FINGERPRINT) -> Optional[str]:
    """The data fingerprint recorded beside the committed fixture (None when there is none)."""
    path = Path(path)
    if not path.is_file():
        return None
    fields = path.read_text(encoding="utf-8").split()
    return fields[0] if fields else None


def read_oracle(path: str | Path) -> pd.DataFrame:
    """R's output as written: ``value`` and ``p_value`` as exact doubles (NaN where R wrote NA or
    nothing), ``register_id`` and ``method`` as text."""
    frame = pd.read_csv(path, dtype={"register_id": str, "method": str}, keep_default_na=False,
                        na_values={"value": ["NA", "NaN", ""], "p_value": ["NA", "NaN", ""]},
                        float_precision="round_trip")
    if frame.columns.tolist() != list(ORACLE_COLUMNS):
        raise OracleError(f"{path}: columns {frame.columns.tolist()}, expected {list(ORACLE_COLUMNS)} "
                          "(a fixture from an older R script? regenerate it)")
    return frame


def find_rscript() -> Optional[str]:
    """The Rscript to run: ``HELPERS_RSCRIPT`` when set (as the R-oracle tests allow), else the one
    on PATH; None when there is none."""
    return shutil.which(os.environ.get("HELPERS_RSCRIPT") or "Rscript")


def run_oracle(data_dir: str | Path, out_csv: str | Path, timeout: float = R_TIMEOUT) -> pd.DataFrame:
    """Run ``Rscript --vanilla`` :data:`ORACLE_SCRIPT` on ``data_dir``, writing ``out_csv``; R's output."""
    executable = find_rscript()
    if executable is None:
        raise OracleError("Rscript not found: install R (make r-oracle) or set HELPERS_RSCRIPT")
    try:
        proc = subprocess.run([executable, "--vanilla", str(ORACLE_SCRIPT), str(data_dir), str(out_csv)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise OracleError(f"{ORACLE_SCRIPT.name} did not finish within {timeout:g} s") from exc
    if proc.returncode != 0:
        raise OracleError(f"{ORACLE_SCRIPT.name} failed (exit {proc.returncode}) on {data_dir}:\n"
                          f"{proc.stderr.strip()}\n{proc.stdout.strip()}")
    return read_oracle(out_csv)


def write_fixture(data_dir: str | Path = SYNTHETIC_DIR, fixture: str | Path = ORACLE_FIXTURE) -> pd.DataFrame:
    """Run R on ``data_dir`` into ``fixture`` and record the data fingerprint beside it (``.sha256``)."""
    data_dir, fixture = Path(data_dir), Path(fixture)
    fixture.parent.mkdir(parents=True, exist_ok=True)
    oracle = run_oracle(data_dir, fixture)
    try:
        what = data_dir.resolve().relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        what = data_dir.name
    stems = ",".join(ORACLE_STUDIES)
    fixture.with_suffix(".sha256").write_text(
        f"{data_fingerprint(data_dir)}  {what}/{{{stems}}}/*.csv read by {ORACLE_SCRIPT.name}\n", encoding="utf-8")
    return oracle


def oracle_for(data_dir: str | Path = SYNTHETIC_DIR) -> tuple[Optional[pd.DataFrame], str]:
    """R's values for the cohorts in ``data_dir`` and where they come from: the committed fixture
    when its recorded fingerprint is the data's; else a live Rscript run; else ``(None, reason)``.
    A live run that fails raises :class:`OracleError` (a broken oracle is not a missing one)."""
    fingerprint = data_fingerprint(data_dir)
    recorded = recorded_fingerprint()
    if ORACLE_FIXTURE.is_file() and recorded == fingerprint:
        return read_oracle(ORACLE_FIXTURE), f"committed {ORACLE_FIXTURE.name} (data sha256 {fingerprint[:12]})"
    why = ("no committed fixture" if not ORACLE_FIXTURE.is_file() else
           "the committed fixture records no data fingerprint" if recorded is None else
           f"the committed fixture is for other data (sha256 {recorded[:12]}, these {fingerprint[:12]})")
    if find_rscript() is None:
        return None, f"{why}, and Rscript is not installed (make r-oracle installs it)"
    with tempfile.TemporaryDirectory(prefix="ledger-oracle-") as tmp:
        return run_oracle(data_dir, Path(tmp) / "ledger_oracle.csv"), f"live Rscript run ({why})"


def uncovered(oracle: pd.DataFrame) -> dict[str, str]:
    """The rows R declares it does not recompute: register_id -> reason."""
    marked = oracle[oracle["method"].str.startswith(NOT_COVERED)]
    return {rid: method[len(NOT_COVERED):] for rid, method in zip(marked["register_id"], marked["method"])}


# --------------------------------------------------------------------------- #
# numbers
# --------------------------------------------------------------------------- #
_FRACTION = re.compile(r"^(\d+)/(\d+) \((-?\d+(?:\.\d+)?)%\)$")
_NUMBER = re.compile(r"^(-?\d+(?:\.\d+)?)%?$")
_SCIENTIFIC = re.compile(r"^(-?\d+(?:\.\d+)?)[eE]([-+]?\d+)$")
COUNTS = re.compile(r"k/n = (\d+)/(\d+)\s*$")
NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
NUMBER_WORDS.update({w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split())
                     if w != "_"})


def words_to_int(text: str) -> Optional[int]:
    """"One hundred and twenty-six" -> 126 (0-999, as the book prints counts in words); None if not words."""
    tokens = [t for t in re.split(r"[\s-]+", text.strip().lower()) if t and t != "and"]
    if not tokens:
        return None
    total = 0
    for token in tokens:
        if token == "hundred":
            total = (total or 1) * 100
        elif token in NUMBER_WORDS:
            total += NUMBER_WORDS[token]
        else:
            return None
    return total


def decimals(digits: str) -> int:
    """Digits after the decimal point in a printed number ("12.30" -> 2)."""
    return len(digits.split(".", 1)[1]) if "." in digits else 0


def _within_print(value: float, printed: str) -> bool:
    """True when ``value`` rounds to the plain or scientific number ``printed``."""
    m = _SCIENTIFIC.match(printed)
    if m:
        mantissa, exponent = m.group(1), int(m.group(2))
        half = 0.5 * 10.0 ** (exponent - decimals(mantissa))
        target = float(printed)
    else:
        number = _NUMBER.match(printed)
        if not number:
            return False
        half = 0.5 * 10.0 ** -decimals(number.group(1))
        target = float(number.group(1))
    return abs(value - target) <= half + TIE_SLACK * max(1.0, abs(value))


def check_row(reproduced: str, value: float, method: str) -> str:
    """Why R's ``value`` disagrees with the ledger's printed ``reproduced`` text ('' if it agrees)."""
    text = " ".join(str(reproduced).split())
    if not text:
        return "the ledger has no reproduced value (not reproducible) but R computes one"
    if value is None or not math.isfinite(value):
        return f"R gives no finite value ({value}) for a printed {text!r}"
    fraction = _FRACTION.match(text)
    if fraction:
        k, n, pct = int(fraction.group(1)), int(fraction.group(2)), fraction.group(3)
        counts = COUNTS.search(str(method))
        if not counts:
            return f"printed as k/n ({text!r}) but the R row carries no 'k/n = ' counts"
        rk, rn = int(counts.group(1)), int(counts.group(2))
        if (rk, rn) != (k, n):
            return f"counts differ: ledger {k}/{n}, R {rk}/{rn}"
        if abs(value - 100 * k / n) > TIE_SLACK * max(1.0, abs(value)):
            return f"R's percentage {value!r} is not 100 x {k}/{n}"
        return "" if _within_print(value, pct) else f"R's {value!r} does not round to {pct}%"
    if _NUMBER.match(text) or _SCIENTIFIC.match(text):
        return "" if _within_print(value, text) else f"R's {value!r} does not round to {text}"
    count = words_to_int(text)
    if count is not None:
        return "" if value == count else f"R's {value!r} is not {text!r} ({count})"
    return f"cannot read the printed value {text!r}"


# --------------------------------------------------------------------------- #
# claims
# --------------------------------------------------------------------------- #
_EVIDENCE = re.compile(r"^(?P<estimate>\S+)(?: \(95% CI [^)]*\))?(?:, P = (?P<p>.+))?$")


def estimate_text(value: float) -> str:
    """A claim's estimate as the ledger prints it (``evidence_text``): 3 significant digits."""
    return "∞" if value == math.inf else ("0" if value == 0 else f"{value:.3g}")


def _prints_as(value: float, printed: str, fmt: Callable[[float], str]) -> bool:
    """True when ``value`` printed by ``fmt`` gives ``printed``, allowing a rounding tie."""
    if not math.isfinite(value):
        return fmt(value) == printed
    return any(fmt(v) == printed for v in (value, value * (1 - TIE_SLACK), value * (1 + TIE_SLACK)))


def check_claim(reproduced: str, status: str, claim: pd.Series, estimate: float, p_value: float) -> str:
    """Why R's ``estimate`` and ``p_value`` disagree with a claim's ledger row (its printed
    evidence ``reproduced`` and its ``status``); '' if they agree."""
    text = " ".join(str(reproduced).split())
    if not text:
        return f"the ledger has no evidence for this claim (status {status!r}) but R computes it"
    measure = claim["measure"]
    parsed = _EVIDENCE.match(text[len(measure) + 1:]) if text.startswith(f"{measure} ") else None
    if parsed is None:
        return f"cannot read the printed evidence {text!r} (expected '{measure} <estimate> ..., P = <P>')"
    problems = []
    if not _prints_as(estimate, parsed.group("estimate"), estimate_text):
        problems.append(f"R's estimate {estimate!r} does not print as {parsed.group('estimate')}")
    printed_p = parsed.group("p")
    if printed_p is None:
        if math.isfinite(p_value):
            problems.append(f"the ledger prints no P, R's is {p_value!r}")
    elif not _prints_as(p_value, printed_p, format_p):
        problems.append(f"R's P {p_value!r} does not print as {printed_p}")
    r_status, reason = decide(claim, estimate, p_value)
    if r_status != status:
        problems.append(f"R's values make the claim {r_status} ({reason}), the ledger says {status or '(nothing)'}")
    return "; ".join(problems)


# --------------------------------------------------------------------------- #
# the comparison
# --------------------------------------------------------------------------- #
def decided_by_the_data(ledger: pd.DataFrame) -> pd.Series:
    """The ledger rows R must recompute: basis ``synthetic`` or evidence emergent / constructed."""
    synthetic = ledger["basis"] == "synthetic" if "basis" in ledger else pd.Series(False, index=ledger.index)
    if "evidence" in ledger:
        synthetic |= ledger["evidence"].isin(SYNTHETIC_EVIDENCE)
    return synthetic


def mismatches(ledger: pd.DataFrame, oracle: pd.DataFrame, claims: Optional[pd.DataFrame] = None,
               uncomputed_ok: bool = False) -> pd.DataFrame:
    """Every data-decided ledger row the R oracle disagrees with or lacks, and every oracle row
    the ledger lacks (see the module docstring for the rule); empty when all agree.

    ``ledger``: the merged ledger read as text (``dtype=str, keep_default_na=False``); claim rows
    need its ``status`` column. ``oracle``: R's output (:func:`read_oracle`). ``claims``: the
    claims register (default :func:`load_claims`). One row per problem: ``register_id``,
    ``ledger_value`` (the printed ``reproduced`` text), ``r_value``, ``r_p_value`` (claims) and
    ``why``, in ledger order, then the oracle's extra rows.

    ``uncomputed_ok`` (the build's setting): an oracle row whose ledger row no chapter computed
    (a book built without that chapter) is not a problem; one a chapter recorded under another
    basis (a computed number declared "transcribed") still is.
    """
    claims = load_claims() if claims is None else claims
    rows = ledger[decided_by_the_data(ledger)]
    problems = []

    def problem(rid: str, printed: str, value: float, p_value: float, why: str) -> None:
        problems.append(dict(register_id=rid, ledger_value=printed, r_value=value, r_p_value=p_value, why=why))

    for rid in oracle["register_id"][oracle["register_id"].duplicated()].tolist():
        problem(rid, "", math.nan, math.nan, "more than one oracle row for this register_id")
    by_id = oracle.drop_duplicates("register_id").set_index("register_id")
    for _, row in rows.iterrows():
        rid, printed = row["register_id"], row["reproduced"]
        if rid not in by_id.index:
            problem(rid, printed, math.nan, math.nan, "ledger row decided by the synthetic data that the R oracle "
                                                      "does not recompute")
            continue
        r = by_id.loc[rid]
        value, p_value = float(r["value"]), float(r["p_value"])
        if str(r["method"]).startswith(NOT_COVERED):
            continue  # a declared gap: listed by uncovered(), not compared
        if rid in claims.index:
            why = check_claim(printed, row.get("status", ""), claims.loc[rid], value, p_value)
        else:
            why = check_row(printed, value, r["method"])
        if why:
            problem(rid, printed, value, p_value, why)
    not_computed = ledger["chapter"] == "" if "chapter" in ledger else pd.Series(False, index=ledger.index)
    uncomputed = set(ledger.loc[not_computed, "register_id"]) | (set(by_id.index) - set(ledger["register_id"]))
    for rid in sorted(set(by_id.index) - set(rows["register_id"])):
        if uncomputed_ok and rid in uncomputed:
            continue
        problem(rid, "", float(by_id.at[rid, "value"]), float(by_id.at[rid, "p_value"]),
                "oracle row without a ledger row decided by the synthetic data (stale fixture?)")
    return pd.DataFrame(problems, columns=list(MISMATCH_COLUMNS))


def describe(problems: pd.DataFrame) -> str:
    """The problems of :func:`mismatches`, one line each."""
    return "\n".join(f"{p.register_id}: ledger {p.ledger_value!r}, R {p.r_value!r}"
                     + ("" if math.isnan(p.r_p_value) else f" (P {p.r_p_value!r})") + f": {p.why}"
                     for p in problems.itertuples())
