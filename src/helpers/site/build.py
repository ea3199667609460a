"""Build runner: execute every chapter with papermill, then build the site.

``python -m helpers.site.build`` (what ``make book`` calls) does, in order:

1. check that every chapter's text twin (``book/X.md``) and notebook twin
   (``notebooks/X.ipynb``) say the same thing (while the first chapters start;
   the build stops when they do not);
2. execute the chapters with papermill, in parallel up to the number of
   cores (longest first), into ``_build/executed/`` (never back into the
   twins), skipping a chapter whose inputs (notebook, helpers source, data,
   parameters, lock file) have not changed since its last successful run;
3. meanwhile, regenerate what is generated (synthetic cohorts, data
   dictionary CSV): files are rewritten only when their bytes change (the
   generators are deterministic), and the step is skipped when the generators
   and the files match the fingerprint committed in ``data/generated.sha256``;
   if a file did change, the chapters run again on the new data;
4. merge the chapters' ledger rows into ``_build/reproduction-ledger.csv``
   and execute the ledger page last;
5. stage the site sources in ``_build/site/`` and run Jupyter Book 1 with a
   strict build (``-W -n --keep-going``) into ``_build/html/``;
6. add the static SVG/PNG copies of every figure, drawn from the chapters' figure
   specs by a background process that ran alongside steps 3–5
   (:mod:`helpers.site.export_figures`);
7. run the privacy guard over the built site (:mod:`helpers.site.privacy`): anything
   that looks like a direct identifier or a date of birth fails the build and
   the site is removed.

A failing cell stops the build: the chapter and traceback are printed, the
stale executed copy and the old site are removed, and the exit code is 1.
With ``--allow-absent`` (what ``python -m helpers.site.intake`` uses for a reader's
own data) one failure is not fatal: a chapter stopped because the data lack a
study or table it needs (:class:`helpers.contract.MissingData`, or a missing
study id) becomes a page saying so, and the rest of the book is built.
"""

from __future__ import annotations

import argparse
import concurrent.futures as futures
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from helpers.paths import (
    ABSOLUTE_DATES_ENV,
    BOOK_DIR,
    BUILD_DIR,
    DATA_DIR,
    EXECUTED_DIR,
    FIGURE_COPIES_ENV,
    FIGURE_SPECS_DIR,
    FIGURES_DRAWN_DIR,
    GENERATED_STAMP,
    HELPERS_DIR,
    HTML_DIR,
    LEDGER_PARTS_DIR,
    NOTEBOOKS_DIR,
    REGISTER_CSV,
    REPO_ROOT,
    SITE_SOURCE_DIR,
    SYNTHETIC_DIR,
)
from helpers.site import layers

# Chapters executed after all others because they read what the others wrote.
LAST_CHAPTERS = ("ledger",)
DEFAULT_SEED = 20240101


def for_notebook(path: Path | str) -> str:
    """A path as a chapter sees it: relative to ``notebooks/`` when inside the repository
    (portable, and no machine path is printed on the site), absolute otherwise."""
    path = Path(path).resolve()
    return os.path.relpath(path, NOTEBOOKS_DIR) if path.is_relative_to(REPO_ROOT) else str(path)


def from_notebook(path: str) -> Path:
    """The inverse of :func:`for_notebook`: chapters run with ``notebooks/`` as working folder."""
    return (NOTEBOOKS_DIR / path).resolve()


@dataclass
class Parameters:
    """The papermill parameters every chapter accepts (paths as the chapter sees them)."""

    data_dir: str = field(default_factory=lambda: for_notebook(SYNTHETIC_DIR))
    seed: int = DEFAULT_SEED
    ledger_dir: str = field(default_factory=lambda: for_notebook(LEDGER_PARTS_DIR))
    register_csv: str = field(default_factory=lambda: for_notebook(REGISTER_CSV))

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class ChapterResult:
    chapter: str
    # "executed", "skipped", "new text" (its text put in, its outputs kept: put_new_text),
    # "failed" or "absent" (no data for it; --allow-absent)
    status: str
    seconds: float = 0.0
    error: str = ""
    extra: dict = field(default_factory=dict)


def log(message: str) -> None:
    print(f"[build] {message}", flush=True)


# ---------------------------------------------------------------- chapters --

def toc_files(toc_path: Path = REPO_ROOT / "_toc.yml") -> list[str]:
    """Every document named in ``_toc.yml`` (root first), e.g. ``book/intro``."""
    toc = yaml.safe_load(toc_path.read_text())
    names = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for key in ("parts", "chapters", "sections"):
                for child in node.get(key, []) or []:
                    walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(toc)
    return names


def is_notebook_text(md_path: Path) -> bool:
    """A MyST markdown page is a chapter notebook when jupytext pairs it."""
    head = md_path.read_text(encoding="utf-8").split("\n---", 1)[0]
    return "jupytext:" in head and "kernelspec:" in head


def chapters() -> list[str]:
    """Chapter names (``book/<name>.md`` paired with ``notebooks/<name>.ipynb``)."""
    found = []
    for doc in toc_files():
        md = REPO_ROOT / f"{doc}.md"
        if md.exists() and is_notebook_text(md):
            found.append(md.stem)
    return found


#: The twins found in agreement, by the bytes of both files and jupytext's version.
PAIRS_CACHE = BUILD_DIR / "cache" / "twins-in-sync.json"


def pairing_problems(names: list[str], cache: Optional[Path] = PAIRS_CACHE) -> list[str]:
    """Chapters whose two twins disagree (or where one twin is missing). A pair whose two files
    agreed before, byte for byte and under the same jupytext, is not compared again (``cache``):
    importing jupytext and comparing the nine pairs took 1.1 s of every build, most of a
    no-change rebuild."""
    from importlib import metadata

    before = layers.read_json_cache(cache)
    agreed = dict(before)
    version = metadata.version("jupytext").encode()
    problems = []
    for name in names:
        md, ipynb = BOOK_DIR / f"{name}.md", NOTEBOOKS_DIR / f"{name}.ipynb"
        if not ipynb.exists():
            problems.append(f"{name}: notebooks/{name}.ipynb is missing (run: jupytext --sync book/{name}.md)")
            continue
        digest = hashlib.sha256(version)
        _hash_files(digest, [md, ipynb])
        key = digest.hexdigest()
        if agreed.get(name) == key:
            continue
        problem = twins_difference(name, md, ipynb)
        if problem:
            problems.append(problem)
            agreed.pop(name, None)
        else:
            agreed[name] = key
    if cache and agreed != before:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(agreed, indent=1, sort_keys=True))
    return problems


