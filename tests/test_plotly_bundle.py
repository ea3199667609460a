"""The site's one shared plotly.js is a partial bundle (scripts/plotly_bundle.py): it must be the
plotly.js version plotly.py writes its figures for, register exactly the book's trace types, and
draw every figure of the built site exactly as plotly.py's full bundle does."""

import json
import re
from pathlib import Path

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


def test_the_bundle_is_under_a_third_of_the_full_one():
    assert PLOTLY_JS.stat().st_size < FULL_BUNDLE.stat().st_size / 3


def test_a_figure_of_a_trace_type_the_site_cannot_draw_is_refused_when_made():
    heatmap = go.Figure(go.Heatmap(z=[[1, 2], [3, 4]]), layout={"title": {"text": "A heat map"}})
    with pytest.raises(ValueError, match=r"heatmap.*scatter, bar, box, sankey"):
        figures.show(heatmap, name="fig-test-heatmap")
    figures.show(go.Figure(go.Bar(x=[1], y=[2])))  # a drawn type is accepted


# --------------------------------------------------------------- in Chromium --

def _uid_free(svg: str) -> str:
    """An SVG from Plotly.toImage with the random ids plotly.js gives each plot and trace replaced."""
    for uid in set(re.findall(r"defs-([0-9a-f]{6})", svg)):
        svg = svg.replace(uid, "UID")
    return re.sub(r"(trace|UID-|-legend-)[0-9a-f]{6}", r"\1UID", svg)


def _registered_traces(browser, bundle: Path, folder: Path) -> list[str]:
    page_file = folder / "traces.html"
    page_file.write_text(f"<!doctype html><html><head><meta charset='utf-8'></head><body>"
                         f"<script charset='utf-8' src='{bundle.as_uri()}'></script></body></html>")
    page = browser.new_page()
    try:
        page.goto(page_file.as_uri(), wait_until="load")
        return page.evaluate("() => Object.keys(Plotly.PlotSchema.get().traces)")
    finally:
        page.close()


@pytest.mark.build
def test_the_bundle_registers_exactly_the_book_s_trace_types(built, tmp_path):
    from playwright.sync_api import sync_playwright

    from conftest import require_chromium
    from helpers.site.export_figures import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=require_chromium(), args=CHROMIUM_ARGS)
        traces = _registered_traces(browser, PLOTLY_JS, tmp_path)
        browser.close()
    assert sorted(traces) == sorted(figures.SITE_TRACES)


@pytest.mark.build
def test_every_figure_of_the_site_draws_as_with_the_full_bundle(built, tmp_path):
    from conftest import require_chromium
    from helpers.site import export_figures

    require_chromium()
    specs = export_figures.specs(FIGURE_SPECS_DIR)
    used = {trace.get("type", "scatter") for spec in specs.values() for trace in json.loads(spec.read_text())["data"]}
    assert len(specs) >= 30 and {"scatter", "bar", "box", "sankey"} <= used  # the site's figures, all kinds
    # drawn as the build draws its figure copies, once with each plotly.js
    for name, bundle in (("ours", PLOTLY_JS), ("full", FULL_BUNDLE)):
        assert export_figures.draw(FIGURE_SPECS_DIR, tmp_path / name, plotly_js=bundle) == len(specs)
    different = [fid for fid in specs if _uid_free((tmp_path / "ours" / f"{fid}.svg").read_text(encoding="utf-8"))
                 != _uid_free((tmp_path / "full" / f"{fid}.svg").read_text(encoding="utf-8"))]
    assert different == [], f"drawn differently by the partial bundle: {different}"
