"""Registry-scale loading: what validating and sharing a cohort of 100,000 patients must not do.

Validation's cost must follow the data, not multiply it: the file row numbers travel with a
frame through every pandas operation without being copied, each distinct text is checked for
identifiers once, and a build validates each study once, before its workers fork, instead of
once per worker. The messages a validation prints are guarded by test_bad_inputs.py,
test_input_files.py and test_contract.py; the last test here checks on a registry (where the
vectorised rules run over thousands of rows) that each injected error is found at its file row.
"""

from __future__ import annotations

import concurrent.futures as futures
import copy
import csv
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest

from helpers.contract import validate
from helpers.paths import REPO_ROOT
from helpers.synthetic import registry

EXAMPLE = REPO_ROOT / "data" / "examples" / "single-centre"


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


def test_row_numbers_travel_with_a_frame_without_being_copied(tmp_path):
    header = ["study_id", "patient_id", "age_years"]
    body = [["S", f"P{i:03d}", str(30 + i % 40)] for i in range(1, 201)]
    body.insert(4, ["", "", ""])  # an empty row: skipped, so file rows and frame rows part ways
    _write_csv(tmp_path / "patients.csv", [header, *body])
    frame = validate._read_csv(tmp_path / "patients.csv", "patients", [], [])
    rows = frame.attrs[validate._ROWS_ATTR]
    expected = [n for n in range(1, 202) if n != 5]  # data row 5 is the empty one
    assert list(rows) == expected and len(rows) == 200
    # pandas deep-copies attrs on a copy, a filter, a column taken, a reset_index: the numbers
    # are shared by all of them, not copied 100,000 ints at a time
    for derived in (frame.copy(), frame[frame.index % 2 == 0], frame["age_years"].to_frame(),
                    frame.reset_index(drop=True), copy.deepcopy(frame)):
        assert derived.attrs[validate._ROWS_ATTR] is rows


def test_each_distinct_text_is_checked_for_identifiers_once(tmp_path, monkeypatch):
    folder = registry.registry(tmp_path, n_patients=300)
    patient_ids = {row["patient_id"] for row in csv.DictReader((folder / "patients.csv").open())}
    searched: list[str] = []

    class CountingPattern:  # the e-mail rule is asked first for every text that is not a record number
        def __init__(self, pattern):
            self.pattern = pattern

        def search(self, text):
            searched.append(text)
            return self.pattern.search(text)

    remembered = getattr(validate, "_text_identifier_kind", None)  # answers kept from other tests
    if remembered is not None:
        remembered.cache_clear()
    monkeypatch.setattr(validate, "_EMAIL_RE", CountingPattern(validate._EMAIL_RE))
    validate.read_cohort(folder)
    asked_per_id = [searched.count(p) for p in sorted(patient_ids)]
    # every table holds the patients' codes, each checked by the schema and for the message
    assert set(asked_per_id) == {1}, f"a patient code was checked {max(asked_per_id)} times"
    assert len(searched) == len(set(searched))


def _inspect_worker(folder: str) -> tuple[bool, int]:
    """In a build worker: is the study in the cache, and how often does loading it read files?"""
    reads = []
    original = validate.read_cohort
    validate.read_cohort = lambda f: reads.append(f) or original(f)
    try:
        key = (str(Path(folder).resolve()), validate.folder_content_digest(Path(folder)))
        cached = key in validate._LOADED
        validate.load_cohort(folder)
    finally:
        validate.read_cohort = original
    return cached, len(reads)


def test_a_build_validates_each_study_once_before_its_workers_fork(tmp_path):
    from helpers.site import build, warm_kernels

    if not warm_kernels.enabled():
        pytest.skip("cold kernels asked for (CART_BOOK_COLD_KERNELS): workers load for themselves")
    study = tmp_path / "single-centre"
    shutil.copytree(EXAMPLE, study)
    context = build.worker_context(str(tmp_path))
    assert context is not None and context.get_start_method() == "fork"
    with futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        cached, reads = pool.submit(_inspect_worker, str(study)).result()
    assert cached, "the worker did not inherit the validated study"
    assert reads == 0, "the worker read and validated the study again"


def test_a_registry_with_one_error_of_each_kind_names_each_at_its_file_row(tmp_path):
    folder = registry.registry(tmp_path, n_patients=400)

    def edit(table, change):
        path = folder / f"{table}.csv"
        rows = list(csv.reader(path.open(newline="")))
        column = {name: i for i, name in enumerate(rows[0])}
        change(rows, column)
        _write_csv(path, rows)

    chosen = {}

    def treatments(rows, c):
        car = [n for n, r in enumerate(rows) if n and r[c["category"]] == "CAR-T"]
        patients = [rows[n][c["patient_id"]] for n in car]
        once = [n for n in car if patients.count(rows[n][c["patient_id"]]) == 1]  # one infusion only
        chosen["car"] = once[3]  # the file's data row = the list index (row 0 is the header)
        rows[once[3]][c["start_day"]] = "4"
        rows[once[3]][c["end_day"]] = "2"

    def outcomes(rows, c):
        relapsed = [n for n, r in enumerate(rows) if n and r[c["relapsed"]] == "True"]
        chosen["relapse"] = relapsed[2]
        rows[relapsed[2]][c["relapse_day"]] = str(float(rows[relapsed[2]][c["followup_days"]]) + 10)

    def adverse_events(rows, c):
        chosen["stranger"] = 7
        rows[7][c["patient_id"]] = "REG-99999"

    edit("treatments", treatments)
    edit("outcomes", outcomes)
    edit("adverse_events", adverse_events)
    with pytest.raises(validate.ContractError) as caught:
        validate.read_cohort(folder)
    lines = str(caught.value).splitlines()

    def found(source, column, row, words):
        pattern = re.compile(rf"^{source}: table '\w+', column '{column}', row {row}: .*{words}")
        return [line for line in lines if pattern.search(line)]

    assert found("treatments.csv", "start_day", chosen["car"], "first CAR-T row is the infusion")
    assert found("treatments.csv", "end_day", chosen["car"], r"must be ≥ start_day \(4\)")
    assert found("outcomes.csv", "relapse_day", chosen["relapse"], "relapse cannot come after the last follow-up")
    assert found("adverse_events.csv", "patient_id", chosen["stranger"], "patient is not in patients.csv")


