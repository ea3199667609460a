"""The bad-input catalogue: one malformed cohort per test, each with the message a data owner sees.

Every test starts from the same small valid cohort (``mycentre``: 3 patients, two cohorts, every
table), breaks it in exactly one way, and runs the intake (``helpers.site.intake.validate``, the first
step of ``python -m helpers.site.intake``). It then asserts the problem's **file**, **column**,
**row(s)** and **rule** -- or, for the inputs the book accepts with a visible degradation (an empty
optional table, one cohort, every patient censored, stray whitespace, a byte-order mark, a file that
is not a contract table, a plausibility warning such as percentages given as fractions), the note
or readiness line that says so. Nothing is fixed silently and no number is computed from a
malformed input.

Row numbers are data rows of the file (CSV line = row + 1, because of the header).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import zipfile
from pathlib import Path
from typing import Callable, Optional, Sequence

import openpyxl
import pandas as pd
import pytest

from helpers import chapters, contract
from helpers.site import intake

P1, P2, P3 = "MC-01", "MC-02", "MC-03"


def _tables() -> dict[str, list[dict]]:
    def patient(pid, cohort, age, sex, status, blasts):
        return dict(study_id="mycentre", patient_id=pid, cohort=cohort, diagnosis="B-ALL", age_years=age,
                    sex=sex, disease_status=status, marrow_blasts_pct=blasts, abl_kd_mutation="",
                    prior_lines="2", car_target="CD19", car_dose_cells_per_kg="1e6", bridged_to_hsct="no",
                    origin="user")

    def tx(pid, category, agent, start, end, dose="", unit=""):
        return dict(study_id="mycentre", patient_id=pid, category=category, agent=agent, start_day=start,
                    end_day=end, dose=dose, dose_unit=unit, origin="user")

    return {
        "patients": [patient(P1, "Cohort A", "34", "male", "first_relapse", "45.5"),
                     patient(P2, "Cohort A", "51", "female", "mrd_positive", "1"),
                     patient(P3, "Cohort B", "29", "female", "primary_refractory", "80")],
        "responses": [dict(study_id="mycentre", patient_id=p, day="28", morphologic=m, mrd_flow=f,
                           molecular="not_done", origin="user")
                      for p, m, f in ((P1, "CR", "negative"), (P2, "CR", "positive"), (P3, "NR", "positive"))],
        "adverse_events": [dict(study_id="mycentre", patient_id=p, category="CRS", term="CRS", grade=g,
                                grading_system="ASTCT", onset_day=o, duration_days=d, origin="user")
                           for p, g, o, d in ((P1, "2", "3", "4"), (P2, "0", "", ""), (P3, "3", "1", "6"))],
        "labs": [dict(study_id="mycentre", patient_id=p, analyte="IL-6", day=d, value=v, unit="pg/mL",
                      below_lloq="false", origin="user")
                 for p, d, v in ((P1, "-5", "4"), (P1, "7", "250"), (P2, "7", "80"), (P3, "3", "900"))],
        "kinetics": [dict(study_id="mycentre", patient_id=p, day="14", copies_per_ug_gdna=c, below_lloq="false",
                          origin="user") for p, c in ((P1, "12000"), (P3, "800"))],
        "treatments": [tx(p, "lymphodepletion", "FC", "-5", "-3") for p in (P1, P2, P3)]
                      + [tx(p, "CAR-T", "CD19 CAR-T", "0", "0", "1e6", "cells/kg") for p in (P1, P2, P3)],
        "outcomes": [dict(study_id="mycentre", patient_id=P1, followup_days="400", relapsed="false", relapse_day="",
                          died="false", death_cause="", origin="user"),
                     dict(study_id="mycentre", patient_id=P2, followup_days="200", relapsed="true", relapse_day="150",
                          died="true", death_cause="relapse", origin="user"),
                     dict(study_id="mycentre", patient_id=P3, followup_days="90", relapsed="true", relapse_day="30",
                          died="false", death_cause="", origin="user")],
    }


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    return {name: pd.DataFrame(rows, dtype=object) for name, rows in _tables().items()}


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "mycentre"


def write(tables: dict[str, pd.DataFrame], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(folder / f"{name}.csv", index=False)
    return folder


def problems_of(folder: Path) -> intake.IntakeReport:
    report = intake.validate(folder)
    assert not report.ok, "the malformed input was accepted:\n" + report.text()
    return report


def problem(report: intake.IntakeReport, source: str, column, row, *rule: str) -> dict:
    """The one problem naming this file, column and row whose rule holds every fragment."""
    frame = report.problems
    hits = frame[(frame["source"] == source)
                 & ((frame["column"] == column) if column is not None else frame["column"].isna())
                 & ((frame["row"] == row) if row is not None else frame["row"].isna())]
    hits = [p for p in hits.to_dict("records") if all(f in p["rule"] for f in rule)]
    assert len(hits) == 1, (f"expected one problem {source}/{column}/row {row}/{rule}; got:\n"
                            + "\n".join(report.problem_lines()))
    line = next(x for x in report.problem_lines() if x.endswith(hits[0]["rule"] + (
        f" (found {hits[0]['value']})" if hits[0]["value"] not in (None, "") and not pd.isna(hits[0]["value"]) else "")))
    assert source in line and (column is None or f"column '{column}'" in line)
    assert row is None or f"row {row}:" in line
    return hits[0]


def test_the_valid_cohort_passes(tables, folder):
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    assert list(report.studies) == ["mycentre"]


# --------------------------------------------------------------------------- structure

def test_01_missing_required_column(tables, folder):
    tables["outcomes"] = tables["outcomes"].drop(columns="died")
    p = problem(problems_of(write(tables, folder)), "outcomes.csv", "died", None, "is required but missing")
    assert p["table"] == "outcomes"


def test_02_misnamed_column_is_named_with_the_likely_intended_one(tables, folder):
    tables["outcomes"] = tables["outcomes"].rename(columns={"followup_days": "followup"})
    report = problems_of(write(tables, folder))
    problem(report, "outcomes.csv", "followup", None, "unknown column", "did you mean 'followup_days'?")
    problem(report, "outcomes.csv", "followup_days", None, "is required but missing")


def test_03_duplicate_header(tables, folder):
    write(tables, folder)
    path = folder / "kinetics.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0] + ",day"] + [line + ",14" for line in lines[1:]]) + "\n")
    problem(problems_of(folder), "kinetics.csv", "day", None, "column appears more than once")


def test_04_unnamed_column_with_data(tables, folder):
    tables["responses"][""] = ["x", "", ""]
    problem(problems_of(write(tables, folder)), "responses.csv", "(unnamed column 8)", None, "unknown column")


def test_05_missing_required_table(tables, folder):
    del tables["outcomes"]
    problem(problems_of(write(tables, folder)), "outcomes.csv", None, None, "required table is missing",
            "no outcomes.csv or outcomes.xlsx")


def test_06_two_files_for_one_table(tables, folder):
    write(tables, folder)
    tables["kinetics"].to_excel(folder / "kinetics.xlsx", index=False)
    problem(problems_of(folder), "kinetics.csv", None, None, "more than one file for this table",
            "kinetics.csv, kinetics.xlsx")


def test_07_folder_without_any_patients_file(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    report = problems_of(tmp_path / "empty")
    problem(report, "empty", None, None, "no study found", "patients.csv or patients.xlsx")


# --------------------------------------------------------------------------- types

def test_08_text_in_a_number_column(tables, folder):
    tables["patients"].loc[1, "age_years"] = "51 years"
    p = problem(problems_of(write(tables, folder)), "patients.csv", "age_years", 2, "must be a number")
    assert p["value"] == "'51 years'"


def test_09_decimal_comma(tables, folder):
    tables["patients"].loc[0, "marrow_blasts_pct"] = "45,5"
    problem(problems_of(write(tables, folder)), "patients.csv", "marrow_blasts_pct", 1,
            "must be a number", "decimal comma: write 45.5")


def test_10_fraction_in_a_whole_number_column(tables, folder):
    tables["responses"].loc[2, "day"] = "28.5"
    problem(problems_of(write(tables, folder)), "responses.csv", "day", 3, "must be a whole number")


def test_11_grade_written_as_a_roman_numeral(tables, folder):
    tables["adverse_events"].loc[2, "grade"] = "III"
    p = problem(problems_of(write(tables, folder)), "adverse_events.csv", "grade", 3, "must be a whole number")
    assert p["value"] == "'III'"


def test_12_boolean_that_is_not_true_or_false(tables, folder):
    tables["outcomes"].loc[0, "relapsed"] = "maybe"
    problem(problems_of(write(tables, folder)), "outcomes.csv", "relapsed", 1, "must be true or false")


def test_13_value_outside_the_vocabulary(tables, folder):
    tables["patients"].loc[0, "sex"] = "M"
    problem(problems_of(write(tables, folder)), "patients.csv", "sex", 1, "must be one of: male, female, unknown")


def test_14_infinite_number(tables, folder):
    tables["labs"].loc[3, "value"] = "inf"
    problem(problems_of(write(tables, folder)), "labs.csv", "value", 4, "must be a finite number")


# --------------------------------------------------------------------------- keys

def test_15_duplicate_patient_id_names_both_rows(tables, folder):
    tables["patients"] = pd.concat([tables["patients"], tables["patients"].iloc[[0]]], ignore_index=True)
    report = problems_of(write(tables, folder))
    problem(report, "patients.csv", "patient_id", 1, "duplicate key (study_id, patient_id) also in row 4")
    problem(report, "patients.csv", "patient_id", 4, "duplicate key (study_id, patient_id) also in row 1")


def test_16_patient_in_another_table_but_not_in_patients(tables, folder):
    tables["responses"].loc[1, "patient_id"] = "MC-99"
    p = problem(problems_of(write(tables, folder)), "responses.csv", "patient_id", 2,
                "patient is not in patients.csv")
    assert p["value"] == "'MC-99'"


def test_17_patient_without_an_outcomes_row(tables, folder):
    tables["outcomes"] = tables["outcomes"].iloc[[0, 1]]
    problem(problems_of(write(tables, folder)), "patients.csv", "patient_id", 3,
            "patient has no row in outcomes.csv")


def test_18_two_study_ids_in_one_folder(tables, folder):
    for frame in tables.values():  # patient 3 belongs to another study, consistently in every table
        frame.loc[frame["patient_id"] == P3, "study_id"] = "othercentre"
    problem(problems_of(write(tables, folder)), "patients.csv", "study_id", 3, "a study folder holds one study",
            "'othercentre' in row 3 differs from 'mycentre'")


# --------------------------------------------------------------------------- times

def test_19_negative_time(tables, folder):
    tables["outcomes"].loc[0, "followup_days"] = "-10"
    problem(problems_of(write(tables, folder)), "outcomes.csv", "followup_days", 1, "must be ≥ 0")


def test_20_missing_time(tables, folder):
    tables["outcomes"].loc[1, "followup_days"] = ""
    problem(problems_of(write(tables, folder)), "outcomes.csv", "followup_days", 2,
            "is required but missing (empty cell)")


def test_21_event_after_last_follow_up(tables, folder):
    tables["responses"].loc[1, "day"] = "300"  # patient 2 was followed for 200 days
    problem(problems_of(write(tables, folder)), "responses.csv", "day", 2,
            "is after the patient's last follow-up (followup_days 200 in outcomes.csv row 2)")


def test_22_relapse_after_last_follow_up(tables, folder):
    tables["outcomes"].loc[1, "relapse_day"] = "250"
    problem(problems_of(write(tables, folder)), "outcomes.csv", "relapse_day", 2,
            "must be ≤ followup_days (200)", "relapse cannot come after the last follow-up")


def test_23_treatment_ends_before_it_starts(tables, folder):
    tables["treatments"].loc[0, "end_day"] = "-8"
    problem(problems_of(write(tables, folder)), "treatments.csv", "end_day", 1, "must be ≥ start_day (-5)")


def test_24_lymphodepletion_after_the_infusion(tables, folder):
    tables["treatments"].loc[1, ["start_day", "end_day"]] = ["2", "4"]
    problem(problems_of(write(tables, folder)), "treatments.csv", "start_day", 2,
            "lymphodepletion must start before the infusion")


def test_25_infusion_not_on_day_0(tables, folder):
    tables["treatments"].loc[5, ["start_day", "end_day"]] = ["1", "1"]
    problem(problems_of(write(tables, folder)), "treatments.csv", "start_day", 6,
            "first CAR-T row is the infusion and must be on day 0")


def test_26_lab_sample_before_lymphodepletion(tables, folder):
    tables["labs"].loc[0, "day"] = "-13"  # lymphodepletion started on day -5 (treatments.csv row 1)
    problem(problems_of(write(tables, folder)), "labs.csv", "day", 1,
            "more than 7 days before the patient's lymphodepletion (start_day -5 in treatments.csv row 1)")


def test_27_relapse_flag_without_a_day(tables, folder):
    tables["outcomes"].loc[2, "relapse_day"] = ""
    problem(problems_of(write(tables, folder)), "outcomes.csv", "relapse_day", 3,
            "is required when relapsed is true")


def test_28_cause_of_death_for_a_living_patient(tables, folder):
    tables["outcomes"].loc[0, "death_cause"] = "unknown"
    problem(problems_of(write(tables, folder)), "outcomes.csv", "death_cause", 1, "must be empty when died is false")


# --------------------------------------------------------------------------- vocabularies and units

def test_29_grade_outside_0_to_5(tables, folder):
    tables["adverse_events"].loc[0, "grade"] = "6"
    problem(problems_of(write(tables, folder)), "adverse_events.csv", "grade", 1, "must be ≤ 5")


def test_30_units_mixed_within_one_analyte(tables, folder):
    tables["labs"].loc[2, "unit"] = "ng/mL"
    problem(problems_of(write(tables, folder)), "labs.csv", "unit", 3,
            "analyte 'IL-6' must be reported in pg/mL",
            "this file mixes units for it (pg/mL in rows 1, 2, 4; ng/mL in row 3)")


def test_31_cohort_label_spelled_two_ways(tables, folder):
    tables["patients"].loc[1, "cohort"] = "cohort a"
    problem(problems_of(write(tables, folder)), "patients.csv", "cohort", 2,
            "differs from 'Cohort A' (row 1) only in letter case, spaces or punctuation")


def test_32_unknown_cohort_label_for_a_reproduced_study(tables, tmp_path):
    for frame in tables.values():
        frame["study_id"] = "000"
    tables["patients"]["cohort"] = ["CML-LBC", "CML-BC", "Ph+ ALL"]
    report = problems_of(write(tables, tmp_path / "000"))
    problem(report, "patients.csv", "cohort", 2, "unknown cohort label for study 000 (row 2)",
            "compare the cohorts CML-LBC, Ph+ ALL")


# --------------------------------------------------------------------------- identifiers

def test_33_identifier_column(tables, folder):
    tables["patients"]["Patient Name"] = ["A", "B", "C"]
    problem(problems_of(write(tables, folder)), "patients.csv", "Patient Name", None,
            "looks like a direct identifier (name)", "never accepts direct identifiers")


def test_34_email_address_in_a_text_cell_is_refused_and_masked(tables, folder):
    tables["treatments"].loc[0, "agent"] = "ask dr.who@example.org"
    report = problems_of(write(tables, folder))
    p = problem(report, "treatments.csv", "agent", 1, "looks like an e-mail address")
    assert "example.org" not in report.text() and p["value"].startswith("masked value")


def test_35_record_number_as_patient_id(tables, folder):
    for frame in tables.values():
        frame.loc[frame["patient_id"] == P3, "patient_id"] = "12345678"
    problem(problems_of(write(tables, folder)), "patients.csv", "patient_id", 3,
            "looks like a medical record number")


def test_36_date_of_birth_in_a_text_cell(tables, folder):
    tables["patients"].loc[0, "cohort"] = "born 14/03/1987"
    problem(problems_of(write(tables, folder)), "patients.csv", "cohort", 1, "looks like a calendar date")


# --------------------------------------------------------------------------- dates

def test_37_excel_date_cell_in_a_day_column(tables, folder):
    write(tables, folder)
    (folder / "outcomes.csv").unlink()
    frame = tables["outcomes"].copy()
    frame["followup_days"] = [dt.datetime(2021, 3, 4), 200, 90]
    frame.to_excel(folder / "outcomes.xlsx", index=False)
    p = problem(problems_of(folder), "outcomes.xlsx", "followup_days", 1, "holds a calendar date",
                "days from the CAR-T infusion")
    assert "2021" not in p["value"]  # the date itself is never repeated


def test_38_typed_date_in_a_day_column(tables, folder):
    tables["kinetics"].loc[0, "day"] = "2021-03-18"
    p = problem(problems_of(write(tables, folder)), "kinetics.csv", "day", 1, "holds a calendar date")
    assert p["value"] == "masked value '9999-99-99'"


# --------------------------------------------------------------------------- files and encodings

def test_39_semicolon_separated_file(tables, folder):
    write(tables, folder)
    tables["outcomes"].to_csv(folder / "outcomes.csv", index=False, sep=";")
    problem(problems_of(folder), "outcomes.csv", None, None, "separated by semicolons, not commas")


def test_40_ragged_row(tables, folder):
    write(tables, folder)
    with open(folder / "treatments.csv", "a") as fh:
        fh.write("mycentre,MC-01,other,x,10,,,,user,extra\n")
    problem(problems_of(folder), "treatments.csv", None, 7, "row has 10 cells but the header has 9")


def test_41_latin1_encoding(tables, folder):
    tables["patients"].loc[0, "cohort"] = "Lymphoïde"
    write(tables, folder)
    tables["patients"].to_csv(folder / "patients.csv", index=False, encoding="latin-1")
    problem(problems_of(folder), "patients.csv", "cohort", 1, "file is not UTF-8 text", "byte 0xEF on line 2",
            "save it as CSV UTF-8")


def test_42_utf16_file_from_a_spreadsheet(tables, folder):
    write(tables, folder)
    tables["responses"].to_csv(folder / "responses.csv", index=False, encoding="utf-16")
    problem(problems_of(folder), "responses.csv", None, None, "file is not UTF-8 text")


def test_43_empty_required_table(tables, folder):
    tables["patients"] = tables["patients"].iloc[0:0]
    problem(problems_of(write(tables, folder)), "patients.csv", None, None,
            "table has a header but no data rows")


# --------------------------------------------------------------------------- visible degradations

def test_44_empty_optional_table_is_read_as_absent_and_said(tables, folder):
    tables["kinetics"] = tables["kinetics"].iloc[0:0]
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    notes = report.notes[report.notes["source"] == "kinetics.csv"]["note"].tolist()
    assert notes == ["has a header but no data rows: read as an absent optional table"]
    ready = report.readiness.set_index("analysis").loc["CAR-T expansion"]
    assert ready["status"] == "absent" and "no kinetics table" in ready["detail"]


def test_45_single_cohort_degrades_visibly(tables, folder):
    tables["patients"]["cohort"] = "Cohort A"
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    ready = report.readiness.set_index("analysis").loc["Comparisons between cohorts"]
    assert ready["status"] == "degraded" and "one cohort (Cohort A)" in ready["detail"]
    assert "log-rank" in ready["detail"] and "not computable" in ready["detail"]
    book = chapters.setup("test", folder)
    assert book.require("mycentre", analysis="Remission by cohort", min_cohorts=2) is False
    assert book.absent[-1]["why"] == "it compares cohorts and needs at least 2; study mycentre has 1 (Cohort A)"


def test_46_every_patient_censored_degrades_visibly(tables, folder):
    tables["outcomes"]["died"] = "false"
    tables["outcomes"]["death_cause"] = ""
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    ready = report.readiness.set_index("analysis").loc["Overall survival"]
    assert ready["status"] == "degraded"
    assert "every patient is censored" in ready["detail"] and "log-rank test is not computable" in ready["detail"]


def test_47_stray_whitespace_is_stripped_and_reported(tables, folder):
    write(tables, folder)
    path = folder / "responses.csv"
    lines = path.read_text().splitlines()
    lines[0] = lines[0].replace("morphologic", " morphologic ")
    lines[3] = lines[3].replace(",NR,", ", NR ,")
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match="responses.csv: stripped stray whitespace"):
        report = intake.validate(folder)
    assert report.ok, report.text()
    note = report.notes[report.notes["source"] == "responses.csv"]["note"].iloc[0]
    assert note == ("stripped stray whitespace from 1 header (morphologic) and 1 cell "
                    "(column morphologic; row 3)")


def test_48_byte_order_mark_is_noted(tables, folder):
    write(tables, folder)
    tables["patients"].to_csv(folder / "patients.csv", index=False, encoding="utf-8-sig")
    report = intake.validate(folder)
    assert report.ok, report.text()
    assert report.notes[report.notes["source"] == "patients.csv"]["note"].tolist() == [
        "UTF-8 byte-order mark at the start (ignored)"]


def test_49_misnamed_file_is_noted_and_its_table_counted_absent(tables, folder):
    write(tables, folder)
    shutil.move(folder / "kinetics.csv", folder / "kinetic.csv")
    report = intake.validate(folder)
    assert report.ok
    note = report.notes[report.notes["source"] == "kinetic.csv"]["note"].iloc[0]
    assert note.startswith("ignored: not a contract table")
    assert report.readiness.set_index("analysis").loc["CAR-T expansion", "status"] == "absent"


def test_the_catalogue_has_at_least_120_malformed_inputs():
    cases = [name for name in globals() if name.startswith("test_") and name[5:7].isdigit()]
    assert len(cases) >= 120  # issue 17


# =========================================================================== reading files (issue 17)
# Each case below was run on the reader before issue 17 (see the catalogue note in the module
# docstring of helpers.contract.files): it crashed, passed in silence, or was refused without
# saying where or why.

def xlsx(folder: Path, table: str, frame: pd.DataFrame, *, sheet: Optional[str] = None,
         edit: Optional[Callable] = None, above: Sequence[Sequence] = ()) -> Path:
    """Replace ``<table>.csv`` by ``<table>.xlsx`` written cell by cell (text as text); ``above``
    are rows put above the header, ``edit(ws)`` changes the sheet before it is saved."""
    (folder / f"{table}.csv").unlink(missing_ok=True)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet or table
    for row in [*above, list(frame.columns), *frame.astype(object).values.tolist()]:
        ws.append(list(row))
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that merely starts with '=' stays text, as in a CSV
    if edit:
        edit(ws)
    path = folder / f"{table}.xlsx"
    book.save(path)
    return path


def replace_line(path: Path, line: int, text: str) -> None:
    """Replace line ``line`` (1-based, the header is line 1) of a text file by ``text``."""
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


def no_problem_line_holds(report: intake.IntakeReport, *texts: str) -> None:
    lines = "\n".join(report.problem_lines() + report.notes["note"].astype(str).tolist())
    for text in texts:
        assert text not in lines, f"{text!r} is echoed in the report:\n{lines}"


# --------------------------------------------------------------------------- encodings

def test_50_utf16_le_with_a_byte_order_mark_is_named(tables, folder):
    write(tables, folder)
    (folder / "patients.csv").write_bytes(tables["patients"].to_csv(index=False).encode("utf-16"))
    problem(problems_of(folder), "patients.csv", None, None, "file is not UTF-8 text",
            "it is UTF-16 LE (with a byte-order mark)", "save it as CSV UTF-8")


def test_51_utf16_be_with_a_byte_order_mark_is_named(tables, folder):
    write(tables, folder)
    data = b"\xfe\xff" + tables["outcomes"].to_csv(index=False).encode("utf-16-be")
    (folder / "outcomes.csv").write_bytes(data)
    problem(problems_of(folder), "outcomes.csv", None, None, "file is not UTF-8 text",
            "it is UTF-16 BE (with a byte-order mark)")


def test_52_utf16_le_without_a_byte_order_mark_is_found_by_its_nul_pattern(tables, folder):
    write(tables, folder)
    (folder / "responses.csv").write_bytes(tables["responses"].to_csv(index=False).encode("utf-16-le"))
    report = problems_of(folder)
    problem(report, "responses.csv", None, None, "file is not UTF-8 text",
            "it is UTF-16 LE without a byte-order mark (found by its pattern of NUL bytes)")
    assert not report.problems["rule"].str.contains("unknown column").any()


def test_53_utf16_be_without_a_byte_order_mark_is_found_by_its_nul_pattern(tables, folder):
    write(tables, folder)
    (folder / "labs.csv").write_bytes(tables["labs"].to_csv(index=False).encode("utf-16-be"))
    problem(problems_of(folder), "labs.csv", None, None, "it is UTF-16 BE without a byte-order mark")


def test_54_utf32_is_named(tables, folder):
    write(tables, folder)
    (folder / "kinetics.csv").write_bytes(tables["kinetics"].to_csv(index=False).encode("utf-32"))
    problem(problems_of(folder), "kinetics.csv", None, None, "it is UTF-32 LE (with a byte-order mark)")


def test_55_undecodable_byte_is_located_by_row_and_column(tables, folder):
    tables["patients"].loc[1, "cohort"] = "Cohort Ä"
    write(tables, folder)
    (folder / "patients.csv").write_bytes(tables["patients"].to_csv(index=False).encode("latin-1"))
    problem(problems_of(folder), "patients.csv", "cohort", 2, "file is not UTF-8 text",
            "byte 0xC4 on line 3 cannot be decoded", "Windows-1252 or Latin-1", "save it as CSV UTF-8")


def test_56_undecodable_byte_in_the_header_names_line_1(tables, folder):
    write(tables, folder)
    path = folder / "responses.csv"
    path.write_bytes(path.read_bytes().replace(b"mrd_flow", b"mrd\x92flow", 1))
    problem(problems_of(folder), "responses.csv", None, None, "byte 0x92 on line 1 (the header)")


def test_57_every_line_with_an_undecodable_byte_is_listed(tables, folder):
    write(tables, folder)
    path = folder / "treatments.csv"
    data = path.read_bytes().replace(b"CD19 CAR-T", b"CD19 CAR-T \xe9")
    path.write_bytes(data)
    report = problems_of(folder)
    for row in (4, 5, 6):
        problem(report, "treatments.csv", "agent", row, f"byte 0xE9 on line {row + 1} cannot be decoded")


def test_58_nul_byte_in_a_utf8_file_is_refused_with_its_row(tables, folder):
    tables["treatments"].loc[1, "agent"] = "FC\x00"
    report = problems_of(write(tables, folder))
    problem(report, "treatments.csv", "agent", 2, "holds a NUL byte (character 0) on line 3")


# --------------------------------------------------------------------------- CSV syntax

def test_59_unterminated_quote_names_the_row_where_it_opens(tables, folder):
    write(tables, folder)
    replace_line(folder / "responses.csv", 3, 'mycentre,MC-02,28,"CR,positive,not_done,user')
    problem(problems_of(folder), "responses.csv", "morphologic", 2, "a quoted cell opens on line 3",
            "its closing quote is missing")


def test_60_text_after_a_closing_quote_names_its_row(tables, folder):
    write(tables, folder)
    replace_line(folder / "responses.csv", 4, 'mycentre,MC-03,28,"NR"x,positive,not_done,user')
    problem(problems_of(folder), "responses.csv", None, 3, "line 4", "after the closing quote of a quoted cell")


def test_61_oversized_cell_names_its_row(tables, folder):
    tables["adverse_events"].loc[1, "term"] = "x" * 200_000
    problem(problems_of(write(tables, folder)), "adverse_events.csv", None, 2,
            "a cell is longer than 131072 characters")


def test_62_rows_are_counted_as_records_across_a_multi_line_cell(tables, folder):
    tables["treatments"].loc[0, "agent"] = "FC\n(flu/cy)"  # a legal cell over two lines
    write(tables, folder)
    replace_line(folder / "treatments.csv", 5, 'mycentre,MC-03,lymphodepletion,"FC,-5,-3,,,user')
    problem(problems_of(folder), "treatments.csv", "agent", 3, "a quoted cell opens on line 5")


# --------------------------------------------------------------------------- empty files

def test_63_zero_byte_optional_table_is_read_as_absent_with_a_note(tables, folder):
    write(tables, folder)
    (folder / "kinetics.csv").write_bytes(b"")
    report = intake.validate(folder)
    assert report.ok, report.text()
    notes = report.notes[report.notes["source"] == "kinetics.csv"]["note"].tolist()
    assert notes == ["file is empty (0 bytes): read as an absent optional table"]
    assert report.readiness.set_index("analysis").loc["CAR-T expansion", "status"] == "absent"


def test_64_zero_byte_required_table_is_a_problem(tables, folder):
    write(tables, folder)
    (folder / "patients.csv").write_bytes(b"")
    problem(problems_of(folder), "patients.csv", None, None, "file is empty (0 bytes)",
            "the table is required")


def test_65_zero_byte_optional_workbook_is_read_as_absent_with_a_note(tables, folder):
    write(tables, folder)
    (folder / "labs.csv").unlink()
    (folder / "labs.xlsx").write_bytes(b"")
    report = intake.validate(folder)
    assert report.ok, report.text()
    assert report.notes[report.notes["source"] == "labs.xlsx"]["note"].tolist() == [
        "file is empty (0 bytes): read as an absent optional table"]


def test_66_zero_byte_infusion_dates_file_is_a_problem_not_a_crash(tables, folder):
    write(tables, folder)
    (folder / "infusion_dates.csv").write_bytes(b"")
    report = intake.validate(folder, absolute_dates=True)
    assert not report.ok
    problem(report, "infusion_dates.csv", None, None, "file is empty (0 bytes)")


def test_67_utf16_infusion_dates_file_is_a_problem_not_a_crash(tables, folder):
    write(tables, folder)
    dates = "study_id,patient_id,infusion_date\n" + "".join(f"mycentre,{p},2021-03-0{i}\n"
                                                           for i, p in enumerate((P1, P2, P3), 1))
    (folder / "infusion_dates.csv").write_bytes(dates.encode("utf-16"))
    report = intake.validate(folder, absolute_dates=True)
    assert not report.ok
    problem(report, "infusion_dates.csv", None, None, "file is not UTF-8 text", "UTF-16 LE")


# --------------------------------------------------------------------------- links and non-regular files

def test_68_symlink_to_another_studys_file_is_refused(tables, folder, tmp_path):
    other = write(tables, tmp_path / "otherstudy")
    write(tables, folder)
    (folder / "patients.csv").unlink()
    (folder / "patients.csv").symlink_to(other / "patients.csv")
    problem(problems_of(folder), "patients.csv", None, None, "is a symbolic link",
            "the book reads only regular files", "copy the file itself into the folder")


def test_69_symlink_to_a_system_file_is_refused_without_reading_it(tables, folder):
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd here")
    write(tables, folder)
    (folder / "treatments.csv").unlink()
    (folder / "treatments.csv").symlink_to("/etc/passwd")
    report = problems_of(folder)
    problem(report, "treatments.csv", None, None, "is a symbolic link")
    no_problem_line_holds(report, "root", "/etc/passwd", "/bin/")
    assert len(report.problems) == 1


def test_70_folder_named_like_a_table_is_refused(tables, folder):
    write(tables, folder)
    (folder / "kinetics.csv").unlink()
    (folder / "kinetics.csv").mkdir()
    problem(problems_of(folder), "kinetics.csv", None, None, "is a folder, not a file")


def test_71_named_pipe_is_refused_without_opening_it(tables, folder):
    write(tables, folder)
    (folder / "labs.csv").unlink()
    os.mkfifo(folder / "labs.csv")  # opening it to read would block for ever
    problem(problems_of(folder), "labs.csv", None, None, "is a named pipe (FIFO), not a regular file")


def test_72_dangling_symlink_is_refused(tables, folder):
    write(tables, folder)
    (folder / "adverse_events.csv").unlink()
    (folder / "adverse_events.csv").symlink_to(folder / "gone.csv")
    problem(problems_of(folder), "adverse_events.csv", None, None, "is a symbolic link")


# --------------------------------------------------------------------------- file names

def test_73_doubled_extension_of_a_required_table_names_the_files_in_the_folder(tables, folder):
    write(tables, folder)
    shutil.move(folder / "outcomes.csv", folder / "Outcomes.csv.csv")
    (folder / "notes.txt").write_text("read me")
    report = problems_of(folder)
    p = problem(report, "outcomes.csv", None, None, "required table is missing: no outcomes.csv or outcomes.xlsx",
                "the folder holds: ", "Outcomes.csv.csv (a doubled extension: rename it outcomes.csv)",
                "notes.txt")
    assert str(folder.parent) not in p["rule"]  # the folder by its own name at most, never its path


def test_74_trailing_space_in_a_file_name_is_named(tables, folder):
    write(tables, folder)
    shutil.move(folder / "outcomes.csv", folder / "Outcomes.csv ")
    problem(problems_of(folder), "outcomes.csv", None, None, "required table is missing",
            "'Outcomes.csv ' (a space at the end of the name: rename it outcomes.csv)")


def test_75_folder_path_kept_in_a_file_name_by_a_zip_program_is_named(tables, folder):
    write(tables, folder)
    shutil.move(folder / "outcomes.csv", folder / "export\\outcomes.csv")
    problem(problems_of(folder), "outcomes.csv", None, None, "required table is missing",
            "export\\outcomes.csv (a folder path kept in the file name, as some zip programs do: "
            "rename it outcomes.csv)")


def test_76_zip_archive_instead_of_the_tables_is_named(tables, folder):
    write(tables, folder)
    with zipfile.ZipFile(folder / "mycentre-export.zip", "w") as archive:
        archive.write(folder / "outcomes.csv", "outcomes.csv")
    (folder / "outcomes.csv").unlink()
    problem(problems_of(folder), "outcomes.csv", None, None, "required table is missing",
            "mycentre-export.zip (a zip archive: unpack it into this folder)")


def test_77_doubled_extension_of_an_optional_table_is_refused_not_ignored(tables, folder):
    write(tables, folder)
    shutil.move(folder / "kinetics.csv", folder / "kinetics.csv.csv")
    p = problem(problems_of(folder), "kinetics.csv.csv", None, None,
                "looks like the file of the table kinetics but is not read", "rename it kinetics.csv")
    assert p["table"] == "kinetics"


def test_78_old_excel_workbook_is_refused_clearly(tables, folder):
    write(tables, folder)
    (folder / "treatments.csv").unlink()
    (folder / "treatments.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    problem(problems_of(folder), "treatments.xls", None, None, "old Excel format (.xls) is not read",
            "save it as .xlsx or CSV UTF-8")


def test_79_the_list_of_files_seen_is_capped(tables, folder):
    write(tables, folder)
    (folder / "outcomes.csv").unlink()
    for i in range(30):
        (folder / f"scan-{i:02d}.pdf").write_bytes(b"%PDF")
    p = problem(problems_of(folder), "outcomes.csv", None, None, "required table is missing",
                "the folder holds: ", "and 16 more")
    # 36 entries, 20 named in sorted order: adverse_events, kinetics, labs, patients, responses, then scan-*
    assert p["rule"].count("scan-") == 15 and "treatments.csv" not in p["rule"]


# --------------------------------------------------------------------------- header not on row 1

def test_80_title_line_above_the_header_is_named(tables, folder):
    write(tables, folder)
    path = folder / "patients.csv"
    path.write_text("Patient list of my centre\n" + path.read_text())
    report = problems_of(folder)
    problem(report, "patients.csv", None, None, "the header seems to start on line 2",
            "delete the 1 line above it")
    assert not report.problems["rule"].str.contains("unknown column|row has").any()


def test_81_title_and_blank_lines_above_the_header_are_named(tables, folder):
    write(tables, folder)
    path = folder / "outcomes.csv"
    path.write_text("Outcomes export\nmy centre 2023,,\n\n" + path.read_text())
    problem(problems_of(folder), "outcomes.csv", None, None, "the header seems to start on line 4",
            "delete the 3 lines above it")


def test_82_group_row_above_the_header_is_named(tables, folder):
    write(tables, folder)
    path = folder / "responses.csv"
    path.write_text("Identity,,Assessment,,,,\n" + path.read_text())
    problem(problems_of(folder), "responses.csv", None, None, "the header seems to start on line 2")


def test_83_workbook_header_below_a_title_row_is_named(tables, folder):
    write(tables, folder)
    xlsx(folder, "kinetics", tables["kinetics"], above=[["CAR-T kinetics"], []])
    problem(problems_of(folder), "kinetics.xlsx", None, None, "sheet 'kinetics'",
            "the header seems to start on row 3", "delete the 2 rows above it")


# --------------------------------------------------------------------------- Excel workbooks

def test_84_merged_cells_are_refused_with_sheet_and_cells(tables, folder):
    write(tables, folder)
    xlsx(folder, "patients", tables["patients"], edit=lambda ws: ws.merge_cells("H3:H4"))
    problem(problems_of(folder), "patients.xlsx", "marrow_blasts_pct", 2, "sheet 'patients', cells H3:H4 are merged",
            "only the first cell (H3) holds the value")


def test_85_formula_without_a_saved_value_is_refused_with_its_cell(tables, folder):
    write(tables, folder)

    def formula(ws):
        ws["E2"] = "=30+4"  # written by a program that does not calculate: no cached value

    xlsx(folder, "patients", tables["patients"], edit=formula)
    problem(problems_of(folder), "patients.xlsx", "age_years", 1, "sheet 'patients', cell E2",
            "holds a formula without a saved value")


def test_86_error_cell_in_a_workbook_is_refused_not_read_as_missing(tables, folder):
    write(tables, folder)

    def error(ws):
        ws["G7"] = "#DIV/0!"  # treatments row 6 (the CAR-T row of MC-03), column dose

    xlsx(folder, "treatments", tables["treatments"], edit=error)
    problem(problems_of(folder), "treatments.xlsx", "dose", 6, "sheet 'treatments', cell G7",
            "holds the spreadsheet error #DIV/0!")


def test_87_na_error_cell_in_a_workbook_is_refused(tables, folder):
    write(tables, folder)

    def error(ws):
        ws["E3"] = "#N/A"

    xlsx(folder, "labs", tables["labs"], edit=error)
    problem(problems_of(folder), "labs.xlsx", "value", 2, "sheet 'labs', cell E3", "holds the spreadsheet error #N/A")


def test_88_hidden_row_is_refused(tables, folder):
    write(tables, folder)

    def hide(ws):
        ws.row_dimensions[3].hidden = True

    xlsx(folder, "patients", tables["patients"], edit=hide)
    problem(problems_of(folder), "patients.xlsx", None, 2, "sheet 'patients', row 3 is hidden")


def test_89_hidden_column_is_refused(tables, folder):
    write(tables, folder)

    def hide(ws):
        ws.column_dimensions["H"].hidden = True

    xlsx(folder, "patients", tables["patients"], edit=hide)
    problem(problems_of(folder), "patients.xlsx", "marrow_blasts_pct", None, "sheet 'patients', column H is hidden")


def test_90_several_sheets_none_named_after_the_table_is_refused(tables, folder):
    write(tables, folder)
    path = xlsx(folder, "outcomes", tables["outcomes"], sheet="Sheet1")
    book = openpyxl.load_workbook(path)
    book.create_sheet("Notes")["A1"] = "remember to check follow-up"
    book.save(path)
    problem(problems_of(folder), "outcomes.xlsx", None, None, "the workbook has 2 sheets (Sheet1, Notes)",
            "none is named 'outcomes'")


def test_91_formula_text_in_a_workbook_cell_is_refused(tables, folder):
    tables["treatments"].loc[0, "agent"] = '=HYPERLINK("http://evil.example/x","FC")'
    write(tables, folder)
    xlsx(folder, "treatments", tables["treatments"])
    report = problems_of(folder)
    problem(report, "treatments.xlsx", "agent", 1, "sheet 'treatments', cell D2", "begins with '='")
    no_problem_line_holds(report, "evil.example")


def test_92_workbook_that_is_a_renamed_csv_is_named(tables, folder):
    write(tables, folder)
    shutil.move(folder / "labs.csv", folder / "labs.xlsx")
    problem(problems_of(folder), "labs.xlsx", None, None, "is not an Excel workbook",
            "perhaps a CSV file renamed .xlsx")


# --------------------------------------------------------------------------- formula-leading cells (CSV injection)

def test_93_hyperlink_formula_in_a_csv_cell_is_refused_and_not_echoed(tables, folder):
    tables["treatments"].loc[0, "agent"] = '=HYPERLINK("http://evil.example/x","FC")'
    report = problems_of(write(tables, folder))
    problem(report, "treatments.csv", "agent", 1, "begins with '='", "as a formula", "CSV injection")
    no_problem_line_holds(report, "evil.example", "HYPERLINK")


def test_94_at_sign_formula_is_refused(tables, folder):
    tables["adverse_events"].loc[1, "term"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    problem(problems_of(write(tables, folder)), "adverse_events.csv", "term", 2, "begins with '@'")


def test_95_plus_sign_dde_payload_is_refused(tables, folder):
    tables["patients"].loc[2, "cohort"] = "+cmd|' /C calc'!A0"
    report = problems_of(write(tables, folder))
    problem(report, "patients.csv", "cohort", 3, "begins with '+'")
    no_problem_line_holds(report, "calc")


def test_96_minus_sign_payload_is_refused_while_negative_numbers_are_read(tables, folder):
    tables["treatments"].loc[3, "dose_unit"] = "-2+3+cmd|' /C calc'!A0"
    report = problems_of(write(tables, folder))
    problem(report, "treatments.csv", "dose_unit", 4, "begins with '-' and is not a number")
    assert not report.problems["column"].isin(["start_day", "end_day"]).any()  # -5 and -3 are numbers


def test_97_formula_after_leading_whitespace_is_refused(tables, folder):
    tables["treatments"].loc[2, "agent"] = "\t=1+2"
    problem(problems_of(write(tables, folder)), "treatments.csv", "agent", 3, "begins with '='")


# --------------------------------------------------------------------------- missing-value markers

def test_98_na_error_text_in_a_csv_cell_is_refused_not_read_as_text(tables, folder):
    tables["adverse_events"].loc[0, "term"] = "#N/A"
    problem(problems_of(write(tables, folder)), "adverse_events.csv", "term", 1,
            "holds the spreadsheet error #N/A", "leave the cell empty for a missing value")


def test_99_na_text_cells_are_read_as_missing_and_counted_in_a_note(tables, folder):
    tables["patients"].loc[1, "marrow_blasts_pct"] = "NA"
    tables["patients"].loc[2, "marrow_blasts_pct"] = "N/A"
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    notes = report.notes[report.notes["source"] == "patients.csv"]["note"].tolist()
    assert notes == ["read 2 cells written as a missing-value marker (NA, N/A) as missing: "
                     "column marrow_blasts_pct, rows 2, 3"]


def test_100_value_error_text_in_a_number_column_is_named_as_a_spreadsheet_error(tables, folder):
    tables["labs"].loc[2, "value"] = "#VALUE!"
    problem(problems_of(write(tables, folder)), "labs.csv", "value", 3, "holds the spreadsheet error #VALUE!")


# =========================================================================== plausibility, identifiers, messy values
# (issue 17, second batch). The plausibility rules are declared in
# helpers.contract.spec.PLAUSIBILITY_RULES and enforced by helpers.contract.plausibility at the end
# of load_cohort: an error refuses the cohort with file, column, row and rule id; a warning reads the
# data and is shown as a note of the intake report and a warning.

def warning_note(report: intake.IntakeReport, source: str, *fragments: str) -> str:
    """The one note of ``source`` that is a warning and holds every fragment."""
    notes = report.notes[report.notes["source"] == source]["note"].astype(str).tolist()
    hits = [n for n in notes if n.startswith("warning: ") and all(f in n for f in fragments)]
    assert len(hits) == 1, f"expected one warning of {source} with {fragments}; notes:\n" + "\n".join(notes)
    return hits[0]


def load_problems(folder: Path) -> pd.DataFrame:
    """The problems of the contract's own loader (``load_cohort``), which must refuse the folder."""
    with pytest.raises(contract.ContractError) as caught:
        contract.load_cohort(folder)
    return caught.value.problems


