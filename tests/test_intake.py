"""Running the book on one's own cohort: the intake command, absent data, patient flows, the
synthetic registry and the worked example."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

from helpers import chapters, contract
from helpers.chapters import own_data
from helpers.contract import TABLES, MissingData
from helpers.paths import DATA_DIR, REPO_ROOT
from helpers.site import build, intake
from helpers.synthetic import registry

EXAMPLE = DATA_DIR / "examples" / "single-centre"
TEMPLATE = DATA_DIR / "template"


# --------------------------------------------------------------------------- the worked example

def test_the_committed_example_is_what_the_generator_writes(tmp_path):
    fresh = registry.single_centre(tmp_path)
    committed = sorted(p.name for p in EXAMPLE.iterdir())
    assert committed == sorted(p.name for p in fresh.iterdir())
    for name in committed:
        assert (EXAMPLE / name).read_bytes() == (fresh / name).read_bytes(), f"{name} is stale: regenerate it"


def test_the_example_is_differently_shaped_and_valid():
    report = intake.validate(EXAMPLE)
    assert report.ok, report.text()
    cohort = report.studies["single-centre"]
    assert cohort["patients"]["cohort"].nunique() == 1
    assert {"labs", "kinetics"}.isdisjoint(cohort) and {"responses", "adverse_events"} <= set(cohort)
    ready = report.readiness.set_index("analysis")
    assert ready.loc["Comparisons between cohorts", "status"] == "degraded"
    assert ready.loc["CAR-T expansion", "status"] == "absent"
    assert ready.loc["Cytokines and blood counts", "status"] == "absent"
    # the centre's events table: each code with its patients, counted here from the file itself
    events = pd.read_csv(EXAMPLE / "events.csv")
    dated = ready.loc["Dated events (GRFS, count recovery, own event types)"]
    assert dated["status"] == "ok" and dated["detail"].startswith(f"{len(events)} rows: ")
    for code, patients in events.groupby("event")["patient_id"].nunique().items():
        assert f"{code} {patients} patient(s)" in dated["detail"]
    assert "cmv_reactivation" in set(events["event"]) and dated["detail"].endswith("GRFS computable")


def test_intake_reads_a_folder_of_study_folders(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path / "single-centre")
    registry.write(registry.Shape("second", 40, tables=("patients", "outcomes")), tmp_path)
    report = intake.validate(tmp_path)
    assert report.ok, report.text()
    assert sorted(report.studies) == ["second", "single-centre"]
    absent = report.readiness[(report.readiness["study"] == "second") & (report.readiness["status"] == "absent")]
    assert set(absent["analysis"]) == {"Response", "Toxicity (CRS, ICANS, other events)",
                                       "Cytokines and blood counts", "CAR-T expansion", "Treatment timelines",
                                       "Dated events (GRFS, count recovery, own event types)"}


def test_check_only_reports_problems_and_writes_them(tmp_path, capsys):
    folder = tmp_path / "bad"
    shutil.copytree(EXAMPLE, folder)
    outcomes = pd.read_csv(folder / "outcomes.csv", dtype=str, keep_default_na=False)
    outcomes.loc[2, "relapsed"] = "perhaps"
    outcomes.to_csv(folder / "outcomes.csv", index=False)
    assert intake.main([str(folder), "--check-only", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr()
    assert "outcomes.csv: table 'outcomes', column 'relapsed', row 3: must be true or false" in err.out
    assert "nothing was built" in err.err
    problems = pd.read_csv(tmp_path / "out" / "intake-problems.csv")
    assert problems[["source", "column", "row"]].values.tolist() == [["outcomes.csv", "relapsed", 3]]
    assert "| bad | outcomes.csv | relapsed | 1 | 3 |" in (tmp_path / "out" / "intake-report.md").read_text()


def test_check_only_on_good_data(capsys):
    assert intake.main([str(EXAMPLE), "--check-only"]) == 0
    assert "one cohort (r/r B-ALL)" in capsys.readouterr().out


def test_the_build_is_the_book_runner_with_the_data_folder():
    command = intake.build_command(Path("/data/x"), seed=7, jobs=2, force=False)
    assert command[1:3] == ["-m", "helpers.site.build"]
    assert {"--no-regenerate", "--allow-absent"} <= set(command)
    assert command[command.index("--data-dir") + 1] == "/data/x" and command[command.index("--seed") + 1] == "7"


def test_the_absolute_dates_switch_is_checked_at_intake(tmp_path):
    report = intake.validate(EXAMPLE, absolute_dates=True)
    assert report.ok
    assert report.notes["note"].str.contains("months of infusion of 64 patients").any()
    folder = tmp_path / "x"
    shutil.copytree(EXAMPLE, folder)
    (folder / "infusion_dates.csv").write_text("study_id,patient_id,infusion_date\nsingle-centre,SC-001,2020-13-01\n")
    report = intake.validate(folder, absolute_dates=True)
    assert not report.ok
    assert report.problems.iloc[0][["source", "column", "row"]].tolist() == ["infusion_dates.csv", "infusion_date", 1]


# --------------------------------------------------------------------------- the template

def test_the_committed_template_is_current():
    for name, text in contract.template_files().items():
        assert (TEMPLATE / name).read_text(encoding="utf-8") == text, f"data/template/{name} is stale"


def test_the_template_has_every_table_with_the_contract_headers():
    for name, table in TABLES.items():
        header = (TEMPLATE / f"{name}.csv").read_text(encoding="utf-8").splitlines()
        assert header == [",".join(table.column_names)], name
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    assert "python -m helpers.site.intake" in readme and "data_dictionary.csv" in readme


def test_the_empty_template_is_refused_with_a_clear_message():
    report = intake.validate(TEMPLATE)
    assert not report.ok
    assert set(report.problems["source"]) == {"patients.csv", "outcomes.csv"}
    assert report.problems["rule"].str.contains("table has a header but no data rows").all()


# --------------------------------------------------------------------------- absent data in chapters

def test_an_absent_study_or_table_raises_missing_data_a_key_error():
    book = chapters.setup("t", EXAMPLE)
    with pytest.raises(MissingData, match="no data for study '000'"):
        book.cohort("000")
    with pytest.raises(KeyError, match="table 'labs' is absent"):
        book.cohort("single-centre")["labs"]
    assert book.cohort("single-centre").get("labs") is None


def test_require_shows_the_note_and_records_the_published_numbers_as_not_reproducible(capsys, tmp_path):
    book = chapters.setup("t", EXAMPLE, ledger_dir=tmp_path)
    assert book.require("single-centre", ["responses"], analysis="x") is True
    assert capsys.readouterr().out == ""
    assert book.require("000", ["responses"], analysis="Study 000: response",
                        register_ids=["000-response-lbc"]) is False
    out = capsys.readouterr().out
    assert out.startswith("No data for this analysis: Study 000: response: study 000 is not in the data folder")
    row = book.ledger.table().set_index("register_id").loc["000-response-lbc"]
    assert row["status"] == "not-reproducible" and row["note"].startswith("no data in this run: study 000")
    assert book.require("single-centre", ["kinetics"], analysis="Expansion") is False
    assert "the kinetics table of study single-centre is absent" in capsys.readouterr().out
    assert [a["analysis"] for a in book.absent] == ["Study 000: response", "Expansion"]


def test_the_no_data_note_is_html_with_what_is_missing():
    note = chapters.no_data_note("Cytokines", ["the labs table of study X is absent"])
    assert "No data for this analysis" in note._repr_html_() and "labs table" in note._repr_html_()


def test_patient_flow_counts_every_exclusion():
    flow = chapters.PatientFlow("Patients in patients.csv", 100, title="t")
    flow.exclude({"no assessment": 3, "early death": 2, "nothing": 0}, "Evaluable")
    assert flow.remaining == 95
    assert flow.frame["patients"].tolist() == [100, -3, -2, 95]
    flow.check(95)
    with pytest.raises(ValueError, match="dropped without being counted"):
        flow.check(94)
    with pytest.raises(ValueError, match="excludes 200 of 95"):
        flow.exclude({"x": 200}, "y")
    html = flow._repr_html_()
    assert "n = 95" in html and "no assessment: 3" in html and "Excluded 5" in html


def test_other_cohort_sections_on_the_example(capsys):
    book = chapters.setup("t", EXAMPLE)
    assert book.other_studies == ["single-centre"] and book.reproduced_studies == []
    classified = own_data.response(book, "single-centre")
    out = capsys.readouterr().out
    evaluable = int(classified["evaluable"].sum())
    assert f"Evaluable for response: n = {evaluable}" in out
    assert "One cohort: Comparison of response between cohorts not computable" in out
    own_data.cytokine_section(book, "single-centre")
    assert "No data for this analysis: Cytokines and inflammatory markers, study single-centre" in capsys.readouterr().out


def test_other_cohort_sections_say_when_there_is_no_other_cohort(capsys):
    book = chapters.setup("t", DATA_DIR / "synthetic")
    assert own_data.studies(book, "Response in your own cohorts") == []
    assert "holds only 000, 001, 003, 004" in capsys.readouterr().out


# --------------------------------------------------------------------------- the build with --allow-absent

def _error(ename, evalue):
    return SimpleNamespace(ename=ename, evalue=evalue)


def test_absent_reason_accepts_only_missing_data():
    assert build.absent_reason(_error("MissingData", "no data for study '000'"), EXAMPLE) == "no data for study '000'"
    reason = build.absent_reason(_error("KeyError", "'001'"), EXAMPLE)
    assert reason == "no data for study '001': the data folder 'single-centre' holds single-centre"
    assert build.absent_reason(_error("KeyError", "'cohort'"), EXAMPLE) is None  # a real bug stays a failure
    assert build.absent_reason(_error("KeyError", "'001'"), DATA_DIR / "synthetic") is None  # 001 is there
    assert build.absent_reason(_error("ValueError", "bad"), EXAMPLE) is None


def test_a_chapter_stopped_by_absent_data_becomes_a_note_page(tmp_path, monkeypatch):
    notebooks, executed = tmp_path / "notebooks", tmp_path / "executed"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Expansion\n\ntext"),
        nbformat.v4.new_code_cell("data_dir = None", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("from helpers.contract import MissingData\n"
                                  "raise MissingData(\"no data for study '000': the data folder holds x\")")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(notebooks / "absent.ipynb"))
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("{}['cohort']")], metadata=nb.metadata)
    nbformat.write(broken, str(notebooks / "broken.ipynb"))
    monkeypatch.setattr(build, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(build, "EXECUTED_DIR", executed)
    monkeypatch.setattr(build, "LEDGER_PARTS_DIR", tmp_path / "ledger")
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path)
    (tmp_path / "ledger").mkdir()
    (tmp_path / "ledger" / "absent.csv").write_text("partial rows")
    params = build.Parameters(data_dir=str(EXAMPLE)).as_dict()
    assert build.execute_chapter("absent", params).status == "failed"  # without the flag: a failure
    result = build.execute_chapter("absent", params, allow_absent=True)
    assert result.status == "absent" and "no data for study '000'" in result.error
    page = nbformat.read(str(executed / "absent.ipynb"), as_version=4)
    assert len(page.cells) == 1 and page.cells[0].source.startswith(
        "# Expansion\n\n```{admonition} No data for this chapter\n:class: note")
    assert not (tmp_path / "ledger" / "absent.csv").exists()
    assert build.execute_chapter("broken", params, allow_absent=True).status == "failed"


# --------------------------------------------------------------------------- the registry

def test_the_registry_is_deterministic_and_valid(tmp_path):
    a, b = registry.registry(tmp_path / "a", 400), registry.registry(tmp_path / "b", 400)
    for path in sorted(a.iterdir()):
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name
    cohort = contract.load_cohort(a)
    assert set(cohort) == set(TABLES) - {"covariates", "events"}  # a centre's own tables: none invented
    assert len(cohort["patients"]) == 400 and cohort["patients"]["cohort"].nunique() == 3
    assert (cohort["patients"]["origin"] == "synthetic").all()


def test_10000_patients_are_generated_in_seconds(tmp_path):
    start = time.perf_counter()
    frames = registry.generate(registry.registry_shape(10_000))
    seconds = time.perf_counter() - start
    assert len(frames["patients"]) == 10_000 and frames["patients"]["patient_id"].is_unique
    assert seconds < 15, f"{seconds:.1f} s"


@pytest.mark.build
def test_the_example_builds_into_a_complete_book(tmp_path):
    """The worked example through the documented command: every page, absent analyses noted."""
    out = tmp_path / "out"
    completed = subprocess.run([sys.executable, "-m", "helpers.site.intake", str(EXAMPLE), "--out", str(out)],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    html = out / "_build" / "html"
    for doc in build.toc_files():
        assert (html / f"{doc}.html").exists(), doc
    cytokines = (html / "book" / "cytokines.html").read_text(encoding="utf-8")
    assert "No data for this analysis" in cytokines and "the labs table of study single-centre is absent" in cytokines
    response = (html / "book" / "response.html").read_text(encoding="utf-8")
    assert "Evaluable for response" in response and "One cohort" in response
    assert "privacy check: nothing that looks like a direct identifier" in completed.stdout


def test_a_folder_of_excel_workbooks_is_read_like_csv(tmp_path):
    folder = tmp_path / "xlsx-centre"
    folder.mkdir()
    for path in EXAMPLE.glob("*.csv"):
        if path.stem in TABLES:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            frame.to_excel(folder / f"{path.stem}.xlsx", index=False)
    report = intake.validate(folder)
    assert report.ok, report.text()
    csv = intake.validate(EXAMPLE).studies["single-centre"]
    xlsx = report.studies["xlsx-centre"]
    assert xlsx.files["patients"] == "patients.xlsx"
    for name in csv:
        pd.testing.assert_frame_equal(csv[name], xlsx[name])


def test_build_regenerates_the_intake_files_without_changing_them():
    assert build.regenerate_intake_files() == 0, "data/template or data/examples was stale"


# --------------------------------------------------------------------------- problems by cause

def test_problems_are_grouped_by_cause_with_the_count_and_first_rows(tmp_path):
    """A column of wrong codes is one cause: one line with its count and first rows, however many
    rows hold it; the CSV keeps every row (issue 15: 462 lines from 4 causes before)."""
    folder = tmp_path / "bad"
    shutil.copytree(EXAMPLE, folder)
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    patients["sex"] = "M"  # every one of the 64 rows
    patients.loc[[6, 9], "age_years"] = "old"  # data rows 7 and 10
    patients.to_csv(folder / "patients.csv", index=False)
    report = intake.validate(folder)
    n = len(patients)
    assert len(report.problem_lines()) == n + 2
    groups = report.problem_groups()
    assert dict(groups[["column", "count"]].values.tolist()) == {"age_years": 2, "sex": n}
    sex = groups.set_index("column").loc["sex"]
    assert sex["first_rows"] == [1, 2, 3, 4, 5] and sex["first_value"] == "'M'"
    lines = report.group_lines()
    assert len(lines) == 2
    line = next(x for x in lines if "column 'sex'" in x)
    assert line.startswith("[bad] patients.csv: table 'patients', column 'sex': must be one of")
    assert line.endswith(f"-- {n} times (rows 1, 2, 3, 4, 5 and {n - 5} more; first found 'M')")
    text = report.text()
    assert f"{n + 2} problem(s) from 2 cause(s)" in text and "counted from 1 below the header" in text
    assert len(text.splitlines()) < 12  # one line per cause, not per row (66 problems)
    markdown = report.markdown()
    assert "| bad | patients.csv | age_years | 2 | 7, 10 |" in markdown


def test_the_intake_reports_follow_up_as_the_site_does_checked_against_r(tmp_path):
    """Reverse Kaplan–Meier median in months with its log-log 95 % CI, as R's survfit gives it
    (the intake printed a plain median in days before, which disagreed with the survival chapter)."""
    from r_oracle import SCRIPTS, run_rscript

    if shutil.which("Rscript") is None:
        pytest.skip("Rscript not installed")
    report = intake.validate(EXAMPLE)
    detail = report.readiness.set_index("analysis").loc["Follow-up", "detail"]
    outcomes = pd.read_csv(EXAMPLE / "outcomes.csv")
    given = pd.DataFrame({"followup_days": outcomes["followup_days"], "died": outcomes["died"].astype(int)})
    r = run_rscript(SCRIPTS / "reverse_km_followup.R", {"outcomes": given})["followup"].iloc[0]
    assert detail.startswith(f"median {r['median']:.1f} months by reverse Kaplan–Meier "
                             f"(95% CI {r['lower']:.1f}–{r['upper']:.1f})")
    months = outcomes["followup_days"] / (365.25 / 12)
    assert f"range {months.min():.1f}–{months.max():.1f} months" in detail


def test_a_folder_named_otherwise_than_study_id_is_said(tmp_path):
    """The pages name a study by its folder; when the tables say another study_id the intake says
    which name the pages will use (it was silent before, issue 15)."""
    shutil.copytree(EXAMPLE, tmp_path / "mycentre")
    report = intake.validate(tmp_path / "mycentre")
    assert report.ok, report.text()
    notes = report.notes[report.notes["note"].str.startswith("study_id is")]["note"].tolist()
    assert notes == ["study_id is 'single-centre' in the tables, but the book names a study by its folder: "
                     "the pages call it 'mycentre' (rename the folder to keep the other name)"]
    assert not intake.validate(EXAMPLE).notes["note"].str.startswith("study_id is").any()


def test_one_rule_broken_by_many_columns_is_one_line(tmp_path):
    """Real data in their own columns (unmapped): every unknown column of a file is one cause, and
    so is every missing required column (KMsurv's bmt data: 54 problems, 4 lines)."""
    folder = tmp_path / "raw"
    folder.mkdir()
    raw = pd.DataFrame({"study_id": ["raw"] * 3, "patient_id": ["B1", "B2", "B3"], "t1": [5, 6, 7], "d1": [1, 0, 1]})
    raw.to_csv(folder / "patients.csv", index=False)
    raw.to_csv(folder / "outcomes.csv", index=False)
    report = intake.validate(folder)
    lines = report.group_lines()
    assert len(report.problem_lines()) == 2 * 2 + 4 + 6  # 2 unknown columns per file; 4 and 6 required absent
    assert len(lines) == 4
    assert lines[0].startswith("[raw] patients.csv: table 'patients', 2 columns ('t1', 'd1'): unknown column")
    assert "4 columns ('cohort', 'age_years', 'sex', 'origin'): is required but missing" in "\n".join(lines)
    assert "14 problem(s) from 4 cause(s)" in report.text()
