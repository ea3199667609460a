"""Tests of the data contract (helpers.contract).

A valid two-patient cohort with every table is written in code (``valid``);
each test breaks it in one way and checks that the message names the file,
table, column, row and rule.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest

from helpers import contract
from helpers.contract import LAB_UNITS, TABLES, ContractError, ContractWarning

BAD_INPUTS = Path(__file__).parent / "bad_inputs"

P1, P2 = "000-LBC-01", "000-LBC-02"


#: Optional tables the valid cohort does not hold: a centre's covariate declaration and event codes.
CENTRE_OWN_TABLES = {"covariates", "events"}


def _valid_tables() -> dict[str, pd.DataFrame]:
    """The minimal valid cohort: 2 patients, every table, as CSV would give it (all text)."""
    rows = {
        "patients": [
            dict(study_id="000", patient_id=P1, cohort="CML-LBC", diagnosis="CML lymphoid blast crisis",
                 age_years="34", sex="male", disease_status="first_relapse", marrow_blasts_pct="45.5",
                 abl_kd_mutation="true", mutations="T315I;E255K", prior_lines="2",
                 extramedullary_disease="none", high_risk_genetics="false", tregs_high="",
                 car_target="CD19", car_dose_cells_per_kg="1e6", bridged_to_hsct="yes",
                 origin="synthetic"),
            dict(study_id="000", patient_id=P2, cohort="CML-LBC", diagnosis="CML lymphoid blast crisis",
                 age_years="", sex="female", disease_status="mrd_positive", marrow_blasts_pct="",
                 abl_kd_mutation="FALSE", mutations="", prior_lines="3",
                 extramedullary_disease="cns", high_risk_genetics="1", tregs_high="0",
                 car_target="CD19/CD22", car_dose_cells_per_kg="2000000", bridged_to_hsct="No",
                 origin="synthetic"),
        ],
        "responses": [
            dict(study_id="000", patient_id=P1, day="28", morphologic="CR", mrd_flow="negative",
                 molecular="CMR", origin="synthetic"),
            dict(study_id="000", patient_id=P2, day="28", morphologic="PR", mrd_flow="positive",
                 molecular="detectable", origin="synthetic"),
        ],
        "adverse_events": [
            dict(study_id="000", patient_id=P1, category="CRS", term="CRS", grade="2",
                 grading_system="ASTCT", onset_day="3", duration_days="4", origin="synthetic"),
            dict(study_id="000", patient_id=P2, category="ICANS", term="ICANS", grade="0",
                 grading_system="ASTCT", onset_day="", duration_days="", origin="synthetic"),
        ],
        "labs": [
            dict(study_id="000", patient_id=P1, analyte="IL-6", day="-3", value="5.2", unit="pg/mL",
                 below_lloq="false", origin="synthetic"),
            dict(study_id="000", patient_id=P1, analyte="IL-6", day="7", value="250", unit="pg/mL",
                 below_lloq="false", origin="synthetic"),
            dict(study_id="000", patient_id=P2, analyte="CRP", day="7", value="1", unit="mg/L",
                 below_lloq="true", origin="synthetic"),
        ],
        "kinetics": [
            dict(study_id="000", patient_id=P1, day="7", copies_per_ug_gdna="12000", below_lloq="false",
                 origin="synthetic"),
            dict(study_id="000", patient_id=P2, day="14", copies_per_ug_gdna="50", below_lloq="true",
                 origin="synthetic"),
        ],
        "treatments": [
            dict(study_id="000", patient_id=P1, category="lymphodepletion", agent="FC", start_day="-5",
                 end_day="-3", dose="", dose_unit="", origin="synthetic"),
            dict(study_id="000", patient_id=P2, category="TKI", agent="ponatinib", start_day="30",
                 end_day="", dose="45", dose_unit="mg/day", origin="synthetic"),
            # every patient has a CAR-T infusion; P1's bridging flag has its transplant row
            dict(study_id="000", patient_id=P1, category="CAR-T", agent="CD19 CAR-T", start_day="0",
                 end_day="0", dose="1e6", dose_unit="cells/kg", origin="synthetic"),
            dict(study_id="000", patient_id=P2, category="CAR-T", agent="CD19/CD22 CAR-T", start_day="0",
                 end_day="0", dose="2000000", dose_unit="cells/kg", origin="synthetic"),
            dict(study_id="000", patient_id=P1, category="allo-HSCT", agent="allo-HSCT", start_day="60",
                 end_day="60", dose="", dose_unit="", origin="synthetic"),
        ],
        "outcomes": [
            dict(study_id="000", patient_id=P1, followup_days="400", relapsed="false", relapse_day="",
                 died="false", death_cause="", origin="synthetic"),
            dict(study_id="000", patient_id=P2, followup_days="200", relapsed="true", relapse_day="150",
                 died="true", death_cause="relapse", origin="synthetic"),
        ],
    }
    return {name: pd.DataFrame(r, dtype=object) for name, r in rows.items()}


@pytest.fixture
def valid() -> dict[str, pd.DataFrame]:
    """Every contract table but the centre's own declarations (covariates.csv, events.csv)."""
    return _valid_tables()


