"""The reproduction ledger: each published number next to what the book gets.

A chapter creates one :class:`Ledger` and calls :meth:`Ledger.record` with a
``register_id`` and the value it computed. The published value is looked up
in the register (a chapter never types one), the status is decided here by
one rule for the whole book, and the rows are written to
``<ledger_dir>/<chapter>.csv``. The build merges all chapters into
``_build/reproduction-ledger.csv``; register rows that no chapter computes
appear there too, marked ``not-reproducible`` with the reason.

Statuses
--------
``exact``            the book's value, rounded as the paper printed it, is the
                     published number (for "< 0.001": it is below 0.001).
``within-tolerance`` not exact, but inside the tolerance the chapter states.
``differs``          outside the tolerance.
``not-reproducible`` cannot be computed from what is published; the note says why.

Basis (provenance of the book's value)
--------------------------------------
``recomputed``  from published counts alone (exact arithmetic, same for any cohort);
``synthetic``   from the synthetic cohort (agreement is by construction or calibration);
``transcribed`` the fact itself, as shown in the book's own tables.

Evidence (what an agreement means; decided by the merge, never by a chapter)
----------------------------------------------------------------------------
``transcribed``  a fact shown as published: nothing was computed;
``recomputed``   computed from the published counts alone;
``constructed``  computed from the synthetic cohort, but the generator was calibrated to this
                 very number (its ``provenance.csv`` names the register id), so agreement is by design;
``emergent``     computed from the synthetic cohort and not a calibration target: the only kind
                 of agreement that says something about the synthetic data.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Optional

import pandas as pd

from helpers.paths import REGISTER_CSV
from helpers.reproduction import claims as claims_register
from helpers.reproduction import register as reg
from helpers.reproduction.published import rounds_to
from helpers.reproduction.tolerances import tolerance_for
from helpers.stats.format import format_p

STATUSES = ("exact", "within-tolerance", "differs", "not-reproducible")
BASES = ("recomputed", "synthetic", "transcribed")
EVIDENCE = ("transcribed", "recomputed", "constructed", "emergent")
CHAPTER_COLUMNS = (
    "study", "chapter", "register_id", "quantity", "group", "location", "published",
    "reproduced", "status", "basis", "tolerance", "note",
)
# ``from_data``: for a recomputed P, the same test on the cohort's own counts (decided by the merge).
LEDGER_COLUMNS = (*CHAPTER_COLUMNS[:8], "from_data", *CHAPTER_COLUMNS[8:10], "evidence", *CHAPTER_COLUMNS[10:])
# What a chapter's part holds besides its source-trace columns: the raw evidence the merge decides from.
EVIDENCE_FIELDS = ("record", "value", "numerator", "denominator")
PART_COLUMNS = (*CHAPTER_COLUMNS, *EVIDENCE_FIELDS)


def decimals_of(text: str) -> int:
    """Decimals printed in a published number, e.g. '46.2%' -> 1, '1.000' -> 3."""
    digits = "".join(ch for ch in str(text) if ch.isdigit() or ch == ".")
    if "." not in digits:
        return 0
    return len(digits.split(".", 1)[1])


def format_like(published_text: str, kind: str, value: float) -> str:
    """The book's value printed with the paper's precision (P values: 2 more digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "p_value":
        return f"{value:.{max(decimals_of(published_text), 1) + 1}f}" if value >= 1e-4 else f"{value:.2e}"
    places = decimals_of(published_text)
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    suffix = "%" if str(published_text).strip().endswith("%") else ""
    return f"{rounded}{suffix}"


def number_status(row: pd.Series, value: float, basis: str) -> tuple[str, str]:
    """(status, tolerance text) of a number: exact when it rounds to the printed value, within
    tolerance by the central table (:func:`tolerance_for`), else differs."""
    tolerance = tolerance_for(str(row["kind"]), basis)
    if rounds_to(str(row["value_text"]), value):
        status = "exact"
    elif tolerance is not None and tolerance.allows(float(row["value"]), value):
        status = "within-tolerance"
    else:
        status = "differs"
    return status, tolerance.describe() if tolerance else ""


def proportion_status(row: pd.Series, k: int, n: int) -> str:
    """A published k/n (%): exact only when k and n are the published counts and the percentage
    rounds to the printed one."""
    counts_agree = (not pd.isna(row["numerator"]) and int(row["numerator"]) == k
                    and not pd.isna(row["denominator"]) and int(row["denominator"]) == n)
    pct = 100 * k / n if n else float("nan")
    return "exact" if counts_agree and rounds_to(str(row["value_text"]), pct) else "differs"


def text_status(row: pd.Series, shown: str) -> str:
    """A fact that is not a number: exact when shown as printed, ignoring case and spacing."""
    same = " ".join(shown.split()).casefold() == " ".join(str(row["value_text"]).split()).casefold()
    return "exact" if same else "differs"


def _decided(recorded: pd.DataFrame, register: pd.DataFrame) -> pd.DataFrame:
    """Every recorded row's status and tolerance, decided again from its raw evidence: whatever
    status a chapter part carries is not taken."""
    statuses, tolerances = [], []
    for _, rec in recorded.iterrows():
        row = register.loc[rec["register_id"]]
        kind, tolerance = rec["record"], ""
        if kind == "number":
            status, tolerance = number_status(row, float(rec["value"]), rec["basis"])
        elif kind == "proportion":
            status = proportion_status(row, int(rec["numerator"]), int(rec["denominator"]))
        elif kind == "text":
            status = text_status(row, rec["reproduced"])
        elif kind == "not-reproducible":
            status = "not-reproducible"
        else:
            raise ValueError(f"{rec['chapter']}: {rec['register_id']} has no recorded evidence ({kind!r})")
        statuses.append(status)
        tolerances.append(tolerance)
    return recorded.assign(status=statuses, tolerance=tolerances)


def data_values(recorded: pd.DataFrame, register: pd.DataFrame, register_csv: str | Path = REGISTER_CSV) -> pd.Series:
    """For each recomputed P of two published proportions, the same test on the cohort's counts.

    A recomputed P depends on the published counts alone, so its status says nothing about the
    data. The cohort's own counts for the two compared proportions (recorded by a chapter as
    ``k/n`` rows) give the value the data imply; shown beside the recomputed one, it moves when
    the data move. The test is the one the chapter recorded: the one
    :func:`helpers.reproduction.recompute.recompute_comparison` finds reproducing the published P
    (Yates' chi-square when only it does, else Fisher's exact). Empty where a compared
    proportion was not recorded from the data."""
    from helpers.reproduction import recompute  # it records through this module

    counts = {rec["register_id"]: (int(rec["numerator"]), int(rec["denominator"]))
              for _, rec in recorded.iterrows() if rec["record"] == "proportion" and rec["basis"] == "synthetic"}
    values = []
    for _, rec in recorded.iterrows():
        compares = str(register.loc[rec["register_id"], "compares"] or "")
        ids = [i.strip() for i in compares.split(";") if i.strip()]
        if rec["basis"] != "recomputed" or len(ids) != 2 or not all(i in counts for i in ids):
            values.append("")
            continue
        yates = recompute.recompute_comparison(rec["register_id"], register_csv)["reproduced by"] == "Yates chi-square"
        (k1, n1), (k2, n2) = counts[ids[0]], counts[ids[1]]
        test = recompute.compare_proportions(k1, n1, k2, n2).iloc[0]
        p = float(test["yates_p"] if yates else test["fisher_p"])
        text = str(register.loc[rec["register_id"], "value_text"])
        values.append(f"{format_like(text, 'p_value', p)} ({'Yates chi-square' if yates else 'Fisher exact'} on "
                      f"the cohort's {k1}/{n1} vs {k2}/{n2})")
    return pd.Series(values, index=recorded.index, dtype=str)


class Ledger:
    """Collects one chapter's ledger rows and writes them for the build."""

    def __init__(self, chapter: str, ledger_dir: Optional[str | Path] = None,
                 register_csv: str | Path = REGISTER_CSV, data_dir: Optional[str | Path] = None):
        self.chapter = chapter
        self.data_dir = data_dir
        self.ledger_dir = Path(ledger_dir) if ledger_dir else None
        self.register_csv = register_csv
        self.rows: list[dict] = []
        self.claim_rows: list[dict] = []

    def _published(self, register_id: str) -> pd.Series:
        return reg.entry(register_id, self.register_csv)

    def record(self, register_id: str, reproduced: float, *, basis: str, note: str = "") -> dict:
        """Keep the book's value of a published number. The status shown is the merge's rule
        (:func:`number_status`, tolerances from :mod:`helpers.reproduction.tolerances`); the
        merge decides it again from the recorded value, so no chapter can set it."""
        row = self._published(register_id)
        status, tolerance = number_status(row, float(reproduced), basis)
        return self._keep(row, format_like(str(row["value_text"]), row["kind"], reproduced), status, basis,
                          tolerance, note, raw={"record": "number", "value": repr(float(reproduced))})

    def record_proportion(self, register_id: str, k: int, n: int, *, basis: str, note: str = "") -> dict:
        """A published k/n (%): exact only when k and n are the published counts and the
        percentage rounds to the printed one."""
        row = self._published(register_id)
        published_text = str(row["value_text"])
        pct = 100 * k / n if n else float("nan")
        status = proportion_status(row, k, n)
        published = published_text
        if not pd.isna(row["numerator"]) and not pd.isna(row["denominator"]):
            published = f"{int(row['numerator'])}/{int(row['denominator'])} ({published_text})"
        return self._keep(row, f"{k}/{n} ({format_like(published_text, row['kind'], pct)})", status,
                          basis, "", note, published=published,
                          raw={"record": "proportion", "numerator": str(int(k)), "denominator": str(int(n))})

    def record_text(self, register_id: str, shown: str, *, basis: str = "transcribed",
                    note: str = "") -> dict:
        """A published fact that is not a number (a date such as "January 2019", a grade
        such as "II"): exact when the book shows the same text, ignoring case and spacing."""
        row = self._published(register_id)
        return self._keep(row, str(shown), text_status(row, str(shown)), basis, "", note, raw={"record": "text"})

    def not_reproducible(self, register_id: str, note: str, basis: str = "synthetic") -> dict:
        """A published number the book cannot compute; the note must say why."""
        if not note.strip():
            raise ValueError(f"{register_id}: a not-reproducible row needs a note saying why")
        return self._keep(self._published(register_id), "", "not-reproducible", basis, "", note,
                          raw={"record": "not-reproducible"})

    def _keep(self, row, reproduced_text, status, basis, tolerance, note,
              published: Optional[str] = None, raw: Optional[dict] = None) -> dict:
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        kept = {
            "study": row["study"], "chapter": self.chapter, "register_id": row["register_id"],
            "quantity": row["quantity"], "group": row["group"], "location": row["location"],
            "published": row["value_text"] if published is None else published,
            "reproduced": reproduced_text, "status": status,
            "basis": basis, "tolerance": tolerance, "note": note,
        }
        if any(r["register_id"] == kept["register_id"] for r in self.rows):
            raise ValueError(f"{self.chapter}: {kept['register_id']} is recorded twice; a published number "
                             "gets one row per chapter")
        self.rows.append(kept | {field: "" for field in EVIDENCE_FIELDS} | (raw or {}))
        self.save()
        return kept

    def claim(self, claim_id: str, *, estimate: float, p_value: float, method: str,
              lower: float = math.nan, upper: float = math.nan, note: str = "",
              claims_csv: str | Path = claims_register.CLAIMS_CSV) -> dict:
        """Record the book's evidence on one of the papers' qualitative findings: the estimate
        (the claim's measure, factor against its reference), its CI and P, and how they were
        computed. Whether the finding holds is decided at the merge, by the register's rule
        (:mod:`helpers.reproduction.claims`), never here."""
        claim = claims_register.load_claims(claims_csv).loc[claim_id]
        if claim["chapter"] != self.chapter:
            raise ValueError(f"{claim_id} belongs to the {claim['chapter'] or '(no)'} chapter, not {self.chapter}")
        if any(r["claim_id"] == claim_id for r in self.claim_rows):
            raise ValueError(f"{self.chapter}: claim {claim_id} is recorded twice")
        if not method.strip():
            raise ValueError(f"{claim_id}: say how the evidence was computed (method)")
        kept = {"claim_id": claim_id, "chapter": self.chapter, "estimate": float(estimate),
                "lower": float(lower), "upper": float(upper), "p_value": float(p_value),
                "null": claims_register.null_of(claim["measure"]), "method": method, "note": note}
        self.claim_rows.append(kept)
        self.save()
        return kept

    def claims_table(self, claims_csv: str | Path = claims_register.CLAIMS_CSV) -> pd.DataFrame:
        """This chapter's claims beside the book's evidence, with the status the merge will give."""
        register = claims_register.load_claims(claims_csv)
        rows = []
        for ev in self.claim_rows:
            claim = register.loc[ev["claim_id"]]
            status, reason = claims_register.decide(claim, ev["estimate"], ev["p_value"])
            rows.append({"Claim (study)": f"{claim['statement']} ({claim['study']})",
                         "Book (synthetic cohort)": evidence_text(claim["measure"], ev),
                         "Status": status, "Why": reason, "Method": ev["method"]})
        return pd.DataFrame(rows, columns=["Claim (study)", "Book (synthetic cohort)", "Status", "Why", "Method"])

    def table(self) -> pd.DataFrame:
        """This chapter's source-trace table: published value, where it stands, the book's value,
        and the evidence class the merge will give each row (from the data's provenance)."""
        table = pd.DataFrame(self.rows, columns=list(CHAPTER_COLUMNS))
        evidence = evidence_of(table["basis"], table["register_id"], calibration_targets(self.data_dir))
        table.insert(CHAPTER_COLUMNS.index("basis") + 1, "evidence", evidence)
        return table

    def part(self) -> pd.DataFrame:
        """What the build merges: the source-trace columns and the raw evidence behind each row."""
        return pd.DataFrame(self.rows, columns=list(PART_COLUMNS))

    def save(self) -> None:
        if self.ledger_dir is None:
            return
        self.ledger_dir.mkdir(parents=True, exist_ok=True)
        self.part().to_csv(self.ledger_dir / f"{self.chapter}.csv", index=False, lineterminator="\n")
        if self.claim_rows:
            (self.ledger_dir / "claims").mkdir(exist_ok=True)
            pd.DataFrame(self.claim_rows, columns=list(claims_register.EVIDENCE_COLUMNS)).to_csv(
                self.ledger_dir / "claims" / f"{self.chapter}.csv", index=False, lineterminator="\n")


def evidence_text(measure: str, evidence: dict) -> str:
    """"hazard ratio 2.01 (95% CI 0.91–4.43), P = 0.08": the book's evidence on a claim, printed."""
    def num(v: float) -> str:
        return "∞" if v == math.inf else ("0" if v == 0 else f"{v:.3g}")

    text = f"{measure} {num(evidence['estimate'])}"
    if math.isfinite(evidence["lower"]) and math.isfinite(evidence["upper"]):
        text += f" (95% CI {num(evidence['lower'])}–{num(evidence['upper'])})"
    if math.isfinite(evidence["p_value"]):
        text += f", P = {format_p(evidence['p_value'])}"
    return text


def claim_rows(parts_dir: Path, chapters: Optional[list[str]],
               claims_csv: str | Path = claims_register.CLAIMS_CSV) -> pd.DataFrame:
    """One ledger row per claim of the register: the chapters' evidence and the status the
    register's rule gives it (``not-evaluated`` where no chapter recorded evidence)."""
    register = claims_register.load_claims(claims_csv)
    files = sorted((Path(parts_dir) / "claims").glob("*.csv"))
    if chapters is not None:
        files = [f for f in files if f.stem in chapters]
    frames = [pd.read_csv(f, keep_default_na=False, na_values=[""]) for f in files]
    evidence = (pd.concat(frames, ignore_index=True) if frames
                else pd.DataFrame(columns=list(claims_register.EVIDENCE_COLUMNS)))
    evidence = evidence[list(claims_register.EVIDENCE_COLUMNS)]
    twice = evidence.loc[evidence["claim_id"].duplicated(), "claim_id"].tolist()
    if twice:
        raise ValueError(f"claims recorded by more than one chapter: {twice}")
    unknown = sorted(set(evidence["claim_id"]) - set(register.index))
    if unknown:
        raise ValueError(f"claims recorded that the claims register does not hold: {unknown}")
    by_id = evidence.set_index("claim_id")
    rows = []
    for claim_id, claim in register.iterrows():
        recorded = claim_id in by_id.index
        if recorded:
            ev = by_id.loc[claim_id].to_dict()
            for key in ("estimate", "lower", "upper", "p_value"):
                ev[key] = float(ev[key])
            status, reason = claims_register.decide(claim, ev["estimate"], ev["p_value"])
            reproduced, note = evidence_text(claim["measure"], ev), f"{reason}. {ev['method']}"
        elif claim["testable"] == "yes":
            status, reproduced, note = "not-evaluated", "", "testable, but not computed by any chapter of this edition yet"
        else:
            status, reproduced, note = "not-testable", "", claim["note"]
        rule = {"significant": f"P < {claims_register.ALPHA} and estimate {claim['expected']} "
                               f"{claims_register.null_of(claim['measure']):g}",
                "direction": f"estimate {claim['expected']} {claims_register.null_of(claim['measure']):g}",
                "no-difference": f"P ≥ {claims_register.ALPHA}"}.get(claim["rule"], "")
        rows.append({
            "study": claim["study"], "chapter": ev["chapter"] if recorded else "", "register_id": claim_id,
            "quantity": claim["statement"], "group": claim["population"], "location": claim["location"],
            "published": f"{claim['kind']}: {claim['direction']} ({claim['model']})",
            "reproduced": reproduced, "status": status, "basis": "synthetic" if recorded else "",
            "tolerance": rule, "note": note,
        })
    return pd.DataFrame(rows, columns=list(CHAPTER_COLUMNS))


def calibration_targets(data_dir: Optional[str | Path]) -> set[str]:
    """Register ids the generator calibrated the cohorts to, from each study's ``provenance.csv``
    (rows whose provenance is ``calibrated``); none when the data carry no provenance."""
    targets: set[str] = set()
    folders = [Path(data_dir), *sorted(Path(data_dir).glob("*/"))] if data_dir else []  # one study or many
    for path in [f / "provenance.csv" for f in folders if (f / "provenance.csv").is_file()]:
        provenance = pd.read_csv(path, dtype=str, keep_default_na=False)
        for ids in provenance.loc[provenance["provenance"] == "calibrated", "register_ids"]:
            targets.update(i.strip() for i in ids.split(";") if i.strip())
    return targets


def evidence_of(basis: pd.Series, register_id: pd.Series, calibrated: set[str]) -> pd.Series:
    """The evidence class of each row, from its basis and the generator's calibration targets."""
    synthetic = basis == "synthetic"
    evidence = basis.where(basis.isin(["transcribed", "recomputed"]), "")
    evidence[synthetic & register_id.isin(calibrated)] = "constructed"
    evidence[synthetic & ~register_id.isin(calibrated)] = "emergent"
    return evidence


def merge_ledger(parts_dir: Path, out_csv: Path, chapters: Optional[list[str]] = None,
                 register_csv: str | Path = REGISTER_CSV, data_dir: Optional[str | Path] = None,
                 claims_csv: str | Path = claims_register.CLAIMS_CSV) -> pd.DataFrame:
    """Merge chapter ledgers, and list every register row no chapter computed.

    Only the parts of the given ``chapters`` are read, so a chapter removed
    from the book cannot leave stale rows behind. Each row's ``evidence`` is decided here
    from its basis and the calibration targets the data folder's provenance names; a
    chapter part cannot set it, and a register id recorded by two chapters is refused.
    """
    parts_dir = Path(parts_dir)
    files = sorted(parts_dir.glob("*.csv")) if parts_dir.exists() else []
    if chapters is not None:
        files = [f for f in files if f.stem in chapters]
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    recorded = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PART_COLUMNS)
    missing = [c for c in PART_COLUMNS if c not in recorded.columns]
    if missing:
        raise ValueError(f"chapter ledger parts in {parts_dir} lack {missing}: rebuild the chapters")
    recorded = recorded[list(PART_COLUMNS)]  # anything else a part carries (an "evidence") is not taken
    twice = recorded.loc[recorded["register_id"].duplicated(keep=False)]
    if not twice.empty:
        raise ValueError("register ids recorded by more than one chapter: " + "; ".join(
            f"{rid} ({', '.join(part['chapter'])})" for rid, part in twice.groupby("register_id")))
    register = reg.load_register(register_csv)
    recorded = _decided(recorded, register)
    recorded = recorded.assign(from_data=data_values(recorded, register, register_csv))
    recorded = recorded[[*CHAPTER_COLUMNS, "from_data"]]
    missing = register.loc[~register["register_id"].isin(recorded["register_id"])]
    pending = pd.DataFrame({
        "study": missing["study"], "chapter": "", "register_id": missing["register_id"],
        "quantity": missing["quantity"], "group": missing["group"], "location": missing["location"],
        "published": missing["value_text"], "reproduced": "", "status": "not-reproducible",
        "basis": "", "tolerance": "",
        "note": "not computed by any chapter of this edition yet",
    })
    claims = claim_rows(parts_dir, chapters, claims_csv)
    merged = pd.concat([recorded, pending, claims], ignore_index=True)
    merged["from_data"] = merged["from_data"].fillna("")
    merged["evidence"] = evidence_of(merged["basis"], merged["register_id"], calibration_targets(data_dir))
    merged = merged[list(LEDGER_COLUMNS)]
    order = {rid: i for i, rid in enumerate([*register["register_id"], *claims["register_id"]])}
    merged = merged.assign(_order=merged["register_id"].map(order)).sort_values(
        ["study", "_order"], kind="stable").drop(columns="_order")
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out_csv, index=False, lineterminator="\n")
    return merged