def load_problem(problems: pd.DataFrame, source: str, column: str, row: int, rule_id: str) -> dict:
    hits = problems[(problems["source"] == source) & (problems["column"] == column) & (problems["row"] == row)
                    & problems["rule"].str.contains(f"(plausibility rule {rule_id})", regex=False)]
    assert len(hits) == 1, problems.to_string()
    return hits.iloc[0].to_dict()


def add_treatment(tables, pid: str, category: str, agent: str, start: str, end: str) -> None:
    row = dict(study_id="mycentre", patient_id=pid, category=category, agent=agent, start_day=start,
               end_day=end, dose="", dose_unit="", origin="user")
    tables["treatments"] = pd.concat([tables["treatments"], pd.DataFrame([row], dtype=object)], ignore_index=True)


# --------------------------------------------------------------------------- plausibility: grade semantics

def test_101_grade_5_in_a_living_patient_is_refused_naming_the_outcomes_row(tables, folder):
    tables["adverse_events"].loc[2, "grade"] = "5"  # MC-03 is alive (outcomes.csv row 3)
    p = problem(problems_of(write(tables, folder)), "adverse_events.csv", "grade", 3,
                "grade 5 means death from the event", "(outcomes.csv row 3: died false)",
                "(plausibility rule grade5_without_death)")
    assert p["value"] == "5"


