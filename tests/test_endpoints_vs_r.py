"""More endpoints of a reader's cohort (EFS, duration of response, GRFS, count recovery and a
centre-coded event), run by ``own_endpoints.endpoints_section`` on a transplant-like cohort of
three cohorts and checked against R: survival::survfit/survdiff and cmprsk::cuminc on endpoints
that tests/r/endpoints.R derives itself from the raw contract tables.

The inputs (tests/fixtures/r/endpoints_{patients,responses,outcomes,events}.csv) and R's output
(endpoints_*_expected.csv) are committed; ``python tests/test_endpoints_vs_r.py --regenerate``
rebuilds both. The edge cases (no events table, no GVHD, no responder, bad rows) need no R.
"""

from __future__ import annotations

import contextlib
import functools
import html
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import r_oracle
from helpers import chapters
from helpers.chapters import own_data, own_endpoints
from helpers.clinical import endpoints as ep
from helpers.contract import events_rules
from helpers.contract.validate import ContractError, read_cohort
from helpers.synthetic import registry

STUDY = "centre"
TABLE_NAMES = ("patients", "responses", "outcomes", "events")
ORACLE = r_oracle.Oracle(
    "endpoints.R",
    inputs=tuple(f"endpoints_{t}" for t in TABLE_NAMES),
    outputs=("endpoints_derived_expected", "endpoints_km_expected", "endpoints_median_expected",
             "endpoints_logrank_expected", "endpoints_cif_expected", "endpoints_gray_expected"),
    session="endpoints_session",
    read_outputs=dict(dtype={"endpoint": str, "cohort": str, "event": str}))
TOL = 1e-10
FIXTURE_TOL = 1e-12
close = functools.partial(r_oracle.close, tol=TOL)
COHORTS = {"B-ALL": ("B-ALL", 0.45, 0.0), "LBCL": ("large B-cell lymphoma", 0.35, 0.0),
           "Ph+ ALL": ("Ph+ B-ALL", 0.20, 0.25)}
PATIENT_COLUMNS = ["study_id", "patient_id", "cohort", "diagnosis", "age_years", "sex", "disease_status",
                   "time_origin", "origin"]


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as its CSV file reads back (every cell text), so committed and built compare."""
    return pd.read_csv(io.StringIO(frame.to_csv(index=False, lineterminator="\n")), dtype=str, keep_default_na=False)


def make_inputs() -> dict[str, pd.DataFrame]:
    """A transplant-like reader's cohort: three cohorts (one lymphoma, where PR is a response),
    patients in CR at time zero with and without an assessment, salvage remissions after a
    relapse, not-evaluable assessments, and an events table with graded and ungraded acute GVHD,
    chronic GVHD, both recoveries and the centre's own cmv_reactivation (some twice)."""
    frames = registry.generate(registry.Shape(STUDY, 240, cohorts=COHORTS,
                                              tables=("patients", "responses", "outcomes")), seed=7)
    rng = np.random.default_rng(11)
    patients, outcomes = frames["patients"].copy(), frames["outcomes"].copy()
    responses = frames["responses"].copy()
    n = len(patients)
    patients["time_origin"] = "allo-HSCT"
    in_cr = rng.random(n) < 0.08
    patients.loc[in_cr, "disease_status"] = "complete_remission"
    drop = set(patients.loc[in_cr & (rng.random(n) < 0.5), "patient_id"])
    responses = responses[~responses["patient_id"].isin(drop)]
    responses.loc[responses.sample(frac=0.04, random_state=3).index, "morphologic"] = "not_evaluable"
    relapsed = outcomes[outcomes["relapsed"] & (outcomes["followup_days"] - outcomes["relapse_day"] > 20)]
    salvage = relapsed.sample(n=min(8, len(relapsed)), random_state=5)
    extra = pd.DataFrame({"study_id": STUDY, "patient_id": salvage["patient_id"],
                          "day": (salvage["relapse_day"] + 10).round().astype(int), "morphologic": "CR",
                          "mrd_flow": "positive", "molecular": "not_done", "origin": "synthetic"})
    responses = (pd.concat([responses, extra]).drop_duplicates(["patient_id", "day"])
                 .sort_values(["patient_id", "day"], kind="mergesort"))
    rows = []
    fu = outcomes.set_index("patient_id")["followup_days"]
    for pid in patients["patient_id"]:
        for code, chance, low, high in (("acute_gvhd", 0.45, 10, 90), ("chronic_gvhd", 0.25, 100, 500),
                                        ("anc_recovery", 0.9, 9, 35), ("platelet_recovery", 0.75, 10, 80),
                                        ("cmv_reactivation", 0.35, 14, 150), ("cmv_reactivation", 0.1, 160, 300)):
            day = float(rng.integers(low, high))
            if rng.random() < chance and day <= fu[pid]:
                grade = (int(rng.integers(1, 5)) if rng.random() < 0.9 else None) if code == "acute_gvhd" else \
                    (int(rng.integers(1, 4)) if code == "chronic_gvhd" and rng.random() < 0.5 else None)
                rows.append({"study_id": STUDY, "patient_id": pid, "event": code, "day": day,
                             "grade": pd.NA if grade is None else grade, "origin": "synthetic"})
    events = pd.DataFrame(rows).drop_duplicates(["patient_id", "event", "day"])
    events["grade"] = events["grade"].astype("Int64")
    return {"endpoints_patients": _as_text(patients[PATIENT_COLUMNS]), "endpoints_responses": _as_text(responses),
            "endpoints_outcomes": _as_text(outcomes), "endpoints_events": _as_text(events)}


