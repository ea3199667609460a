"""Plausibility rules of the data contract (issue 17): one case per rule, each naming file, column,
row and rule.

Every case starts from the same small valid cohort of a user's study (``mycentre``: 3 patients,
every table, origin ``user``), breaks it in one way that every column's own type and range
accept, writes it as CSV and reads it with ``contract.load_cohort`` (or the intake). An *error*
must refuse the cohort with one line naming the file, column, row and rule; a *warning* must be
issued as a ``ContractWarning`` carrying the same problem, and the cohort is still read. Before
the plausibility rules every one of these cohorts was read in silence.

The rules are declared in ``helpers.contract.spec.PLAUSIBILITY_RULES``; the module is imported
inside the tests that need it, so that this file also runs against the code before the rules
(where every case fails: the cohort is accepted without a word).
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import pandas as pd
import pytest

from helpers import contract
from helpers.contract import ContractError, ContractWarning
from helpers.paths import DATA_DIR

P1, P2, P3 = "MC-01", "MC-02", "MC-03"
SHIPPED = [DATA_DIR / "synthetic" / s for s in ("000", "001", "003", "004")] + [DATA_DIR / "examples" / "single-centre"]


def _tables() -> dict[str, list[dict]]:
    """The valid cohort, as CSV gives it (all text). P1 is bridged to HSCT (day 60, no relapse);
    P2 relapsed on day 150 and died of it; P3 relapsed on day 30 and is alive."""
    def row(**cells):
        return dict(study_id="mycentre", **cells, origin="user")

    def patient(pid, age, blasts, bridged):
        return row(patient_id=pid, cohort="Cohort A", diagnosis="B-ALL", age_years=age, sex="female",
                   disease_status="first_relapse", marrow_blasts_pct=blasts, abl_kd_mutation="", prior_lines="2",
                   car_target="CD19", car_dose_cells_per_kg="1e6", bridged_to_hsct=bridged)

    def tx(pid, category, agent, start, end):
        return row(patient_id=pid, category=category, agent=agent, start_day=start, end_day=end, dose="",
                   dose_unit="")

    def lab(pid, analyte, day, value, unit):
        return row(patient_id=pid, analyte=analyte, day=day, value=value, unit=unit, below_lloq="false")

    return {
        "patients": [patient(P1, "34", "45.5", "yes"), patient(P2, "51", "1", "no"), patient(P3, "29", "0.5", "no")],
        "responses": [row(patient_id=p, day="28", morphologic=m, mrd_flow="negative", molecular="not_done")
                      for p, m in ((P1, "CR"), (P2, "CR"), (P3, "NR"))],
        "adverse_events": [
            row(patient_id=P1, category="CRS", term="CRS", grade="2", grading_system="ASTCT", onset_day="3",
                duration_days="4"),
            row(patient_id=P2, category="ICANS", term="ICANS", grade="0", grading_system="ASTCT", onset_day="",
                duration_days=""),
            row(patient_id=P3, category="CRS", term="CRS", grade="3", grading_system="ASTCT", onset_day="1",
                duration_days="6"),
        ],
        "labs": [lab(P1, "IL-6", "-3", "4", "pg/mL"), lab(P1, "IL-6", "7", "25000", "pg/mL"),
                 lab(P2, "CRP", "7", "350", "mg/L"), lab(P2, "ferritin", "7", "23000", "ng/mL"),
                 lab(P3, "platelets", "7", "500", "10^9/L"), lab(P3, "hemoglobin", "7", "95", "g/L"),
                 lab(P1, "hemoglobin", "7", "121", "g/L")],
        "kinetics": [row(patient_id=p, day="14", copies_per_ug_gdna=c, below_lloq="false")
                     for p, c in ((P1, "347000"), (P3, "800"))],
        "treatments": [tx(p, "lymphodepletion", "FC", "-5", "-3") for p in (P1, P2, P3)]
                      + [tx(p, "CAR-T", "CD19 CAR-T", "0", "0") for p in (P1, P2, P3)]
                      + [tx(P1, "allo-HSCT", "allo-HSCT", "60", "60"), tx(P2, "TKI", "imatinib", "-3650", "-400")],
        "outcomes": [row(patient_id=P1, followup_days="400", relapsed="false", relapse_day="", died="false",
                         death_cause=""),
                     row(patient_id=P2, followup_days="200", relapsed="true", relapse_day="150", died="true",
                         death_cause="relapse"),
                     row(patient_id=P3, followup_days="90", relapsed="true", relapse_day="30", died="false",
                         death_cause="")],
    }


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(rows, dtype=object) for name, rows in _tables().items()}


def _write(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def _set(tables, table: str, row: int, **cells) -> None:
    """Set cells of one data row (1-based, as the file and the messages count)."""
    for column, value in cells.items():
        tables[table].loc[row - 1, column] = value


def _add(tables, table: str, **cells) -> int:
    """Append a row (the other cells copied from the table's first row); return its row number."""
    frame = tables[table]
    new = {**frame.iloc[0].to_dict(), **cells}
    tables[table] = pd.concat([frame, pd.DataFrame([new], dtype=object)], ignore_index=True)
    return len(tables[table])


def _load(tables, tmp_path) -> tuple[contract.Cohort, list]:
    """Load the cohort (it must be read); return it and the contract warnings issued."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cohort = contract.load_cohort(_write(tables, tmp_path / "mycentre"))
    return cohort, [w.message for w in caught if issubclass(w.category, ContractWarning)]


def _refused(tables, tmp_path) -> ContractError:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContractWarning)
        with pytest.raises(ContractError) as info:
            contract.load_cohort(_write(tables, tmp_path / "mycentre"))
    return info.value


def _error(err: ContractError, source: str, column: str, row: int, rule_id: str, *fragments: str) -> dict:
    """The one problem with this file, column, row and rule; its message line says all four."""
    frame = err.problems
    hits = [p for p in frame[(frame["source"] == source) & (frame["column"] == column)
                             & (frame["row"] == row)].to_dict("records")
            if f"(plausibility rule {rule_id})" in p["rule"] and all(f in p["rule"] for f in fragments)]
    assert len(hits) == 1, f"expected one {source}/{column}/row {row}/{rule_id} problem in:\n{err}"
    line = contract.validate._format_problem(hits[0])
    assert line.startswith(f"{source}: table ") and f"column '{column}', row {row}: " in line
    assert line in err.lines
    return hits[0]


def _warning(found: list, source: str, column: str, row: int, rule_id: str, *fragments: str) -> dict:
    """The one warning with this file, column, row and rule; its message says all four."""
    hits = [w for w in found if getattr(w, "problem", None)
            and (w.problem["source"], w.problem["column"], w.problem["row"]) == (source, column, row)
            and f"(plausibility rule {rule_id})" in w.problem["rule"]
            and all(f in w.problem["rule"] for f in fragments)]
    assert len(hits) == 1, f"expected one {source}/{column}/row {row}/{rule_id} warning in: {[str(w) for w in found]}"
    text = str(hits[0])
    assert f"{source}: table " in text and f"column '{column}', row {row}: " in text and rule_id in text
    assert hits[0].note["source"] == source and hits[0].note["note"].startswith("warning: ")
    return hits[0].problem


# ---------------------------------------------------------------------------
# The valid cohort and the shipped cohorts pass every rule
# ---------------------------------------------------------------------------

def test_the_valid_cohort_passes_without_a_warning(tables, tmp_path):
    cohort, found = _load(tables, tmp_path)
    assert len(cohort["patients"]) == 3 and found == []


@pytest.mark.parametrize("folder", SHIPPED, ids=lambda p: p.name)
def test_the_shipped_cohorts_pass_every_rule(folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cohort = contract.load_cohort(folder)
    assert len(cohort["patients"])
    rules = [w.message.problem["rule"] for w in caught if hasattr(w.message, "problem")]
    if folder.name == "single-centre":  # the worked example is invented, and its study is not a seed
        assert len(rules) == 1 and "origin_invented_on_user_study" in rules[0]
    else:
        assert rules == []


def test_the_template_breaks_no_plausibility_rule():
    err = pytest.raises(ContractError, contract.load_cohort, DATA_DIR / "template").value
    assert len(err.problems) == 2 and not err.problems["rule"].str.contains("plausibility").any()


def test_hsct_before_the_infusion_or_after_relapse_is_not_bridging(tables, tmp_path):
    # not a failure before the rules: the flag's meaning (study 003 records salvage transplants
    # after relapse in treatments only) is accepted after them too
    _add(tables, "treatments", patient_id=P3, category="allo-HSCT", agent="allo-HSCT", start_day="45", end_day="45")
    _add(tables, "treatments", patient_id=P2, category="allo-HSCT", agent="allo-HSCT", start_day="-700",
         end_day="-700")
    _, found = _load(tables, tmp_path)
    assert found == []


# ---------------------------------------------------------------------------
# Ranges per unit
# ---------------------------------------------------------------------------

def test_blast_percentages_given_as_fractions_are_warned(tables, tmp_path):
    _set(tables, "patients", 1, marrow_blasts_pct="0.455")
    _set(tables, "patients", 2, marrow_blasts_pct="0.01")
    cohort, found = _load(tables, tmp_path)
    p = _warning(found, "patients.csv", "marrow_blasts_pct", 1, "percent_as_fraction",
                 "looks like fractions 0–1; give percent", "3 values, rows 1, 2, 3")
    assert p["value"] == "0.455" and len(cohort["patients"]) == 3


def test_an_il6_of_1e308_is_refused(tables, tmp_path):
    _set(tables, "labs", 2, value="1e308")
    _error(_refused(tables, tmp_path), "labs.csv", "value", 2, "lab_value_impossible",
           "IL-6 of 1e+308 pg/mL is above 1e+09 pg/mL")


def test_a_crp_beyond_what_plasma_holds_is_refused(tables, tmp_path):
    _set(tables, "labs", 3, value="35000")
    _error(_refused(tables, tmp_path), "labs.csv", "value", 3, "lab_value_impossible", "CRP of 35000 mg/L")


def test_platelets_beyond_what_blood_holds_are_refused(tables, tmp_path):
    _set(tables, "labs", 5, value="50000")
    _error(_refused(tables, tmp_path), "labs.csv", "value", 5, "lab_value_impossible",
           "platelets of 50000 10^9/L is above 10000")


def test_a_hemoglobin_beyond_what_red_cells_hold_is_refused(tables, tmp_path):
    _set(tables, "labs", 6, value="950")
    _error(_refused(tables, tmp_path), "labs.csv", "value", 6, "lab_value_impossible", "hemoglobin of 950 g/L")


def test_an_il6_above_a_million_pg_per_ml_is_warned(tables, tmp_path):
    _set(tables, "labs", 2, value="2500000")
    _warning(_load(tables, tmp_path)[1], "labs.csv", "value", 2, "lab_value_implausible",
             "IL-6 of 2.5e+06 pg/mL is above 1e+06 pg/mL", "check the unit")


def test_a_ferritin_above_100000_is_warned(tables, tmp_path):
    _set(tables, "labs", 4, value="300000")
    _warning(_load(tables, tmp_path)[1], "labs.csv", "value", 4, "lab_value_implausible", "ferritin of 300000 ng/mL")


def test_hemoglobin_in_g_per_dl_is_warned(tables, tmp_path):
    _set(tables, "labs", 6, value="9.5")
    _set(tables, "labs", 7, value="12.1")
    _warning(_load(tables, tmp_path)[1], "labs.csv", "value", 6, "hemoglobin_in_g_per_dl",
             "looks like g/dL", "rows 6, 7")


def test_car_copies_of_1e308_are_refused(tables, tmp_path):
    _set(tables, "kinetics", 2, copies_per_ug_gdna="1e308")
    _error(_refused(tables, tmp_path), "kinetics.csv", "copies_per_ug_gdna", 2, "car_copies_impossible",
           "copies/µg gDNA is above 1e+07")


def test_car_copies_above_a_million_are_warned(tables, tmp_path):
    _set(tables, "kinetics", 1, copies_per_ug_gdna="5e6")
    _warning(_load(tables, tmp_path)[1], "kinetics.csv", "copies_per_ug_gdna", 1, "car_copies_implausible",
             "5e+06 copies/µg gDNA is above 1e+06")


# ---------------------------------------------------------------------------
# Day offsets around the infusion
# ---------------------------------------------------------------------------

def test_a_treatment_55_years_before_infusion_is_refused(tables, tmp_path):
    _set(tables, "patients", 2, age_years="80")
    _set(tables, "treatments", 8, start_day=str(-55 * 365))
    _error(_refused(tables, tmp_path), "treatments.csv", "start_day", 8, "treatment_too_early",
           "is 55.0 years before the infusion", "more than 30 years")


def test_a_treatment_ending_more_than_30_years_before_infusion_is_refused(tables, tmp_path):
    _set(tables, "patients", 2, age_years="80")
    _set(tables, "treatments", 8, start_day="-15000", end_day="-11500")
    err = _refused(tables, tmp_path)
    _error(err, "treatments.csv", "end_day", 8, "treatment_too_early", "is 31.5 years before the infusion")
    _error(err, "treatments.csv", "start_day", 8, "treatment_too_early", "is 41.1 years before the infusion")


def test_a_treatment_before_birth_is_refused(tables, tmp_path):
    _set(tables, "patients", 2, age_years="12")
    _set(tables, "treatments", 8, start_day="-5479", end_day="-5000")  # 15 years before infusion, age 12
    _error(_refused(tables, tmp_path), "treatments.csv", "start_day", 8, "treatment_before_birth",
           "15.0 years before the infusion, but the patient was 12 years old", "patients.csv row 2")


def test_a_treatment_ending_after_the_last_follow_up_is_refused(tables, tmp_path):
    row = _add(tables, "treatments", patient_id=P3, category="blinatumomab", agent="blinatumomab",
               start_day="40", end_day="120")
    _error(_refused(tables, tmp_path), "treatments.csv", "end_day", row, "treatment_after_followup",
           "followup_days 90 in outcomes.csv row 3", "leave end_day empty")


# ---------------------------------------------------------------------------
# Event order and grade semantics
# ---------------------------------------------------------------------------

def test_death_from_relapse_without_a_relapse_is_refused(tables, tmp_path):
    _set(tables, "outcomes", 1, died="true", death_cause="relapse")
    _error(_refused(tables, tmp_path), "outcomes.csv", "death_cause", 1, "death_from_relapse_without_relapse",
           "is 'relapse' but relapsed is not true")


def test_a_grade_5_infection_in_a_living_patient_is_refused(tables, tmp_path):
    row = _add(tables, "adverse_events", patient_id=P3, category="infection", term="sepsis", grade="5",
               grading_system="CTCAE", onset_day="20", duration_days="")
    _error(_refused(tables, tmp_path), "adverse_events.csv", "grade", row, "grade5_without_death",
           "grade 5 means death", "outcomes.csv row 3: died false")


def test_crs_grade_5_in_a_living_patient_is_refused(tables, tmp_path):
    _set(tables, "adverse_events", 1, grade="5")
    _error(_refused(tables, tmp_path), "adverse_events.csv", "grade", 1, "grade5_without_death",
           "outcomes.csv row 1: died false")


def test_grade_0_with_an_onset_is_refused(tables, tmp_path):
    _set(tables, "adverse_events", 2, onset_day="4")
    _error(_refused(tables, tmp_path), "adverse_events.csv", "onset_day", 2, "grade0_with_timing",
           "must be empty when grade is 0")


def test_grade_0_with_a_duration_is_refused(tables, tmp_path):
    _set(tables, "adverse_events", 2, duration_days="3")
    _error(_refused(tables, tmp_path), "adverse_events.csv", "duration_days", 2, "grade0_with_timing",
           "no onset or duration")


# ---------------------------------------------------------------------------
# Flags agree with rows
# ---------------------------------------------------------------------------

def test_hsct_flag_true_without_an_hsct_row_is_refused(tables, tmp_path):
    tables["treatments"] = tables["treatments"].drop(index=6).reset_index(drop=True)
    _error(_refused(tables, tmp_path), "patients.csv", "bridged_to_hsct", 1, "hsct_flag_without_row",
           "is true but treatments.csv has no allo-HSCT row")


def test_hsct_flag_true_with_a_transplant_before_infusion_only_is_refused(tables, tmp_path):
    _set(tables, "treatments", 7, start_day="-400", end_day="-400")
    _error(_refused(tables, tmp_path), "patients.csv", "bridged_to_hsct", 1, "hsct_flag_without_row",
           "day -400 (row 7) is before the infusion")


def test_hsct_flag_true_with_a_transplant_after_relapse_only_is_refused(tables, tmp_path):
    _set(tables, "patients", 3, bridged_to_hsct="true")
    row = _add(tables, "treatments", patient_id=P3, category="allo-HSCT", agent="allo-HSCT", start_day="60",
               end_day="60")
    _error(_refused(tables, tmp_path), "patients.csv", "bridged_to_hsct", 3, "hsct_flag_without_row",
           f"day 60 (row {row}) is after the relapse on day 30")


def test_hsct_flag_false_with_an_hsct_row_is_refused(tables, tmp_path):
    _set(tables, "patients", 1, bridged_to_hsct="false")
    _error(_refused(tables, tmp_path), "patients.csv", "bridged_to_hsct", 1, "hsct_row_without_flag",
           "treatments.csv row 7 has an allo-HSCT on day 60")


def test_a_patient_without_a_car_t_row_is_refused(tables, tmp_path):
    tables["treatments"] = tables["treatments"].drop(index=4).reset_index(drop=True)  # P2's CAR-T row
    _error(_refused(tables, tmp_path), "patients.csv", "patient_id", 2, "no_car_t_row",
           "patient has no CAR-T row in treatments.csv")


# ---------------------------------------------------------------------------
# origin on a user's data
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["synthetic", "published"])
def test_an_invented_origin_on_a_users_study_is_warned(tables, tmp_path, origin):
    for frame in tables.values():
        frame["origin"] = origin
    cohort, found = _load(tables, tmp_path)
    p = _warning(found, "patients.csv", "origin", 1, "origin_invented_on_user_study",
                 f"is '{origin}' in rows 1, 2, 3 (and in responses.csv", "of study 'mycentre'",
                 "the site would call these patients invented")
    assert p["table"] == "patients" and len(found) == 1 and len(cohort["patients"]) == 3


# ---------------------------------------------------------------------------
# Calendar dates (infusion_dates.csv, read by chapters.context.read_infusion_months)
# ---------------------------------------------------------------------------

def test_an_infusion_date_in_the_future_is_an_error():
    from helpers.contract import plausibility

    frame = pd.DataFrame({"study_id": ["mycentre"] * 2, "patient_id": [P1, P2],
                          "infusion_date": ["2021-03-30", "2031-03-30"]}, dtype=str)
    (p,) = plausibility.infusion_date_problems(frame, today=dt.date(2025, 1, 1))
    assert (p["source"], p["column"], p["row"]) == ("infusion_dates.csv", "infusion_date", 2)
    rule_id = "future_infusion_date"
    assert "after today" in p["rule"] and f"(plausibility rule {rule_id})" in p["rule"]
    assert "2031" not in contract.validate._format_problem(p)  # the date itself is masked


# ---------------------------------------------------------------------------
# Through the intake: errors are problems of the report, warnings are printed
# ---------------------------------------------------------------------------

def test_the_intake_reports_a_plausibility_error_with_file_column_row_and_rule(tables, tmp_path):
    from helpers.site import intake

    _set(tables, "labs", 2, value="1e308")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ContractWarning)
        report = intake.validate(_write(tables, tmp_path / "mycentre"))
    hits = report.problems[(report.problems["source"] == "labs.csv") & (report.problems["column"] == "value")
                           & (report.problems["row"] == 2)]
    assert len(hits) == 1 and "lab_value_impossible" in hits.iloc[0]["rule"]
    assert any(line.startswith("[mycentre] labs.csv: table 'labs', column 'value', row 2: IL-6 of 1e+308")
               for line in report.problem_lines())


def test_the_intake_accepts_a_warned_cohort_and_reports_the_warning(tables, tmp_path):
    from helpers.site import intake

    _set(tables, "patients", 1, marrow_blasts_pct="0.455")
    _set(tables, "patients", 2, marrow_blasts_pct="0.01")
    with pytest.warns(ContractWarning, match=r"patients\.csv: table 'patients', column 'marrow_blasts_pct', "
                                             r"row 1: every value .* \(plausibility rule percent_as_fraction\)"):
        report = intake.validate(_write(tables, tmp_path / "mycentre"))
    assert report.ok and list(report.studies) == ["mycentre"]
    notes = [n for n in report.notes.to_dict("records") if "percent_as_fraction" in str(n["note"])]
    assert len(notes) == 1 and notes[0]["source"] == "patients.csv"
    assert notes[0]["note"].startswith("warning: ") and "marrow_blasts_pct" in notes[0]["note"]
    assert "percent_as_fraction" in report.markdown()  # in intake-report.md


# ---------------------------------------------------------------------------
# Declared once, shown in the dictionary
# ---------------------------------------------------------------------------

def test_every_declared_rule_is_tested_here_and_shown_in_the_dictionary():
    from helpers.contract.data_dictionary import plausibility_rules
    from helpers.contract.spec import PLAUSIBILITY_RULES, SEVERITIES, TABLES

    source = Path(__file__).read_text(encoding="utf-8")
    markdown = contract.dictionary_markdown()
    dictionary = contract.dictionary()
    assert list(plausibility_rules()["rule"]) == [r.id for r in PLAUSIBILITY_RULES]
    for rule in PLAUSIBILITY_RULES:
        assert rule.severity in SEVERITIES
        assert source.count(f'"{rule.id}"') >= 1, f"no case for rule {rule.id}"
        assert f"| {rule.id} | {rule.severity} |" in markdown
        for table in rule.tables:
            if table in TABLES:
                for column in rule.columns:
                    cell = dictionary[(dictionary["table"] == table) & (dictionary["column"] == column)]
                    assert f"{rule.id} ({rule.severity})" in cell.iloc[0]["plausibility"]


def test_an_infusion_date_in_the_future_is_refused_by_the_chapters_reader(tmp_path):
    """read_infusion_months (the chapters' reader of infusion_dates.csv) applies the rule, with the
    file's row (a blank line counts)."""
    import pandas as pd

    from helpers.chapters.context import read_infusion_months
    from helpers.contract import ContractError

    path = tmp_path / "infusion_dates.csv"
    path.write_text("study_id,patient_id,infusion_date\nX,X-1,2020-01-05\n\nX,X-2,2099-01-01\n")
    patients = pd.DataFrame({"study_id": ["X", "X"], "patient_id": ["X-1", "X-2"]})
    with pytest.raises(ContractError) as err:
        read_infusion_months(path, patients)
    assert any("infusion_date" in line and "row 3" in line and "future_infusion_date" in line for line in err.value.lines)
