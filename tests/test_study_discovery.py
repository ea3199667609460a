"""A study is found by a patients file in any letter case or almost so, so the reader can say what
is wrong with the name; a folder with none says which files it does hold."""

from helpers.contract.files import cohort_folders
from helpers.site import intake


def test_a_near_miss_patients_file_is_a_study_whose_problem_names_the_fix(tmp_path):
    (tmp_path / "Patients.csv.csv").write_text("a,b\n")
    assert cohort_folders(tmp_path) == {tmp_path.name: tmp_path}
    report = intake.validate(tmp_path)
    assert any("doubled extension: rename it patients.csv" in str(p) for p in report.problems["rule"])


def test_a_folder_without_any_study_lists_what_it_holds(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "export.zip").write_bytes(b"PK")
    report = intake.validate(tmp_path)
    rules = " ".join(report.problems["rule"].astype(str))
    assert "no study found" in rules and "notes.txt" in rules and "export.zip" in rules
    assert str(tmp_path) not in rules            # the folder by its contents, never its absolute path


def test_a_symlinked_study_folder_is_not_followed(tmp_path):
    real = tmp_path / "elsewhere"
    real.mkdir()
    (real / "patients.csv").write_text("study_id\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "linked").symlink_to(real)
    assert cohort_folders(data) == {}
