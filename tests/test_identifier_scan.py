"""The identifier scan (issue 17): what the site's privacy check and the intake catch beyond the
rules of ``test_privacy.py``.

* Name-like identifiers: a title and a name, obfuscated e-mail addresses, initials and a date, a
  two-digit year, absolute paths; in pages, downloads, notebook sources, links and in the names of
  the site's files and folders.
* Numbers judged by their column's meaning: a count of 100,000 patients is not a record number; a
  long digit string under MRN or patient_id still is.
* A built site with one planted identifier of each kind fails the check, each found with its file
  and line; the same site without them (and with the book's own near misses) passes.
* The intake checks the same things on the way in (folder names, file names, cohort labels,
  free-text cells) and masks everything it echoes.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from helpers.contract import validate as contract
from helpers.site import intake, privacy
from test_privacy import ALLOWED, TODAY, kinds  # the same scan set-up as the site's privacy tests

# --------------------------------------------------------------------------- name-like identifiers in text

@pytest.mark.parametrize("text, kind", [
    ("AE reported by Dr Smith", "title and name"),
    ("seen by Dr. Jane Smith on day 3", "title and name"),
    ("Prof. X agreed", "title and name"),
    ("Mrs O'Neil, ward 4", "title and name"),
    ("Ms Jones", "title and name"),
    ("Mr SMITH", "title and name"),
    ("called dr smith", "title and name"),
    ("Professor Chen", "title and name"),
    ("file Dr_Smith.csv", "title and name"),
    ("write to jane(at)example.org", "obfuscated e-mail address"),
    ("jane [at] example [dot] org", "obfuscated e-mail address"),
    ("jane at example dot org", "obfuscated e-mail address"),
    ("jane {at} hospital (dot) nhs (dot) uk", "obfuscated e-mail address"),
    ("jane@example dot org", "obfuscated e-mail address"),
    ("J.S. 12/03/1961", "initials and a date"),
    ("J. S., 12-03-61", "initials and a date"),
    ("JS 12.03.1961", "initials and a date"),
    ("J.S. born 1961-03-12", "initials and a date"),
    ("seen 30/03/21", "calendar date with a two-digit year"),
    ("seen 03/30/21", "calendar date with a two-digit year"),
    ("seen 30.03.21", "calendar date with a two-digit year"),
    ("Intake of /home/jane/cohort", "absolute path"),
    ("/Users/jane/Desktop/study", "absolute path"),
    ("/tmp/jane/cohort/patients.csv", "absolute path"),
    ("/mnt/hospital-share/registry", "absolute path"),
    (r"C:\Users\jane\cohort", "absolute path"),
    (r'"C:\\Users\\jane\\cohort"', "absolute path"),  # as a notebook's JSON writes it
    ("D:/studies/jane", "absolute path"),
    (r"\\fileserver\research\cart", "absolute path"),
    ("file:///srv/data/x.csv", "absolute path"),
])
def test_name_like_identifiers_are_found(text, kind):
    assert kinds(text) == [kind]


def test_the_repository_s_own_parent_folder_is_an_absolute_path_wherever_it_is(monkeypatch):
    # The machine's folders are found even outside the usual roots (e.g. a CI checkout in /builds).
    root = privacy.REPO_ROOT.parent.as_posix()
    assert kinds(f'"input_path": "{root}/main/notebooks/survival.ipynb"', "a.ipynb") == ["absolute path"]


@pytest.mark.parametrize("text", [
    "Cox DR. Regression models and life-tables",  # references: surname and initials, not a title
    "Mann HB, Whitney DR. On a test of whether one of two random variables",
    "the treating doctor decided; MS and MR are abbreviations; 50 ms after",
    "cells at baseline dot plot",  # 'at' and 'dot' in prose
    "papermill notebooks/survival.ipynb /tmp/survival.ipynb",  # a scratch file the book prints
    "--out /tmp/cohort7; data_dir ../data/synthetic; PATH/TO/my-cohort",
    "https://example.org/home/jane/x and doi.org/10.1056/NEJMoa1709866",  # a URL's path
    r'"$u = \\beta_1\\sqrt a$ and \\frac{1}{2}", "\\u003ctd\\u003e"',  # LaTeX, JSON escapes
    "28/30 patients, 13/134, 1/2/3, version 1.10.21, 10.5.20",  # fractions and versions
    "CR 2019-11-15",  # a clinical abbreviation before a published date
])
def test_the_site_s_near_misses_are_not_flagged(text):
    assert kinds(text, "a.ipynb") == []


def test_one_finding_per_identifier_with_the_most_specific_kind():
    # Initials and a date are one identifier, not also a calendar date.
    assert kinds("patient J.S. 12/03/1961 was seen") == ["initials and a date"]


def test_a_percent_encoded_link_target_is_read_decoded():
    page = '<p>ok</p>\n<a href="../_static/downloads/Dr%20Smith/table.csv">table</a>'
    assert [(f.line, f.kind) for f in privacy.scan_text(page, "p.html", allowed_months=ALLOWED, today=TODAY)] \
        == [(2, privacy._located(privacy.KIND_TITLE_NAME, "in a link"))]


@pytest.mark.parametrize("name, kind, shown", [
    ("_static/downloads/Dr_Smith/table.csv", "title and name", "_static/downloads/xx_xxxxx/table.csv"),
    ("_static/downloads/jane.doe@example.org/t.csv", "e-mail address", "_static/downloads/xxxx.xxx@xxxxxxx.xxx/t.csv"),
    ("_static/downloads/x/jane(at)example.org.csv", "obfuscated e-mail address",
     "_static/downloads/x/xxxx(xx)xxxxxxx.xxx.xxx"),
    ("_static/downloads/x/JS_12-03-61.csv", "initials and a date", "_static/downloads/x/xx_99-99-99.csv"),
])
def test_file_and_folder_names_are_scanned_and_shown_masked(name, kind, shown):
    found = privacy.scan_name(name)
    assert [(f.path, f.line, f.kind.split(" (")[0]) for f in found] == [(shown, 0, f"{kind} in a file or folder name")]


def test_ordinary_site_file_names_pass():
    for name in ("_static/figures/fig-3f2a9c01d4.svg", "_static/downloads/000/survival-by-cohort.csv",
                 "book/case-reports.html", "_sources/book/data-dictionary.ipynb",
                 "_static/downloads/single-centre/toxicity-grades.csv"):
        assert privacy.scan_name(name) == [], name


def test_mask_identifiers_masks_each_span_and_names_its_kind():
    text = privacy.mask_identifiers("seen by Dr Smith (jane(at)example.org) on 30/03/21, day 4")
    assert text == ("seen by [masked title and name: xx xxxxx] ([masked obfuscated e-mail address: "
                    "xxxx(xx)xxxxxxx.xxx]) on [masked calendar date with a two-digit year: 99/99/99], day 4")
    assert privacy.mask_identifiers("13 patients, day 28") == "13 patients, day 28"


def test_name_shaped_labels():
    assert all(privacy.name_shaped(x) for x in ("Jane Smith", "Jane_Smith", "Smith, Jane", "J. Smith",
                                               "JaneSmith", "Mary-Anne Jones", "Jane Smith.csv"))
    assert not any(privacy.name_shaped(x) for x in ("Single Centre", "Cohort A", "CML-LBC", "Ph+ ALL",
                                                    "r/r B-ALL", "single-centre", "Adult Cohort", "mycentre"))


# --------------------------------------------------------------------------- numbers by their column's meaning

@pytest.mark.parametrize("header, meaning", [
    ("patients", "count"), ("n", "count"), ("N", "count"), ("count", "count"), ("Number of patients", "count"),
    ("n_patients", "count"), ("Patients (n)", "count"), ("events", "count"), ("total", "count"),
    ("at risk", "count"), ("n_at_risk", "count"), ("deaths", "count"),
    ("patient_id", "patient"), ("Patient", "patient"), ("subject", "patient"), ("id", "patient"),
    ("MRN", "record"), ("medical_record_number", "record"), ("Hospital number", "record"),
    ("patient number", "record"), ("NHS number", "record"),
    ("day", None), ("study_id", None), ("value", None), ("cohort", None),
])
def test_column_meaning(header, meaning):
    assert privacy.column_meaning(header) == meaning


def test_a_registry_count_is_not_a_record_number_but_a_record_number_still_is():
    table = ("cohort,patients,n_at_risk,events,patient_id,MRN,hospital number\n"
             "registry,100000,99812,4021,REG-000001,,\n"
             "registry,250000,250000,17,1234567,12345678,987654321\n")
    found = privacy.scan_csv(table, "_static/downloads/registry/summary.csv")
    assert [(f.line, f.kind.split(" (")[0], f.masked) for f in found] == [
        (1, "table column named like a direct identifier", "xxx"),
        (1, "table column named like a direct identifier", "xxxxxxxx xxxxxx"),
        (3, "record number", "9999999"),
        (3, "record number", "99999999"),
        (3, "record number", "999999999"),
    ]
    assert "'patient_id'" in found[2].kind and "'MRN'" in found[3].kind


def test_the_mixed_models_left_out_samples_are_counts_at_registry_scale():
    """The cytokine mixed model's table of samples left out, by reason: at 100,000 patients its
    counts have six digits, and one header read as naming a patient ('patient not in the random
    sample of 200 fitted') stopped the registry build as a record number."""
    from helpers.chapters import own_models

    series = pd.DataFrame({"analyte": "IL-6", "cohort": ["A"] * 6 + ["B"] * 6 + ["C"],
                           "patient_id": [f"P{i}" for i in range(13)], "day": 0})
    _, _, dropped = own_models.mixed_model_data(series, "IL-6", ["A", "B", "C"])
    assert len(dropped) == 3 and {privacy.column_meaning(reason) for reason in dropped} == {"count"}
    table = "data_origin," + ",".join(dropped) + "\nsynthetic," + ",".join(["295371"] * len(dropped)) + "\n"
    assert privacy.scan_csv(table, "_static/downloads/cytokines/samples.csv") == []


# --------------------------------------------------------------------------- a built site that must fail

PLANTED = {
    # file -> (text, {line: kind})
    "book/toxicity.html": (
        "<html><body>\n"
        "<p>Parameters: data from <code>/home/jane.doe/cohorts/mycentre</code></p>\n"
        "<table><tr><td>CRS</td><td>seen by Dr Smith</td></tr>\n"
        "<tr><td>other</td><td>contact jane(at)example.org</td></tr></table>\n"
        '<a href="../_static/downloads/Dr_Smith/toxicity.csv">toxicity.csv</a>\n'
        "</body></html>\n",
        {2: "absolute path", 3: "title and name", 4: "obfuscated e-mail address", 5: "title and name"}),
    "_static/downloads/Dr_Smith/toxicity.csv": (
        "study_id,patient_id,term\n"
        "mycentre,MC-01,CRS\n"
        "mycentre,MC-02,J.S. 12/03/61\n"
        "mycentre,MC-03,see C:\\Users\\jane\\notes.docx\n",
        {0: "title and name", 3: "initials and a date", 4: "absolute path"}),
}


def _notebook(lines: list[str]) -> str:
    """A notebook source as the site ships it (indented JSON, one text line per line)."""
    return json.dumps({"cells": [{"cell_type": "markdown", "source": lines}],
                       "metadata": {"papermill": {"input_path": "/Users/jane/book/notebooks/toxicity.ipynb"}}},
                      indent=1)


def _write_site(root: Path, planted: bool) -> Path:
    site = root / ("leaky" if planted else "clean")
    for name, (text, _) in PLANTED.items():
        if not planted:  # the same files, without the identifiers
            name = name.replace("Dr_Smith", "mycentre")
            text = (text.replace("/home/jane.doe/cohorts/mycentre", "mycentre").replace("Dr Smith", "the team")
                    .replace("jane(at)example.org", "the study office").replace("Dr_Smith", "mycentre")
                    .replace("J.S. 12/03/61", "ICANS").replace("C:\\Users\\jane\\notes.docx", "the notes"))
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(text)
    source = site / "_sources" / "book" / "toxicity.ipynb"
    source.parent.mkdir(parents=True)
    source.write_text(_notebook(["Write to name [at] example [dot] org\n", "Cox DR. Regression models\n"])
                      if planted else
                      _notebook(["Write to the study office\n", "Cox DR. Regression models\n"]).replace(
                          "/Users/jane/book/notebooks/toxicity.ipynb", "notebooks/toxicity.ipynb"))
    return site


def test_the_scan_of_a_built_site_fails_on_each_planted_identifier_with_file_and_line(tmp_path, capsys):
    site = _write_site(tmp_path, planted=True)
    found = privacy.check_site(site, today=TODAY)
    got = sorted((f.path, f.line, f.kind.split(" (")[0]) for f in found)
    expected = [(privacy.shown_path(name), line, kind + (" in a file or folder name" if line == 0 else ""))
                for name, (_, lines) in PLANTED.items() for line, kind in lines.items()]
    source = site / "_sources" / "book" / "toxicity.ipynb"
    source_lines = source.read_text().splitlines()
    expected += [("_sources/book/toxicity.ipynb", source_lines.index(next(x for x in source_lines if "[at]" in x)) + 1,
                  "obfuscated e-mail address"),
                 ("_sources/book/toxicity.ipynb", source_lines.index(next(x for x in source_lines if "input_path" in x))
                  + 1, "absolute path")]
    assert got == sorted(expected)
    text = str(privacy.report(found))
    assert "jane" not in text and "Smith" not in text and "example" not in text, "findings are masked"
    assert privacy.main([str(site)]) == 1
    assert "privacy check FAILED: 9 finding(s) in 3 file(s)" in capsys.readouterr().out


def test_the_same_site_without_the_identifiers_passes(tmp_path):
    site = _write_site(tmp_path, planted=False)
    assert privacy.check_site(site, today=TODAY) == []
    assert privacy.main([str(site)]) == 0


def test_a_file_named_after_a_person_fails_even_when_its_bytes_passed_before(tmp_path):
    # The passed-cache is keyed by bytes: a clean file copied under a person's name is caught.
    clean = _write_site(tmp_path, planted=False)
    cache = tmp_path / "passed.json"
    assert privacy.check_site(clean, today=TODAY, passed_cache=cache) == []
    moved = clean / "_static" / "downloads" / "Dr_Smith"
    (clean / "_static" / "downloads" / "mycentre").rename(moved)
    found = privacy.check_site(clean, today=TODAY, passed_cache=cache)
    assert [(f.path, f.line) for f in found] == [("_static/downloads/xx_xxxxx/toxicity.csv", 0)]


# --------------------------------------------------------------------------- the intake, on the way in

def _cohort(folder: Path, *, cohort_label: str = "Cohort A") -> Path:
    """A small valid cohort (3 patients, the tables the intake requires and two optional ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    pids = ("MC-01", "MC-02", "MC-03")
    base = dict(study_id="mycentre", origin="user")
    tables = {
        "patients": [dict(base, patient_id=p, cohort=cohort_label, diagnosis="B-ALL", age_years=a, sex="female",
                          disease_status="first_relapse", marrow_blasts_pct="40", abl_kd_mutation="", prior_lines="2",
                          car_target="CD19", car_dose_cells_per_kg="1e6", bridged_to_hsct="no")
                     for p, a in zip(pids, ("34", "51", "29"))],
        "outcomes": [dict(base, patient_id=p, followup_days="400", relapsed="false", relapse_day="", died="false",
                          death_cause="") for p in pids],
        "adverse_events": [dict(base, patient_id=p, category="CRS", term="CRS", grade="2", grading_system="ASTCT",
                                onset_day="3", duration_days="4") for p in pids],
        "treatments": [dict(base, patient_id=p, category="CAR-T", agent="CD19 CAR-T", start_day="0", end_day="0",
                            dose="1e6", dose_unit="cells/kg") for p in pids],
    }
    for name, rows in tables.items():
        pd.DataFrame(rows).to_csv(folder / f"{name}.csv", index=False)
    return folder


def _edit(path: Path, column: str, row: int, value: str) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    frame.to_csv(path, index=False)


def _everything_echoed(report: intake.IntakeReport, out: Path) -> str:
    intake_text = report.text() + report.markdown()
    report.problems.to_csv(out, index=False)
    return intake_text + out.read_text()


def test_the_small_cohort_is_valid_and_raises_no_identifier_problem(tmp_path):
    report = intake.validate(_cohort(tmp_path / "mycentre"))
    assert report.ok, report.text()
    assert not report.notes["note"].str.contains("identifier|person's name").any()


def test_a_two_digit_date_and_a_column_named_like_an_e_mail_are_masked_everywhere(tmp_path, capsys):
    # The case: the report printed both as they were, although masking is promised.
    folder = _cohort(tmp_path / "mycentre")
    _edit(folder / "patients.csv", "age_years", 2, "30/03/21")
    frame = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    frame["jane.doe@example.org"] = "x"
    frame.to_csv(folder / "patients.csv", index=False)
    report = intake.validate(folder)
    problems = report.problems.set_index("column")
    assert problems.loc["age_years", "row"] == 2 and problems.loc["age_years", "value"] == "masked value '99/99/99'"
    assert "[masked e-mail address: xxxx.xxx@xxxxxxx.xxx]" in problems.index
    assert intake.main([str(folder), "--check-only", "--out", str(tmp_path / "out")]) == 2
    echoed = capsys.readouterr().out + (tmp_path / "out" / "intake-report.md").read_text() + \
        (tmp_path / "out" / "intake-problems.csv").read_text()
    for secret in ("30/03/21", "jane", "example.org"):
        assert secret not in echoed, secret


def test_the_report_names_the_data_folder_never_its_absolute_path(tmp_path):
    folder = _cohort(tmp_path / "jane-smith-home" / "mycentre")
    (folder / "outcomes.csv").unlink()
    report = intake.validate(folder)
    echoed = _everything_echoed(report, tmp_path / "problems.csv")
    assert echoed.startswith("Intake of mycentre: no valid studies")
    assert str(tmp_path) not in echoed and "jane-smith-home" not in echoed
    assert intake.validate(tmp_path / "jane-smith-home" / "nowhere").problems["source"].tolist() == ["nowhere"]
    # A message that names the folder it looked in names it by its own name.
    masker = intake.Masker(folder)
    assert masker(f"no outcomes.csv in {folder}") == "no outcomes.csv in mycentre"
    assert masker(f"see {tmp_path}/other/x.csv") == "see [masked absolute path: " + \
        privacy.mask(f"{tmp_path}/other/x.csv") + "]"


@pytest.mark.parametrize("study_folder, kind", [
    ("Dr_Smith", "title and name"),
    ("jane.doe@example.org", "e-mail address"),
    ("JS 12.03.61", "initials and a date"),
])
def test_a_study_folder_named_after_a_person_is_refused_masked(tmp_path, study_folder, kind):
    folder = _cohort(tmp_path / study_folder)
    report = intake.validate(folder)
    problem = report.problems[report.problems["rule"].str.startswith("the study folder's name")]
    assert len(problem) == 1 and kind in problem["rule"].iloc[0], report.text()
    assert problem["value"].iloc[0] == contract._mask(study_folder)
    assert study_folder not in _everything_echoed(report, tmp_path / "problems.csv")


def test_a_folder_of_studies_named_after_a_person_is_refused(tmp_path):
    top = tmp_path / "Prof. Chen"
    _cohort(top / "mycentre")
    report = intake.validate(top)
    rules = report.problems["rule"].tolist()
    assert rules == [intake.RULE_IDENTIFIER_IN_NAME.format(what="data folder's name", kind="title and name")]
    assert "Chen" not in report.text()


@pytest.mark.parametrize("table, column, value, kind", [
    ("adverse_events", "term", "seen by Dr Smith", "title and name"),
    ("adverse_events", "term", "rash, ask jane(at)example.org", "obfuscated e-mail address"),
    ("adverse_events", "term", "J.S. 12/03/61", "initials and a date"),
    ("treatments", "agent", "FC (notes in /home/jane/x)", "absolute path"),
    ("treatments", "dose_unit", "mg 30/03/21", "calendar date with a two-digit year"),
    ("patients", "cohort", "Dr Smith's patients", "title and name"),
])
def test_identifiers_in_free_text_cells_are_refused_with_file_column_row_and_masked(tmp_path, table, column,
                                                                                      value, kind):
    folder = _cohort(tmp_path / "mycentre")
    _edit(folder / f"{table}.csv", column, 2, value)
    report = intake.validate(folder)
    found = report.problems[report.problems["rule"].str.contains("looks like a direct identifier")]
    assert found[["source", "table", "column", "row"]].values.tolist() == [[f"{table}.csv", table, column, 2]]
    assert kind in found["rule"].iloc[0] and found["value"].iloc[0] == contract._mask(value)
    assert value not in _everything_echoed(report, tmp_path / "problems.csv")


def test_the_rows_named_are_the_file_s_even_after_skipped_empty_rows(tmp_path):
    folder = _cohort(tmp_path / "mycentre")
    _edit(folder / "adverse_events.csv", "term", 3, "seen by Dr Smith")
    lines = (folder / "adverse_events.csv").read_text().splitlines()
    lines.insert(1, "," * lines[0].count(","))  # an empty first data row, skipped by the contract
    (folder / "adverse_events.csv").write_text("\n".join(lines) + "\n")
    report = intake.validate(folder)
    assert report.problems[["column", "row"]].values.tolist() == [["term", 4]]


def test_a_cohort_label_shaped_like_a_name_is_a_warning_and_is_masked_in_the_report(tmp_path):
    report = intake.validate(_cohort(tmp_path / "mycentre", cohort_label="Jane Smith"))
    assert report.ok, report.text()
    assert report.notes["note"].str.contains("a cohort label has the shape of a person's name").sum() == 1
    assert "Jane Smith" not in report.text() + report.markdown()
    assert "[masked possible name: xxxx xxxxx]" in report.readiness.set_index("analysis").loc["Patients", "detail"]
    assert report.studies["mycentre"]["patients"]["cohort"].eq("Jane Smith").all(), "the data are not changed"


def test_an_ignored_file_named_like_an_identifier_is_a_masked_warning(tmp_path):
    folder = _cohort(tmp_path / "mycentre")
    (folder / "jane.doe@example.org.txt").write_text("notes")
    report = intake.validate(folder)
    assert report.ok, report.text()
    note = report.notes[report.notes["note"].str.contains("this file's name looks like a direct identifier")]
    assert note["source"].tolist() == ["[masked e-mail address: xxxx.xxx@xxxxxxx.xxx.xxx]"]
    assert "jane" not in report.text()


def test_the_contract_s_warnings_are_issued_again_masked(tmp_path):
    folder = _cohort(tmp_path / "mycentre")
    lines = (folder / "outcomes.csv").read_text().splitlines()
    lines[0] = lines[0].replace("died", " died ")  # stray whitespace: the contract warns, naming the header
    lines[0] += ", jane.doe@example.org "
    (folder / "outcomes.csv").write_text("\n".join(line + ("," if i else "") for i, line in enumerate(lines)) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = intake.validate(folder)
    messages = [str(w.message) for w in caught if issubclass(w.category, contract.ContractWarning)]
    assert any("stripped stray whitespace" in m for m in messages), messages
    assert not any("jane" in m for m in messages), messages
    assert "jane" not in report.text()
