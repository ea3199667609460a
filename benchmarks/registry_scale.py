"""Registry scale: the whole book on a synthetic registry (10,000 patients by default), against the 134-patient book.

Run from the repository root (it takes a few minutes; the tests never run it)::

    .venv/bin/python benchmarks/registry_scale.py --out /tmp/registry-scale
    .venv/bin/python benchmarks/registry_scale.py --out /tmp/registry-scale --patients 100000
    .venv/bin/python benchmarks/registry_scale.py --patients 100000 --repeat 3   # medians of 3 rounds

It measures, on this machine, in one run:

1. the time to generate the registry (``helpers.synthetic.registry``: study ``REG``,
   ``--patients`` patients, every contract table);
2. a forced build of the book on its own synthetic cohorts (studies 000, 001, 003,
   004; 134 + 2 + 38 + 51 patients) into ``<out>/book``, each round from an empty build folder;
3. a forced build of the book on the registry through the intake command
   (``python -m helpers.site.intake``: validation, then the build with ``--allow-absent``)
   into ``<out>/registry``;

and prints one table: the ratio (3) / (2), the target being **under 3**, the heaviest page of
each site (target under 400 KB), the peak memory of each build (target under 4 GB) and the
seconds of every chapter and of each phase (validation before the build, the build's warm-up that
validates the cohorts once for its workers, the chapters, the site; from when the build's lines
arrive). Memory is measured three ways, over the build's whole process tree (the build, its
workers, kernels, Sphinx, Chromium) sampled every 0.2 s from /proc: the peak of the summed
proportional set size (PSS: a page shared by k forked processes counts 1/k in each, so the sum
is the memory the machine needed) -- the number the 4 GB target is judged on; the peak of the
summed resident set (a shared page counts once per process, so it errs high once workers and
kernels are forked from a process holding the cohorts); and the largest single process
(``ru_maxrss`` of the waited-for children, from ``resource.getrusage``). Both builds execute
every chapter (``--force``), build the site strictly, draw the static figures and
run the privacy check. It also reports the chapters the registry build showed as
"no data for this chapter" (a chapter without a section for other cohorts yet),
the heaviest page of each site, and the per-chapter execution times. The numbers
are written to ``<out>/registry_scale.json``; exit status 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measure import as_make_runs_it, tree_memory  # noqa: E402

from helpers.synthetic import registry  # noqa: E402

TARGET = 3.0
PAGE_TARGET_KB = 400  # KB of 1,024 bytes, as tests/test_page_weight.py and build_times.py count them
RSS_TARGET_GB = 4.0


class TreeMemory:
    """Peaks of the summed RSS and of the summed PSS of a process and all its descendants, sampled."""

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every, self.peak_rss, self.peak_pss = pid, every, 0, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.is_set():
            rss, pss = tree_memory(self.pid)
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self._done.wait(self.every)

    def stop(self) -> tuple[int, int]:
        self._done.set()
        self._thread.join()
        return self.peak_rss, self.peak_pss


def timed(command: list[str], env: dict) -> tuple[float, str, dict, list[tuple[float, str]]]:
    """Run ``command``; its wall seconds, output, peak memory (tree sums, largest process) and
    every output line with the second it arrived (for the phases)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    memory = TreeMemory(process.pid)
    lines = [(time.perf_counter() - start, line) for line in process.stdout]
    process.wait()
    seconds = time.perf_counter() - start
    tree_rss, tree_pss = memory.stop()
    output = "".join(line for _, line in lines)
    if process.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{output[-6000:]}")
    # ru_maxrss (KiB on Linux) is the largest waited-for child so far: a maximum over this and earlier runs
    largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, output, {"tree_peak_gb": round(tree_rss / 1e9, 2), "tree_pss_peak_gb": round(tree_pss / 1e9, 2),
                             "largest_process_gb": round(largest / 1e9, 2)}, lines