def twins_difference(name: str, md: Path, ipynb: Path) -> str:
    """How a chapter's text twin and notebook twin differ, as jupytext compares them; "" when
    they agree."""
    import jupytext
    from jupytext.compare import NotebookDifference, compare_notebooks

    try:
        compare_notebooks(jupytext.read(ipynb), jupytext.read(md), fmt="md:myst", allow_expected_differences=False)
    except NotebookDifference as difference:
        first = str(difference).strip().splitlines()[:6]
        return (f"{name}: book/{name}.md and notebooks/{name}.ipynb differ "
                f"(run: jupytext --sync book/{name}.md):\n    " + "\n    ".join(first))
    return ""


def _hash_files(digest, paths) -> None:
    for path in sorted(paths):
        digest.update(str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path).encode())
        status = path.stat()
        digest.update(_file_sha(path, status.st_size, status.st_mtime_ns))


@functools.lru_cache(maxsize=4096)
def _file_sha(path: Path, size: int, mtime_ns: int) -> bytes:
    """A file's sha256, read once per process while its size and modification time stand: the
    nine chapters' digests, the ledger's and the workers' (forked after them) hashed a
    100,000-patient registry's 107 MB 19 times in every build."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").digest()


IMPORTS_CACHE = BUILD_DIR / "cache" / "imports.json"  # each helpers file's imports (layers.dependencies)


@functools.lru_cache(maxsize=1)
def kernel_sources() -> tuple[Path, ...]:
    """Every helpers module a chapter's kernel can import (not site/), read from the import
    graph once per process: walking it costs about 0.6 s, and each chapter needs the same list."""
    return tuple(layers.dependencies(["helpers.chapters"], cache=IMPORTS_CACHE))


def notebook_code(path: Path) -> bytes:
    """What of a notebook its outputs depend on: its kernel and its code cells (source and
    metadata), not its text, which :func:`put_new_text` changes without running the chapter."""
    notebook = json.loads(path.read_bytes())
    code = [[cell.get("source"), cell.get("metadata", {})] for cell in notebook.get("cells", [])
            if cell.get("cell_type") == "code"]
    kernel = notebook.get("metadata", {}).get("kernelspec")
    return json.dumps([kernel, code], sort_keys=True).encode()


def chapter_inputs_digest(name: str, params: Parameters) -> str:
    """Fingerprint of everything a chapter's outputs depend on (its notebook's code, not its text)."""
    digest = hashlib.sha256()
    digest.update(notebook_code(NOTEBOOKS_DIR / f"{name}.ipynb"))
    _hash_files(digest, [REPO_ROOT / "requirements.lock"])
    _hash_files(digest, kernel_sources())
    data_dir = from_notebook(params.data_dir)
    if data_dir.exists():
        _hash_files(digest, [p for p in data_dir.rglob("*") if p.is_file()])
    _hash_files(digest, [from_notebook(params.register_csv)])
    if name in LAST_CHAPTERS:
        _hash_files(digest, [p for p in from_notebook(params.ledger_dir).glob("*.csv")])
    digest.update(json.dumps(params.as_dict(), sort_keys=True).encode())
    for variable in (ABSOLUTE_DATES_ENV, FIGURE_COPIES_ENV):  # both change what a page shows
        digest.update(f"{variable}={os.environ.get(variable, '')}".encode())
    return digest.hexdigest()


def is_current(name: str, digest: str) -> bool:
    """The chapter's executed copy was made from inputs with this digest (chapter_inputs_digest)."""
    stamp = EXECUTED_DIR / f"{name}.inputs.sha256"
    return (EXECUTED_DIR / f"{name}.ipynb").exists() and stamp.exists() and stamp.read_text() == digest


def _text_stamp(name: str) -> Path:
    return EXECUTED_DIR / f"{name}.text.sha256"


def _notebook_sha(name: str) -> str:
    return hashlib.sha256((NOTEBOOKS_DIR / f"{name}.ipynb").read_bytes()).hexdigest()


def has_current_text(name: str) -> bool:
    """The chapter's executed copy carries the text of its notebook as it is now."""
    stamp = _text_stamp(name)
    return stamp.exists() and stamp.read_text() == _notebook_sha(name)


def chapter_code_cells(nb) -> list:
    """The code cells the chapter's author wrote (not papermill's injected parameters)."""
    return [c for c in nb.cells if c.cell_type == "code" and "injected-parameters" not in c.metadata.get("tags", [])]


def with_new_text(executed, twin):
    """The executed notebook with the cells of ``twin`` (the chapter's notebook) when only its
    text changed: each code cell keeps its outputs, papermill's injected cell stays after the
    parameters cell. None when a code cell changed (the chapter must run again)."""
    import nbformat

    if [c.source for c in chapter_code_cells(executed)] != [c.source for c in chapter_code_cells(twin)]:
        return None
    ran = iter(chapter_code_cells(executed))
    injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
    cells = []
    for cell in twin.cells:
        if cell.cell_type == "code":
            old = next(ran)
            cell = nbformat.from_dict({**old, "metadata": cell.metadata, "source": cell.source})
            cells.append(cell)
            if "parameters" in cell.metadata.get("tags", []):
                cells += injected
        else:
            cells.append(cell)
    updated = nbformat.from_dict(dict(executed))
    updated.cells = cells
    return updated


def put_new_text(name: str) -> bool:
    """Put the chapter's new text into its executed copy, keeping every output: its code and
    inputs are those it last ran with (:func:`is_current`), which would give the same outputs.
    False when there is no executed copy or a code cell differs (the chapter must run)."""
    import nbformat

    executed_path = EXECUTED_DIR / f"{name}.ipynb"
    if not executed_path.exists():
        return False
    sha = _notebook_sha(name)
    updated = with_new_text(nbformat.read(executed_path, as_version=4),
                            nbformat.read(NOTEBOOKS_DIR / f"{name}.ipynb", as_version=4))
    if updated is None:
        return False
    partial = EXECUTED_DIR / f".{name}.partial.ipynb"
    nbformat.write(updated, partial)
    partial.replace(executed_path)
    _text_stamp(name).write_text(sha)
    return True


