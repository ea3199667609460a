"""The reproduction ledger against an independent R oracle (tests/r/ledger_oracle.R).

The R script reads only the synthetic cohort CSVs (data/synthetic/000, 003, 004) and recomputes,
with R's own functions, every ledger row the synthetic data decide: the published numbers of basis
``synthetic`` and the papers' claims (estimate and P). Its output is committed as
tests/fixtures/r/ledger_oracle.csv (register_id, value, p_value, method), with the sha256 of the
data it came from in tests/fixtures/r/ledger_oracle.sha256. The comparison, the fingerprint and
the choice between the fixture and a live run live in :mod:`helpers.reproduction.crosscheck`
(the build uses them too); its docstring states the rule and the two claims R does not cover.

(a) ``build``: the committed fixture agrees with the built ledger (_build/reproduction-ledger.csv,
    from the session's ``built`` fixture) and covers every row the synthetic data decide.
(b) ``r_live``: a live Rscript run on data/synthetic equals the committed fixture, and
    :func:`crosscheck.oracle_for` runs R live on data the fixture was not computed from.
(c) the comparison itself catches a faked value or a faked claim (always run, no build needed,
    on a ledger rendered from the fixture; and once more on the built ledger under ``build``).

Regenerate the fixture after changing the data or the R script::

    .venv/bin/python tests/test_ledger_oracle.py --regenerate
"""

from __future__ import annotations

import math
import re
import shutil
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from helpers.paths import LEDGER_CSV, REGISTER_CSV, REPO_ROOT, SYNTHETIC_DIR
from helpers.reproduction import crosscheck
from helpers.reproduction.claims import decide, load_claims
from helpers.reproduction.crosscheck import (
    COUNTS,
    NUMBER_WORDS,
    ORACLE_FIXTURE,
    check_claim,
    check_row,
    data_fingerprint,
    decimals,
    describe,
    estimate_text,
    mismatches,
    oracle_for,
    read_oracle,
    recorded_fingerprint,
    run_oracle,
    uncovered,
    words_to_int,
)
from helpers.stats.format import format_p

try:  # tests/r_oracle.py (after the package move) or helpers.r_oracle (before it)
    import r_oracle
except ImportError:  # pragma: no cover - depends on the state of the move
    from helpers import r_oracle

FIXTURE_TOL = 1e-12   # committed fixture vs live R (relative)

# Rows where the published value differs from the book's, to fake (published put in place of
# the book's value): a Cox HR, the Ph+ ALL 2-year OS, a CIR and the LFS log-rank P.
FAKED_ROWS = ("000-cox-ablkd-hr", "000-os2y-phall", "000-cir2y-phall", "000-lfs2y-p")
# A claim the synthetic cohort contradicts (OR 0.368, P = 0.091), to fake as holding.
# A claim R recomputes that holds on the synthetic cohort (no difference, P well above 0.05); the
# fakes make it look contradicted, or change its printed evidence.
FAKED_CLAIM = "000-claim-expansion-mrdpos-no-difference"
# The claims R does not recompute (Firth fits of the separated multivariable logistic model of
# response; crosscheck's docstring and the R script's header say why). No other gap is allowed.
NOT_COVERED_CLAIMS = ["000-claim-multi-ablkd-response", "000-claim-multi-lbc-response"]


# --------------------------------------------------------------------------- #
# a ledger rendered from the register and the fixture (for (c) without a build)
# --------------------------------------------------------------------------- #
def _format_like(published_text: str, kind: str, value: float) -> str:
    """The ledger's rule for printing the book's value (helpers.ledger.format_like)."""
    if kind == "p_value":
        places = max(decimals(re.sub(r"[^\d.]", "", published_text)), 1) + 1
        return f"{value:.{places}f}" if value >= 1e-4 else f"{value:.2e}"
    places = decimals(re.sub(r"[^\d.]", "", published_text))
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{rounded}{'%' if published_text.strip().endswith('%') else ''}"


def _in_words(value: float) -> str:
    words = {v: k for k, v in NUMBER_WORDS.items()}
    hundreds, rest = divmod(int(value), 100)
    below = words[rest] if rest in words else f"{words[rest - rest % 10]}-{words[rest % 10]}"
    said = (f"{words[hundreds]} hundred" + (f" and {below}" if rest else "")) if hundreds else below
    return said[0].upper() + said[1:]


