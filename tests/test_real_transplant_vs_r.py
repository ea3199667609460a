"""A real public transplant cohort through the whole survival chapter (issue 15).

Klein & Moeschberger's bone-marrow transplant data (KMsurv::bmt; see tests/real_cohorts.py for
what is carried and what is not) are converted into the contract without inventing a value, the
intake accepts them, and the survival section a reader's cohort gets -- Kaplan–Meier, log-rank,
cumulative incidence of relapse and of death in remission with Gray's test, Fine–Gray and Cox --
gives R's numbers. R's numbers (tests/r/bmt_survival.R) are computed from the data set's own
columns, not from the book's conversion, so the conversion is checked too. They are committed in
tests/fixtures/r/bmt_*.csv and recomputed live when Rscript is installed.
"""

from __future__ import annotations

import contextlib
import io
import shutil

import numpy as np
import pandas as pd
import pytest

from helpers import chapters, stats
from helpers.chapters import own_data
from helpers.clinical.outcomes import outcome_frame
from helpers.contract import validate
from helpers.site import intake
from r_oracle import FIXTURES, SCRIPTS, run_rscript
from real_cohorts import COVARIATES, NOT_CARRIED, STUDY, bmt_contract, read_bmt

RESULTS = ("km", "logrank", "cox", "gray", "fine_gray")
#: The Cox and Fine–Gray terms in the book's design and R's names for them.
TERMS = {"cohort_1": "AML high risk", "cohort_2": "ALL", "age_years": "age", "sex": "male"}


@pytest.fixture(scope="module")
def r_results():
    committed = {name: pd.read_csv(FIXTURES / f"bmt_{name}.csv") for name in RESULTS}
    if shutil.which("Rscript"):
        live = run_rscript(SCRIPTS / "bmt_survival.R", {"bmt": read_bmt()})
        for name in RESULTS:
            pd.testing.assert_frame_equal(live[name], committed[name], check_exact=False, rtol=1e-12)
    return committed


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    folder = bmt_contract(read_bmt(), tmp_path_factory.mktemp("bmt"))
    report = intake.validate(folder)
    assert report.ok, report.text()
    book = chapters.setup("t", folder.parent)
    frame, checks = outcome_frame(book.cohort(STUDY))
    return book, frame, checks


def test_the_conversion_keeps_every_patient_and_invents_nothing(converted):
    book, frame, checks = converted
    bmt = read_bmt()
    patients = book.cohort(STUDY)["patients"]
    assert len(patients) == len(bmt) == 137
    assert patients["cohort"].value_counts().to_dict() == {"AML low risk": 54, "AML high risk": 45, "ALL": 38}
    for column in ("car_target", "car_dose_cells_per_kg", "marrow_blasts_pct", "prior_lines", "abl_kd_mutation"):
        assert patients[column].isna().all(), column  # not in the data set: left empty
    assert int(frame["os_event"].sum()) == int(bmt["d1"].sum()) == 81
    assert int(frame["relapsed"].sum()) == int(bmt["d2"].sum()) == 42
    assert frame["responder"].all()  # transplanted in complete remission, the data set's inclusion rule
    rule = "in complete remission at time zero (disease_status): responders from day 0"
    assert checks.set_index("rule").loc[rule, "patients"] == 137


def test_the_survival_section_on_the_transplant_cohort_gives_rs_numbers(converted, r_results, monkeypatch):
    book, frame, _ = converted
    drawn = []
    real_show = own_data.figures.show
    monkeypatch.setattr(own_data.figures, "show", lambda figure, *a, **k: drawn.append(figure) or real_show(figure, *a, **k))
    order = own_data.cohort_order(frame)
    assert order == ["AML low risk", "AML high risk", "ALL"]
    patients = book.cohort(STUDY)["patients"]
    # bmt_survival.R fits the built-in terms only: the models here leave the declared covariates out
    # (they are checked against R in test_cox_models_with_the_declared_covariates_give_rs_numbers)
    frame = frame.copy()
    frame.attrs.pop(validate.COVARIATES_ATTR, None)
    with contextlib.redirect_stdout(io.StringIO()) as page:
        own_data.survival_section(book, STUDY)
        fits = {name: own_data.cox_section(book, STUDY, name, frame, time, event, order, patients)
                for name, time, event in (("os", "os_time", "os_event"), ("lfs", "lfs_time", "lfs_event"))}
        competing = own_data.competing_risks_section(book, STUDY, frame, order, patients)
    assert "Fine–Gray model of relapse" in page.getvalue()
    curves = [f for f in drawn if f.layout.xaxis.title.text and f.layout.xaxis.title.text.startswith("Months")]
    assert len(curves) >= 4  # OS, LFS, relapse, death in remission
    # every endpoint counts from the study's time origin, except duration of response (from the response)
    assert {f.layout.xaxis.title.text for f in curves} - {"Months since the first response"} == {"Months since allo-HSCT"}
    for row in r_results["km"].to_dict("records"):
        time, event = ("os_time", "os_event") if row["endpoint"] == "os" else ("lfs_time", "lfs_event")
        part = frame[frame["cohort"] == row["cohort"]]
        at = stats.kaplan_meier(part[time], part[event].astype(bool), conf_type="log-log").at([row["time"]]).iloc[0]
        for ours, theirs in (("surv", "surv"), ("lower", "lower"), ("upper", "upper")):
            assert np.isclose(at[ours], row[theirs], rtol=0, atol=1e-12), row
    for row in r_results["logrank"].to_dict("records"):
        time, event = ("os_time", "os_event") if row["endpoint"] == "os" else ("lfs_time", "lfs_event")
        test = stats.logrank_test(frame[time], frame[event].astype(bool), frame["cohort"])
        assert np.isclose(test.statistic, row["chisq"], rtol=1e-10) and np.isclose(test.p_value, row["p"], rtol=1e-8)
    for row in r_results["cox"].to_dict("records"):
        table = fits[row["endpoint"]].table.assign(term=lambda t: t["term"].map(TERMS)).set_index("term")
        assert np.isclose(table.loc[row["term"], "coef"], row["coef"], rtol=0, atol=1e-6), row
        assert np.isclose(table.loc[row["term"], "se"], row["se"], rtol=0, atol=1e-6), row
    for row in r_results["gray"].to_dict("records"):
        ours = competing["gray"][int(row["cause"])]
        assert np.isclose(ours["statistic"], row["statistic"], rtol=1e-8) and np.isclose(ours["p_value"], row["p"], rtol=1e-6)
    fine_gray = competing["fine_gray"].table.assign(term=lambda t: t["term"].map(TERMS)).set_index("term")
    for row in r_results["fine_gray"].to_dict("records"):
        assert np.isclose(fine_gray.loc[row["term"], "coef"], row["coef"], rtol=0, atol=1e-6), row
        assert np.isclose(fine_gray.loc[row["term"], "se"], row["se"], rtol=0, atol=1e-6), row


