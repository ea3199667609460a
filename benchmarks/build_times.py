"""Benchmark the book's build, printed as one table. Run with ``make bench``.

Measures, in one run on this machine, in a build folder of its own (``--out``, default
``/tmp/cart-bench``; the repository's ``_build`` is not touched):

(a) a clean build (execute every chapter + render) with the book's runner, against
    Jupyter Book's own execution (``execute_notebooks: force``) of the same chapters: the
    runner doing the same work (``--no-figure-copies``; its privacy scan stays on) with warm
    kernels and with cold ones (``CART_BOOK_COLD_KERNELS=1``: a new process per chapter), and
    the runner doing all that ``make book`` does (also drawing an SVG and a PNG of every figure);
    each with the peak memory (RSS summed over the build's process tree, sampled every 0.1 s);
(b) a rebuild with nothing changed;
(c) a rebuild after editing one chapter: a sentence of its text, then a code cell;
(d) the weight of every page and of the shared assets;
(e) the time until the heaviest page's figures are drawn in headless Chromium;
(f) the live preview (``make preview``): seconds from saving an edit of a chapter's text, then
    of its code, until the preview serves the new page.

Targets (issue 18): (a) >= 2.5x Jupyter Book's own execution, all of ``make book`` >= 2x;
(b) < 5 % of (a); (c) < 15 % of (a); (d) no page over 400 KB beyond the shared assets;
(e) under 1.5 s; (f) text <= 3 s, code <= 6 s. The tests never run this script.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))
if __name__ == "__main__":  # the build folder is chosen before helpers.paths reads it
    _out = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--out=")), "/tmp/cart-bench")
    os.environ["CART_BOOK_OUTPUT"] = _out

from measure import as_make_runs_it, run_measured  # noqa: E402

from helpers.site import (  # noqa: E402
    build,
    export_figures,
)

BUILD = build.BUILD_DIR
HTML = build.HTML_DIR
CHROMIUM = export_figures.CHROMIUM


PEAK_RSS: dict[str, int] = {}  # bytes, by what was measured


def run(command: list[str], label: str = "", env: dict | None = None, **kwargs) -> float:
    seconds, peak, output, code = run_measured(command, env={**os.environ, **(env or {})}, **kwargs)
    if code != 0:
        sys.exit(f"failed: {' '.join(command)}\n{output[-6000:]}")
    if label:
        PEAK_RSS[label] = max(PEAK_RSS.get(label, 0), peak)
    return seconds


def our_build(*args: str, label: str = "", env: dict | None = None) -> float:
    return run([sys.executable, "-m", "helpers.site.build", *args], label=label, env=env, cwd=ROOT)


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
    return run([jupyter_book, "build", str(site), "--path-output", str(workdir)], label="jb", cwd=workdir)


EDITS = {"text": "\nA sentence added by the benchmark.\n",
         "code": "\n```{code-cell} ipython3\nprint('printed by the benchmark')\n```\n"}


def edit_one_chapter(kind: str = "text") -> dict[Path, bytes]:
    """Add a sentence (``kind`` "text") or a code cell ("code") to one chapter's text twin and
    sync its notebook twin (restored afterwards)."""
    text = ROOT / "book" / "baselines.md"
    notebook = ROOT / "notebooks" / "baselines.ipynb"
    originals = {text: text.read_bytes(), notebook: notebook.read_bytes()}
    text.write_text(text.read_text() + EDITS[kind])
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
            # A function, not an expression: Playwright evals an expression, which the site's CSP refuses.
            tab.wait_for_function(
                f"() => document.querySelectorAll('.plotly-graph-div svg.main-svg').length >= {max(expected, 1)}",
                timeout=60000)
            timings.append(time.perf_counter() - start)
            tab.close()
        browser.close()
    return sorted(timings)[len(timings) // 2]


def preview_edits(port: int = 8766) -> tuple[float, float]:
    """Seconds until the live preview serves a chapter's edited text, then its edited code."""
    import urllib.request

    def fetch(path: str) -> bytes:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).read()

    def until_shown(marker: bytes, start: float) -> float:
        while marker not in fetch("/book/baselines.html"):
            if time.perf_counter() - start > 300:
                log.seek(0)
                sys.exit(f"the preview did not show the edit within 300 s:\n{log.read()[-3000:]}")
            time.sleep(0.05)
        return time.perf_counter() - start

    text, notebook = ROOT / "book" / "baselines.md", ROOT / "notebooks" / "baselines.ipynb"
    originals = {text: text.read_bytes(), notebook: notebook.read_bytes()}
    log = tempfile.TemporaryFile("w+")
    server = subprocess.Popen([sys.executable, "-m", "helpers.site.preview", "--port", str(port)], cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT, text=True, env=as_make_runs_it())
    try:
        while True:  # ready once it serves
            try:
                fetch("/_preview/version")
                break
            except OSError:
                if server.poll() is not None:
                    log.seek(0)
                    sys.exit(f"the preview stopped:\n{log.read()[-3000:]}")
                time.sleep(0.2)
        start = time.perf_counter()
        text.write_text(text.read_text() + "\nA sentence added by the benchmark.\n")
        text_seconds = until_shown(b"A sentence added by the benchmark.", start)
        start = time.perf_counter()
        text.write_text(text.read_text() + "\n```{code-cell} ipython3\nprint('printed by the benchmark')\n```\n")
        code_seconds = until_shown(b"printed by the benchmark", start)
    finally:
        for path, content in originals.items():
            path.write_bytes(content)
        server.terminate()
        server.wait(timeout=30)
        log.close()
    return text_seconds, code_seconds