def _rendered_claim(claim: pd.Series, estimate: float, p_value: float) -> dict:
    """A claim row as the ledger prints R's evidence (no CI: R computes none) with its status."""
    if not math.isfinite(estimate):  # a claim R does not cover: any evidence, it is not compared
        estimate, p_value = 1.0, 0.5
    return dict(study=claim["study"], register_id=claim["claim_id"], published="",
                reproduced=f"{claim['measure']} {estimate_text(estimate)}, P = {format_p(p_value)}",
                status=decide(claim, estimate, p_value)[0], basis="synthetic", evidence="emergent")


def rendered_ledger(oracle: pd.DataFrame) -> pd.DataFrame:
    """The ledger rows the synthetic data decide, as the book would print R's values (published
    numbers from the register, claims from the claims register)."""
    register = pd.read_csv(REGISTER_CSV, dtype=str, keep_default_na=False).set_index("register_id")
    claims = load_claims()
    rows = []
    for _, r in oracle.iterrows():
        rid, value = r["register_id"], float(r["value"])
        if rid in claims.index:
            rows.append(_rendered_claim(claims.loc[rid], value, float(r["p_value"])))
            continue
        entry = register.loc[rid]
        text = entry["value_text"]
        counts = COUNTS.search(r["method"])
        if counts:
            reproduced = f"{counts.group(1)}/{counts.group(2)} ({_format_like(text, entry['kind'], value)})"
            published = f"{entry['numerator']}/{entry['denominator']} ({text})"
        elif words_to_int(text) is not None and not re.match(r"^-?\d", text):
            reproduced, published = _in_words(value), text
        else:
            reproduced, published = _format_like(text, entry["kind"], value), text
        rows.append(dict(study=entry["study"], register_id=rid, published=published, reproduced=reproduced,
                         status="", basis="synthetic", evidence="emergent"))
    return pd.DataFrame(rows)


def faked(ledger: pd.DataFrame, register_id: str) -> pd.DataFrame:
    """The ledger with one row's reproduced value replaced by its published value."""
    row = ledger["register_id"] == register_id
    assert row.sum() == 1, f"{register_id}: {int(row.sum())} ledger rows"
    if (ledger.loc[row, "published"] == ledger.loc[row, "reproduced"]).all():
        pytest.skip(f"{register_id}: published and reproduced are the same; faking would change nothing")
    out = ledger.copy()
    out.loc[row, "reproduced"] = out.loc[row, "published"]
    return out


def faked_claim(ledger: pd.DataFrame, claim_id: str, *, p_text: str | None = None,
                status: str | None = None, estimate: str | None = None) -> pd.DataFrame:
    """The ledger with one claim's printed P, estimate and/or status replaced."""
    row = ledger["register_id"] == claim_id
    assert row.sum() == 1, f"{claim_id}: {int(row.sum())} ledger rows"
    out = ledger.copy()
    text = out.loc[row, "reproduced"].iloc[0]
    if p_text is not None:
        text = re.sub(r", P = .+$", f", P = {p_text}", text)
    if estimate is not None:
        measure = load_claims().at[claim_id, "measure"]
        text = re.sub(rf"^{re.escape(measure)} [^\s,]+", f"{measure} {estimate}", text)
    out.loc[row, "reproduced"] = text
    if status is not None:
        out.loc[row, "status"] = status
    return out


def built_ledger() -> pd.DataFrame:
    return pd.read_csv(LEDGER_CSV, dtype=str, keep_default_na=False)


def problem_ids(problems: pd.DataFrame) -> list[str]:
    return problems["register_id"].tolist()


# --------------------------------------------------------------------------- #
# the fixture
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    assert ORACLE_FIXTURE.exists(), f"{ORACLE_FIXTURE} missing: run python tests/test_ledger_oracle.py --regenerate"
    return read_oracle(ORACLE_FIXTURE)