def test_102_grade_0_with_onset_and_duration_is_refused_on_both_cells(tables, folder):
    tables["adverse_events"].loc[1, ["onset_day", "duration_days"]] = ["2", "3"]  # MC-02: grade 0
    report = problems_of(write(tables, folder))
    for column in ("onset_day", "duration_days"):
        problem(report, "adverse_events.csv", column, 2, "must be empty when grade is 0",
                "(plausibility rule grade0_with_timing)")


def test_103_grade_5_in_a_living_patient_is_refused_by_load_cohort_itself(tables, folder):
    tables["adverse_events"].loc[0, "grade"] = "5"
    p = load_problem(load_problems(write(tables, folder)), "adverse_events.csv", "grade", 1, "grade5_without_death")
    assert "outcomes.csv row 1" in p["rule"]


# --------------------------------------------------------------------------- plausibility: flags agree with rows

def test_104_hsct_flag_true_without_an_hsct_row_is_refused(tables, folder):
    tables["patients"].loc[0, "bridged_to_hsct"] = "yes"
    problem(problems_of(write(tables, folder)), "patients.csv", "bridged_to_hsct", 1,
            "is true but treatments.csv has no allo-HSCT row for the patient after day 0 and before relapse",
            "(plausibility rule hsct_flag_without_row)")