def execute_chapter(name: str, params: dict, force: bool = False, allow_absent: bool = False) -> ChapterResult:
    """Run one chapter with papermill into ``_build/executed/<name>.ipynb``.

    With ``allow_absent``, a chapter stopped by absent data (see :func:`absent_reason`)
    is replaced by a page that says what is missing (status ``absent``)."""
    source = NOTEBOOKS_DIR / f"{name}.ipynb"
    target = EXECUTED_DIR / f"{name}.ipynb"
    stamp = EXECUTED_DIR / f"{name}.inputs.sha256"
    digest = chapter_inputs_digest(name, Parameters(**params))
    start, began = time.perf_counter(), time.time()
    if not force and is_current(name, digest):
        if has_current_text(name):
            return ChapterResult(name, "skipped")
        if put_new_text(name):  # a text edit: the outputs stand
            return ChapterResult(name, "new text", time.perf_counter() - start)
    EXECUTED_DIR.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    text_sha = _notebook_sha(name)  # the text as it is run (an edit saved meanwhile is seen next time)
    partial = EXECUTED_DIR / f".{name}.partial.ipynb"
    try:
        run_papermill(source, partial, params)
    except Exception as error:  # papermill's PapermillExecutionError carries the traceback
        target.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
        text = getattr(error, "traceback", None)
        detail = "\n".join(text) if isinstance(text, list) else str(error)
        reason = absent_reason(error, from_notebook(params["data_dir"])) if allow_absent else None
        if reason:
            write_absent_page(name, source, target, reason, from_notebook(params["data_dir"]))
            stamp.write_text(digest)
            _text_stamp(name).write_text(text_sha)
            write_run_record(name, "no data", time.perf_counter() - start, began, digest)
            return ChapterResult(name, "absent", time.perf_counter() - start, reason)
        return ChapterResult(name, "failed", time.perf_counter() - start, _strip_ansi(detail))
    without_absolute_paths(partial, name)
    partial.replace(target)
    stamp.write_text(digest)
    _text_stamp(name).write_text(text_sha)
    write_run_record(name, "executed", time.perf_counter() - start, began, digest)
    return ChapterResult(name, "executed", time.perf_counter() - start)


def write_run_record(name: str, status: str, seconds: float, began: float, digest: str) -> None:
    """What the execution report shows of this run (:func:`helpers.site.provenance.execution_report`)."""
    from helpers.site import provenance

    (EXECUTED_DIR / f"{name}.run.json").write_text(provenance.run_record(status, seconds, began, digest))


# jupyter_client picks the kernel's ports before the kernel binds them; another process can take
# one in between, and the kernel then dies with "Address already in use". A new start picks anew.
PORT_CLASH = "Address already in use"
KERNEL_START_ATTEMPTS = 3


def run_papermill(source: Path, target: Path, params: dict) -> None:
    """Execute ``source`` into ``target`` with papermill, in a warm kernel when the worker was
    warmed (:mod:`helpers.site.warm_kernels`), starting the kernel again on a port clash."""
    import papermill

    from helpers.site import warm_kernels

    manager = {"kernel_manager_class": warm_kernels.WarmKernelManager} if warm_kernels.enabled() else {}
    for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
        try:
            with kernel_noise_filtered():
                papermill.execute_notebook(
                    str(source), str(target), parameters=params, cwd=str(NOTEBOOKS_DIR),
                    kernel_name="python3", progress_bar=False, log_output=False, report_mode=False,
                    request_save_on_cell_execute=False,  # a save per cell re-serialises the whole notebook
                    **manager,
                )
            return
        except Exception as error:
            if attempt == KERNEL_START_ATTEMPTS or not is_port_clash(error):
                raise
            log(f"{source.stem}: kernel port already in use (attempt {attempt}); starting the kernel again")


def is_port_clash(error: BaseException) -> bool:
    """A kernel that died binding its ports, before running any cell (a chapter's own socket
    error, raised in a cell, is papermill's execution error and is not retried)."""
    import papermill

    return PORT_CLASH in str(error) and not isinstance(error, papermill.PapermillExecutionError)


def without_absolute_paths(notebook: Path, name: str) -> None:
    """Papermill records where it read and wrote the notebook (``metadata.papermill.input_path``
    and ``output_path``) as absolute paths, which would put the builder's folders on the site;
    they are replaced by the paths relative to the repository."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    recorded = nb.metadata.get("papermill", {})
    if not recorded:
        return
    recorded["input_path"] = f"notebooks/{name}.ipynb"
    recorded["output_path"] = f"_build/executed/{name}.ipynb"
    # A data folder outside the repository is passed as an absolute path: shown by its name only
    # in the recorded parameters and in papermill's injected-parameters cell.
    for key, value in dict(recorded.get("parameters", {})).items():
        if isinstance(value, str) and Path(value).is_absolute():
            shown = f"PATH/TO/{Path(value).name}"
            recorded["parameters"][key] = shown
            for cell in nb.cells:
                if "injected-parameters" in cell.metadata.get("tags", []):
                    cell.source = cell.source.replace(repr(value), repr(shown)).replace(f'"{value}"', f'"{shown}"')
    nbformat.write(nb, notebook)


# What every kernel prints on its way in and out, whatever the chapter does: jupyter_client
# interrupts a kernel as it shuts it down, and ipykernel warns that its local TCP sockets are
# unencrypted. Everything else a kernel writes to stderr is passed on.
KERNEL_NOISE = ("KeyboardInterrupt caught in kernel", "running over TCP without encryption",
                "Message signing is enabled", "Use IPC transport or launch with kernel manager")


@contextmanager
def kernel_noise_filtered():
    """Route this process's stderr (which the chapter's kernel inherits) through a file while
    the chapter runs, then pass on every line but :data:`KERNEL_NOISE`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile("w+b") as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode("utf-8", "replace").splitlines()
                    if line.strip() and not any(noise in line for noise in KERNEL_NOISE)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)


