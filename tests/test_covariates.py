"""Covariates a centre declares (``covariates.csv``): validated per their type, carried with their
dtypes and declaration, shown in Table 1 and offered to the models after the built-in terms.

The bad inputs start from the bad-input catalogue's small valid cohort (tests/test_bad_inputs.py)
and assert the file, column and row of each message. The Cox model with a declared three-level
category, a number and a yes/no is checked against R's ``coxph`` (tests/r/covariates.R), fitted on
the raw columns (R builds the factor and the scaling itself, not from the book's design); R's
output is committed in tests/fixtures/r/covariates_cox_expected.csv and recomputed live when
Rscript is installed.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from helpers import chapters
from helpers.chapters import baselines, own_data
from helpers.clinical.outcomes import outcome_frame
from helpers.contract import ContractError, validate
from helpers.contract.spec import TABLES, Covariate
from helpers.synthetic import registry
from r_oracle import FIXTURES, SCRIPTS, run_rscript
from test_bad_inputs import _tables, problem, problems_of, write

DECLARED = [dict(study_id="mycentre", column="centre", label="Centre", type="category", levels="North; South;East",
                 unit="", per="", origin="user"),
            dict(study_id="mycentre", column="donor_age", label="Donor age", type="number", levels="", unit="years",
                 per="10", origin="user"),
            dict(study_id="mycentre", column="cmv_positive", label="CMV seropositive", type="yes_no", levels="",
                 unit="", per="", origin="user")]


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    out = {name: pd.DataFrame(rows, dtype=object) for name, rows in _tables().items()}
    out["patients"] = out["patients"].assign(centre=["South", "North", "East"], donor_age=["40", "", "61.5"],
                                             cmv_positive=["yes", "FALSE", ""])
    out["covariates"] = pd.DataFrame(DECLARED, dtype=object)
    return out


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "mycentre"


# --------------------------------------------------------------------------- reading and carrying

def test_declared_covariates_are_read_with_their_types_and_declaration(tables, folder):
    cohort = validate.load_cohort(write(tables, folder))
    patients = cohort["patients"]
    declared = validate.declared_covariates(patients)
    assert declared == (Covariate("centre", "Centre", "category", ("North", "South", "East")),
                        Covariate("donor_age", "Donor age", "number", (), "years", 10.0),
                        Covariate("cmv_positive", "CMV seropositive", "yes_no"))
    assert list(patients.columns) == TABLES["patients"].column_names + ["centre", "donor_age", "cmv_positive"]
    assert list(patients["centre"].cat.categories) == ["North", "South", "East"]  # declared order, not sorted
    assert patients["centre"].tolist() == ["South", "North", "East"]
    assert patients["donor_age"].dtype == "float64" and patients["donor_age"].isna().tolist() == [False, True, False]
    assert str(patients["cmv_positive"].dtype) == "boolean"
    assert patients["cmv_positive"].tolist()[:2] == [True, False] and pd.isna(patients["cmv_positive"].iloc[2])
    # copies and filters keep the declaration; a merge drops attrs, carry_covariates puts it back
    assert validate.declared_covariates(patients[patients["sex"] == "female"].copy()) == declared
    merged = patients.merge(cohort["outcomes"], on=["study_id", "patient_id"])
    assert validate.declared_covariates(merged) == ()
    assert validate.declared_covariates(validate.carry_covariates(merged, patients)) == declared
    frame, _ = outcome_frame(cohort)  # the survival sections' frame: the declared columns survive, typed
    assert str(frame["centre"].dtype) == "category" and str(frame["cmv_positive"].dtype) == "boolean"


def test_validate_cohort_in_memory_carries_the_declaration_too(tables):
    cohort = validate.validate_cohort(tables)
    assert [c.name for c in validate.declared_covariates(cohort["patients"])] == ["centre", "donor_age", "cmv_positive"]
    del tables["covariates"]
    with pytest.raises(ContractError, match="column 'centre': unknown column"):
        validate.validate_cohort(tables)


def test_a_study_without_a_declaration_has_none(tables, folder):
    del tables["covariates"]
    tables["patients"] = tables["patients"].drop(columns=["centre", "donor_age", "cmv_positive"])
    assert validate.declared_covariates(validate.load_cohort(write(tables, folder))["patients"]) == ()


# --------------------------------------------------------------------------- bad inputs

def test_an_undeclared_column_is_refused_and_the_message_says_how_to_declare_it(tables, folder):
    tables["covariates"] = tables["covariates"].iloc[1:]  # centre no longer declared
    p = problem(problems_of(write(tables, folder)), "patients.csv", "centre", None, "unknown column",
                "declared in covariates.csv")
    assert "type number, category or yes_no" in p["rule"]


def test_a_bad_type_names_the_declaration_row(tables, folder):
    tables["covariates"].loc[1, "type"] = "integer"
    problem(problems_of(write(tables, folder)), "covariates.csv", "type", 2, "must be one of: number, category, yes_no")


def test_a_value_outside_the_levels_names_the_patients_row(tables, folder):
    tables["patients"].loc[2, "centre"] = "West"
    p = problem(problems_of(write(tables, folder)), "patients.csv", "centre", 3, "must be one of: North, South, East")
    assert p["value"] == "'West'"


def test_a_number_and_a_yes_no_that_do_not_parse_name_their_rows(tables, folder):
    tables["patients"].loc[0, "donor_age"] = "forty"
    tables["patients"].loc[1, "cmv_positive"] = "maybe"
    report = problems_of(write(tables, folder))
    problem(report, "patients.csv", "donor_age", 1, "must be a number")
    problem(report, "patients.csv", "cmv_positive", 2, "must be true or false")


def test_a_declared_covariate_absent_from_patients_is_named(tables, folder):
    tables["patients"] = tables["patients"].drop(columns="donor_age")
    problem(problems_of(write(tables, folder)), "patients.csv", "donor_age", None,
            "is declared in covariates.csv row 2 but the file has no such column")


def test_a_name_clashing_with_a_contract_column_is_refused(tables, folder):
    tables["covariates"].loc[1, "column"] = "followup_days"  # an outcomes column: the merge would clash
    tables["patients"] = tables["patients"].rename(columns={"donor_age": "followup_days"})
    problem(problems_of(write(tables, folder)), "covariates.csv", "column", 2,
            "clashes with the contract column 'followup_days' of table 'outcomes'")


def test_a_name_clashing_with_a_derived_column_is_refused(tables, folder):
    tables["covariates"].loc[0, "column"] = "responder"
    tables["patients"] = tables["patients"].rename(columns={"centre": "responder"})
    problem(problems_of(write(tables, folder)), "covariates.csv", "column", 1, "clashes with a column the analyses derive")


def test_an_identifier_like_name_is_refused_in_the_declaration_and_in_patients(tables, folder):
    tables["covariates"].loc[0, "column"] = "donor_name"
    tables["patients"] = tables["patients"].rename(columns={"centre": "donor_name"})
    report = problems_of(write(tables, folder))
    problem(report, "covariates.csv", "column", 1, "looks like a direct identifier (name)")
    problem(report, "patients.csv", "donor_name", None, "looks like a direct identifier (name)")


def test_a_name_that_is_not_lower_snake_case_is_refused(tables, folder):
    tables["covariates"].loc[1, "column"] = "DonorAge"
    tables["patients"] = tables["patients"].rename(columns={"donor_age": "DonorAge"})
    problem(problems_of(write(tables, folder)), "covariates.csv", "column", 2, "must match the pattern")


@pytest.mark.parametrize("row, column, value, rule", [
    (0, "levels", "", "is required for a category covariate"),
    (0, "levels", "North", "needs two or more levels"),
    (0, "levels", "North;;East", "has an empty level"),
    (0, "levels", "North;South;North", "lists the level 'North' more than once"),
    (1, "levels", "young;old", "must be empty for type number"),
    (2, "unit", "years", "must be empty for type yes_no"),
    (1, "per", "0", "must be > 0"),
])
def test_declaration_rows_that_contradict_their_type(tables, folder, row, column, value, rule):
    tables["covariates"].loc[row, column] = value
    problem(problems_of(write(tables, folder)), "covariates.csv", column, row + 1, rule)


def test_a_covariate_declared_twice_is_refused(tables, folder):
    tables["covariates"] = pd.concat([tables["covariates"], tables["covariates"].iloc[[1]]], ignore_index=True)
    problem(problems_of(write(tables, folder)), "covariates.csv", "column", 4, "duplicate key", "also in row 2")


# --------------------------------------------------------------------------- Table 1

def test_table_one_shows_the_declared_covariates_with_labels_and_levels_in_order(tables, folder):
    tables["patients"] = pd.concat([tables["patients"]] * 4, ignore_index=True)
    tables["patients"]["patient_id"] = [f"MC-{i:02d}" for i in range(1, 13)]
    tables["patients"]["centre"] = ["East"] * 5 + ["North"] * 4 + ["South", "", ""]
    tables["patients"]["cohort"] = "Cohort A"
    tables["outcomes"] = pd.concat([tables["outcomes"]] * 4, ignore_index=True).assign(
        patient_id=tables["patients"]["patient_id"])
    for name in ("responses", "adverse_events", "labs", "kinetics", "treatments"):
        del tables[name]
    patients = validate.load_cohort(write(tables, folder))["patients"]
    table, left_out = baselines.cohort_table_one(patients, own_data.TABLE_ONE_COLUMNS, own_data.NUMERIC_COLUMNS)
    rows = table.iloc[:, 0].str.replace("\u200b\u2003", "", regex=False).str.strip().tolist()
    at = rows.index("Centre, n (%)")
    assert rows[at + 1:at + 5] == ["North", "South", "East", "not recorded"]  # declared order, then missing
    overall = table.columns[1]
    counts = {level: int((patients["centre"] == level).sum()) for level in ("North", "South", "East")}
    assert table[overall].iloc[at + 1:at + 5].tolist() == [f"{k} ({100 * k / 12:.1f})" for k in
                                                          (*counts.values(), int(patients["centre"].isna().sum()))]
    donors = patients["donor_age"].dropna()
    assert table[overall].iloc[rows.index("Donor age, years, median [Q1,Q3]")] == (
        f"{donors.median():.1f} [{donors.quantile(0.25):.1f},{donors.quantile(0.75):.1f}]")
    at = rows.index("CMV seropositive, n (%)")
    assert rows[at + 1:at + 4] == ["yes", "no", "not recorded"]
    yes = int(patients["cmv_positive"].eq(True).sum())
    assert table[overall].iloc[at + 1] == f"{yes} ({100 * yes / 12:.1f})"
    assert rows.index("Centre, n (%)") > rows.index("Age, years, median [Q1,Q3]")  # after the contract's rows
    assert "ABL1 KD mutation" in left_out


# --------------------------------------------------------------------------- the models

ORDER_LEVELS = ("B", "A", "C")  # the reference B is neither the first alphabetically nor the largest


def _declared_cohort(folder):
    """The registry's three-cohort study with a declared three-level centre, a donor age and a CMV
    flag, drawn with a fixed seed (no effect on the outcomes: the hazard ratios are near 1)."""
    registry.write(registry.Shape("three", 400, tables=("patients", "responses", "treatments", "outcomes")), folder)
    path = folder / "three" / "patients.csv"
    patients = pd.read_csv(path, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(20261202)
    patients["centre"] = rng.choice(["A", "B", "C"], size=len(patients), p=[0.5, 0.3, 0.2])
    patients["donor_age"] = np.round(rng.uniform(18, 70, size=len(patients)), 1).astype(str)
    patients["cmv_positive"] = rng.choice(["true", "false"], size=len(patients))
    patients.to_csv(path, index=False)
    pd.DataFrame([dict(study_id="three", column="centre", label="Centre", type="category",
                       levels=";".join(ORDER_LEVELS), unit="", per="", origin="user"),
                  dict(study_id="three", column="donor_age", label="Donor age", type="number", levels="",
                       unit="years", per="10", origin="user"),
                  dict(study_id="three", column="cmv_positive", label="CMV seropositive", type="yes_no", levels="",
                       unit="", per="", origin="user")]).to_csv(folder / "three" / "covariates.csv", index=False)
    book = chapters.setup("t", folder)
    patients = book.cohort("three")["patients"]
    frame, _ = outcome_frame(book.cohort("three"))
    return book, validate.carry_covariates(frame, patients)


@pytest.fixture(scope="module")
def declared_cohort(tmp_path_factory):
    return _declared_cohort(tmp_path_factory.mktemp("cov") / "data")


def test_declared_covariates_come_after_the_built_in_terms(declared_cohort):
    _, frame = declared_cohort
    order = own_data.cohort_order(frame)
    design, labels, fate = own_data.model_design(frame, frame["os_event"], order)
    events = int(frame["os_event"].sum())
    assert events >= 10 * len(labels)
    built_in = [c for c in own_data.MODEL_COVARIATES if c in labels]
    assert list(labels)[:2 + len(built_in)] == ["cohort_1", "cohort_2", *built_in]
    assert list(labels)[2 + len(built_in):] == ["centre__1", "centre__2", "donor_age", "cmv_positive"]
    assert labels["centre__1"] == "Centre: A (vs B)" and labels["centre__2"] == "Centre: C (vs B)"
    assert labels["donor_age"] == "Donor age, per 10 years" and labels["cmv_positive"] == "CMV seropositive"
    assert np.allclose(design["donor_age"], frame["donor_age"] / 10)
    assert design["centre__1"].tolist() == (frame["centre"] == "A").astype(float).tolist()
    assert design["cmv_positive"].tolist() == frame["cmv_positive"].astype(float).tolist()
    assert (fate["In the model"] == "yes").sum() == len(labels)


def test_a_category_is_estimated_whole_or_left_out_with_the_reason(declared_cohort):
    _, frame = declared_cohort
    order = own_data.cohort_order(frame)
    no_event_at_c = frame["os_event"].astype(bool) & (frame["centre"] != "C")
    _, labels, fate = own_data.model_design(frame, no_event_at_c, order)
    row = fate.set_index("Term").loc["Centre (3 levels, reference B)"]
    assert row["In the model"] == "no" and row["Why"].startswith("no event among the patients at level C")
    assert not {"centre__1", "centre__2"} & set(labels) and "donor_age" in labels  # the others go on
    missing = frame.assign(centre=frame["centre"].where(frame.index % 9 != 0))
    missing.attrs = frame.attrs
    _, labels, fate = own_data.model_design(missing, missing["os_event"], order)
    assert fate.set_index("Term").loc["Centre (3 levels, reference B)", "Why"] == (
        f"missing for {int((frame.index % 9 == 0).sum())} of {len(frame)} patients")
    few = frame["os_event"].astype(bool) & (frame["os_event"].cumsum() <= 10 * (len(labels) - 1))
    design, labels, fate = own_data.model_design(frame, few, order)
    why = fate.set_index("Term").loc["Centre (3 levels, reference B)", "Why"]
    assert why.endswith("(2 terms needed)") and "centre__1" not in labels


def test_a_declared_column_the_frame_lacks_is_said_missing_not_skipped(declared_cohort):
    _, frame = declared_cohort
    lacking = validate.carry_covariates(frame.drop(columns=["centre", "donor_age"]), frame)
    _, labels, fate = own_data.model_design(lacking, lacking["os_event"], own_data.cohort_order(frame))
    fate = fate.set_index("Term")
    everyone = f"missing for {len(frame)} of {len(frame)} patients"
    assert fate.loc["Centre (3 levels, reference B)", "Why"] == everyone
    assert fate.loc["Donor age, per 10 years", "Why"] == everyone
    assert "cmv_positive" in labels


def _r_inputs(frame: pd.DataFrame, design_labels: dict, order: list) -> pd.DataFrame:
    """The raw columns R fits (cohort and centre as text, donor age in years, CMV as true/false):
    R builds the indicators and the scaling itself."""
    built_in = [c for c in own_data.MODEL_COVARIATES if c in design_labels]
    assert not built_in, "the R check fits cohort and the declared covariates only"
    return frame[["os_time", "os_event", "cohort", "centre", "donor_age", "cmv_positive"]].assign(
        os_event=frame["os_event"].astype(int), cmv_positive=frame["cmv_positive"].astype(int),
        centre=frame["centre"].astype(str), cohort_levels=";".join(order),
        centre_levels=";".join(ORDER_LEVELS))


def test_a_cox_model_with_declared_covariates_agrees_with_r(declared_cohort):
    book, frame = declared_cohort
    # only the cohort and the declared covariates, so that R fits the very same terms from raw columns
    frame = validate.carry_covariates(frame.drop(columns=list(own_data.MODEL_COVARIATES), errors="ignore"), frame)
    order = own_data.cohort_order(frame)
    patients = book.cohort("three")["patients"]
    fit = own_data.cox_section(book, "three", "Overall survival", frame, "os_time", "os_event", order, patients)
    _, labels, _ = own_data.model_design(frame, frame["os_event"], order)
    assert list(fit.table["term"]) == ["cohort_1", "cohort_2", "centre__1", "centre__2", "donor_age", "cmv_positive"]
    committed = pd.read_csv(FIXTURES / "covariates_cox_expected.csv", float_precision="round_trip")
    if shutil.which("Rscript"):
        live = run_rscript(SCRIPTS / "covariates.R", {"cox": _r_inputs(frame, labels, order)})["coef"]
        pd.testing.assert_frame_equal(live, committed, check_exact=False, rtol=1e-10)
    ours = fit.table.set_index("term")
    assert len(committed) == len(ours)
    for term, row in zip(fit.table["term"], committed.to_dict("records")):  # R's terms in formula order
        assert np.isclose(ours.loc[term, "coef"], row["coef"], rtol=0, atol=1e-6), (term, row)
        assert np.isclose(ours.loc[term, "se"], row["se"], rtol=0, atol=1e-6), (term, row)


def regenerate() -> None:
    """Write R's output for the committed fixture (``python tests/test_covariates.py --regenerate``)."""
    import tempfile
    from pathlib import Path

    book, frame = _declared_cohort(Path(tempfile.mkdtemp(prefix="cov")) / "data")
    frame = validate.carry_covariates(frame.drop(columns=list(own_data.MODEL_COVARIATES), errors="ignore"), frame)
    order = own_data.cohort_order(frame)
    _, labels, _ = own_data.model_design(frame, frame["os_event"], order)
    out = run_rscript(SCRIPTS / "covariates.R", {"cox": _r_inputs(frame, labels, order)})["coef"]
    out.to_csv(FIXTURES / "covariates_cox_expected.csv", index=False)
    print(out)


if __name__ == "__main__" and "--regenerate" in sys.argv:
    regenerate()