def test_fixture_is_well_formed(committed):
    assert committed.columns.tolist() == list(crosscheck.ORACLE_COLUMNS)
    assert not committed["register_id"].duplicated().any()
    assert (committed["method"].str.len() > 0).all()
    covered = committed[~committed["register_id"].isin(uncovered(committed))]
    assert covered["value"].map(math.isfinite).all(), covered[~covered["value"].map(math.isfinite)]
    claim_rows = covered["register_id"].isin(load_claims().index)
    assert covered.loc[claim_rows, "p_value"].map(math.isfinite).all()
    assert covered.loc[~claim_rows, "p_value"].isna().all(), "rows of numbers carry no P"


def test_fixture_records_the_data_it_was_computed_from():
    assert recorded_fingerprint() == data_fingerprint(SYNTHETIC_DIR), (
        "data/synthetic changed since the R oracle ran: python tests/test_ledger_oracle.py --regenerate")
    frame, source = oracle_for(SYNTHETIC_DIR)
    assert source.startswith("committed ") and frame.equals(read_oracle(ORACLE_FIXTURE))


def test_exactly_the_listed_claims_are_not_covered(committed):
    assert sorted(uncovered(committed)) == NOT_COVERED_CLAIMS
    assert all("Firth" in reason and "logistf" in reason for reason in uncovered(committed).values())
    claims = load_claims()
    testable = set(claims.index[claims["testable"] == "yes"])
    in_oracle = set(committed["register_id"]) & set(claims.index)
    assert in_oracle == testable, f"claims R lacks: {sorted(testable - in_oracle)}; extra: {sorted(in_oracle - testable)}"


@pytest.mark.build
def test_fixture_agrees_with_the_built_ledger(built, committed):
    problems = mismatches(built_ledger(), committed)
    assert problems.empty, "R oracle vs the built ledger:\n" + describe(problems)


@pytest.mark.r_live
def test_live_r_equals_the_committed_fixture(committed, tmp_path):
    if not r_oracle.rscript_available():
        pytest.skip("Rscript not available (make r-oracle installs it)")
    live = run_oracle(SYNTHETIC_DIR, tmp_path / "ledger_oracle.csv")
    problems = r_oracle.fixture_mismatches(committed, live, tol=FIXTURE_TOL, relative=True)
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- #
# the fingerprint and the choice of oracle
# --------------------------------------------------------------------------- #
def _copy_inputs(target: Path) -> Path:
    for path in crosscheck.oracle_inputs(SYNTHETIC_DIR):
        dest = target / path.relative_to(SYNTHETIC_DIR)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
    return target


def test_the_fingerprint_follows_the_files_the_oracle_reads(tmp_path):
    copy = _copy_inputs(tmp_path / "data")
    assert data_fingerprint(copy) == data_fingerprint(SYNTHETIC_DIR)
    (copy / "000" / "provenance.csv").write_text("not read by the oracle\n")
    assert data_fingerprint(copy) == data_fingerprint(SYNTHETIC_DIR)
    with (copy / "004" / "labs.csv").open("a") as labs:
        labs.write("\n")
    changed = data_fingerprint(copy)
    assert changed != data_fingerprint(SYNTHETIC_DIR)
    (copy / "004" / "labs.csv").rename(copy / "004" / "kinetics_old.csv")
    assert data_fingerprint(copy) not in (changed, data_fingerprint(SYNTHETIC_DIR))


def test_without_r_other_data_have_no_oracle(tmp_path, monkeypatch):
    copy = _copy_inputs(tmp_path / "data")
    with (copy / "000" / "patients.csv").open("a") as patients:
        patients.write("\n")
    monkeypatch.setattr(crosscheck, "find_rscript", lambda: None)
    frame, reason = oracle_for(copy)
    assert frame is None and "other data" in reason and "Rscript is not installed" in reason
    with pytest.raises(crosscheck.OracleError, match="Rscript not found"):
        run_oracle(copy, tmp_path / "out.csv")