def progress(*labelled) -> None:
    """Each measure as it is taken, on stderr: a run that fails later keeps what it measured."""
    pairs = zip(labelled[::2], labelled[1::2])
    print("; ".join(f"{label} {', '.join(f'{v:.2f}' for v in values)}" for label, values in pairs),
          file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="/tmp/cart-bench", help="build folder (read before this parser runs)")
    parser.add_argument("--skip-jupyter-book", action="store_true", help="skip (a)'s comparison build")
    parser.add_argument("--repeat", type=int, default=1,
                        help="clean builds of each kind, alternating (the median is reported)")
    args = parser.parse_args([a for a in sys.argv[1:] if not a.startswith("--out=")])

    cleans, leans, colds, forced = [], [], [], []
    cold = {"CART_BOOK_COLD_KERNELS": "1"}
    for _ in range(args.repeat):  # alternating, so a noisy spell on the machine hits every kind
        shutil.rmtree(BUILD, ignore_errors=True)
        leans.append(our_build("--no-figure-copies", label="lean"))  # the same work as Jupyter Book's
        shutil.rmtree(BUILD, ignore_errors=True)
        colds.append(our_build("--no-figure-copies", label="cold", env=cold))
        shutil.rmtree(BUILD, ignore_errors=True)
        cleans.append(our_build(label="clean"))  # everything `make book` does
        if not args.skip_jupyter_book:
            forced.append(jupyter_book_force(BUILD.parent / "jupyter-book-force"))
    clean, lean, cold_lean = statistics.median(cleans), statistics.median(leans), statistics.median(colds)
    jb_force = statistics.median(forced) if forced else None
    progress("clean builds: runner (lean)", leans, "JB force", forced, "make book", cleans, "cold", colds)
    unchangeds, one_chapters, code_edits = [], [], []
    for _ in range(args.repeat):
        unchangeds.append(our_build())
        for kind, times in (("text", one_chapters), ("code", code_edits)):
            originals = edit_one_chapter(kind)
            try:
                times.append(our_build("--no-regenerate"))
            finally:
                for path, content in originals.items():
                    path.write_bytes(content)
            our_build()  # leave the site matching the committed sources
    unchanged, one_chapter = statistics.median(unchangeds), statistics.median(one_chapters)
    code_edit = statistics.median(code_edits)
    progress("no-change", unchangeds, "one chapter, text", one_chapters, "one chapter, code", code_edits)
    pages, shared, downloads = page_weights()
    heaviest = pages[0][0]
    draw = time_to_draw(HTML / f"{heaviest}.html") if Path(CHROMIUM).exists() else float("nan")
    progress(f"heaviest page {heaviest}: {pages[0][1] / 1024:.0f} KB, drawn in", [draw])
    previews = []
    for _ in range(args.repeat):
        previews.append(preview_edits())
        our_build()  # the chapter the preview ran with the benchmark's cell runs again without it
    progress("preview text", [p[0] for p in previews], "preview code", [p[1] for p in previews])
    preview_text = statistics.median(p[0] for p in previews)
    preview_code = statistics.median(p[1] for p in previews)

    print(f"machine: {platform.platform()}; {os.cpu_count()} cores; "
          f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB; Python "
          f"{platform.python_version()}; {len(build.chapters())} executed chapters, {len(pages)} pages")
    spread = (lambda runs: f"median of {len(runs)}: {', '.join(f'{r:.1f}' for r in runs)}" if len(runs) > 1 else "")
    rss = (lambda label: f"; peak RSS {PEAK_RSS[label] / 2**30:.2f} GiB")
    rows = []
    if jb_force is not None:
        rows.append(("(a) clean build, Jupyter Book force", f"{jb_force:.1f} s",
                     "execute + render" + rss("jb") + "; " + spread(forced)))
    faster = (lambda ours, target: f"; {jb_force / ours:.2f}x faster (target >= {target}x)" if jb_force else "")
    rows += [("(a) clean build, runner, execute + render", f"{lean:.1f} s",
              "--no-figure-copies, warm kernels" + faster(lean, 2.5) + rss("lean") + "; " + spread(leans)),
             ("(a) same, cold kernels", f"{cold_lean:.1f} s",
              "CART_BOOK_COLD_KERNELS=1" + faster(cold_lean, 2.5) + rss("cold") + "; " + spread(colds)),
             ("(a) clean build, runner, all of make book", f"{clean:.1f} s",
              "+ SVG/PNG copy of every figure" + faster(clean, 2) + rss("clean") + "; " + spread(cleans))]
    rows += [
        ("(b) no-change rebuild", f"{unchanged:.1f} s",
         f"{100 * unchanged / clean:.0f}% of clean (target < 5%); " + spread(unchangeds)),
        ("(c) one chapter edited: a sentence", f"{one_chapter:.1f} s",
         f"{100 * one_chapter / clean:.0f}% of clean (target < 15%); " + spread(one_chapters)),
        ("(c) one chapter edited: a code cell", f"{code_edit:.1f} s",
         f"{100 * code_edit / clean:.0f}% of clean (the chapter runs again); " + spread(code_edits)),
        ("(d) shared assets (_static)", f"{shared / 1024:.0f} KB", "loaded once, cached across pages"),
        ("(d) downloads (CSVs, SVG/PNG copies)", f"{downloads / 1024:.0f} KB", "fetched only when clicked"),
    ]
    rows += [(f"(d) page {doc}", f"{size / 1024:.0f} KB", "target < 400 KB") for doc, size in pages]
    rows.append((f"(e) figures drawn, {heaviest}", f"{draw:.2f} s", "median of 3 (target < 1.5 s)"))
    rows += [("(f) preview, text edit on the page", f"{preview_text:.1f} s",
              "baselines (target <= 3 s); " + spread([p[0] for p in previews])),
             ("(f) preview, code edit on the page", f"{preview_code:.1f} s",
              "baselines (target <= 6 s); " + spread([p[1] for p in previews]))]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>10}  {note}")


if __name__ == "__main__":
    main()