def absent_reason(error: BaseException, data_dir: Path) -> str | None:
    """Why a chapter stopped for lack of data, or None when it failed for another reason.

    Two kinds of stop count as absent data: :class:`helpers.contract.MissingData`
    (raised by ``book.cohort(study)`` for a study the folder does not hold and by
    ``cohort[table]`` for an absent table), and a bare ``KeyError`` naming a study
    of the published register that the data folder does not hold (a chapter that
    keeps its cohorts in a dict). Anything else is a real failure.
    """
    ename, evalue = getattr(error, "ename", ""), str(getattr(error, "evalue", "") or "")
    if ename == "MissingData":
        return evalue.strip()
    if ename == "KeyError":
        key = evalue.strip().strip("'\"")
        from helpers.chapters.context import register_studies
        from helpers.contract.files import cohort_folders

        held = cohort_folders(data_dir) if Path(data_dir).is_dir() else {}
        if key in register_studies(REGISTER_CSV) and key not in held:
            return (f"no data for study {key!r}: the data folder {Path(data_dir).name!r} holds "
                    f"{', '.join(sorted(held)) or 'no study'}")
    return None


def write_absent_page(name: str, source: Path, target: Path, reason: str, data_dir: Path) -> None:
    """The page a chapter becomes when the data lack what it needs: its title and a note."""
    import nbformat

    notebook = nbformat.read(str(source), as_version=4)
    title = next((line[2:].strip() for cell in notebook.cells if cell.cell_type == "markdown"
                  for line in cell.source.splitlines() if line.startswith("# ")), name)
    text = (f"# {title}\n\n"
            "```{admonition} No data for this chapter\n:class: note\n\n"
            f"This chapter could not be computed from the data the book was run on "
            f"(`{data_dir.name}`): {reason}.\n\n"
            "The chapter stops at the first analysis that needs the missing data and has no section "
            "that runs without it yet, so it is shown as this note rather than as a partial or blank "
            "chapter. Every other chapter of the book was built; the data folder's studies are "
            "listed in the banner of the chapters that ran.\n"
            "```\n")
    page = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)],
                                    metadata=notebook.metadata)
    nbformat.write(page, str(target))
    (LEDGER_PARTS_DIR / f"{name}.csv").unlink(missing_ok=True)  # rows of a page that is not shown
    shutil.rmtree(BUILD_DIR / "downloads" / name, ignore_errors=True)
    shutil.rmtree(FIGURE_SPECS_DIR / name, ignore_errors=True)


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def prepare_worker(values: dict[str, str], data_dir: str, warm: bool = True, workers: int = 1) -> None:
    """Set environment variables in a worker process (its chapters' kernels inherit them), give
    it its share of the cores among ``workers`` (:func:`helpers.site.warm_kernels.share_cores`)
    and, when ``warm`` and kernels are not cold, import the analysis stack and load the cohorts
    once for all the kernels it will fork (:func:`helpers.site.warm_kernels.warm_up`)."""
    os.environ.update(values)
    from helpers.site import warm_kernels

    warm_kernels.share_cores(workers)

    if warm and warm_kernels.enabled():
        warm_kernels.warm_up(from_notebook(data_dir))


WARM_UP_SOURCES = {"validated": "validated", "disk": "read as validated before (kept on disk)",
                   "memory": "already loaded", "refused": "refused (its chapters say why)"}


def worker_context(data_dir: str):
    """How the build's workers start. With warm kernels, this process imports the analysis stack
    and validates every study first, then forks the workers: they share the validated tables
    (copy-on-write) instead of each reading and validating a registry of 100,000 patients again.
    With cold kernels, the workers start empty as before."""
    import multiprocessing

    from helpers.site import warm_kernels

    if not warm_kernels.enabled():
        return None
    start = time.perf_counter()
    sources = warm_kernels.warm_up(from_notebook(data_dir))
    release_before_fork()
    studies = "; ".join(f"{n} {WARM_UP_SOURCES[kind]}" for kind, n in sorted(sources.items())) or "no study"
    log(f"warm-up (analysis stack imported; cohorts loaded once for every worker: {studies}) in "
        f"{time.perf_counter() - start:.1f} s")
    return multiprocessing.get_context("fork")


def release_before_fork() -> None:
    """Make what forked children share stay shared: validation's garbage is collected and its
    freed memory handed back to the system (glibc keeps it otherwise, and every child would map
    it), and the surviving objects are frozen out of the collector's reach, whose passes would
    otherwise write to every object and so copy every page into every child."""
    import gc

    from helpers.contract.validate import return_freed_memory

    return_freed_memory()
    gc.freeze()


def start_chapters(pool: futures.Executor, names: list[str], params: Parameters, force: bool,
                   allow_absent: bool = False) -> dict:
    """Submit chapters to the pool, longest first; returns the pending futures."""
    return {pool.submit(execute_chapter, n, params.as_dict(), force, allow_absent): n
            for n in longest_first(names)}


def finish_chapters(pending: dict, workers: int, on_idle_worker=None) -> list[ChapterResult]:
    """Wait for submitted chapters, logging each; ``on_idle_worker()`` is called once, when a
    worker has finished and no chapter is left to start (the build starts other work there)."""
    results = []
    for done in futures.as_completed(pending):
        result = done.result()
        log(f"{result.chapter:<24} {result.status:<9} {result.seconds:6.1f} s")
        results.append(result)
        if on_idle_worker and len(results) == max(1, len(pending) - workers + 1):
            on_idle_worker()
    record_durations(results)
    return results


DURATIONS = EXECUTED_DIR / "durations.json"


def longest_first(names: list[str]) -> list[str]:
    """Chapters in the order to start them: longest first, so that no long chapter starts
    last and keeps one core busy alone. Length is the last run's duration, else (a clean
    build) the notebook's size, which follows it closely."""
    known = known_durations()
    size = {n: (NOTEBOOKS_DIR / f"{n}.ipynb").stat().st_size for n in names}
    return sorted(names, key=lambda n: (n not in known, -known.get(n, 0.0), -size[n]))


def record_durations(results: list[ChapterResult]) -> None:
    executed = {r.chapter: round(r.seconds, 2) for r in results if r.status == "executed"}
    if executed:
        DURATIONS.parent.mkdir(parents=True, exist_ok=True)
        DURATIONS.write_text(json.dumps({**known_durations(), **executed}, indent=1, sort_keys=True))


def known_durations() -> dict[str, float]:
    """Seconds each chapter took when it last ran."""
    return json.loads(DURATIONS.read_text()) if DURATIONS.exists() else {}


# ------------------------------------------------------------- generation --

