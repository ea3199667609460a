"""The reproduction ledger follows the data: change one patient, and exactly the rows that depend
on that patient move.

One extra build (``--no-site --no-regenerate``, output under a temporary folder through
``CART_BOOK_OUTPUT``) runs every chapter on a copy of data/synthetic with two independent
mutations, in two studies so that their effects can be told apart:

(a) study 000: one CML-LBC responder becomes a non-responder, written exactly as the generator
    (``helpers.synthetic.study_000``) writes one: responses ``NR`` / ``positive`` /
    ``detectable`` on the same assessment day, outcomes ``relapsed`` True with ``relapse_day`` = that
    day (progression), ``died`` / ``followup_days`` kept (so OS and follow-up do not move) and
    ``death_cause`` "relapse" if dead. The patient is the first CML-LBC responder in the file whose
    remission is MRD-positive (so no MRD-negative CR count moves), who was not bridged to allo-HSCT
    (so the transplant rows do not move), who is ABL-KD wild type (so the mutated group's LFS
    does not move) and who has no treatment after the infusion (the generator gives post-infusion
    TKIs and transplants to responders only).
(b) study 004: one death in remission before one year (the first responder in the file who died
    without relapse before day 365.25) is moved to day 400, after one year: 1-year OS and 1-year RFS
    both rise by one patient.

The default build's ledger (the session fixture ``built``) and the mutated one are compared row by
row on (reproduced, from_data, status): exactly :data:`EXPECTED_000` and :data:`EXPECTED_004`
change (a dependent row whose printed value does not move at print rounding is listed, with the
reason, in :data:`ROUNDING_EXCEPTIONS`); every transcribed row and every row of studies 001 and 003
stays as it was. The mutated build passing means the live R cross-check agreed with every changed
row (all but 000-claim-multi-lbc-response and 000-claim-multi-ablkd-response, which the R oracle
declares not covered: Firth's logistic fit).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from helpers.contract import load_cohort
from helpers.paths import BUILD_DIR, REPO_ROOT, SYNTHETIC_DIR
from helpers.reproduction.crosscheck import find_rscript
from helpers.stats.units import DAYS_PER_MONTH

pytestmark = [pytest.mark.build, pytest.mark.r_live]

if find_rscript() is None:
    if os.environ.get("CI") == "true":
        raise RuntimeError("Rscript is missing: CI requires the live R cross-check of the mutated build")
    pytest.skip("Rscript not installed (make r-oracle installs it): the mutated build's cross-check needs it",
                allow_module_level=True)

COMPARED = ["reproduced", "from_data", "status"]
ONE_YEAR_DAYS = 12 * DAYS_PER_MONTH
MOVED_DEATH_DAY = 400.0  # (b): the death in remission moves here, after one year

# (a) the rows that depend on the flipped CML-LBC patient's response, and on the patient's place among
# the responders (LFS, CIR and the Cox model of LFS are computed on the responders only).
EXPECTED_000 = {
    "000-response-lbc": "the CML-LBC response count loses the patient (k - 1 of the same 13)",
    "000-response-p": "from_data only: the Yates P on the cohort's counts (k - 1)/13 vs Ph+ ALL; the "
                      "recomputed value uses the published counts and must not move",
    "000-lfs2y-lbc": "LFS is among responders: the CML-LBC responders lose the patient",
    "000-lfs2y-p": "log-rank test of LFS by cohort, responders",
    "000-lfs2y-ablkd-wt": "the patient is ABL-KD wild type: the wild-type responders lose the patient",
    "000-lfs2y-ablkd-p": "log-rank test of LFS by ABL-KD status, responders",
    "000-cir2y-lbc": "cumulative incidence of relapse among the CML-LBC responders",
    "000-cir2y-p": "Gray's test, responders",
    "000-cox-ablkd-hr": "Cox model of LFS (ABL-KD + CML-LBC) on the responders",
    "000-cox-lbc-hr": "same model",
    "000-cox-lbc-p": "same model",
    # claims
    "000-claim-response-lbc-lower": "difference of response proportions, CML-LBC vs Ph+ ALL",
    "000-claim-uni-overt-relapse-response": "univariable logistic model of response (the patient is in it)",
    "000-claim-uni-bm-blasts-response": "univariable logistic model of response",
    "000-claim-uni-ablkd-response": "univariable logistic model of response",
    "000-claim-uni-lbc-response": "univariable logistic model of response",
    "000-claim-multi-lbc-response": "weakest of the multivariable models of response (moves) and of "
                                    "MRD-negative CR (does not); not covered by the R oracle",
    "000-claim-multi-ablkd-response": "multivariable (Firth) logistic model of response; not covered by R",
    "000-claim-lfs-lbc-worse": "log-rank / Cox of LFS by cohort, responders",
    "000-claim-lfs-ablkd-worse": "log-rank / Cox of LFS by ABL-KD, responders",
    "000-claim-cir-lbc-higher": "Gray's test and the 2-year CIR difference, responders",
    "000-claim-cox-ablkd-lfs": "multivariable Cox model of LFS, responders",
    "000-claim-cox-lbc-lfs": "multivariable Cox model of LFS, responders",
}
# Dependent rows whose printed value does not move at print rounding (allowed to stay, not required
# to): register id -> why, and the row computed from the same value that shows it did move.
ROUNDING_EXCEPTIONS = {
    "000-cox-ablkd-p": ("the same Cox model's Wald P of ABL-KD; the paper prints 0.031, so the ledger prints "
                        "4 decimals, and 0.00069 and 0.00067 both print as 0.0007",
                        "000-claim-cox-ablkd-lfs"),
}
# Rows of study 000 that stay although they are near the patient: OS, follow-up (followup_days and
# died are kept), Ph+ ALL-only and ABL-KD-mutated figures, MRD-negative CR (the remission was
# MRD-positive), allo-HSCT (not bridged), baseline counts (patients.csv is untouched), and
# 000-claim-conclusion-lbc-independent: it prints the weakest of the LFS Cox model's CML-LBC term
# (moves) and the OS model's (does not), and the OS model's P stays the larger.

# (b) the rows that depend on 004's death times: OS of all patients, RFS of the responders.
EXPECTED_004 = {
    "004-os1y-all": "one death moves from before to after one year: 1-year OS rises",
    "004-rfs1y-all": "the death was the responder's RFS event: 1-year RFS rises",
    "004-claim-os-emd-lower": "log-rank / Cox of OS on the changed times",
    "004-claim-os-tregs-lower": "log-rank / Cox of OS",
    "004-claim-os-genetics-lower": "log-rank / Cox of OS",
    "004-claim-rfs-emd-lower": "log-rank / Cox of RFS, responders",
    "004-claim-rfs-tregs-lower": "log-rank / Cox of RFS, responders",
    "004-claim-rfs-genetics-lower": "log-rank / Cox of RFS, responders",
    "004-claim-cox-emd-os": "multivariable Cox model of OS",
    "004-claim-cox-tregs-rfs": "multivariable Cox model of RFS",
}
# Unchanged in 004: its size, remission rates, grade-4 toxicity and the EMD remission claim do not
# depend on when anybody died.


# --------------------------------------------------------------------------- #
# the mutations
# --------------------------------------------------------------------------- #
def read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def edit_cells(path: Path, patient_id: str, values: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Set ``values`` on the patient's one row of the CSV at ``path``, leaving every other byte as it
    was (the text round trip is checked first); (old, new) per column."""
    frame = read_table(path)
    original = path.read_bytes()
    write_table(frame, path)
    assert path.read_bytes() == original, f"{path}: the CSV does not round-trip as text"
    rows = frame.index[frame["patient_id"] == patient_id]
    assert len(rows) == 1, f"{path}: {patient_id} has {len(rows)} rows, expected one"
    changes = {column: (frame.at[rows[0], column], new) for column, new in values.items()}
    for column, new in values.items():
        frame.at[rows[0], column] = new
    write_table(frame, path)
    return changes