def median_run(runs: list[tuple]) -> tuple:
    """The run of median wall time (its log, lines and phases), with the highest memory peaks of
    all runs and every run's seconds (``runs_s``) beside them."""
    ordered = sorted(runs, key=lambda run: run[0])
    seconds, output, memory, lines = ordered[len(ordered) // 2]
    memory = {key: max(run[2][key] for run in runs) for key in memory}
    memory["runs_s"] = [round(run[0], 1) for run in runs]
    return seconds, output, memory, lines


def phases(lines: list[tuple[float, str]], total: float) -> dict:
    """Wall seconds of each phase, from when the build's lines arrived: validation before the
    build (the intake's), the build's warm-up (stack imported, cohorts validated once), the
    chapters (to the last chapter's line) and the site (the rest)."""
    build = [(t, line) for t, line in lines if line.startswith("[build] ")]
    if not build:
        return {}
    warm = next(((t, float(m.group(1))) for t, line in build
                 if (m := re.search(r"warm-up .* in ([\d.]+) s", line))), None)
    build_start = (warm[0] - warm[1]) if warm else build[0][0]
    chapters_end = max((t for t, line in build if re.search(r"\s(executed|absent|skipped)\s+[\d.]+ s", line)),
                       default=build_start)
    return {"before_build_s": round(build_start, 1), "warm_up_s": round(warm[1], 1) if warm else None,
            "chapters_s": round(chapters_end - build_start - (warm[1] if warm else 0), 1),
            "site_s": round(total - chapters_end, 1)}


def chapter_times(output: str) -> dict:
    found = {}
    for name, status, seconds in re.findall(r"\[build\] (\S+)\s+(executed|absent|skipped)\s+([\d.]+) s", output):
        found[name] = {"status": status, "seconds": float(seconds)}
    return found


def heaviest_page(html_dir: Path) -> tuple[str, int]:
    pages = [(p.relative_to(html_dir).as_posix(), p.stat().st_size) for p in html_dir.rglob("*.html")]
    return max(pages, key=lambda x: x[1])


def pending_sections(folder: Path, notebook: Path, env: dict) -> float:
    """Time (setup included) of the other-cohort sections written for the chapters that do not
    call them yet (survival, expansion, case-reports), executed by papermill on the registry."""
    import nbformat

    cells = [nbformat.v4.new_code_cell(
        "from helpers import chapter, own_data\n"
        f"book = chapter.setup('pending', {str(folder.parent)!r}, 20240101, None)\n"
        "for study in book.other_studies:\n"
        "    own_data.survival_section(book, study)\n"
        "    own_data.expansion_section(book, study)\n"
        "    own_data.courses_section(book, study)")]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, str(notebook))
    seconds, _, _, _ = timed([sys.executable, "-m", "papermill", str(notebook), str(notebook), "--cwd",
                        str(ROOT / "notebooks"), "-k", "python3", "--no-progress-bar"], env)
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="/tmp/registry-scale", help="working folder (replaced)")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--repeat", type=int, default=1,
                        help="builds of each kind, alternating: the median run is reported, memory is the highest")
    args = parser.parse_args(argv)
    out = Path(args.out).resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = as_make_runs_it(dict(os.environ, PYTHONPATH=str(ROOT / "src")))  # as `make` runs the builds
    env.pop("CART_BOOK_ABSOLUTE_DATES", None)

    start = time.perf_counter()
    folder = registry.registry(out / "data", n_patients=args.patients)
    generate = time.perf_counter() - start
    rows = sum(len(p.read_text().splitlines()) - 1 for p in folder.glob("*.csv") if p.name != "provenance.csv")

    books, registries = [], []
    for _ in range(args.repeat):  # alternating, so a noisy spell on the machine hits both kinds
        # Every round is a first build: what an earlier round kept (the validated cohorts, the
        # drawn figure copies, the import graph) would make rounds 2 and 3 a registry build
        # without its validation (7 s against 46 s at 100,000 patients).
        for site in ("book", "registry"):
            shutil.rmtree(out / site, ignore_errors=True)
        books.append(timed(
            [sys.executable, "-m", "helpers.site.build", "--no-regenerate", "--force", "--jobs", str(args.jobs)],
            dict(env, CART_BOOK_OUTPUT=str(out / "book"))))
        registries.append(timed(
            [sys.executable, "-m", "helpers.site.intake", str(out / "data"), "--out", str(out / "registry"),
             "--force", "--jobs", str(args.jobs)], env))
    book_seconds, book_log, book_memory, book_lines = median_run(books)
    registry_seconds, registry_log, registry_memory, registry_lines = median_run(registries)
    (out / "book.log").write_text(book_log)
    (out / "registry.log").write_text(registry_log)
    phase = {"book": phases(book_lines, book_seconds), "registry": phases(registry_lines, registry_seconds)}
    ratio = registry_seconds / book_seconds
    book_chapters, registry_chapters = chapter_times(book_log), chapter_times(registry_log)
    absent = sorted(n for n, r in registry_chapters.items() if r["status"] == "absent")
    pending_seconds = pending_sections(folder, out / "pending-sections.ipynb", env) if absent else 0.0
    bound = (registry_seconds + pending_seconds) / book_seconds
    pages = {"book": heaviest_page(out / "book" / "_build" / "html"),
             "registry": heaviest_page(out / "registry" / "_build" / "html")}
    met = {"ratio": ratio < TARGET, "pages": all(size / 1024 < PAGE_TARGET_KB for _, size in pages.values()),
           "memory": registry_memory["tree_pss_peak_gb"] < RSS_TARGET_GB}

    result = {
        "machine": f"{platform.node()} ({os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB), "
                   f"Python {platform.python_version()}",
        "jobs": args.jobs,
        "registry_patients": args.patients, "registry_rows": rows, "generate_seconds": round(generate, 2),
        "book_build_seconds": round(book_seconds, 1), "registry_build_seconds": round(registry_seconds, 1),
        "ratio": round(ratio, 2), "target": TARGET, "met": met,
        "memory": {"book": book_memory, "registry": registry_memory,
                   "measured": "tree_peak_gb: peak of the summed RSS of the build and all its descendants, "
                               "sampled every 0.2 s from /proc (a page shared by forked processes counts once "
                               "per process); tree_pss_peak_gb: the same for the proportional set size "
                               "(a shared page counts once in all: the memory the machine needed; the target); "
                               "largest_process_gb: ru_maxrss of the largest waited-for child process so far "
                               "(resource.getrusage(RUSAGE_CHILDREN))"},
        "phases": phase,
        "pending_sections_seconds": round(pending_seconds, 1),
        "ratio_upper_bound_with_pending_sections": round(bound, 2),
        "absent_chapters_on_registry": absent,
        "chapters": {n: {"book_s": book_chapters.get(n, {}).get("seconds"),
                         "registry_s": r["seconds"], "registry_status": r["status"]}
                     for n, r in registry_chapters.items()},
        "heaviest_page_book": pages["book"], "heaviest_page_registry": pages["registry"],
    }
    (out / "registry_scale.json").write_text(json.dumps(result, indent=2) + "\n")

    size = f"{args.patients:,} registry"
    print(f"machine: {result['machine']}; builds with --jobs {args.jobs}")
    print(f"{'':<28}{'134-patient book':>18}{size:>20}")
    print(f"{'generation':<28}{'-':>18}{generate:>18.1f} s")
    print(f"{'build (wall)':<28}{book_seconds:>16.1f} s{registry_seconds:>18.1f} s")
    if args.repeat > 1:
        print(f"{'  runs (median shown)':<28}{', '.join(map(str, book_memory['runs_s'])):>18}"
              f"{', '.join(map(str, registry_memory['runs_s'])):>20}")
    print(f"{'ratio vs book (target <3)':<28}{'':>18}{ratio:>20.2f}  {'met' if met['ratio'] else 'MISSED'}")
    print(f"{'heaviest page (KB, <400)':<28}{pages['book'][1] / 1024:>18.0f}{pages['registry'][1] / 1024:>20.0f}"
          f"  book {pages['book'][0]}; registry {pages['registry'][0]}")
    for key, words in (("before_build_s", "validation (intake)"), ("warm_up_s", "warm-up: load once"),
                       ("chapters_s", "chapters (wall)"), ("site_s", "site (wall)")):
        book_value, registry_value = phase["book"].get(key), phase["registry"].get(key)
        print(f"{'  ' + words:<28}{'-' if book_value is None else f'{book_value:.1f} s':>18}"
              f"{'-' if registry_value is None else f'{registry_value:.1f} s':>20}")
    print(f"{'peak PSS, process tree (GB)':<28}{book_memory['tree_pss_peak_gb']:>18.2f}"
          f"{registry_memory['tree_pss_peak_gb']:>20.2f}  {'met' if met['memory'] else 'MISSED'} (<{RSS_TARGET_GB:g})")
    print(f"{'peak RSS sum, tree (GB)':<28}{book_memory['tree_peak_gb']:>18.2f}"
          f"{registry_memory['tree_peak_gb']:>20.2f}  (counts pages shared by forks once per process)")
    print(f"{'largest process so far (GB)':<28}{book_memory['largest_process_gb']:>18.2f}"
          f"{registry_memory['largest_process_gb']:>20.2f}")
    for name, r in result["chapters"].items():
        book_s = f"{r['book_s']:.1f} s" if r["book_s"] is not None else "-"
        print(f"{'  ' + name:<28}{book_s:>18}{r['registry_s']:>18.1f} s  {r['registry_status']}")
    if absent:
        print(f"the sections for other cohorts that the chapters shown as 'no data' do not call yet take "
              f"{pending_seconds:.1f} s on the registry in one notebook; added serially, the ratio is at most "
              f"{bound:.2f}; absent on the registry: {', '.join(absent)}")
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