def write_if_changed(path: Path, data: bytes) -> bool:
    """Write only when the bytes differ, so unchanged files keep their mtimes."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def sync_tree(source: Path, target: Path) -> int:
    """Mirror ``source`` into ``target`` file by file, writing only changes."""
    changed = 0
    for path in source.rglob("*"):
        if path.is_file():
            changed += write_if_changed(target / path.relative_to(source), path.read_bytes())
    return changed


GENERATED = (SYNTHETIC_DIR, DATA_DIR / "data_dictionary.csv", DATA_DIR / "template", DATA_DIR / "examples")
# The modules whose code decides the generated bytes: the generators and everything they
# import, read from the source (tests/test_generated.py and tests/test_intake.py compare the
# committed files with a fresh generation, so a stale fingerprint cannot go unnoticed).
GENERATORS = ["helpers.synthetic", "helpers.contract"]
# Committed with the data: a fresh clone whose generators and files match it skips regeneration.


def generated_digest(seed: int) -> str:
    """Fingerprint of the generators' inputs (their source, the lock file, the register, the
    seed) and of the generated files as they are now."""
    digest = hashlib.sha256(f"seed={seed}".encode())
    _hash_files(digest, [*layers.dependencies(GENERATORS, cache=IMPORTS_CACHE), REPO_ROOT / "requirements.lock",
                         REGISTER_CSV])
    _hash_files(digest, [p for root in GENERATED for p in ([root] if root.is_file() else root.rglob("*"))
                         if p.is_file()])
    return digest.hexdigest()


def regenerate(seed: int) -> int:
    """Regenerate the synthetic cohorts and the data-dictionary CSV, unless neither the
    generators' inputs nor the generated files changed since the last regeneration (the
    generators are deterministic, so the output would be the same bytes). Returns how many
    files changed."""
    if GENERATED_STAMP.exists() and GENERATED_STAMP.read_text().strip() == generated_digest(seed):
        log("generated data: generators and files unchanged since the last regeneration")
        return 0
    changed = _regenerate(seed)
    GENERATED_STAMP.write_text(generated_digest(seed) + "\n")
    return changed


def _regenerate(seed: int) -> int:
    from helpers import contract
    from helpers.synthetic import cohorts as synthetic

    with tempfile.TemporaryDirectory() as tmp:
        synthetic.write_all(Path(tmp), seed=seed)
        changed = sync_tree(Path(tmp), SYNTHETIC_DIR)
    csv = contract.dictionary().to_csv(index=False, lineterminator="\n").encode()
    changed += write_if_changed(DATA_DIR / "data_dictionary.csv", csv)
    changed += regenerate_intake_files()
    log(f"generated data: {changed} file(s) changed")
    return changed


def regenerate_intake_files() -> int:
    """The template folder and the worked intake example (data/template, data/examples); the
    example uses its own fixed seed, so the build's --seed never changes its committed bytes."""
    from helpers.contract import template as intake
    from helpers.synthetic import registry

    changed = sum(write_if_changed(DATA_DIR / "template" / name, text.encode())
                  for name, text in intake.template_files().items())
    with tempfile.TemporaryDirectory() as tmp:
        registry.single_centre(Path(tmp), seed=registry.DEFAULT_SEED)
        changed += sync_tree(Path(tmp), DATA_DIR / "examples")
    return changed


# ------------------------------------------------------------------- site --

@functools.lru_cache(maxsize=16)  # bytes keys: a few MB each, one entry per edit
def _site_notebook(executed: bytes, seed_studies: bool) -> bytes:
    """cell_tags.site_notebook, done again only for a chapter whose executed copy changed: the live
    preview stages the site at every edit, and retagging the 9 chapters took 0.4 s of each."""
    from helpers.site import cell_tags

    return cell_tags.site_notebook(executed, seed_studies=seed_studies)


def stage_site(names: list[str], data_dir: Path = SYNTHETIC_DIR, stamp: Optional[dict] = None) -> None:
    """Assemble the Jupyter Book source: text pages + executed chapters, the build stamp (``stamp``,
    else :func:`provenance.build_stamp` now) and the execution report (:mod:`helpers.site.provenance`)."""
    from helpers.site import provenance

    SITE_SOURCE_DIR.mkdir(parents=True, exist_ok=True)
    seed_studies = provenance.holds_a_seed_study(data_dir)
    wanted = set()
    for name in ("_config.yml", "_toc.yml"):
        write_if_changed(SITE_SOURCE_DIR / name, (REPO_ROOT / name).read_bytes())
        wanted.add(SITE_SOURCE_DIR / name)
    for path in BOOK_DIR.rglob("*"):
        if not path.is_file():
            continue
        relative = path.relative_to(REPO_ROOT)
        if path.suffix == ".md" and path.stem in names:
            continue  # a chapter: its executed notebook takes the text twin's place
        if relative.parts[:2] == ("book", "_static"):
            relative = Path(*relative.parts[1:])  # site-wide static files live at the site root
        write_if_changed(SITE_SOURCE_DIR / relative, path.read_bytes())
        wanted.add(SITE_SOURCE_DIR / relative)
    for name in names:
        executed = EXECUTED_DIR / f"{name}.ipynb"
        target = SITE_SOURCE_DIR / "book" / f"{name}.ipynb"
        # code hidden, plumbing removed; without a seed study in the data, its sections too
        write_if_changed(target, _site_notebook(executed.read_bytes(), seed_studies))
        wanted.add(target)
    # Every CSV offered for download has its formula-leading cells neutralised (OWASP CSV
    # injection); the chapters' tables already are (helpers.plots.tables), the ledger is here.
    from helpers.escape import neutralise_csv_bytes

    stamp = stamp or provenance.build_stamp(data_dir)
    stamp_line = provenance.stamp_text(stamp)
    downloads = BUILD_DIR / "downloads"
    csvs = {SITE_SOURCE_DIR / "_static" / "downloads" / name / path.name: path  # each chapter's result tables
            for name in names for path in sorted((downloads / name).glob("*.csv"))}
    ledger = BUILD_DIR / "reproduction-ledger.csv"
    if ledger.exists():
        csvs[SITE_SOURCE_DIR / "_static" / "downloads" / "reproduction-ledger.csv"] = ledger
    for target, path in csvs.items():
        write_if_changed(target, provenance.stamp_csv(neutralise_csv_bytes(path.read_bytes()), stamp_line))
        wanted.add(target)
    for target, data in ((provenance.stamp_path(SITE_SOURCE_DIR),
                          json.dumps({**stamp, "line": stamp_line}, indent=1, sort_keys=True).encode()),
                         (SITE_SOURCE_DIR / "_static" / "build-stamp.csv", provenance.stamp_table(stamp)),
                         (SITE_SOURCE_DIR / "_static" / "execution-report.csv",
                          provenance.execution_report(EXECUTED_DIR, names))):
        write_if_changed(target, data)
        wanted.add(target)
    for path in list(SITE_SOURCE_DIR.rglob("*")):
        if path.is_file() and path not in wanted:
            path.unlink()  # a page removed from book/ must not linger on the site