def test_the_conversion_declares_and_carries_the_covariates_without_inventing_one(converted):
    book, _, _ = converted
    bmt = read_bmt()
    patients = book.cohort(STUDY)["patients"]
    declared = validate.declared_covariates(patients)
    assert [c.name for c in declared] == [d["column"] for d, _ in COVARIATES.values()]
    assert set(NOT_CARRIED) == {"ta/da", "tc/dc", "tp/dp"}  # every z column is carried now
    assert patients["donor_age"].tolist() == bmt["z2"].astype(float).tolist()
    assert patients["waiting_time"].tolist() == bmt["z7"].astype(float).tolist()
    assert (patients["donor_sex"] == "male").tolist() == (bmt["z4"] == 1).tolist()
    for column, z in (("patient_cmv_positive", "z5"), ("donor_cmv_positive", "z6"), ("fab_m4_m5", "z8"),
                      ("mtx_prophylaxis", "z10")):
        assert str(patients[column].dtype) == "boolean" and patients[column].tolist() == (bmt[z] == 1).tolist(), column
    assert list(patients["hospital"].cat.categories) == ["Ohio State", "Alferd", "St. Vincent", "Hahnemann"]
    assert (patients["hospital"].cat.codes + 1).tolist() == bmt["z9"].tolist()


#: The terms model_design chooses on bmt (81 deaths, 83 DFS events: 8 terms) and R's names for them.
DECLARED_TERMS = {"cohort_1": "group3", "cohort_2": "group1", "age_years": "I(z1/10)", "sex": "z3",
                  "donor_age": "I(z2/10)", "donor_sex__1": "z4", "patient_cmv_positive": "z5",
                  "donor_cmv_positive": "z6"}


def test_cox_models_with_the_declared_covariates_give_rs_numbers(converted):
    """R fits the bmt data set's own z columns; the book fits its conversion, the declaration
    carried onto the analysis frame (a merge of patients and outcomes) by carry_covariates."""
    book, frame, _ = converted
    patients = book.cohort(STUDY)["patients"]
    frame = validate.carry_covariates(frame.copy(), patients)
    committed = pd.read_csv(FIXTURES / "covariates_bmt_expected.csv", float_precision="round_trip")
    if shutil.which("Rscript"):
        live = run_rscript(SCRIPTS / "covariates.R", {"bmt": read_bmt()})["bmt_coef"]
        pd.testing.assert_frame_equal(live, committed, check_exact=False, rtol=1e-10)
    order = own_data.cohort_order(frame)
    with contextlib.redirect_stdout(io.StringIO()):
        fits = {name: own_data.cox_section(book, STUDY, name, frame, time, event, order, patients)
                for name, time, event in (("os", "os_time", "os_event"), ("lfs", "lfs_time", "lfs_event"))}
    for name, fit in fits.items():
        assert list(fit.table["term"]) == list(DECLARED_TERMS), name
        ours = fit.table.assign(term=fit.table["term"].map(DECLARED_TERMS)).set_index("term")
        for row in committed[committed["endpoint"] == name].to_dict("records"):
            assert np.isclose(ours.loc[row["term"], "coef"], row["coef"], rtol=0, atol=1e-6), row
            assert np.isclose(ours.loc[row["term"], "se"], row["se"], rtol=0, atol=1e-6), row


def test_axes_name_the_studys_time_zero(converted):
    book, frame, _ = converted
    patients = book.cohort(STUDY)["patients"]
    assert own_data.time_origin(patients) == "allo-HSCT"
    assert own_data.time_origin(patients.drop(columns="time_origin")) == "CAR-T infusion"


def test_a_study_with_two_time_zeros_is_refused(tmp_path):
    folder = bmt_contract(read_bmt(), tmp_path)
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[4, "time_origin"] = "diagnosis"
    patients.to_csv(folder / "patients.csv", index=False)
    report = intake.validate(folder)
    problem = report.problems.set_index("column").loc["time_origin"]
    assert problem["row"] == 5 and problem["rule"].startswith("a study has one time zero: time_origin holds 2 values")