def flip_000_responder(data: Path) -> dict:
    """(a): the first suitable CML-LBC responder becomes a non-responder, as the generator writes one."""
    folder = data / "000"
    patients, responses = read_table(folder / "patients.csv"), read_table(folder / "responses.csv")
    treatments = read_table(folder / "treatments.csv")
    after_infusion = set(treatments.loc[(treatments["category"] != "CAR-T")
                                        & (treatments["start_day"].replace("", "nan").astype(float) > 0),
                                        "patient_id"])
    lbc = patients[(patients["cohort"] == "CML-LBC") & (patients["bridged_to_hsct"] == "False")
                   & (patients["abl_kd_mutation"] == "False") & ~patients["patient_id"].isin(after_infusion)]
    candidates = responses[responses["patient_id"].isin(lbc["patient_id"])
                           & responses["morphologic"].isin(["CR", "CRi"]) & (responses["mrd_flow"] == "positive")]
    assert not candidates.empty, "no CML-LBC responder in MRD-positive remission to flip"
    patient = candidates["patient_id"].iloc[0]
    assessments = responses[responses["patient_id"] == patient]
    assert len(assessments) == 1, f"{patient}: one response assessment expected, as the generator writes"
    day = float(assessments["day"].iloc[0])
    outcome = read_table(folder / "outcomes.csv").set_index("patient_id").loc[patient]
    changes = {"responses": edit_cells(folder / "responses.csv", patient,
                                       {"morphologic": "NR", "mrd_flow": "positive", "molecular": "detectable"}),
               "outcomes": edit_cells(folder / "outcomes.csv", patient,
                                      {"relapsed": "True", "relapse_day": f"{day:.1f}",
                                       "death_cause": "relapse" if outcome["died"] == "True" else ""})}
    return dict(patient=patient, changes=changes)