def site_sources_digest() -> str:
    """Fingerprint of everything Sphinx reads from the staged site (plus the Sphinx extension)."""
    digest = hashlib.sha256()
    _hash_files(digest, [p for p in SITE_SOURCE_DIR.rglob("*") if p.is_file()])
    _hash_files(digest, [HELPERS_DIR / "site" / "sphinx_site.py"])
    return digest.hexdigest()


def build_site(strict: bool = True, meanwhile=None) -> int:
    """Run the strict Jupyter Book build, unless the staged sources are exactly those of the
    site already in ``_build/html`` (then Sphinx would only confirm that nothing changed).
    ``meanwhile()`` runs in this process while Sphinx runs in its own."""
    stamp = BUILD_DIR / "site-sources.sha256"
    digest = site_sources_digest()
    if (HTML_DIR / "index.html").exists() and stamp.exists() and stamp.read_text() == digest:
        log("site sources unchanged: the HTML in place is current")
        return 0
    stamp.unlink(missing_ok=True)
    code = _run_jupyter_book(strict, meanwhile)
    if code == 0:
        prune_stale_downloads()
        stamp.write_text(digest)
    return code


def prune_stale_downloads() -> None:
    """Sphinx copies ``_static`` into the site but never deletes from it: a CSV the staged
    sources no longer hold (a table renamed or removed) is taken off the site here."""
    staged, built = SITE_SOURCE_DIR / "_static" / "downloads", HTML_DIR / "_static" / "downloads"
    for path in list(built.rglob("*.csv")) if built.is_dir() else []:
        if not (staged / path.relative_to(built)).is_file():
            path.unlink()


def _run_jupyter_book(strict: bool, meanwhile=None) -> int:
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(SITE_SOURCE_DIR),
               "--path-output", str(BUILD_DIR.parent), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    log("jupyter-book build" + (" (strict: -W -n --keep-going)" if strict else ""))
    with tempfile.TemporaryFile("w+") as output_file:  # a file: Sphinx never waits on a full pipe
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=output_file, stderr=subprocess.STDOUT,
                                   text=True)
        if meanwhile:
            meanwhile()
        process.wait()
        output_file.seek(0)
        output = output_file.read()
    warnings = [line for line in output.splitlines() if "WARNING" in line or "ERROR" in line]
    if process.returncode != 0 or warnings:
        print(output[-6000:], file=sys.stderr)
        log(f"site build FAILED ({len(warnings)} warning/error line(s))")
        return 1
    return 0


def site_stamp_line() -> str:
    """The build stamp's line the staging wrote (which pages, CSVs and figure copies carry)."""
    from helpers.site import provenance

    return provenance.read_stamp(SITE_SOURCE_DIR).get("line", "")


def privacy_cache() -> Path:
    """Which files passed the privacy check (by bytes and kind), kept between builds."""
    return BUILD_DIR / "privacy-passed.json"


#: Beside the merged ledger: what the R cross-check found (read by the ledger page).
CROSSCHECK_NAME = "ledger-crosscheck.json"


def cross_check_ledger(ledger_csv: Path, data_dir: Path) -> int:
    """The merged ledger against the independent R oracle (:mod:`helpers.reproduction.crosscheck`).

    Every number and claim a chapter computed from the seed cohorts must be what R computes
    from the same CSVs, at print rounding: a chapter that records a published value instead of
    computing one, or that computes something else than it says, fails the build here. The
    committed fixture serves when the data are the ones it was computed from; other data are
    checked by a live Rscript run; without R (and other data) the check is skipped, loudly.
    Builds on data without the seed studies (a centre's own cohort) have nothing to check."""
    import pandas as pd

    from helpers.reproduction import crosscheck

    (Path(ledger_csv).parent / CROSSCHECK_NAME).unlink(missing_ok=True)
    if not all((Path(data_dir) / study).is_dir() for study in crosscheck.ORACLE_STUDIES):
        log("ledger cross-check: skipped (the data folder does not hold the seed studies "
            f"{', '.join(crosscheck.ORACLE_STUDIES)})")
        return 0
    oracle, source = crosscheck.oracle_for(data_dir)
    if oracle is None:
        log(f"ledger cross-check: NOT RUN ({source})")
        return 0
    ledger = pd.read_csv(ledger_csv, dtype=str, keep_default_na=False)
    wrong = crosscheck.mismatches(ledger, oracle, uncomputed_ok=True)
    if wrong.empty:
        checked = int(len(oracle) - len(crosscheck.uncovered(oracle)))
        (Path(ledger_csv).parent / CROSSCHECK_NAME).write_text(json.dumps(
            {"rows_checked": checked, "source": source, "not_covered": crosscheck.uncovered(oracle)}, indent=1))
        log(f"ledger cross-check: all {checked} computed rows agree with R ({source})")
        return 0
    print("\n=== the reproduction ledger disagrees with the independent R oracle ===", file=sys.stderr)
    for _, row in wrong.iterrows():
        print(f"  {row['register_id']}: ledger {row['ledger_value'] or '(none)'}, R {row['r_value'] or '(none)'}: "
              f"{row['why']}", file=sys.stderr)
    log(f"FAILED: {len(wrong)} ledger row(s) disagree with R ({source}); the site was not built")
    return 1


def privacy_check(figures: bool) -> int:
    """The privacy guard (:mod:`helpers.site.privacy`) over the built site's pages and downloads, or
    over its static figure copies (``figures``): 0 when clean. Files whose bytes passed before
    (here or ahead of the check, see :class:`PrivacyPrescan`) are not read again."""
    from helpers.site import privacy

    start = time.perf_counter()
    copies = HTML_DIR / "_static" / "figures"
    files = [p for p in privacy.site_files(HTML_DIR) if p.is_relative_to(copies) == figures]
    findings = privacy.check_site(HTML_DIR, files=files, passed_cache=privacy_cache(), stamp=site_stamp_line())
    log(privacy.report(findings) + f" in the {'figure copies' if figures else 'pages'} "
        f"({len(files)} files, {time.perf_counter() - start:.1f} s)")
    return 1 if findings else 0


