"""Static SVG and PNG copies of every figure of the book (for slides and papers).

Every figure a chapter shows writes its JSON spec to ``_build/figures/specs/<chapter>/``
(:func:`helpers.plots.figures.configure_exports`). This module draws each spec with the site's
plotly.js (its ``Plotly.toImage``) in Debian's Chromium (through Playwright; nothing is
downloaded) into a cache, ``_build/figures/drawn/``, and :func:`publish` copies the current
figures into the built site's ``_static/figures/``.

A figure's id is a hash of its content, so a copy in the cache is up to date by
construction: only new figures are drawn. Drawing needs no built page, so the build runs
it in a background process (``--until``) while the chapters execute and Sphinx renders;
it keeps drawing new specs as they appear until the build says every chapter has run.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Size of a copy when the figure does not fix its own: about the width of the book's text column.
DEFAULT_WIDTH, DEFAULT_HEIGHT = 860, 450
SUFFIXES = (".svg", ".png")

# One plot per figure: the SVG from Plotly.toImage, the PNG by drawing that SVG on a canvas
# at ``scale`` (what Plotly.toImage does for a PNG, without plotting the figure again).
_DRAW = """async ([spec, width, height, scale]) => {
    const figure = JSON.parse(spec);
    const size = {width: (figure.layout || {}).width || width, height: (figure.layout || {}).height || height};
    const svg = await Plotly.toImage(figure, {format: 'svg', ...size});
    const image = new Image();
    await new Promise((resolve, reject) => { image.onload = resolve; image.onerror = reject; image.src = svg; });
    const canvas = document.createElement('canvas');
    canvas.width = size.width * scale;
    canvas.height = size.height * scale;
    canvas.getContext('2d').drawImage(image, 0, 0, canvas.width, canvas.height);
    return [svg, canvas.toDataURL('image/png')];
}"""


def specs(specs_dir: Path, chapters: list[str] | None = None) -> dict[str, Path]:
    """The figure specs of the given chapters (all chapters by default), by figure id."""
    folders = [specs_dir / c for c in chapters] if chapters is not None else \
        [p for p in sorted(Path(specs_dir).glob("*")) if p.is_dir()]
    return {path.stem: path for folder in folders for path in sorted(folder.glob("fig-*.json"))}


def pending(specs_dir: Path, drawn_dir: Path) -> dict[str, Path]:
    """Specs whose SVG or PNG copy is not in the cache yet."""
    return {fid: path for fid, path in specs(specs_dir).items()
            if not all((drawn_dir / f"{fid}{suffix}").exists() for suffix in SUFFIXES)}


def draw(specs_dir: Path, drawn_dir: Path, *, until: Path | None = None, scale: int = 2,
         poll_seconds: float = 0.25, plotly_js: Path | None = None) -> int:
    """Draw every pending spec with ``plotly_js`` (default: the site's); returns how many
    figures were drawn.

    With ``until``, keep watching ``specs_dir`` for new specs until the file ``until``
    exists and nothing is pending (the build creates it when every chapter has run).
    """
    from playwright.sync_api import sync_playwright

    from helpers.paths import PLOTLY_JS

    drawn_dir.mkdir(parents=True, exist_ok=True)
    blank = drawn_dir / ".draw.html"
    blank.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>"
                     f"<script charset='utf-8' src='{(plotly_js or PLOTLY_JS).as_uri()}'></script></body></html>")
    written, parent = 0, os.getppid()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(blank.as_uri(), wait_until="load")
        while True:
            finished = until is None or until.exists()  # read before scanning: specs precede the flag
            todo = pending(specs_dir, drawn_dir)
            for fid, path in todo.items():
                try:
                    spec = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    continue  # the chapter is being re-run and cleared its old specs
                svg, png = page.evaluate(_DRAW, [spec, DEFAULT_WIDTH, DEFAULT_HEIGHT, scale])
                _write(drawn_dir / f"{fid}.svg", _decode(svg))
                _write(drawn_dir / f"{fid}.png", _decode(png))
                written += 1
            if (finished and not todo) or os.getppid() != parent:
                break  # done, or the build that started this watch has gone
            if not todo:
                time.sleep(poll_seconds)
        browser.close()
    blank.unlink(missing_ok=True)
    return written


def publish(specs_dir: Path, drawn_dir: Path, html_dir: Path, chapters: list[str], stamp: str = "") -> list[str]:
    """Put the copies of the chapters' current figures into the site's ``_static/figures``
    (and nothing else), each carrying ``stamp`` in its metadata (:mod:`helpers.site.provenance`).
    Returns the ids that have no copy (empty when all were drawn)."""
    from helpers.site.provenance import stamped

    target = html_dir / "_static" / "figures"
    target.mkdir(parents=True, exist_ok=True)
    wanted, missing = set(), []
    for fid in specs(specs_dir, chapters):
        for suffix in SUFFIXES:
            source, copy = drawn_dir / f"{fid}{suffix}", target / f"{fid}{suffix}"
            if not source.exists():
                missing.append(fid)
                continue
            wanted.add(copy.name)
            data = stamped(copy, source.read_bytes(), stamp) if stamp else source.read_bytes()
            if not copy.exists() or copy.read_bytes() != data:
                copy.write_bytes(data)
    for path in target.iterdir():
        if path.name not in wanted:
            path.unlink()  # a figure no chapter shows any more
    return sorted(set(missing))


def _write(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    partial.replace(path)  # whole or absent: an interrupted run leaves nothing that looks drawn


def _decode(data_url: str) -> bytes:
    header, _, payload = data_url.partition(",")
    if ";base64" in header:
        return base64.b64decode(payload)
    from urllib.parse import unquote

    return unquote(payload).encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site.export_figures",
                                     description="Draw static SVG/PNG copies of the book's figures.")
    parser.add_argument("--specs", type=Path, required=True, help="folder of per-chapter spec folders")
    parser.add_argument("--drawn", type=Path, required=True, help="cache folder for the copies")
    parser.add_argument("--until", type=Path, help="keep watching for new specs until this file exists")
    args = parser.parse_args(argv)
    if args.until:
        os.nice(10)  # in the background of a build: the chapters and Sphinx come first
    start = time.perf_counter()
    written = draw(args.specs, args.drawn, until=args.until)
    print(json.dumps({"drawn": written, "seconds": round(time.perf_counter() - start, 1)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