def move_004_death(data: Path) -> dict:
    """(b): the first responder who died in remission before one year dies on day 400 instead."""
    folder = data / "004"
    outcomes, responses = read_table(folder / "outcomes.csv"), read_table(folder / "responses.csv")
    responders = set(responses.loc[responses["morphologic"].isin(["CR", "CRi"]), "patient_id"])
    candidates = outcomes[outcomes["patient_id"].isin(responders) & (outcomes["died"] == "True")
                          & (outcomes["relapsed"] == "False")
                          & (outcomes["followup_days"].astype(float) < ONE_YEAR_DAYS)]
    assert not candidates.empty, "no death in remission before one year in study 004"
    patient = candidates["patient_id"].iloc[0]
    changes = {"outcomes": edit_cells(folder / "outcomes.csv", patient, {"followup_days": f"{MOVED_DEATH_DAY:.1f}"})}
    return dict(patient=patient, changes=changes)


def build_on(data: Path, output: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, CART_BOOK_OUTPUT=str(output))
    return subprocess.run([sys.executable, "-m", "helpers.site.build", "--data-dir", str(data), "--no-site",
                           "--no-regenerate", "--jobs", "2"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)


# --------------------------------------------------------------------------- #
# fixtures
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def default_ledger(built) -> pd.DataFrame:
    return read_table(BUILD_DIR / "reproduction-ledger.csv")


@pytest.fixture(scope="module")
def mutated(built, tmp_path_factory) -> SimpleNamespace:
    """The mutated build: its ledger, its log and the two mutations (copied after ``built`` ran,
    so that both builds start from the same data)."""
    root = tmp_path_factory.mktemp("ledger-mutation")
    data = root / "data"
    shutil.copytree(SYNTHETIC_DIR, data)
    a, b = flip_000_responder(data), move_004_death(data)
    for study in ("000", "004"):
        load_cohort(data / study)  # the mutated data still meet the contract (raises ContractError)
    completed = build_on(data, root / "output")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    ledger = read_table(root / "output" / "_build" / "reproduction-ledger.csv")
    return SimpleNamespace(ledger=ledger, log=completed.stdout + completed.stderr, a=a, b=b)


def changed_rows(before: pd.DataFrame, after: pd.DataFrame) -> set[str]:
    old, new = before.set_index("register_id")[COMPARED], after.set_index("register_id")[COMPARED]
    return set(old.index[(old != new.loc[old.index]).any(axis=1)])


# --------------------------------------------------------------------------- #
# tests
# --------------------------------------------------------------------------- #
def test_the_mutations_are_the_intended_ones(mutated):
    a, b = mutated.a, mutated.b
    assert a["changes"]["responses"]["morphologic"][0] in ("CR", "CRi")
    assert a["changes"]["responses"]["morphologic"][1] == "NR"
    old_day, new_day = b["changes"]["outcomes"]["followup_days"]
    assert float(old_day) < ONE_YEAR_DAYS < float(new_day)


def test_the_mutated_build_passed_the_live_r_cross_check(mutated):
    assert "ledger cross-check: all" in mutated.log, mutated.log[-3000:]
    assert "live Rscript run" in mutated.log, mutated.log[-3000:]


def test_the_same_rows_in_the_same_order(default_ledger, mutated):
    assert mutated.ledger["register_id"].tolist() == default_ledger["register_id"].tolist()
    fixed = ["study", "chapter", "quantity", "group", "published", "basis", "evidence", "tolerance"]
    assert mutated.ledger[fixed].equals(default_ledger[fixed])


def test_exactly_the_dependent_rows_change(default_ledger, mutated):
    changed = changed_rows(default_ledger, mutated.ledger)
    expected = set(EXPECTED_000) | set(EXPECTED_004)
    unexpected = sorted(changed - expected - set(ROUNDING_EXCEPTIONS))
    unmoved = sorted(expected - changed)
    assert not unexpected and not unmoved, (f"changed but not expected: {unexpected}; "
                                            f"expected to change but did not: {unmoved}")
    for rid, (why, companion) in ROUNDING_EXCEPTIONS.items():
        assert companion in changed, f"{rid} ({why}): {companion}, computed from the same value, did not move"


def test_the_weakest_of_two_models_keeps_the_one_that_did_not_move(default_ledger, mutated):
    # 000-claim-conclusion-lbc-independent prints the OS model's CML-LBC term (the larger P); its note
    # names both models with their patients and events, and the LFS model lost one patient.
    old, new = default_ledger.set_index("register_id"), mutated.ledger.set_index("register_id")
    rid = "000-claim-conclusion-lbc-independent"
    assert new.at[rid, "reproduced"] == old.at[rid, "reproduced"]
    assert new.at[rid, "note"] != old.at[rid, "note"]


def test_the_response_rate_and_its_recomputed_p(default_ledger, mutated):
    old, new = default_ledger.set_index("register_id"), mutated.ledger.set_index("register_id")
    k, n = (int(x) for x in old.at["000-response-lbc", "reproduced"].split(" ")[0].split("/"))
    assert new.at["000-response-lbc", "reproduced"] == f"{k - 1}/{n} ({100 * (k - 1) / n:.1f}%)"
    assert (old.at["000-response-lbc", "status"], new.at["000-response-lbc", "status"]) == ("exact", "differs")
    # the recomputed P depends on published counts only; its from_data column follows the cohort
    assert new.at["000-response-p", "reproduced"] == old.at["000-response-p", "reproduced"]
    assert new.at["000-response-p", "status"] == old.at["000-response-p", "status"]
    assert f"{k}/{n} vs" in old.at["000-response-p", "from_data"]
    assert f"{k - 1}/{n} vs" in new.at["000-response-p", "from_data"]


def test_moving_a_death_past_one_year_raises_both_1_year_figures(default_ledger, mutated):
    old, new = default_ledger.set_index("register_id"), mutated.ledger.set_index("register_id")
    for rid in ("004-os1y-all", "004-rfs1y-all"):
        assert float(new.at[rid, "reproduced"].rstrip("%")) > float(old.at[rid, "reproduced"].rstrip("%")), rid


def test_transcribed_rows_and_studies_001_and_003_are_untouched(default_ledger, mutated):
    keep = (default_ledger["basis"] == "transcribed") | default_ledger["study"].isin(["001", "003"])
    assert keep.any()
    old, new = default_ledger.loc[keep, ["register_id", *COMPARED]], mutated.ledger.loc[keep, ["register_id", *COMPARED]]
    assert new.equals(old)