def test_105_hsct_row_with_the_flag_false_is_refused_naming_the_treatment_row(tables, folder):
    add_treatment(tables, P1, "allo-HSCT", "MUD HSCT", "60", "60")  # treatments.csv row 7; MC-01 never relapsed
    problem(problems_of(write(tables, folder)), "patients.csv", "bridged_to_hsct", 1,
            "is false but treatments.csv row 7 has an allo-HSCT on day 60",
            "(plausibility rule hsct_row_without_flag)")


def test_106_hsct_after_the_relapse_is_not_a_bridge_and_needs_no_flag(tables, folder):
    add_treatment(tables, P3, "allo-HSCT", "MUD HSCT", "60", "60")  # MC-03 relapsed on day 30
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()


def test_107_patient_without_a_car_t_row_is_refused(tables, folder):
    tx = tables["treatments"]
    tables["treatments"] = tx[~((tx["patient_id"] == P2) & (tx["category"] == "CAR-T"))].reset_index(drop=True)
    p = problem(problems_of(write(tables, folder)), "patients.csv", "patient_id", 2,
                "patient has no CAR-T row in treatments.csv", "(plausibility rule no_car_t_row)")
    assert p["value"] == "'MC-02'"


# --------------------------------------------------------------------------- plausibility: day offsets