# ------------------------------------------------------- the ledger page --

def merged_path(ledger_dir: Optional[str | Path]) -> Path:
    """The build writes the merged ledger beside the chapters' ledger folder."""
    from helpers.paths import LEDGER_CSV

    return Path(ledger_dir).parent / "reproduction-ledger.csv" if ledger_dir else LEDGER_CSV


def load_merged(ledger_dir: Optional[str | Path] = None,
                register_csv: str | Path = REGISTER_CSV) -> pd.DataFrame:
    """The merged ledger the build wrote; merged afresh when it does not exist yet."""
    path = merged_path(ledger_dir)
    if path.exists():
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    parts = Path(ledger_dir) if ledger_dir else path.parent / "ledger"
    return merge_ledger(parts, path, register_csv=register_csv)


def status_summary(frame: pd.DataFrame, by: str = "study", statuses: tuple = STATUSES) -> pd.DataFrame:
    """Counts of published numbers (or, with ``statuses=CLAIM_STATUSES``, claims) by ``by``
    (study, or evidence) and status, every status shown; rows of other statuses are left out."""
    frame = frame[frame["status"].isin(statuses)]
    rows = frame[by].replace("", "(none: not computed)")
    if by == "evidence":  # in the order of what an agreement is worth, not alphabetical
        rows = pd.Categorical(rows, categories=[*EVIDENCE, "(none: not computed)"])
    table = pd.crosstab(rows, pd.Categorical(frame["status"], categories=list(statuses)), dropna=False)
    table.index.name = by
    table.columns = [str(c) for c in table.columns]
    table["total"] = table.sum(axis=1)
    return table.reset_index()


class _Link:
    def __init__(self, href: str, text: str):
        self.href, self.text = href, text

    def _repr_html_(self) -> str:
        return f"<p><a class='download-link' href='{self.href}' download>{self.text}</a></p>"

    def __repr__(self) -> str:
        return f"{self.text}: {self.href}"


def download_link() -> _Link:
    """Link to the ledger CSV that the build places among the site's static files."""
    return _Link("../_static/downloads/reproduction-ledger.csv",
                 "Download the reproduction ledger (CSV)")
