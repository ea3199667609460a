"""Warm kernels (helpers.site.warm_kernels) and the cohort cache of helpers.contract.load_cohort
(issue 18): chapters run in kernels forked from a worker that imported the stack and loaded the
cohorts once, with papermill's parameters and output notebook as before, and nothing one chapter
does reaches the next."""

from __future__ import annotations

import os
import shutil
import warnings

import nbformat
import papermill
import pytest

from helpers import contract
from helpers.contract import validate
from helpers.paths import DATA_DIR
from helpers.site import build, warm_kernels

EXAMPLE = DATA_DIR / "examples" / "single-centre"


def notebook(path, *cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("seed = 0\nfolder = ''", metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def run(source, target, warm: bool = True, **parameters) -> list[str]:
    """Execute ``source``; the text each cell printed, after the parameters cells."""
    manager = {"kernel_manager_class": warm_kernels.WarmKernelManager} if warm else {}
    papermill.execute_notebook(str(source), str(target), parameters=parameters, cwd=str(source.parent),
                               kernel_name="python3", progress_bar=False, **manager)
    nb = nbformat.read(target, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and not {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    return ["".join(o.get("text", "") for o in c.outputs).strip() for c in code]


@pytest.fixture(scope="module")
def warmed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("warm") / "single-centre"
    shutil.copytree(EXAMPLE, folder)
    warm_kernels.warm_up(folder.parent)
    return folder


def test_a_warm_kernel_starts_with_the_stack_imported_and_the_cohort_loaded(warmed, tmp_path):
    probe = notebook(tmp_path / "probe.ipynb",
                     "import sys\nprint('lifelines' in sys.modules, 'statsmodels.api' in sys.modules)",
                     "from helpers.contract import validate\nprint(len(validate._LOADED) > 0)",
                     "import os\nprint(os.getcwd() == where, seed)")
    assert run(probe, tmp_path / "warm.ipynb", seed=7, folder=str(warmed), where=str(tmp_path)) == ["True True", "True", "True 7"]
    # a cold kernel (a new process) has imported neither: the probe can tell them apart
    assert run(probe, tmp_path / "cold.ipynb", warm=False, seed=7, folder=str(warmed), where=str(tmp_path))[:2] == ["False False", "False"]


def test_nothing_one_chapter_does_reaches_the_next(warmed, tmp_path):
    chapter = notebook(
        tmp_path / "chapter.ipynb",
        "import os, helpers, pandas as pd\nfrom helpers import contract\n"
        "cohort = contract.load_cohort(folder)\n"
        "print(getattr(helpers, 'leak', None), pd.get_option('display.max_rows'), os.environ.get('CART_LEAK'),"
        " cohort['patients'].loc[0, 'cohort'])",
        # what a chapter might change: a module global, a library option, the environment, and
        # the (cached) validated tables it was given
        "helpers.leak = seed\npd.set_option('display.max_rows', 3)\nos.environ['CART_LEAK'] = '1'\n"
        "cohort['patients'].loc[0, 'cohort'] = 'changed'\nprint('changed')")
    first = run(chapter, tmp_path / "first.ipynb", seed=1, folder=str(warmed))
    second = run(chapter, tmp_path / "second.ipynb", seed=2, folder=str(warmed))
    pristine = first[0]
    assert pristine.startswith("None 60 None ") and "changed" not in pristine
    assert second == first
    # and the worker itself is untouched
    assert pristine.endswith(" " + contract.load_cohort(warmed)["patients"].loc[0, "cohort"])
    assert "CART_LEAK" not in os.environ


def test_a_failing_cell_fails_the_chapter_and_no_kernel_is_left_running(warmed, tmp_path):
    failing = notebook(tmp_path / "failing.ipynb", "import os\nprint(os.getpid())", "raise ValueError('chapter broke')")
    with pytest.raises(papermill.PapermillExecutionError, match="chapter broke"):
        run(failing, tmp_path / "failed.ipynb")
    nb = nbformat.read(tmp_path / "failed.ipynb", as_version=4)
    printed = next(c for c in nb.cells if c.cell_type == "code" and "getpid" in c.source)
    pid = int("".join(o.get("text", "") for o in printed.outputs))
    assert pid != os.getpid()
    with pytest.raises(ChildProcessError):  # reaped by jupyter_client's shutdown, not a zombie
        os.waitpid(pid, os.WNOHANG)


def test_a_kernel_port_clash_starts_the_kernel_again(monkeypatch, tmp_path):
    calls = []

    def clashing(*args, **kwargs):
        calls.append(kwargs.get("kernel_manager_class"))
        if len(calls) < 3:
            raise RuntimeError("Kernel died before replying to kernel_info: zmq.error.ZMQError: Address already in use")

    monkeypatch.setattr(papermill, "execute_notebook", clashing)
    build.run_papermill(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert calls == [warm_kernels.WarmKernelManager] * 3


def test_a_port_clash_is_retried_only_so_often_and_a_chapter_error_never(monkeypatch, tmp_path):
    calls = []

    def always(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("Address already in use")

    monkeypatch.setattr(papermill, "execute_notebook", always)
    with pytest.raises(RuntimeError):
        build.run_papermill(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert len(calls) == build.KERNEL_START_ATTEMPTS

    calls.clear()

    def in_a_cell(*args, **kwargs):
        calls.append(1)
        raise papermill.PapermillExecutionError(1, 1, "OSError: Address already in use", "OSError", "Address already in use", [])

    monkeypatch.setattr(papermill, "execute_notebook", in_a_cell)
    with pytest.raises(papermill.PapermillExecutionError):
        build.run_papermill(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert len(calls) == 1


def test_cold_kernels_can_be_asked_for(monkeypatch, tmp_path):
    seen = []
    monkeypatch.setattr(papermill, "execute_notebook", lambda *a, **k: seen.append(k.get("kernel_manager_class")))
    monkeypatch.setenv(warm_kernels.COLD_KERNELS_ENV, "1")
    build.run_papermill(tmp_path / "a.ipynb", tmp_path / "b.ipynb", {})
    assert seen == [None]


def blas_threads_of_kernels(tmp_path) -> tuple[list[str], list[str]]:
    """In a build worker: the BLAS threads a warm and a cold kernel report."""
    probe = notebook(tmp_path / "threads.ipynb",
                     "import numpy, scipy.linalg, threadpoolctl\n"
                     "print(sorted({p['num_threads'] for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'}))")
    return (run(probe, tmp_path / "warm-threads.ipynb", folder="", where=""),
            run(probe, tmp_path / "cold-threads.ipynb", warm=False, folder="", where=""))


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: one BLAS thread whatever the build does")
def test_chapters_running_at_once_share_the_cores_in_warm_and_cold_kernels(tmp_path):
    import multiprocessing
    from concurrent import futures

    import threadpoolctl

    cores = len(os.sched_getaffinity(0))
    # this (test) process has numpy loaded with a thread per core, as the build's main process has
    assert {p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"} == {cores}
    with futures.ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                                     initializer=build.prepare_worker, initargs=({}, "", False, cores)) as pool:
        warm, cold = pool.submit(blas_threads_of_kernels, tmp_path).result()
    assert warm == cold == ["[1]"]
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # set in the worker only


# --------------------------------------------------------------------------- the cohort cache

@pytest.fixture
def cohort_folder(tmp_path):
    folder = tmp_path / "single-centre"
    shutil.copytree(EXAMPLE, folder)
    return folder


def test_a_preloaded_cohort_is_handed_over_without_reading_the_files_again(cohort_folder, monkeypatch):
    first = contract.load_cohort(cohort_folder)
    validate.preload_cohort(cohort_folder)  # what a build does before forking its workers
    reads = []
    original = validate.read_cohort
    monkeypatch.setattr(validate, "read_cohort", lambda folder: reads.append(folder) or original(folder))
    second = contract.load_cohort(cohort_folder)
    assert reads == []  # handed over from the preload, not read again
    assert list(second) == list(first) and all(second[t].equals(first[t]) for t in first)
    assert second.files == first.files and second.folder == first.folder
    second["patients"].loc[0, "cohort"] = "changed"
    third = contract.load_cohort(cohort_folder)  # the handed-over tables are forgotten: read afresh
    assert reads == [cohort_folder] and third["patients"].loc[0, "cohort"] != "changed"


def test_a_changed_file_is_read_again(cohort_folder):
    before = contract.load_cohort(cohort_folder)
    path = cohort_folder / "patients.csv"
    text = path.read_text(encoding="utf-8")
    label = before["patients"].loc[0, "cohort"]
    path.write_text(text.replace(label, "Renamed", 1), encoding="utf-8")
    assert contract.load_cohort(cohort_folder)["patients"].loc[0, "cohort"] == "Renamed"


def test_the_warnings_of_a_preload_are_raised_again_by_the_load(cohort_folder):
    path = cohort_folder / "patients.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    head, row = lines[0].split(","), lines[1].split(",")
    row[head.index("cohort")] = " " + row[head.index("cohort")] + " "  # stray whitespace: a ContractWarning
    path.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    validate.preload_cohort(cohort_folder)
    for _ in range(2):  # the first load replays the preload's warnings, the second reads afresh
        with warnings.catch_warnings(record=True) as raised:
            warnings.simplefilter("always")
            contract.load_cohort(cohort_folder)
        assert any(issubclass(w.category, contract.ContractWarning) and "whitespace" in str(w.message) for w in raised)


def test_a_refused_cohort_is_refused_every_time(cohort_folder):
    (cohort_folder / "patients.csv").write_text("study_id,patient_id\n", encoding="utf-8")
    for _ in range(2):
        with pytest.raises(contract.ContractError):
            contract.load_cohort(cohort_folder)


def test_a_refused_cohort_still_says_what_it_warned_before_the_refusal(cohort_folder):
    path = cohort_folder / "patients.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("cohort", " cohort ", 1) + ",jane.doe@example.org"  # whitespace warned, then refused
    path.write_text("\n".join([lines[0], *(line + "," for line in lines[1:])]) + "\n", encoding="utf-8")
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        with pytest.raises(contract.ContractError):
            contract.load_cohort(cohort_folder)
    assert any("whitespace" in str(w.message) for w in raised)