class PrivacyPrescan:
    """Scans, ahead of the check of the built site, files of which the site will carry
    byte-identical copies, so that the check then skips them: the staged sources (notebooks,
    text pages, CSVs) while Sphinx runs, and the figure copies as they are drawn. Findings
    here are not reported: a file with a finding is never remembered as passed, so the check
    of the built site reports it."""

    def __init__(self) -> None:
        self.copies_scanned: set[str] = set()  # a copy's name is a hash of its content

    def sources_and_copies(self) -> None:
        from helpers.site import privacy

        privacy.check_site(SITE_SOURCE_DIR, files=privacy.site_files(SITE_SOURCE_DIR),
                           passed_cache=privacy_cache(), stamp=site_stamp_line())
        self.new_copies()

    def new_copies(self) -> None:
        from helpers.site import privacy

        new = [p for p in sorted(FIGURES_DRAWN_DIR.glob("fig-*.svg")) if p.name not in self.copies_scanned]
        if new:
            privacy.check_site(FIGURES_DRAWN_DIR, files=new, passed_cache=privacy_cache(), stamp=site_stamp_line())
            self.copies_scanned.update(p.name for p in new)


class FigureExport:
    """Static SVG/PNG copies of the figures (:mod:`helpers.site.export_figures`), drawn by a
    background process while the chapters execute and Sphinx renders; without Debian's
    Chromium they are skipped with a note."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled and self.available()
        self.wanted = enabled  # asked for (it may still lack Chromium)
        self.process: subprocess.Popen | None = None
        self.done_flag = FIGURE_SPECS_DIR.parent / ".chapters-done"
        self.log_path = FIGURE_SPECS_DIR.parent / "export.log"

    def available(self) -> bool:
        from helpers.site import export_figures

        return Path(export_figures.CHROMIUM).exists()

    def start(self) -> None:
        """Start drawing in the background when there is something to draw already."""
        from helpers.site import export_figures

        self.done_flag.unlink(missing_ok=True)
        if not self.enabled or not export_figures.pending(FIGURE_SPECS_DIR, FIGURES_DRAWN_DIR):
            return
        FIGURE_SPECS_DIR.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("w") as log_file:  # a file, not a pipe: nothing can block the drawing
            self.process = subprocess.Popen(
                [sys.executable, "-m", "helpers.site.export_figures", "--specs", str(FIGURE_SPECS_DIR),
                 "--drawn", str(FIGURES_DRAWN_DIR), "--until", str(self.done_flag)],
                cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT)

    def finish(self, names: list[str], meanwhile=None) -> int:
        """Wait for the drawing (every chapter has run) and put the copies into the site;
        ``meanwhile()`` is called repeatedly while the drawing goes on."""
        from helpers.site import export_figures

        if not self.enabled:
            export_figures.publish(FIGURE_SPECS_DIR, FIGURES_DRAWN_DIR, HTML_DIR, [])  # none linked, none kept
            if self.wanted:
                log("static figure copies skipped: /usr/bin/chromium is not installed (make browser)")
            return 0
        start = time.perf_counter()
        if self.process is not None:
            self.done_flag.touch()
            deadline = time.perf_counter() + 900
            while self.process.poll() is None and time.perf_counter() < deadline:
                if meanwhile:
                    meanwhile()
                time.sleep(0.1)
            self.process.wait(timeout=max(1.0, deadline - time.perf_counter()))
            output = self.log_path.read_text()
            if self.process.returncode != 0:
                print(output[-4000:], file=sys.stderr)
                log("static figure export FAILED")
                return 1
            report = json.loads(output.strip().splitlines()[-1])
            log(f"static figures: {report['drawn']} drawn in {report['seconds']} s in the background "
                f"(waited {time.perf_counter() - start:.1f} s for it)")
        elif export_figures.pending(FIGURE_SPECS_DIR, FIGURES_DRAWN_DIR):  # figures new since start()
            drawn = export_figures.draw(FIGURE_SPECS_DIR, FIGURES_DRAWN_DIR)
            log(f"static figures: {drawn} drawn in {time.perf_counter() - start:.1f} s")
        missing = export_figures.publish(FIGURE_SPECS_DIR, FIGURES_DRAWN_DIR, HTML_DIR, names,
                                         stamp=site_stamp_line())
        if missing:
            log(f"static figure export FAILED: no copy of {', '.join(missing)}")
            return 1
        return 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


# -------------------------------------------------------------------- main --

def execute_book(pool: futures.Executor, workers: int, names: list[str], params: Parameters, force: bool = False,
                 allow_absent: bool = False, regenerate_seed: int | None = None,
                 on_idle=None) -> list[ChapterResult] | None:
    """Steps 1-4 of the build in ``pool``: the chapters (skipping those whose inputs are
    unchanged), the data regenerated meanwhile when ``regenerate_seed`` is given, the ledger
    merged and cross-checked, then the last chapters. None when the twins disagree or the ledger
    fails its cross-check (both logged); else every chapter's result, failures included."""
    first = [n for n in names if n not in LAST_CHAPTERS]
    last = [n for n in names if n in LAST_CHAPTERS]
    pending = start_chapters(pool, first, params, force, allow_absent)
    problems = pairing_problems(names)  # checked while the first chapters start
    if problems:
        pool.shutdown(wait=True, cancel_futures=True)
        log("text/notebook twins out of sync:\n  " + "\n  ".join(problems))
        return None
    # The generated data are checked while the chapters run: the generators are
    # deterministic, so this rewrites nothing unless they changed. When it did, the
    # chapters that ran on the old files run again (their input digests changed).
    changed = 0 if regenerate_seed is None else regenerate(regenerate_seed)
    results = finish_chapters(pending, workers, None if changed else on_idle)
    if changed:
        log("generated data changed while the chapters ran: running them on the new data")
        results = finish_chapters(start_chapters(pool, first, params, force, allow_absent), workers, on_idle)
    if any(r.status == "failed" for r in results):
        return results
    if not merge_and_cross_check(first, from_notebook(params.data_dir)):
        shutil.rmtree(HTML_DIR, ignore_errors=True)
        return None
    return results + finish_chapters(start_chapters(pool, last, params, force, allow_absent), workers)


LEDGER_STAMP = BUILD_DIR / "ledger-inputs.sha256"