def test_a_load_keeps_no_second_copy_of_the_tables(tmp_path):
    study = tmp_path / "single-centre"
    shutil.copytree(EXAMPLE, study)
    key = (str(study.resolve()), validate.folder_content_digest(study))
    cohort = validate.load_cohort(study)
    # the caller holds the tables; the process does not keep another copy of a whole registry
    assert key not in validate._LOADED
    validate.preload_cohort(study)
    assert key in validate._LOADED
    handed = validate.load_cohort(study)
    assert key not in validate._LOADED
    handed["patients"].loc[0, "cohort"] = "changed"  # the first load's tables are the caller's own
    assert cohort["patients"].loc[0, "cohort"] != "changed"


# --------------------------------------------------------------------------
# Validations kept on disk: the intake validates, the build reads
# --------------------------------------------------------------------------

def _load_with_warnings(study: Path, cache_dir: Path | None):
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        cohort = validate.load_cohort(study, cache_dir=cache_dir)
    return cohort, [(w.category, str(w.message)) for w in raised]


def _no_reading(monkeypatch):
    def refuse(folder):
        raise AssertionError(f"{folder} was read and validated again")

    monkeypatch.setattr(validate, "read_cohort", refuse)


def test_a_validation_kept_on_disk_gives_the_same_tables_and_warnings_without_reading(tmp_path, monkeypatch):
    study, cache = tmp_path / "single-centre", tmp_path / "cache"
    shutil.copytree(EXAMPLE, study)
    first, first_warnings = _load_with_warnings(study, cache)
    assert any(category.__name__ == "PlausibilityWarning" for category, _ in first_warnings)  # one to replay
    assert len(list(cache.glob("*.pickle"))) == 1
    _no_reading(monkeypatch)
    assert validate.preload_cohort(study, cache_dir=cache) == "disk"
    again, again_warnings = _load_with_warnings(study, cache)
    assert again_warnings == first_warnings
    assert again.files == first.files and again.notes.equals(first.notes) and again.folder == study
    for table, frame in first.items():
        pd.testing.assert_frame_equal(again[table], frame)
        assert again[table].attrs == frame.attrs and frame.attrs  # the source file, the declared covariates


def test_a_changed_byte_a_changed_contract_or_a_broken_file_means_validating_again(tmp_path, monkeypatch):
    study, cache = tmp_path / "single-centre", tmp_path / "cache"
    shutil.copytree(EXAMPLE, study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert validate.preload_cohort(study, cache_dir=cache) == "validated"
        validate._LOADED.clear()
        assert validate.preload_cohort(study, cache_dir=cache) == "disk"
        validate._LOADED.clear()
        patients = study / "patients.csv"
        patients.write_bytes(patients.read_bytes().replace(b"\n", b"\r\n", 1))  # one byte more
        assert validate.preload_cohort(study, cache_dir=cache) == "validated"
        assert len(list(cache.glob("*.pickle"))) == 1, "the folder's earlier validation was not replaced"
        validate._LOADED.clear()
        fingerprint = validate._contract_fingerprint()
        monkeypatch.setattr(validate, "_contract_fingerprint", lambda: fingerprint + "edited")
        assert validate.preload_cohort(study, cache_dir=cache) == "validated"
        validate._LOADED.clear()
        (kept,) = cache.glob("*.pickle")
        kept.write_bytes(kept.read_bytes()[:100])  # cut short
        assert validate.preload_cohort(study, cache_dir=cache) == "validated"
        validate._LOADED.clear()


def test_the_intake_keeps_its_validation_where_its_build_looks(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from helpers.site import intake

    study, out = tmp_path / "single-centre", tmp_path / "out"
    shutil.copytree(EXAMPLE, study)
    monkeypatch.setattr(intake, "build", lambda *a, **k: 0)  # the build itself is tested elsewhere
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert intake.main([str(study), "--out", str(out)]) == 0
    env = dict(os.environ, CART_BOOK_OUTPUT=str(out), PYTHONPATH=str(REPO_ROOT / "src"))
    looked = subprocess.run([sys.executable, "-c", "from helpers.paths import COHORT_CACHE_DIR; print(COHORT_CACHE_DIR)"],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    validate._LOADED.clear()
    _no_reading(monkeypatch)
    assert len(list(Path(looked).glob("*.pickle"))) == 1
    assert validate.preload_cohort(study, cache_dir=Path(looked)) == "disk"
    validate._LOADED.clear()