def _write(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        df.to_csv(folder / f"{name}.csv", index=False)
    return folder


@pytest.fixture
def cohort_dir(tmp_path, valid) -> Path:
    return _write(valid, tmp_path / "cohort")


def _errors(fn, *args, **kwargs) -> ContractError:
    with pytest.raises(ContractError) as info:
        fn(*args, **kwargs)
    return info.value


def _table_error(df, table, source=None) -> ContractError:
    return _errors(contract.validate_table, df, table, source=source or f"{table}.csv")


def _line(err: ContractError, *fragments: str) -> str:
    """The one message line containing every fragment (fails with the whole message otherwise)."""
    hits = [line for line in err.lines if all(f in line for f in fragments)]
    assert hits, f"no line with {fragments!r} in:\n{err}"
    return hits[0]


# ---------------------------------------------------------------------------
# The valid cohort
# ---------------------------------------------------------------------------

def test_valid_cohort_passes_validate_cohort(valid):
    cohort = contract.validate_cohort(valid)
    assert set(cohort) == set(valid) == set(TABLES) - CENTRE_OWN_TABLES
    patients = cohort["patients"]
    assert list(patients.columns) == TABLES["patients"].column_names
    assert patients["study_id"].tolist() == ["000", "000"]  # leading zeros kept
    assert patients["abl_kd_mutation"].tolist() == [True, False]
    assert patients["bridged_to_hsct"].tolist() == [True, False]
    assert patients["age_years"].dtype == "float64" and pd.isna(patients["age_years"].iloc[1])
    assert str(patients["prior_lines"].dtype) == "Int64"
    assert cohort["responses"]["day"].dtype == "int64"
    assert cohort["outcomes"]["relapsed"].dtype == bool


def test_valid_cohort_loads_from_csv(cohort_dir):
    cohort = contract.load_cohort(cohort_dir)
    assert set(cohort) == set(TABLES) - CENTRE_OWN_TABLES
    assert cohort.missing_tables == [t for t in TABLES if t in CENTRE_OWN_TABLES]
    assert cohort["labs"]["value"].tolist() == [5.2, 250.0, 1.0]
    assert cohort.files["patients"] == "patients.csv"


def test_missing_optional_table_is_reported_not_an_error(cohort_dir):
    (cohort_dir / "kinetics.csv").unlink()
    cohort = contract.load_cohort(cohort_dir)
    assert "kinetics" not in cohort
    assert cohort.missing_tables == ["kinetics", *[t for t in TABLES if t in CENTRE_OWN_TABLES]]
    assert cohort.notes.query("table == 'kinetics'")["note"].str.contains("optional table absent").any()
    assert "kinetics: absent" in cohort.summary()


def test_missing_required_table_is_an_error(cohort_dir):
    (cohort_dir / "outcomes.csv").unlink()
    err = _errors(contract.load_cohort, cohort_dir)
    _line(err, "outcomes.csv: table 'outcomes': required table is missing")


def test_optional_column_may_be_absent_and_is_added_empty(valid):
    df = valid["patients"].drop(columns=["mutations", "tregs_high"])
    out = contract.validate_table(df, "patients")
    assert "mutations" in out and out["mutations"].isna().all()
    assert str(out["tregs_high"].dtype) == "boolean"


# ---------------------------------------------------------------------------
# One table: structure
# ---------------------------------------------------------------------------

def test_unknown_column(valid):
    df = valid["responses"].assign(comment="ok")
    err = _table_error(df, "responses")
    _line(err, "responses.csv: table 'responses', column 'comment': unknown column")
    assert err.problems.loc[0, "column"] == "comment" and pd.isna(err.problems.loc[0, "row"])


def test_missing_required_column(valid):
    err = _table_error(valid["outcomes"].drop(columns=["died"]), "outcomes")
    _line(err, "outcomes.csv: table 'outcomes', column 'died': is required but missing")


@pytest.mark.parametrize("name, word", [
    ("patient_name", "name"), ("MRN", "mrn"), ("dob", "dob"), ("Date of birth", "dateofbirth"),
    ("phone", "phone"), ("e-mail", "email"), ("email_address", "address"), ("home address", "address"),
    ("PatientName", "name"), ("surname", "surname"),
])
def test_identifier_column_is_refused(valid, name, word):
    df = valid["patients"].assign(**{name: "x"})
    err = _table_error(df, "patients")
    line = _line(err, f"patients.csv: table 'patients', column '{name}': looks like a direct identifier")
    assert f"({word})" in line and "never accepts direct identifiers" in line
    assert f"column '{name}': unknown column" not in str(err)  # one message, the specific one


def test_identifier_column_rule_has_no_false_positives():
    for table in TABLES.values():
        for col in table.columns:
            assert contract.identifier_column_word(col.name) is None, col.name
    for harmless in ("domain", "mailing_list_flag", "agent", "dose_unit", "study_id", "patient_id"):
        assert contract.identifier_column_word(harmless) is None, harmless


# ---------------------------------------------------------------------------
# One table: cells
# ---------------------------------------------------------------------------

def test_text_in_float_column(valid):
    df = valid["patients"].copy()
    df.loc[1, "marrow_blasts_pct"] = "about 40"
    err = _table_error(df, "patients")
    line = _line(err, "patients.csv: table 'patients', column 'marrow_blasts_pct', row 2: must be a number")
    assert "(found 'about 40')" in line
    assert len(err.lines) == 1  # no knock-on range/dtype complaints


def test_fraction_in_int_column(valid):
    df = valid["adverse_events"].copy()
    df.loc[0, "grade"] = "2.5"
    err = _table_error(df, "adverse_events")
    _line(err, "column 'grade', row 1: must be a whole number (found 2.5)")


def test_value_outside_allowed_set(valid):
    df = valid["responses"].copy()
    df.loc[1, "morphologic"] = "MRD-"
    err = _table_error(df, "responses")
    _line(err, "responses.csv: table 'responses', column 'morphologic', row 2: "
               "must be one of: CR, CRi, PR, SD, PD, NR, not_evaluable (found 'MRD-')")


@pytest.mark.parametrize("table, column, row, value, rule", [
    ("responses", "day", 1, "-1", "must be ≥ 0"),
    ("adverse_events", "grade", 2, "6", "must be ≤ 5"),
    ("patients", "marrow_blasts_pct", 1, "120", "must be ≤ 100"),
    ("outcomes", "followup_days", 1, "-10", "must be ≥ 0"),
])
def test_number_out_of_range(valid, table, column, row, value, rule):
    df = valid[table].copy()
    df.loc[row - 1, column] = value
    err = _table_error(df, table)
    _line(err, f"{table}.csv: table '{table}', column '{column}', row {row}: {rule} (found {value})")


def test_null_in_non_nullable_column(valid):
    df = valid["labs"].copy()
    df.loc[2, "value"] = ""
    err = _table_error(df, "labs")
    _line(err, "labs.csv: table 'labs', column 'value', row 3: is required but missing")


def test_pattern_mismatch(valid):
    df = valid["patients"].copy()
    df.loc[0, "car_target"] = "CD 19"
    err = _table_error(df, "patients")
    _line(err, "column 'car_target', row 1: must match the pattern", "(found 'CD 19')")


def test_duplicate_patient_id_names_both_rows(valid):
    df = pd.concat([valid["patients"], valid["patients"].iloc[[0]]], ignore_index=True)
    err = _table_error(df, "patients")
    _line(err, "column 'patient_id', row 1: duplicate key (study_id, patient_id) also in row 3")
    _line(err, "column 'patient_id', row 3: duplicate key (study_id, patient_id) also in row 1")
    assert sorted(err.problems["row"].tolist()) == [1, 3]


def test_duplicate_key_compares_parsed_values(valid):
    df = pd.concat([valid["responses"], valid["responses"].iloc[[0]]], ignore_index=True)
    df.loc[2, "day"] = "28.0"  # same day, written differently
    err = _table_error(df, "responses")
    _line(err, "row 3: duplicate key (study_id, patient_id, day) also in row 1")


@pytest.mark.parametrize("text", ["maybe", "2", "t"])
def test_bad_boolean_text(valid, text):
    df = valid["outcomes"].copy()
    df.loc[0, "relapsed"] = text
    err = _table_error(df, "outcomes")
    _line(err, "outcomes.csv: table 'outcomes', column 'relapsed', row 1: must be true or false")


@pytest.mark.parametrize("true_text, false_text", [("TRUE", "FALSE"), ("True", "False"), ("1", "0"),
                                                   ("yes", "no"), ("YES", "No")])
def test_boolean_spellings_are_normalised(valid, true_text, false_text):
    df = valid["labs"].copy()
    df["below_lloq"] = [true_text, false_text, true_text]
    out = contract.validate_table(df, "labs")
    assert out["below_lloq"].tolist() == [True, False, True]


@pytest.mark.parametrize("column, value, kind", [
    ("cohort", "ask jane.doe@example.org", "an e-mail address"),
    ("cohort", "call +44 20 7946 0958", "a phone number"),
    ("cohort", "(555) 123-4567 ext", "a phone number"),
    ("cohort", "born 1987-03-14", "a calendar date"),
    ("cohort", "DOB 14/03/1987", "a calendar date"),
    ("cohort", "14 March 1987", "a calendar date"),
    ("patient_id", "12345678", "a medical record number"),
])
def test_identifier_looking_values_are_refused_and_masked(valid, column, value, kind):
    df = valid["patients"].copy()
    df.loc[1, column] = value
    err = _table_error(df, "patients")
    line = _line(err, f"patients.csv: table 'patients', column '{column}', row 2: looks like {kind}")
    assert "never accepts direct identifiers" in line and "masked value" in line
    assert value not in str(err)  # the identifier is never repeated
    assert value not in err.problems.to_string()


def test_identifier_value_rule_has_no_false_positives():
    for value in ("000-LBC-01", "ChiCTR1800019622", "NCT01234567", "T315I;E255K", "CAR-T-38",
                  "mg/day", "CML-LBC", "FC 30/500 mg/m2", "12345"):
        assert contract.identifier_value_kind(value, "cohort") is None, value
    assert contract.identifier_value_kind("12345", "patient_id") is None


def test_mixed_lab_units_names_the_rows(valid):
    df = valid["labs"].copy()
    df.loc[1, "unit"] = "mg/L"  # IL-6 row 2 in mg/L, row 1 in pg/mL
    err = _table_error(df, "labs")
    line = _line(err, "labs.csv: table 'labs', column 'unit', row 2: analyte 'IL-6' must be reported in pg/mL")
    assert "mixes units for it (pg/mL in row 1; mg/L in row 2)" in line
    assert "(found 'mg/L')" in line
    assert LAB_UNITS["IL-6"] == ("pg/mL",)


def test_within_table_end_day_before_start_day(valid):
    df = valid["treatments"].copy()
    df.loc[0, "end_day"] = "-6"
    err = _table_error(df, "treatments")
    _line(err, "treatments.csv: table 'treatments', column 'end_day', row 1: must be ≥ start_day (-5) (found -6)")


def test_many_problems_are_reported_together(valid):
    df = valid["adverse_events"].copy()
    df.loc[0, "grade"] = "6"
    df.loc[1, "category"] = "fever"
    df.loc[1, "onset_day"] = "soon"
    df["extra"] = "x"
    err = _table_error(df, "adverse_events")
    assert len(err.lines) == 4, str(err)
    assert list(err.problems.columns) == ["source", "table", "column", "row", "rule", "value"]
    assert pd.isna(err.problems["row"].iloc[0])  # whole-column problems first
    _line(err, "column 'grade', row 1: must be ≤ 5")
    _line(err, "column 'category', row 2: must be one of")
    _line(err, "column 'onset_day', row 2: must be a number (found 'soon')")
    _line(err, "column 'extra': unknown column")
    assert str(err).splitlines()[0].startswith("4 problems")


def test_schema_is_a_pandera_schema_generated_from_the_spec():
    for name, table in TABLES.items():
        sch = contract.schema(name)
        assert isinstance(sch, pa.DataFrameSchema)
        assert list(sch.columns) == table.column_names
        assert sch.strict is True and list(sch.unique) == list(table.key)
        for col in table.columns:
            assert sch.columns[col.name].required == col.required
            assert sch.columns[col.name].nullable == col.nullable


def test_schema_alone_normalises_text_cells(valid):
    out = contract.schema("labs").validate(valid["labs"])
    assert out["below_lloq"].tolist() == [False, False, True]
    assert out["day"].tolist() == [-3.0, 7.0, 7.0]
    bad = valid["labs"].assign(below_lloq=["no", "perhaps", "yes"])
    with pytest.raises(pa.errors.SchemaErrors):
        contract.schema("labs").validate(bad, lazy=True)


def test_contract_error_is_a_value_error_and_pickles(valid):
    import pickle

    df = valid["responses"].assign(comment="ok")
    err = _table_error(df, "responses")
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == str(err) and again.problems.equals(err.problems)


# ---------------------------------------------------------------------------
# Across tables
# ---------------------------------------------------------------------------

def test_orphan_patient_in_responses(valid):
    valid["responses"].loc[1, "patient_id"] = "000-LBC-99"
    err = _errors(contract.validate_cohort, valid)
    _line(err, "responses.csv: table 'responses', column 'patient_id', row 2: patient is not in patients.csv",
          "(found '000-LBC-99')")


def test_patient_without_outcome(valid):
    valid["outcomes"] = valid["outcomes"].iloc[[0]]
    err = _errors(contract.validate_cohort, valid)
    _line(err, "patients.csv: table 'patients', column 'patient_id', row 2: patient has no row in outcomes.csv")


def test_relapse_day_after_followup(valid):
    valid["outcomes"].loc[1, "relapse_day"] = "250"
    err = _errors(contract.validate_cohort, valid)
    _line(err, "outcomes.csv: table 'outcomes', column 'relapse_day', row 2: must be ≤ followup_days (200)",
          "(found 250)")


def test_progression_assessment_days_within_follow_up_are_accepted(valid):
    valid["outcomes"]["progression_assessed_day"] = ["250", "180"]  # P1 alive to 400; P2 relapsed on 150
    out = contract.validate_cohort(valid)["outcomes"]
    assert out["progression_assessed_day"].tolist() == [250.0, 180.0]


def test_progression_assessed_after_followup(valid):
    valid["outcomes"]["progression_assessed_day"] = ["401", ""]
    err = _errors(contract.validate_cohort, valid)
    _line(err, "outcomes.csv: table 'outcomes', column 'progression_assessed_day', row 1: must be ≤ followup_days "
               "(400): an assessment cannot come after the last follow-up", "(found 401)")


def test_progression_assessed_before_the_relapse(valid):
    valid["outcomes"]["progression_assessed_day"] = ["", "149"]  # P2 relapsed on day 150
    err = _errors(contract.validate_cohort, valid)
    _line(err, "outcomes.csv: table 'outcomes', column 'progression_assessed_day', row 2: must be empty or ≥ "
               "relapse_day (150) when relapsed is true", "(found 149)")
    assert len(err.lines) == 1  # this problem only


def test_relapse_day_without_relapsed(valid):
    valid["outcomes"].loc[0, "relapse_day"] = "100"
    err = _errors(contract.validate_cohort, valid)
    _line(err, "outcomes.csv: table 'outcomes', column 'relapse_day', row 1: must be empty when relapsed is false")


def test_relapsed_without_relapse_day(valid):
    valid["outcomes"].loc[1, "relapse_day"] = ""
    err = _errors(contract.validate_cohort, valid)
    _line(err, "column 'relapse_day', row 2: is required when relapsed is true")


def test_died_without_cause(valid):
    valid["outcomes"].loc[1, "death_cause"] = ""
    err = _errors(contract.validate_cohort, valid)
    _line(err, "outcomes.csv: table 'outcomes', column 'death_cause', row 2: is required when died is true")


def test_cause_of_death_while_alive(valid):
    valid["outcomes"].loc[0, "death_cause"] = "unknown"
    err = _errors(contract.validate_cohort, valid)
    _line(err, "column 'death_cause', row 1: must be empty when died is false")


@pytest.mark.parametrize("table, column, row", [
    ("responses", "day", 2), ("kinetics", "day", 2), ("labs", "day", 3), ("adverse_events", "onset_day", 2),
])
def test_event_after_last_followup(valid, table, column, row):
    valid[table].loc[row - 1, column] = "300"  # patient 2 was followed for 200 days
    err = _errors(contract.validate_cohort, valid)
    _line(err, f"{table}.csv: table '{table}', column '{column}', row {row}: is after the patient's last "
               "follow-up (followup_days 200 in outcomes.csv row 2) (found 300)")


def test_cohort_problems_across_files_are_reported_together(cohort_dir):
    text = (cohort_dir / "responses.csv").read_text().replace("000-LBC-02", "000-LBC-77")
    (cohort_dir / "responses.csv").write_text(text)
    text = (cohort_dir / "outcomes.csv").read_text().replace("true,relapse,", "true,,")
    (cohort_dir / "outcomes.csv").write_text(text)
    err = _errors(contract.load_cohort, cohort_dir)
    assert set(err.problems["source"]) == {"responses.csv", "outcomes.csv"}
    _line(err, "responses.csv", "row 2", "patient is not in patients.csv")
    _line(err, "outcomes.csv", "column 'death_cause', row 2", "is required when died is true")


# ---------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------

def test_stray_whitespace_is_stripped_and_reported(cohort_dir):
    path = cohort_dir / "responses.csv"
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("morphologic", " morphologic ")
    lines[2] = lines[2].replace(",PR,", ",  PR ,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(ContractWarning, match=r"responses.csv: stripped stray whitespace"):
        cohort = contract.load_cohort(cohort_dir)
    assert cohort["responses"]["morphologic"].tolist() == ["CR", "PR"]
    note = cohort.notes.query("source == 'responses.csv'")["note"].str.cat(sep=" | ")
    assert "1 header (morphologic)" in note and "1 cell (column morphologic; row 2)" in note


def test_whitespace_is_not_stripped_by_validate_table(valid):
    df = valid["responses"].copy()
    df.loc[0, "morphologic"] = " CR"
    err = _table_error(df, "responses")
    _line(err, "column 'morphologic', row 1: must be one of", "(found ' CR')")


def test_bom_encoded_csv(cohort_dir, valid):
    valid["patients"].to_csv(cohort_dir / "patients.csv", index=False, encoding="utf-8-sig")
    assert (cohort_dir / "patients.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    cohort = contract.load_cohort(cohort_dir)
    assert list(cohort["patients"].columns)[0] == "study_id"
    assert cohort.notes["note"].str.contains("byte-order mark").any()


def test_not_utf8_csv_is_an_error(cohort_dir, valid):
    df = valid["patients"].copy()
    df.loc[0, "cohort"] = "Lymphoïde"
    df.to_csv(cohort_dir / "patients.csv", index=False, encoding="latin-1")
    err = _errors(contract.load_cohort, cohort_dir)
    _line(err, "patients.csv: table 'patients', column 'cohort', row 1: file is not UTF-8 text")


def test_xlsx_file(cohort_dir, valid):
    (cohort_dir / "labs.csv").unlink()
    df = valid["labs"].copy()
    df["day"] = [-3, 7, 7]  # real numbers and booleans, as a spreadsheet holds them
    df["value"] = [5.2, 250, 1]
    df["below_lloq"] = [False, False, True]
    df.to_excel(cohort_dir / "labs.xlsx", index=False)
    cohort = contract.load_cohort(cohort_dir)
    assert cohort.files["labs"] == "labs.xlsx"
    assert cohort["labs"]["below_lloq"].tolist() == [False, False, True]
    assert cohort["labs"]["day"].tolist() == [-3.0, 7.0, 7.0]


def test_xlsx_problems_name_the_workbook_and_row(cohort_dir, valid):
    (cohort_dir / "kinetics.csv").unlink()
    df = valid["kinetics"].copy()
    df.loc[1, "copies_per_ug_gdna"] = -5
    df.to_excel(cohort_dir / "kinetics.xlsx", index=False)
    err = _errors(contract.load_cohort, cohort_dir)
    _line(err, "kinetics.xlsx: table 'kinetics', column 'copies_per_ug_gdna', row 2: must be ≥ 0 (found -5)")


def test_blank_lines_keep_file_row_numbers(cohort_dir):
    path = cohort_dir / "responses.csv"
    lines = path.read_text().splitlines()
    lines.insert(2, "")  # an empty line between data rows 1 and 2 -> row 2 is empty
    lines[3] = lines[3].replace(",PR,", ",XX,")
    path.write_text("\n".join(lines) + "\n")
    err = _errors(contract.load_cohort, cohort_dir)
    _line(err, "responses.csv: table 'responses', column 'morphologic', row 3: must be one of")
    assert err.notes["note"].str.contains("skipped 1 empty row 2").any()


def test_duplicate_header_is_an_error(cohort_dir):
    path = cohort_dir / "kinetics.csv"
    lines = path.read_text().splitlines()
    lines = [line + ",x" for line in lines]
    lines[0] = lines[0][:-2] + ",day"
    path.write_text("\n".join(lines) + "\n")
    err = _errors(contract.load_cohort, cohort_dir)
    _line(err, "kinetics.csv: table 'kinetics', column 'day': column appears more than once")


def test_misnamed_file_is_reported(cohort_dir):
    shutil.move(cohort_dir / "kinetics.csv", cohort_dir / "kinetic.csv")
    cohort = contract.load_cohort(cohort_dir)
    assert cohort.notes.query("source == 'kinetic.csv'")["note"].str.contains("not a contract table").any()


@pytest.mark.parametrize("path", sorted(BAD_INPUTS.glob("*.csv")), ids=lambda p: p.name)
def test_bad_input_files(tmp_path, valid, path):
    """tests/bad_inputs/<table>--<case>.csv replaces one table; its first line holds the expected text."""
    table = path.name.split("--")[0]
    expected, _, body = path.read_text(encoding="utf-8").partition("\n")
    assert expected.startswith("# expect: ")
    folder = _write(valid, tmp_path / "cohort")
    (folder / f"{table}.csv").write_text(body, encoding="utf-8")
    err = _errors(contract.load_cohort, folder)
    _line(err, expected.removeprefix("# expect: ").strip())


# ---------------------------------------------------------------------------
# Data dictionary
# ---------------------------------------------------------------------------

def test_dictionary_matches_the_spec():
    d = contract.dictionary()
    assert list(d.columns) == list(contract.DICTIONARY_COLUMNS)
    assert len(d) == sum(len(t.columns) for t in TABLES.values())
    row = d[(d.table == "responses") & (d.column == "morphologic")].iloc[0]
    assert row["allowed"] == "CR, CRi, PR, SD, PD, NR, not_evaluable"
    row = d[(d.table == "adverse_events") & (d.column == "grade")].iloc[0]
    assert row["range"] == "0 to 5" and row["type"] == "integer"
    row = d[(d.table == "patients") & (d.column == "mutations")].iloc[0]
    assert not row["required"] and row["nullable"] and row["pattern"]


def test_dictionary_markdown_has_every_table_and_column():
    md = contract.dictionary_markdown()
    for name, table in TABLES.items():
        assert f"## `{name}`" in md
        for col in table.columns:
            assert f"| `{col.name}` |" in md
    assert "| IL-6 | pg/mL |" in md
    table_lines = [line for line in md.splitlines() if line.startswith("| `")]
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 8 for line in table_lines)


# ---------------------------------------------------------------------------
# A contract that fits real centres (issue 15)
# ---------------------------------------------------------------------------

def test_unrecorded_diagnosis_status_and_target_may_be_absent_or_empty(valid):
    absent = contract.validate_table(valid["patients"].drop(columns=["diagnosis", "disease_status", "car_target"]),
                                     "patients")
    assert absent[["diagnosis", "disease_status", "car_target"]].isna().all().all()
    empty = valid["patients"].assign(diagnosis="", disease_status="", car_target="")
    assert contract.validate_table(empty, "patients")[["diagnosis", "disease_status", "car_target"]].isna().all().all()


@pytest.mark.parametrize("diagnosis", ["AML", "large B-cell lymphoma", "other B-cell lymphoma", "multiple myeloma",
                                       "CLL", "other"])
def test_diagnoses_of_real_centres_are_accepted(valid, diagnosis):
    out = contract.validate_table(valid["patients"].assign(diagnosis=diagnosis), "patients")
    assert set(out["diagnosis"]) == {diagnosis}


@pytest.mark.parametrize("response", ["SD", "PD"])
def test_stable_and_progressive_disease_are_response_values(valid, response):
    out = contract.validate_table(valid["responses"].assign(morphologic=response), "responses")
    assert set(out["morphologic"]) == {response}


def test_every_response_mapping_lands_on_a_contract_value_and_is_in_the_dictionary():
    from helpers.contract.spec import RESPONSE_MAPPING

    allowed = set(TABLES["responses"].column("morphologic").allowed)
    md = contract.dictionary_markdown()
    for criteria in ("ELN (AML)", "Lugano (lymphoma)", "IMWG (myeloma)", "iwCLL (CLL)"):
        assert criteria in RESPONSE_MAPPING
        for theirs, ours in RESPONSE_MAPPING[criteria]:
            assert ours in allowed
            assert f"| {criteria} | {theirs} | `{ours}` |" in md
    # the dictionary row names every criteria set, so the CSV dictionary carries the mapping too
    described = contract.dictionary().set_index(["table", "column"]).loc[("responses", "morphologic"), "description"]
    assert all(criteria in described for criteria in RESPONSE_MAPPING)


def test_template_has_the_optional_columns_and_the_new_vocabulary():
    from helpers.contract.template import template_files

    files = template_files()
    assert files["patients.csv"].strip().split(",") == TABLES["patients"].column_names
    dictionary = pd.read_csv(__import__("io").StringIO(files["data_dictionary.csv"]), keep_default_na=False)
    rows = dictionary.set_index(["table", "column"])
    for column in ("diagnosis", "disease_status", "car_target"):
        assert not rows.loc[("patients", column), "required"]
        assert rows.loc[("patients", column), "nullable"]
    assert "AML" in rows.loc[("patients", "diagnosis"), "allowed"].split(", ")
    assert {"SD", "PD"} <= set(rows.loc[("responses", "morphologic"), "allowed"].split(", "))


def test_response_mapping_table_names_the_categories_centres_write():
    from helpers.contract.data_dictionary import response_mapping

    table = response_mapping().set_index(["criteria", "category"])["morphologic"]
    # one row per category of each criteria set, read from the criteria themselves
    assert table[("Lugano (lymphoma)", "PMD / PD")] == "PD"
    assert table[("Lugano (lymphoma)", "NMR / SD")] == "SD"
    assert table[("IMWG (myeloma)", "VGPR")] == "PR"
    assert table[("ELN (AML)", "CRh")] == "CRi"
    assert table[("iwCLL (CLL)", "CRi")] == "CRi"
    assert not table.index.duplicated().any()