def test_108_treatment_55_years_before_the_infusion_is_refused(tables, folder):
    tables["treatments"].loc[0, ["start_day", "end_day"]] = ["-20089", "-20087"]  # 55.0 years
    report = problems_of(write(tables, folder))
    problem(report, "treatments.csv", "start_day", 1, "is 55.0 years before the infusion",
            "more than 30 years before it are not plausible", "(plausibility rule treatment_too_early)")
    problem(report, "treatments.csv", "end_day", 1, "(plausibility rule treatment_too_early)")


def test_109_treatment_before_the_patients_birth_is_refused(tables, folder):
    tables["patients"].loc[2, "age_years"] = "5"
    tables["treatments"].loc[2, ["start_day", "end_day"]] = ["-3000", "-2998"]  # 8.2 years before, aged 5
    problem(problems_of(write(tables, folder)), "treatments.csv", "start_day", 3,
            "is 8.2 years before the infusion, but the patient was 5 years old at infusion (patients.csv row 3)",
            "(plausibility rule treatment_before_birth)")


def test_110_treatment_ending_after_the_last_follow_up_is_refused(tables, folder):
    tables["treatments"].loc[5, "end_day"] = "120"  # MC-03 followed for 90 days (outcomes.csv row 3)
    problem(problems_of(write(tables, folder)), "treatments.csv", "end_day", 6,
            "after the patient's last follow-up (followup_days 90 in outcomes.csv row 3)",
            "(plausibility rule treatment_after_followup)")