@pytest.mark.r_live
def test_other_data_get_a_live_r_run(committed, tmp_path):
    if not r_oracle.rscript_available():
        pytest.skip("Rscript not available (make r-oracle installs it)")
    copy = _copy_inputs(tmp_path / "data")
    with (copy / "000" / "patients.csv").open("a") as patients:
        patients.write("\n")  # other bytes, the same cohort: R must give the same values
    frame, source = oracle_for(copy)
    assert source.startswith("live Rscript run")
    assert r_oracle.fixture_mismatches(committed, frame, tol=FIXTURE_TOL, relative=True) == []
    with pytest.raises(crosscheck.OracleError, match=r"failed \(exit [1-9].*\n.*Error"):
        run_oracle(tmp_path / "empty", tmp_path / "out.csv")


# --------------------------------------------------------------------------- #
# the comparison catches what it must
# --------------------------------------------------------------------------- #
def test_rendered_ledger_agrees(committed):
    problems = mismatches(rendered_ledger(committed), committed)
    assert problems.empty, describe(problems)


@pytest.mark.parametrize("register_id", FAKED_ROWS)
def test_a_faked_value_is_caught(committed, register_id):
    ledger = faked(rendered_ledger(committed), register_id)
    assert problem_ids(mismatches(ledger, committed)) == [register_id]


@pytest.mark.build
@pytest.mark.parametrize("register_id", FAKED_ROWS)
def test_a_faked_value_in_the_built_ledger_is_caught(built, committed, register_id):
    ledger = built_ledger()
    assert mismatches(ledger, committed).empty
    assert problem_ids(mismatches(faked(ledger, register_id), committed)) == [register_id]


@pytest.mark.parametrize("fake, why", [
    (dict(p_text="0.010", status="contradicted"), r"R's P .* does not print as 0\.010; R's values make the claim holds"),
    (dict(p_text="0.010"), r"^R's P .* does not print as 0\.010$"),
    (dict(status="contradicted"), r"^R's values make the claim holds .* the ledger says contradicted$"),
    (dict(estimate="0.37"), r"^R's estimate .* does not print as 0\.37$"),
])
def test_a_faked_claim_is_caught(committed, fake, why):
    ledger = rendered_ledger(committed)
    assert ledger.set_index("register_id").at[FAKED_CLAIM, "status"] == "holds"
    problems = mismatches(faked_claim(ledger, FAKED_CLAIM, **fake), committed)
    assert problem_ids(problems) == [FAKED_CLAIM]
    assert re.search(why, problems["why"].iloc[0]), problems["why"].iloc[0]


@pytest.mark.build
def test_a_faked_claim_in_the_built_ledger_is_caught(built, committed):
    ledger = built_ledger()
    assert ledger.set_index("register_id").at[FAKED_CLAIM, "status"] == "holds"
    problems = mismatches(faked_claim(ledger, FAKED_CLAIM, p_text="0.010", status="contradicted"), committed)
    assert problem_ids(problems) == [FAKED_CLAIM]


def test_a_missing_or_stale_oracle_row_is_caught(committed):
    ledger = rendered_ledger(committed)
    missing = mismatches(ledger, committed[committed["register_id"] != "000-os2y-p"])
    assert list(zip(missing["register_id"], missing["why"])) == [
        ("000-os2y-p", "ledger row decided by the synthetic data that the R oracle does not recompute")]
    stale = mismatches(ledger[ledger["register_id"] != "000-os2y-p"], committed)
    assert problem_ids(stale) == ["000-os2y-p"]
    changed = ledger.assign(reproduced=ledger["reproduced"].where(ledger["register_id"] != "000-n-lbc", "12"))
    assert problem_ids(mismatches(changed, committed)) == ["000-n-lbc"]


def test_a_claim_the_oracle_does_not_know_is_caught(committed):
    """A chapter that records evidence R does not recompute (nor declares uncovered) is a mismatch."""
    claim_id = "000-claim-os-lbc-worse"
    problems = mismatches(rendered_ledger(committed), committed[committed["register_id"] != claim_id])
    assert problem_ids(problems) == [claim_id]
    gap = next(iter(uncovered(committed)))
    stale = rendered_ledger(committed)
    assert problem_ids(mismatches(stale[stale["register_id"] != gap], committed)) == [gap]


