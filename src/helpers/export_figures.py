"""Static SVG and PNG copies of every figure of the built site.

Each figure's div id is a hash of its content, so a file that exists is
already up to date: only new figures are drawn. Drawing uses Debian's
Chromium through Playwright and plotly.js's own ``Plotly.toImage`` — the
same renderer the reader's browser uses; nothing is downloaded.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIGURE_ID = re.compile(r'id="(fig-[0-9a-f]{12})" class="plotly-graph-div"')


def pending(html_dir: Path) -> dict[Path, list[str]]:
    """Pages with figures whose SVG or PNG copy is missing."""
    out_dir = html_dir / "_static" / "figures"
    todo = {}
    for page in sorted(html_dir.rglob("*.html")):
        ids = [i for i in FIGURE_ID.findall(page.read_text(encoding="utf-8"))
               if not ((out_dir / f"{i}.svg").exists() and (out_dir / f"{i}.png").exists())]
        if ids:
            todo[page] = ids
    return todo


def export(html_dir: Path, scale: int = 2) -> int:
    """Draw the missing copies; returns how many figures were written."""
    todo = pending(html_dir)
    if not todo:
        return 0
    from playwright.sync_api import sync_playwright

    out_dir = html_dir / "_static" / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        for path, ids in todo.items():
            page.goto(path.as_uri(), wait_until="load")
            for div_id in ids:
                page.wait_for_selector(f"#{div_id} svg.main-svg", timeout=30000)
                svg = page.evaluate(
                    "id => Plotly.toImage(document.getElementById(id), {format: 'svg'})", div_id)
                png = page.evaluate(
                    "([id, scale]) => Plotly.toImage(document.getElementById(id), {format: 'png', scale})",
                    [div_id, scale])
                (out_dir / f"{div_id}.svg").write_bytes(_decode(svg))
                (out_dir / f"{div_id}.png").write_bytes(_decode(png))
                written += 1
        browser.close()
    return written


def _decode(data_url: str) -> bytes:
    header, _, payload = data_url.partition(",")
    if ";base64" in header:
        return base64.b64decode(payload)
    from urllib.parse import unquote

    return unquote(payload).encode("utf-8")