# --------------------------------------------------------------------------- plausibility: ranges per unit

def test_111_percentages_given_as_fractions_are_read_with_a_visible_warning(tables, folder):
    tables["patients"]["marrow_blasts_pct"] = ["0.455", "0.01", "0.8"]
    with pytest.warns(contract.ContractWarning, match="percent_as_fraction"):
        report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    note = warning_note(report, "patients.csv", "column 'marrow_blasts_pct', row 1",
                        "every value of this percentage column is ≤ 1 (3 values, rows 1, 2, 3)",
                        "give percent (0–100, e.g. 0.45 -> 45)")
    assert note.endswith("(found 0.455)")


def test_112_il6_of_1e308_is_refused_as_impossible(tables, folder):
    tables["labs"].loc[3, "value"] = "1e308"
    problem(problems_of(write(tables, folder)), "labs.csv", "value", 4,
            "IL-6 of 1e+308 pg/mL is above 1e+09 pg/mL, which no blood sample can hold",
            "(plausibility rule lab_value_impossible)")


def test_113_implausibly_high_il6_is_read_with_a_visible_warning(tables, folder):
    tables["labs"].loc[3, "value"] = "5e6"
    with pytest.warns(contract.ContractWarning, match="lab_value_implausible"):
        report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    warning_note(report, "labs.csv", "column 'value', row 4", "IL-6 of 5e+06 pg/mL is above 1e+06 pg/mL",
                 "check the unit and the decimal point")


