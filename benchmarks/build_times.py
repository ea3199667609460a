"""Benchmark the book's build, printed as one table. Run with ``make bench``.

Measures, in one run on this machine:

(a) a clean build (execute every chapter + render) with the book's runner, against
    Jupyter Book's own execution (``execute_notebooks: force``) of the same chapters: the
    runner doing the same work (``--no-figure-copies``; its privacy scan stays on), and the
    runner doing all that ``make book`` does (also drawing an SVG and a PNG of every figure);
(b) a rebuild with nothing changed;
(c) a rebuild after editing one chapter;
(d) the weight of every page and of the shared assets;
(e) the time until the heaviest page's figures are drawn in headless Chromium.

Targets (issue 8): (a) ratio >= 1.5; (b) < 10 % of (a); (c) < 35 % of (a);
(d) no page over 400 KB beyond the shared assets; (e) under 2 s.
The tests never run this script.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from helpers.site import (
    build,
    export_figures,  # noqa: E402
)

BUILD = build.BUILD_DIR
HTML = build.HTML_DIR
CHROMIUM = export_figures.CHROMIUM


def run(command: list[str], **kwargs) -> float:
    start = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{completed.stdout[-2000:]}\n{completed.stderr[-4000:]}")
    return seconds


def our_build(*args: str) -> float:
    return run([sys.executable, "-m", "helpers.site.build", *args], cwd=ROOT)


def jupyter_book_force(workdir: Path) -> float:
    """The same chapters and pages, executed by Jupyter Book itself (serially) and rendered."""
    shutil.rmtree(workdir, ignore_errors=True)
    site = workdir / "site"
    shutil.copytree(build.SITE_SOURCE_DIR, site)
    for chapter in build.chapters():  # un-executed notebooks in place of the executed ones
        shutil.copy(build.NOTEBOOKS_DIR / f"{chapter}.ipynb", site / "book" / f"{chapter}.ipynb")
    # Chapters read ../data relative to their folder, as in the repository.
    (site / "data").symlink_to(ROOT / "data")
    config = yaml.safe_load((site / "_config.yml").read_text())
    config["execute"] = {"execute_notebooks": "force", "timeout": 600}
    (site / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    jupyter_book = str(Path(sys.executable).with_name("jupyter-book"))
    return run([jupyter_book, "build", str(site), "--path-output", str(workdir)], cwd=workdir)


def edit_one_chapter() -> dict[Path, bytes]:
    """Add a sentence to one chapter's text twin and sync its notebook twin (restored afterwards)."""
    text = ROOT / "book" / "baselines.md"
    notebook = ROOT / "notebooks" / "baselines.ipynb"
    originals = {text: text.read_bytes(), notebook: notebook.read_bytes()}
    text.write_text(text.read_text() + "\nA sentence added by the benchmark.\n")
    subprocess.run([str(Path(sys.executable).with_name("jupytext")), "--sync", str(text)], cwd=ROOT,
                   check=True, capture_output=True)
    return originals


def page_weights() -> tuple[list[tuple[str, int]], int, int]:
    """Bytes of each page's HTML, of the shared assets pages load (theme, search, plotly.js),
    and of the downloads (result CSVs, static SVG/PNG figure copies), fetched only on a click."""
    static = [p for p in (HTML / "_static").rglob("*") if p.is_file()]
    on_click = [p for p in static if {"downloads", "figures"} & set(p.relative_to(HTML / "_static").parts[:1])]
    shared = sum(p.stat().st_size for p in static) - sum(p.stat().st_size for p in on_click)
    pages = [(doc, (HTML / f"{doc}.html").stat().st_size) for doc in build.toc_files()]
    return sorted(pages, key=lambda item: -item[1]), shared, sum(p.stat().st_size for p in on_click)


def time_to_draw(page: Path, repeats: int = 3) -> float:
    """Seconds from navigation start until every plotly figure on the page has drawn its SVG."""
    from playwright.sync_api import sync_playwright

    expected = page.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    timings = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=export_figures.CHROMIUM_ARGS)
        for _ in range(repeats):
            tab = browser.new_page()
            start = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="commit")
            tab.wait_for_function(
                f"document.querySelectorAll('.plotly-graph-div svg.main-svg').length >= {max(expected, 1)}",
                timeout=60000)
            timings.append(time.perf_counter() - start)
            tab.close()
        browser.close()
    return sorted(timings)[len(timings) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-jupyter-book", action="store_true", help="skip (a)'s comparison build")
    parser.add_argument("--repeat", type=int, default=1,
                        help="clean builds of each kind, alternating (the median is reported)")
    args = parser.parse_args()

    cleans, leans, forced = [], [], []
    for _ in range(args.repeat):  # alternating, so a noisy spell on the machine hits all three
        shutil.rmtree(BUILD, ignore_errors=True)
        leans.append(our_build("--no-figure-copies"))  # the same work as Jupyter Book's
        shutil.rmtree(BUILD, ignore_errors=True)
        cleans.append(our_build())  # everything `make book` does
        if not args.skip_jupyter_book:
            forced.append(jupyter_book_force(Path("/tmp/cart-bench-jb")))
    clean, lean = statistics.median(cleans), statistics.median(leans)
    jb_force = statistics.median(forced) if forced else None
    unchanged = our_build()
    originals = edit_one_chapter()
    try:
        one_chapter = our_build("--no-regenerate")
    finally:
        for path, content in originals.items():
            path.write_bytes(content)
    our_build()  # leave the site matching the committed sources
    pages, shared, downloads = page_weights()
    heaviest = pages[0][0]
    draw = time_to_draw(HTML / f"{heaviest}.html") if Path(CHROMIUM).exists() else float("nan")

    print(f"machine: {platform.platform()}; {os.cpu_count()} cores; Python {platform.python_version()}; "
          f"{len(build.chapters())} executed chapters, {len(pages)} pages")
    spread = (lambda runs: f"median of {len(runs)}: {', '.join(f'{r:.1f}' for r in runs)}" if len(runs) > 1 else "")
    rows = []
    if jb_force is not None:
        rows.append(("(a) clean build, Jupyter Book force", f"{jb_force:.1f} s",
                     "execute + render; " + spread(forced)))
    faster = (lambda ours: f"; {jb_force / ours:.2f}x faster (target >= 1.5x)" if jb_force else "")
    rows += [("(a) clean build, runner, execute + render", f"{lean:.1f} s",
              "--no-figure-copies (privacy scan included)" + faster(lean) + "; " + spread(leans)),
             ("(a) clean build, runner, all of make book", f"{clean:.1f} s",
              "+ SVG/PNG copy of every figure" + faster(clean) + "; " + spread(cleans))]
    rows += [
        ("(b) no-change rebuild", f"{unchanged:.1f} s", f"{100 * unchanged / clean:.0f}% of clean (target < 10%)"),
        ("(c) one chapter edited", f"{one_chapter:.1f} s",
         f"{100 * one_chapter / clean:.0f}% of clean (target < 35%)"),
        ("(d) shared assets (_static)", f"{shared / 1024:.0f} KB", "loaded once, cached across pages"),
        ("(d) downloads (CSVs, SVG/PNG copies)", f"{downloads / 1024:.0f} KB", "fetched only when clicked"),
    ]
    rows += [(f"(d) page {doc}", f"{size / 1024:.0f} KB", "target < 400 KB") for doc, size in pages]
    rows.append((f"(e) figures drawn, {heaviest}", f"{draw:.2f} s", "median of 3 (target < 2 s)"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