def write_folder(inputs: dict, folder: Path, skip: tuple = ()) -> Path:
    study = folder / STUDY
    study.mkdir(parents=True, exist_ok=True)
    for table in TABLE_NAMES:
        if table not in skip:
            inputs[f"endpoints_{table}"].to_csv(study / f"{table}.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def inputs():
    return ORACLE.inputs_or(make_inputs)


@pytest.fixture(scope="module")
def section(inputs, tmp_path_factory):
    """The section run on the committed cohort: (book, computed, figures drawn, page text)."""
    book = chapters.setup("t", write_folder(inputs, tmp_path_factory.mktemp("endpoints")))
    patients = book.cohort(STUDY)["patients"]
    drawn, shown = [], []
    real, real_show = own_endpoints.figures.show, own_data.show
    own_endpoints.figures.show = lambda figure, *a, **k: drawn.append((figure, k.get("name"))) or real(figure, *a, **k)
    own_data.show = lambda *items: shown.extend(items) or real_show(*items)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            computed = own_endpoints.endpoints_section(book, STUDY, own_data.cohort_order(patients), patients)
    finally:
        own_endpoints.figures.show, own_data.show = real, real_show
    page = "".join(item._repr_html_() for item in shown if hasattr(item, "_repr_html_"))
    return book, computed, drawn, html.unescape(page)


def _curve(curves, cohort):
    (found,) = [c for c in curves if c.label == cohort]
    return found


def _km(computed, endpoint):
    return computed["grfs"] if endpoint == "grfs" else computed["efs_dor"][endpoint]


def _cif(computed, event):
    return computed["recovery"][event] if event in ep.RECOVERY_CODES else computed["centre"][event]


# --------------------------------------------------------------------------- #
# the committed fixtures
# --------------------------------------------------------------------------- #
def test_inputs_are_what_make_inputs_builds(inputs):
    r_oracle.assert_same_frames(make_inputs(), inputs, ORACLE.inputs)
    assert ORACLE.committed_r_version().startswith("R version")
    events = inputs["endpoints_events"]
    assert set(events["event"]) == {"acute_gvhd", "chronic_gvhd", "anc_recovery", "platelet_recovery",
                                    "cmv_reactivation"}
    assert (events["grade"] == "").any() and (events["grade"] == "4").any()  # ungraded and grade IV


# --------------------------------------------------------------------------- #
# against R
# --------------------------------------------------------------------------- #
def test_derived_endpoints_count_what_r_derives(section):
    book, computed, _, _ = section
    cohort = book.cohort(STUDY)
    frame = computed["efs_dor"]["frame"]
    grfs, _ = ep.grfs_frame(cohort)
    ours = {"efs": frame.assign(events=frame["efs_event"].astype(int), competing=0),
            "dor": frame[frame["responded"]].assign(events=lambda f: f["dor_event"].astype(int), competing=0),
            "grfs": grfs.assign(events=grfs["grfs_event"].astype(int), competing=0)}
    for code in ("anc_recovery", "platelet_recovery", "cmv_reactivation"):
        data = _cif(computed, code)["data"]
        ours[code] = data.assign(events=(data["status"] == 1).astype(int), competing=(data["status"] == 2).astype(int))
    expected = ORACLE.expected()["endpoints_derived_expected"]
    for row in expected.to_dict("records"):
        part = ours[row["endpoint"]]
        part = part[part["cohort"] == row["cohort"]]
        assert (len(part), int(part["events"].sum()), int(part["competing"].sum())) == \
            (row["n"], row["events"], row["competing"]), row
    assert len(expected) == 6 * 3


def test_km_estimates_and_medians_equal_survfit(section):
    _, computed, _, _ = section
    km = ORACLE.expected()["endpoints_km_expected"]
    for (endpoint, cohort), rows in km.groupby(["endpoint", "cohort"]):
        at = _curve(_km(computed, endpoint)["curves"], cohort).at(rows["time"].to_numpy())
        for column in ("surv", "lower", "upper"):
            close(at[column], rows[column], f"{endpoint} {cohort} {column}")
        assert at["n_risk"].tolist() == rows["n_risk"].tolist()
    assert set(km["endpoint"]) == {"efs", "dor", "grfs"}
    for row in ORACLE.expected()["endpoints_median_expected"].to_dict("records"):
        curve = _curve(_km(computed, row["endpoint"])["curves"], row["cohort"])
        assert (curve.n, curve.events) == (row["n"], row["events"]), row
        median = curve.median()
        close([median["estimate"], median["lower"], median["upper"]], [row["median"], row["lower"], row["upper"]],
              f"median {row['endpoint']} {row['cohort']}")


def test_log_rank_tests_equal_survdiff(section):
    _, computed, _, _ = section
    for row in ORACLE.expected()["endpoints_logrank_expected"].to_dict("records"):
        test = _km(computed, row["endpoint"])["test"]
        assert test.df == row["df"]
        assert np.isclose(test.statistic, row["chisq"], rtol=1e-9, atol=0), row
        assert np.isclose(test.p_value, row["p"], rtol=1e-7, atol=1e-15), row


def test_cumulative_incidence_and_grays_test_equal_cuminc(section):
    _, computed, _, _ = section
    cif = ORACLE.expected()["endpoints_cif_expected"]
    for (event, cohort), rows in cif.groupby(["event", "cohort"]):
        at = _curve(_cif(computed, event)["curves"], cohort).at(rows["time"].to_numpy())
        close(at["surv"], rows["est"], f"CIF {event} {cohort}")
        close(at["var"], rows["var"], f"CIF variance {event} {cohort}")
    assert set(cif["event"]) == {"anc_recovery", "platelet_recovery", "cmv_reactivation"}
    for row in ORACLE.expected()["endpoints_gray_expected"].to_dict("records"):
        gray = _cif(computed, row["event"])["gray"]
        assert gray["df"] == row["df"]
        assert np.isclose(gray["statistic"], row["stat"], rtol=1e-8, atol=0), row
        assert np.isclose(gray["p_value"], row["pv"], rtol=1e-6, atol=1e-14), row


def test_the_page_states_its_rules_and_names_its_axes_by_time_zero(section):
    _, _, drawn, page = section
    assert "counted as an event on day 0" in page and "every chronic_gvhd row counts" in page
    assert "A patient without a row is taken as not recovered" in page
    assert "endpoints beyond overall and leukaemia-free survival" in page and "a PR counts too" in page
    names = [name for _, name in drawn]
    assert names == [f"fig-survival-{STUDY}-{what}" for what in
                     ("efs", "dor", "grfs", "anc-recovery", "platelet-recovery", "event-cmv-reactivation")]
    titles = {name: figure.layout.xaxis.title.text for figure, name in drawn}
    assert titles.pop(f"fig-survival-{STUDY}-dor") == "Months since the first response"
    assert set(titles.values()) == {"Months since allo-HSCT"}


# committed fixtures vs R now (tests/conftest.py runs ORACLE; skipped without Rscript)
@pytest.mark.parametrize("name", ORACLE.outputs)
def test_committed_fixtures_equal_live_r(live_r, name):
    assert ORACLE.live_mismatches(live_r, name, tol=FIXTURE_TOL) == []


# --------------------------------------------------------------------------- #
# definitions on small hand-made cohorts
# --------------------------------------------------------------------------- #
def _tiny(responses, *, diagnosis="B-ALL", status=None, relapse=None, died=None, followup=None):
    n = len(followup)
    ids = [f"P{i}" for i in range(n)]
    patients = pd.DataFrame({"patient_id": ids, "cohort": "A", "diagnosis": diagnosis,
                             "disease_status": status or [None] * n})
    relapse = relapse or [None] * n
    outcomes = pd.DataFrame({"patient_id": ids, "followup_days": followup,
                             "relapsed": [r is not None for r in relapse],
                             "relapse_day": [np.nan if r is None else r for r in relapse], "died": died or [False] * n})
    rows = pd.DataFrame(responses, columns=["patient_id", "day", "morphologic"])
    return {"patients": patients, "outcomes": outcomes, "responses": rows}


def test_response_failure_and_duration_follow_their_definitions():
    tables = _tiny([("P0", 28, "CR"), ("P1", 28, "PR"), ("P1", 90, "CR"), ("P2", 28, "NR"), ("P2", 200, "CR"),
                    ("P3", 28, "not_evaluable")],
                   status=[None, None, None, None, "complete_remission"], relapse=[300, None, 100, None, 50],
                   died=[True, False, True, False, False], followup=[400, 500, 250, 60, 365])
    frame, checks = ep.efs_dor_frame(tables, days_per_unit=1)
    assert frame["responded"].tolist() == [True, True, False, False, True]
    assert frame["response_day"].tolist()[:2] == [28, 90] and frame["response_day"].iloc[4] == 0
    # failure (P2: its CR came after the relapse; P3: nothing readable) is an event on day 0
    assert frame["efs_time"].tolist() == [300, 500, 0, 0, 50]
    assert frame["efs_event"].tolist() == [True, False, True, True, True]
    assert frame["dor_time"].tolist()[:2] == [272, 410] and frame["dor_time"].iloc[4] == 50
    counted = checks.set_index("rule")["patients"]
    assert counted.filter(like="salvage").iloc[0] == 1 and counted.filter(like="complete remission").iloc[0] == 1
    lymphoma = ep.efs_dor_frame({**tables, "patients": tables["patients"].assign(diagnosis="large B-cell lymphoma")},
                                days_per_unit=1)[0]
    assert lymphoma["response_day"].iloc[1] == 28  # PR is a response under Lugano


def test_grfs_takes_the_first_of_its_components():
    tables = _tiny([], relapse=[None, 80, None, None], died=[False, True, True, False], followup=[300, 200, 150, 400])
    tables["events"] = pd.DataFrame({"patient_id": ["P0", "P0", "P1", "P2", "P3"],
                                     "event": ["acute_gvhd", "chronic_gvhd", "acute_gvhd", "acute_gvhd", "anc_recovery"],
                                     "day": [20, 120, 30, 40, 15], "grade": pd.array([2, pd.NA, 3, pd.NA, pd.NA], "Int64")})
    frame, checks = ep.grfs_frame(tables, days_per_unit=1)
    assert frame["grfs_time"].tolist() == [120, 30, 150, 400]
    assert frame["grfs_first"].tolist() == ["chronic GVHD", "acute GVHD grade III–IV", "death", ""]
    counted = checks.set_index("rule")["patients"]
    assert counted.filter(like="without a grade").iloc[0] == 1 and counted.filter(like="I–II only").iloc[0] == 1


def test_an_event_after_the_last_follow_up_is_refused_naming_the_patient():
    tables = _tiny([], followup=[100, 200])
    tables["events"] = pd.DataFrame({"patient_id": ["P0", "P1"], "event": ["chronic_gvhd", "cmv"], "day": [150.0, 20.0]})
    with pytest.raises(ValueError, match=r"chronic GVHD after the last follow-up .*\['P0'\]"):
        ep.grfs_frame(tables)
    with pytest.raises(ValueError, match=r"after the last follow-up .*\['P0'\]"):
        ep.incidence_frame(tables, ep.first_event_day(tables["events"], "chronic_gvhd"))


def test_anc_recovery_from_labs_is_the_first_of_three_values_at_or_above_threshold():
    labs = pd.DataFrame({"patient_id": ["P0"] * 7 + ["P1"] * 3 + ["P2"] * 4, "analyte": "ANC",
                         "day": [-3, 0, 5, 9, 10, 11, 12, 0, 3, 6, 0, 4, 8, 12],
                         "value": [0.1, 0.2, 0.6, 0.4, 0.5, 0.7, 0.9, 1.0, 2.0, 3.0, 0.1, 0.6, 0.7, 0.3]})
    days, checks = ep.anc_recovery_from_labs(labs)
    assert days.to_dict() == {"P0": 10.0}  # P1 never low; P2's run is broken at day 12
    assert checks["patients"].tolist() == [3, 1]


# --------------------------------------------------------------------------- #
# edge cases
# --------------------------------------------------------------------------- #
def _run(inputs, tmp_path, skip=(), change=None):
    data = {k: v.copy() for k, v in inputs.items()}
    if change:
        change(data)
    book = chapters.setup("t", write_folder(data, tmp_path, skip))
    patients = book.cohort(STUDY)["patients"]
    with contextlib.redirect_stdout(io.StringIO()) as page:
        computed = own_endpoints.endpoints_section(book, STUDY, own_data.cohort_order(patients), patients)
    return computed, page.getvalue()


def test_without_an_events_table_the_section_says_so(inputs, tmp_path):
    computed, page = _run(inputs, tmp_path, skip=("events",))
    assert "No data for this analysis: GRFS, count recovery and the centre&#x27;s own events" in page \
        or "No data for this analysis: GRFS, count recovery and the centre's own events" in page
    assert "efs" in computed["efs_dor"] and "grfs" not in computed


def test_a_study_without_gvhd_rows_gets_no_grfs(inputs, tmp_path):
    def no_gvhd(data):
        ev = data["endpoints_events"]
        data["endpoints_events"] = ev[~ev["event"].isin(["acute_gvhd", "chronic_gvhd"])]
    computed, page = _run(inputs, tmp_path, change=no_gvhd)
    assert computed["grfs"] is None and "no acute_gvhd or chronic_gvhd row" in page
    assert "anc_recovery" in computed["recovery"]


def test_without_anc_recovery_rows_an_anc_series_gives_the_recovery(inputs, tmp_path):
    outcomes = inputs["endpoints_outcomes"]
    followed = outcomes.loc[outcomes["followup_days"].astype(float) >= 30, "patient_id"].head(5).tolist()
    labs = pd.DataFrame([{"study_id": STUDY, "patient_id": pid, "analyte": "ANC", "day": day, "value": value,
                          "unit": "10^9/L", "below_lloq": "false", "origin": "synthetic"}
                         for pid in followed for day, value in zip((0, 5, 10, 15, 20), (0.1, 0.2, 0.6, 0.8, 1.0))])
    (tmp_path / STUDY).mkdir()
    labs.to_csv(tmp_path / STUDY / "labs.csv", index=False)

    def no_anc_rows(data):
        ev = data["endpoints_events"]
        data["endpoints_events"] = ev[ev["event"] != "anc_recovery"]
    computed, _ = _run(inputs, tmp_path, change=no_anc_rows)
    data = computed["recovery"]["anc_recovery"]["data"].set_index("patient_id")
    assert (data["status"] == 1).sum() == 5
    assert np.allclose(data.loc[followed, "time"], 10 / ep.DAYS_PER_MONTH)


def test_a_cohort_without_responders_gets_no_duration_of_response(inputs, tmp_path):
    def nobody_responds(data):
        data["endpoints_responses"]["morphologic"] = "NR"
        data["endpoints_patients"]["disease_status"] = "first_relapse"
    computed, page = _run(inputs, tmp_path, change=nobody_responds)
    assert "dor" not in computed["efs_dor"] and "Duration of response, study centre" in page
    frame = computed["efs_dor"]["frame"]
    assert (frame["efs_time"] == 0).all() and frame["efs_event"].all()  # everyone failed on day 0


def test_bad_events_rows_are_refused_naming_file_column_and_row(inputs, tmp_path):
    def bad(data):
        ev = data["endpoints_events"].copy()
        ev.loc[0, "patient_id"] = "NOBODY-1"
        ev.loc[1, "day"] = "-4"
        data["endpoints_events"] = ev
    data = {k: v.copy() for k, v in inputs.items()}
    bad(data)
    with pytest.raises(ContractError) as raised:
        read_cohort(write_folder(data, tmp_path) / STUDY)
    text = str(raised.value)
    assert "events.csv: table 'events', column 'patient_id', row 1: patient is not in patients.csv" in text
    assert "events.csv: table 'events', column 'day', row 2: must be ≥ 0 (found -4)" in text


def test_reserved_codes_keep_their_meaning():
    frame = pd.DataFrame({"study_id": "S", "patient_id": ["P1", "P1", "P2", "P2", "P3"],
                          "event": ["acute_gvhd", "anc_recovery", "anc_recovery", "anc_recovery", "chronic_gvhd"],
                          "day": [10.0, 12.0, 14.0, 20.0, 100.0], "grade": pd.array([5, 2, pd.NA, pd.NA, 0], "Int64")})
    problems = events_rules.events_problems({"events": frame}, {"events": frame.astype(str)},
                                            {"events": [1, 2, 3, 4, 5]}, {"events": "events.csv"})
    found = {(p["row"], p["column"]): p["rule"] for p in problems}
    assert found[(1, "grade")].startswith("must be 1–4 for acute_gvhd")
    assert found[(2, "grade")] == "must be empty for anc_recovery (a count recovery has no grade)"
    assert found[(4, "event")].startswith("anc_recovery is recorded twice for this patient (first in events.csv row 3)")
    assert found[(5, "grade")].startswith("must not be 0 for chronic_gvhd: a GVHD row records GVHD that occurred")
    assert len(problems) == 4


def test_the_contract_check_applies_the_events_rules():
    patients = pd.DataFrame({"study_id": "S", "patient_id": ["P1"], "cohort": "A", "age_years": "50", "sex": "male",
                             "origin": "user"})
    outcomes = pd.DataFrame({"study_id": "S", "patient_id": ["P1"], "followup_days": "100", "relapsed": "false",
                             "relapse_day": "", "died": "false", "death_cause": "", "origin": "user"})
    events = pd.DataFrame({"study_id": "S", "patient_id": ["P1"], "event": ["anc_recovery"], "day": ["12"],
                           "grade": ["1"], "origin": "user"})
    from helpers.contract.validate import validate_cohort

    with pytest.raises(ContractError, match="column 'grade', row 1: must be empty for anc_recovery"):
        validate_cohort({"patients": patients, "outcomes": outcomes, "events": events})


if __name__ == "__main__":   # --regenerate: rewrite the cohort and re-run tests/r/endpoints.R
    ORACLE.main(sys.argv[1:], make_inputs=make_inputs)