def test_114_hemoglobin_in_g_per_dl_is_read_with_a_visible_warning(tables, folder):
    rows = [dict(study_id="mycentre", patient_id=p, analyte="hemoglobin", day="7", value=v, unit="g/L",
                 below_lloq="false", origin="user") for p, v in ((P1, "9.5"), (P2, "11"))]
    tables["labs"] = pd.concat([tables["labs"], pd.DataFrame(rows, dtype=object)], ignore_index=True)
    with pytest.warns(contract.ContractWarning, match="hemoglobin_in_g_per_dl"):
        report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    warning_note(report, "labs.csv", "row 5", "every hemoglobin value is below 30 g/L (2 values, rows 5, 6)",
                 "looks like g/dL")


def test_115_impossible_car_copy_number_is_refused(tables, folder):
    tables["kinetics"].loc[1, "copies_per_ug_gdna"] = "2e7"
    problem(problems_of(write(tables, folder)), "kinetics.csv", "copies_per_ug_gdna", 2,
            "2e+07 copies/µg gDNA is above 1e+07", "(plausibility rule car_copies_impossible)")


# --------------------------------------------------------------------------- plausibility: event order, origin

def test_116_death_from_relapse_without_a_relapse_is_refused(tables, folder):
    tables["outcomes"].loc[1, ["relapsed", "relapse_day"]] = ["false", ""]  # MC-02 died of relapse
    problem(problems_of(write(tables, folder)), "outcomes.csv", "death_cause", 2,
            "is 'relapse' but relapsed is not true", "(plausibility rule death_from_relapse_without_relapse)")