@pytest.mark.parametrize("reproduced, value, method, agrees", [
    ("0.0021", 0.0020732, "", True), ("0.0021", 0.00215, "", True), ("0.0021", 0.0021501, "", False),
    ("31", 30.528, "", True), ("30", 30.528, "", False), ("65.0%", 64.999999999999986, "", True),
    ("2.26e-03", 0.0022642, "", True), ("2.26e-03", 0.002266, "", False),
    ("8/13 (61.5%)", 100 * 8 / 13, "x; k/n = 8/13", True), ("8/13 (61.5%)", 100 * 8 / 13, "x; k/n = 16/26", False),
    ("8/13 (61.5%)", 100 * 8 / 13, "x", False),
    ("One hundred and twenty-six", 126.0, "", True), ("One hundred and twenty-six", 125.0, "", False),
    ("", 1.0, "", False),
])
def test_check_row(reproduced, value, method, agrees):
    assert (check_row(reproduced, value, method) == "") is agrees


@pytest.mark.parametrize("reproduced, status, estimate, p_value, agrees", [
    ("hazard ratio 3.24 (95% CI 1.33–7.9), P = 0.0063", "holds", 3.2381, 0.0063138, True),
    ("hazard ratio 3.24 (95% CI 1.33–7.9), P = 0.0063", "holds", 3.2451, 0.0063138, False),   # 3.25
    ("hazard ratio 3.24 (95% CI 1.33–7.9), P = 0.0063", "holds", 3.2381, 0.00645, False),     # 0.0065
    ("hazard ratio 3.24 (95% CI 1.33–7.9), P = 0.0063", "contradicted", 3.2381, 0.0063138, False),
    ("hazard ratio 3.24, P = 0.0063", "holds", 3.2381, 0.0063138, True),                       # no CI
    ("hazard ratio 3.245, P = 0.0063", "holds", 3.245, 0.0063138, False),                      # 4 digits
    ("hazard ratio 5 (95% CI 1–9), P = 0.050", "contradicted", 5.0, 0.0504, True),            # 5.00, 0.050
    ("hazard ratio 5 (95% CI 1–9), P = 0.050", "contradicted", 5.0, 0.0496, False),  # prints 0.050 but holds
    ("hazard ratio 2, P = < 0.0001", "holds", 2.0, 3e-7, True),
    ("hazard ratio 2, P = < 0.0001", "holds", 2.0, 0.00011, False),
    ("hazard ratio 3.24", "holds", 3.2381, math.nan, False),      # significant needs a P: none is contradicted
    ("hazard ratio 3.24", "contradicted", 3.2381, math.nan, True),
    ("odds ratio 3.24, P = 0.0063", "holds", 3.2381, 0.0063138, False),                        # other measure
    ("", "not-evaluated", 3.2381, 0.0063138, False),
])
def test_check_claim(reproduced, status, estimate, p_value, agrees):
    claim = load_claims().loc["000-claim-os-lbc-worse"]   # hazard ratio, above, significant
    assert (check_claim(reproduced, status, claim, estimate, p_value) == "") is agrees


def test_check_claim_no_difference_and_direction_rules():
    claims = load_claims()
    no_difference = claims.loc["000-claim-crs-severe-no-difference"]   # risk difference, P >= 0.05
    assert check_claim("risk difference -0.00572, P = 1.000", "holds", no_difference, -0.0057215, 1.0) == ""
    assert "contradicted" in check_claim("risk difference -0.00572, P = 1.000", "holds", no_difference, -0.0057215,
                                         0.04)
    direction = claims.loc["003-claim-blina-ino-cr-higher"]             # risk difference above 0, P not needed
    assert check_claim("risk difference 0.25, P = 0.264", "holds", direction, 0.25, 0.2641) == ""
    assert "contradicted" in check_claim("risk difference -0.25, P = 0.264", "holds", direction, -0.25, 0.2641)


def regenerate() -> None:
    """Re-run the R oracle on data/synthetic: the committed fixture, byte for byte as R wrote it,
    and the data fingerprint beside it."""
    crosscheck.write_fixture(SYNTHETIC_DIR, ORACLE_FIXTURE)
    for path in (ORACLE_FIXTURE, crosscheck.ORACLE_FINGERPRINT):
        print(f"wrote {path.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    if "--regenerate" in sys.argv[1:]:
        regenerate()
    else:
        print(__doc__)