def ledger_digest(chapters: list[str], data_dir: Path) -> str:
    """Fingerprint of what the merged ledger and its cross-check read and wrote: the chapters'
    ledger parts, the registers, the data, the R oracle (script, fixture, fingerprint), the
    helpers' code, and the merged ledger and cross-check report themselves."""
    from helpers.paths import CLAIMS_CSV, ORACLE_FINGERPRINT, ORACLE_FIXTURE, ORACLE_SCRIPT

    # an Rscript installed since then can check data the committed fixture is not for
    digest = hashlib.sha256(json.dumps([sorted(chapters), shutil.which("Rscript") is not None]).encode())
    made = [BUILD_DIR / "reproduction-ledger.csv", BUILD_DIR / CROSSCHECK_NAME]
    read = [REGISTER_CSV, CLAIMS_CSV, ORACLE_SCRIPT, ORACLE_FIXTURE, ORACLE_FINGERPRINT, *made]
    digest.update(json.dumps([p.is_file() for p in read]).encode())
    _hash_files(digest, [p for p in read if p.is_file()])
    # rglob: the claim parts are in a folder of their own (ledger/claims/)
    _hash_files(digest, [p for p in LEDGER_PARTS_DIR.rglob("*") if p.is_file()] if LEDGER_PARTS_DIR.is_dir() else [])
    _hash_files(digest, [p for p in data_dir.rglob("*") if p.is_file()] if data_dir.is_dir() else [])
    _hash_files(digest, kernel_sources())
    return digest.hexdigest()


def merge_and_cross_check(chapters: list[str], data_dir: Path) -> bool:
    """Merge the chapters' ledger parts and check the ledger against R
    (:func:`cross_check_ledger`), unless nothing either reads or wrote has changed since they
    last passed (a rebuild after a text edit, or after none: 1.4 s, most of it importing the
    ledger's code). False when the cross-check fails."""
    if LEDGER_STAMP.exists() and LEDGER_STAMP.read_text() == ledger_digest(chapters, data_dir):
        log("ledger: parts, registers, data and oracle unchanged since it last agreed with R")
        return True
    from helpers.reproduction.ledger import merge_ledger

    LEDGER_STAMP.unlink(missing_ok=True)
    merge_ledger(LEDGER_PARTS_DIR, BUILD_DIR / "reproduction-ledger.csv", chapters=chapters, data_dir=data_dir)
    if cross_check_ledger(BUILD_DIR / "reproduction-ledger.csv", data_dir):
        return False
    LEDGER_STAMP.write_text(ledger_digest(chapters, data_dir))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site.build", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(SYNTHETIC_DIR),
                        help="folder of cohort CSVs in the data contract (default: the synthetic cohorts)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed passed to every chapter")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="chapters executed at once")
    parser.add_argument("--force", action="store_true", help="re-execute every chapter")
    parser.add_argument("--no-site", action="store_true", help="execute chapters but do not build HTML")
    parser.add_argument("--no-figure-copies", action="store_true",
                        help="do not draw static SVG/PNG copies of the figures (pages then link none)")
    parser.add_argument("--no-regenerate", action="store_true", help="do not regenerate synthetic data")
    parser.add_argument("--allow-absent", action="store_true",
                        help="a chapter stopped by absent data becomes a 'no data for this chapter' page "
                             "instead of failing the build (used by python -m helpers.site.intake)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    names = chapters()
    params = Parameters(data_dir=for_notebook(args.data_dir), seed=args.seed)
    workers = max(1, min(args.jobs, len(names) - len(LAST_CHAPTERS)))
    export = FigureExport(enabled=not (args.no_site or args.no_figure_copies))
    chapter_environment = {FIGURE_COPIES_ENV: "1" if export.enabled else "0"}  # read by the kernels
    # The figure copies are drawn on the first core the chapters leave idle, alongside the
    # last chapters, the ledger and Sphinx (they need only the figures' specs).
    on_idle = export.start if export.enabled else None
    os.environ.update(chapter_environment)  # the chapters' input digests read it, here as in the workers
    # Warming up (8 s: the stack imported, the cohorts validated) only when a chapter will run:
    # it was most of a no-change rebuild. Should regeneration change the data meanwhile, the
    # chapters still run, in kernels that import the stack themselves.
    warm = args.force or not all(is_current(n, chapter_inputs_digest(n, params)) for n in names)
    try:
        with futures.ProcessPoolExecutor(max_workers=workers,
                                         mp_context=worker_context(params.data_dir) if warm else None,
                                         initializer=prepare_worker,
                                         initargs=(chapter_environment, params.data_dir, warm, workers)) as pool:
            results = execute_book(pool, workers, names, params, args.force, args.allow_absent,
                                   regenerate_seed=None if args.no_regenerate else args.seed, on_idle=on_idle)
            if results is None:
                return 1
            failed = [r for r in results if r.status == "failed"]
        if failed:
            for result in failed:
                print(f"\n=== chapter '{result.chapter}' failed ===\n{result.error}\n", file=sys.stderr)
            shutil.rmtree(HTML_DIR, ignore_errors=True)  # never leave a stale site to publish
            log(f"FAILED: {', '.join(r.chapter for r in failed)}; the site was not built")
            return 1
        code = 0
        if not args.no_site:
            stage_site(names, from_notebook(params.data_dir))
            prescan = PrivacyPrescan()
            code = build_site(strict=True, meanwhile=prescan.sources_and_copies)
            if not code:
                code = privacy_check(figures=False)  # while the figure copies are still drawn
            if not code:
                code = export.finish(names, meanwhile=prescan.new_copies)
            if not code and export.enabled:
                code = privacy_check(figures=True)
            if code:
                shutil.rmtree(HTML_DIR, ignore_errors=True)
    finally:
        export.stop()
    executed = sum(r.status == "executed" for r in results)
    new_text = sum(r.status == "new text" for r in results)
    absent = [r.chapter for r in results if r.status == "absent"]
    log(f"{'done' if code == 0 else 'FAILED'} in {time.perf_counter() - start:.1f} s "
        f"({executed} executed, " + (f"{new_text} with new text only, " if new_text else "")
        + f"{len(results) - executed - new_text - len(absent)} unchanged"
        + (f", {len(absent)} without data: {', '.join(absent)}" if absent else "") + f") -> {HTML_DIR}")
    return code


if __name__ == "__main__":
    sys.exit(main())