def test_117_death_from_relapse_without_a_relapse_is_refused_by_load_cohort_itself(tables, folder):
    tables["outcomes"].loc[1, ["relapsed", "relapse_day"]] = ["false", ""]
    p = load_problem(load_problems(write(tables, folder)), "outcomes.csv", "death_cause", 2,
                     "death_from_relapse_without_relapse")
    assert p["value"] == "'relapse'"


def test_118_synthetic_origin_on_a_users_study_is_read_with_a_visible_warning(tables, folder):
    for frame in tables.values():
        frame["origin"] = "synthetic"
    with pytest.warns(contract.ContractWarning, match="origin_invented_on_user_study"):
        report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    warning_note(report, "patients.csv", "column 'origin', row 1", "is 'synthetic' in rows 1, 2, 3",
                 "the site would call these patients invented", "write origin 'user'")


# --------------------------------------------------------------------------- identifiers in free text

def test_119_doctors_name_in_an_adverse_event_term_is_refused_and_masked(tables, folder):
    tables["adverse_events"].loc[0, "term"] = "CRS, seen by Dr Smith"
    report = problems_of(write(tables, folder))
    p = problem(report, "adverse_events.csv", "term", 1, "looks like a direct identifier (title and name)",
                "never accepts direct identifiers")
    assert p["value"].startswith("masked value") and "Smith" not in report.text()


def test_120_obfuscated_email_in_an_adverse_event_term_is_refused_and_masked(tables, folder):
    tables["adverse_events"].loc[2, "term"] = "CRS, ask name(at)example.org"
    report = problems_of(write(tables, folder))
    p = problem(report, "adverse_events.csv", "term", 3, "looks like a direct identifier (obfuscated e-mail address)")
    assert p["value"].startswith("masked value") and "example" not in report.text()


def test_121_bracketed_obfuscated_email_in_a_treatment_agent_is_refused(tables, folder):
    tables["treatments"].loc[4, "agent"] = "CD19 CAR-T via name [at] example [dot] org"
    problem(problems_of(write(tables, folder)), "treatments.csv", "agent", 5,
            "looks like a direct identifier (obfuscated e-mail address)")


# --------------------------------------------------------------------------- cohorts and kinetics the book must survive

def test_122_third_cohort_label_of_one_patient_is_accepted_and_counted(tables, folder):
    tables["patients"].loc[1, "cohort"] = "Cohort C"
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    ready = report.readiness.set_index("analysis")
    assert ready.loc["Patients", "detail"] == "3 patients in 3 cohort(s): Cohort A, Cohort B, Cohort C"
    assert ready.loc["Comparisons between cohorts", "detail"].startswith("3 cohorts; ")


# the chapters cope with a cohort of one (tests/test_edge_cohorts.py builds one); the readiness says so
def test_123_cohort_of_one_patient_is_named_in_the_readiness(tables, folder):
    tables["patients"].loc[1, "cohort"] = "Cohort C"
    report = intake.validate(write(tables, folder))
    detail = report.readiness.set_index("analysis").loc["Comparisons between cohorts", "detail"]
    assert "Cohort C" in detail and "1 patient" in detail and "Welch t" in detail
    assert report.readiness.set_index("analysis").loc["Comparisons between cohorts", "status"] == "degraded"


def test_124_kinetics_sampled_weekly_is_accepted(tables, folder):
    tables["kinetics"] = pd.DataFrame([dict(study_id="mycentre", patient_id=p, day=str(day),
                                            copies_per_ug_gdna=str(100 * day), below_lloq="false", origin="user")
                                       for p in (P1, P3) for day in (7, 14, 21, 28, 35)], dtype=object)
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    assert report.readiness.set_index("analysis").loc["CAR-T expansion", "detail"] == "10 rows for 2 of 3 patients"
    assert report.studies["mycentre"]["kinetics"]["day"].tolist() == [7, 14, 21, 28, 35] * 2


# --------------------------------------------------------------------------- messy values

def test_125_short_date_in_a_day_column_is_refused_and_masked(tables, folder):
    tables["responses"].loc[0, "day"] = "30/03/21"
    report = problems_of(write(tables, folder))
    p = problem(report, "responses.csv", "day", 1, "must be a whole number")
    assert p["value"] == "masked value '99/99/99'" and "30/03/21" not in report.text()


def test_126_short_date_in_a_day_column_is_named_as_a_calendar_date(tables, folder):
    tables["responses"].loc[0, "day"] = "30/03/21"
    problem(problems_of(write(tables, folder)), "responses.csv", "day", 1, "holds a calendar date")


def test_127_thousands_separator_is_refused_not_read_as_a_small_number(tables, folder):
    tables["labs"].loc[1, "value"] = "760,000"
    report = problems_of(write(tables, folder))
    p = problem(report, "labs.csv", "value", 2, "must be a number")
    assert p["value"] == "'760,000'"


def test_128_thousands_separator_is_not_hinted_as_a_decimal_comma(tables, folder):
    # '760,000' hinted as a decimal comma ('write 760.000') was a 1000-fold error waiting to happen
    tables["labs"].loc[1, "value"] = "760,000"
    p = problem(problems_of(write(tables, folder)), "labs.csv", "value", 2, "must be a number")
    assert "found a decimal comma" not in p["rule"] and "write 760000 if they separate thousands" in p["rule"]


def test_129_crlf_line_endings_are_accepted_and_leave_no_carriage_return(tables, folder):
    write(tables, folder)
    for path in folder.glob("*.csv"):
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert b"\r\n" in (folder / "patients.csv").read_bytes()
    report = intake.validate(folder)
    assert report.ok, report.text()
    notes = report.notes[~report.notes["note"].str.startswith("optional table absent")]
    assert notes.empty, notes  # a carriage return kept in a cell would be "stray whitespace"
    cohort = report.studies["mycentre"]
    assert cohort["patients"]["origin"].tolist() == ["user"] * 3  # the last column, next to the line end
    assert cohort["outcomes"]["followup_days"].tolist() == [400, 200, 90]


def test_130_mixed_case_booleans_are_read_as_documented(tables, folder):
    tables["outcomes"]["relapsed"] = ["FALSE", "TRUE", "Yes"]
    tables["outcomes"]["died"] = ["No", "True", "false"]
    report = intake.validate(write(tables, folder))
    assert report.ok, report.text()
    outcomes = report.studies["mycentre"]["outcomes"]
    assert outcomes["relapsed"].tolist() == [False, True, True]
    assert outcomes["died"].tolist() == [False, True, False]


def test_131_patient_in_outcomes_but_not_in_patients_is_refused(tables, folder):
    extra = tables["outcomes"].iloc[[0]].assign(patient_id="MC-77")
    tables["outcomes"] = pd.concat([tables["outcomes"], extra], ignore_index=True)
    p = problem(problems_of(write(tables, folder)), "outcomes.csv", "patient_id", 4, "patient is not in patients.csv")
    assert p["value"] == "'MC-77'"


def test_132_relapse_day_without_a_relapse_is_refused(tables, folder):
    tables["outcomes"].loc[0, "relapse_day"] = "100"  # MC-01: relapsed false
    p = problem(problems_of(write(tables, folder)), "outcomes.csv", "relapse_day", 1,
                "must be empty when relapsed is false")
    assert p["value"] == "100"


def test_133_unknown_lab_unit_is_refused_on_its_row(tables, folder):
    tables["labs"].loc[2, "unit"] = "pmol/L"
    report = problems_of(write(tables, folder))
    problem(report, "labs.csv", "unit", 3, "must be one of: 10^9/L, g/L, mg/L, ng/mL, pg/mL")
    assert set(report.problems["row"].dropna()) == {3}
