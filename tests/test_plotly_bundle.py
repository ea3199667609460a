"""The site's one shared plotly.js is a partial bundle (scripts/plotly_bundle.py): it must be the
plotly.js version plotly.py writes its figures for, register exactly the book's trace types, and
draw every figure of the built site exactly as plotly.py's full bundle does."""

import json
import re
from pathlib import Path
from urllib.parse import unquote

import plotly
import plotly.graph_objects as go
import pytest

from helpers.paths import FIGURE_SPECS_DIR, PLOTLY_JS
from helpers.plots import figures

FULL_BUNDLE = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def version(bundle: Path) -> str:
    return re.search(r"plotly\.js v(\d+\.\d+\.\d+)", bundle.read_text(encoding="utf-8")[:400]).group(1)


def test_the_bundle_is_the_plotly_js_that_plotly_py_writes_for():
    assert version(PLOTLY_JS) == version(FULL_BUNDLE)


def test_the_bundle_is_a_quarter_of_the_full_one():
    assert PLOTLY_JS.stat().st_size < FULL_BUNDLE.stat().st_size / 3


def test_a_figure_of_a_trace_type_the_site_cannot_draw_is_refused_when_made():
    heatmap = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]), layout={"title": {"text": "A heat map"}})
    with pytest.raises(ValueError, match=r"heatmap.*scatter, bar, box, sankey"):
        figures.show(heatmap, name="fig-test-heatmap")
    figures.show(go.Figure(go.Bar(x=[1], y=[2])))  # a drawn type is accepted


# --------------------------------------------------------------- in Chromium --

def _uid_free(svg_url: str) -> str:
    """An SVG from Plotly.toImage with the random ids plotly.js gives each plot and trace replaced."""
    svg = unquote(svg_url)
    for uid in set(re.findall(r"defs-([0-9a-f]{6})", svg)):
        svg = svg.replace(uid, "UID")
    return re.sub(r"(trace|UID-|-legend-)[0-9a-f]{6}", r"\1UID", svg)


_DRAW = """async ([spec]) => { const f = JSON.parse(spec);
    return await Plotly.toImage(f, {format: 'svg', width: (f.layout || {}).width || 860,
                                    height: (f.layout || {}).height || 450}); }"""


def _draw_all(browser, bundle: Path, specs: list[Path], folder: Path) -> tuple[list[str], list[str]]:
    page_file = folder / f"{bundle.parent.name}.html"
    page_file.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>"
                         f"<script charset='utf-8' src='{bundle.as_uri()}'></script></body></html>")
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri(), wait_until="load")
        traces = page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces)")
        return traces, [_uid_free(page.evaluate(_DRAW, [spec.read_text(encoding="utf-8")])) for spec in specs]
    finally:
        page.close()


@pytest.mark.build
def test_every_figure_of_the_site_draws_as_with_the_full_bundle(built, tmp_path):
    from playwright.sync_api import sync_playwright

    from conftest import require_chromium
    from helpers.site.export_figures import CHROMIUM_ARGS

    specs = sorted(FIGURE_SPECS_DIR.rglob("fig-*.json"))
    used = {trace.get("type", "scatter") for spec in specs for trace in json.loads(spec.read_text())["data"]}
    assert len(specs) >= 30 and {"scatter", "bar", "box", "sankey"} <= used  # the site's figures, all kinds
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        traces, ours = _draw_all(browser, PLOTLY_JS, specs, tmp_path)
        _, full = _draw_all(browser, FULL_BUNDLE, specs, tmp_path)
        browser.close()
    assert sorted(traces) == sorted(figures.SITE_TRACES)
    different = [spec.stem for spec, a, b in zip(specs, ours, full) if a != b]
    assert different == [], f"drawn differently by the partial bundle: {different}"
