"""Figure output helpers: trimmed floats keep five significant digits and nothing else changes."""

import json
import re

import plotly.graph_objects as go

from helpers import plots
from helpers.plots import figures


def test_long_floats_keep_five_significant_digits():
    values = [0.123456789012, 1234.56789012, -0.00012345678901, 98765.4321987, 3.68296]
    trimmed = plots.trim_floats(str(values))
    numbers = [float(x) for x in re.findall(r"-?[\d.]+(?:e-?\d+)?", trimmed)]
    for original, short in zip(values, numbers):
        assert abs(short - original) <= 5e-5 * abs(original)
    assert trimmed == "[0.12346, 1234.6, -0.00012346, 98765, 3.683]"


def test_short_numbers_ids_and_colours_are_untouched():
    text = '{"x": [1, 2.5, 3.125], "marker": {"color": "#0072B2"}, "id": "fig-0a1b2c3d4e5f", "y": 1.0e-05}'
    assert plots.trim_floats(text) == text


def test_figure_html_has_no_plotly_js_and_a_stable_id():
    figure = go.Figure(go.Scatter(x=[0.1234567891234, 2], y=[1, 2]))
    first, second = plots.show(figure)._repr_html_(), plots.show(figure)._repr_html_()
    assert first == second and 'id="fig-' in first
    assert "0.12346" in first and "0.1234567891234" not in first
    assert "plotly.js v" not in first and len(first) < 20_000


def test_pages_link_and_spec_figure_copies_only_when_the_build_draws_them(tmp_path, monkeypatch):
    from helpers import chapters
    from helpers.paths import FIGURE_COPIES_ENV

    figure = go.Figure(go.Bar(x=["a"], y=[1]))
    ledger_dir = tmp_path / "ledger"
    try:
        monkeypatch.setenv(FIGURE_COPIES_ENV, "0")  # no Chromium, or --no-figure-copies
        chapters.configure("chapter", ledger_dir)
        markup = plots.show(figure)._repr_html_()
        assert "_static/figures/" not in markup and not (tmp_path / "figures").exists()
        monkeypatch.setenv(FIGURE_COPIES_ENV, "1")
        chapters.configure("chapter", ledger_dir)
        shown = plots.show(figure)
        markup = shown._repr_html_()
        assert f"../_static/figures/{shown.div_id}.svg" in markup
        spec = tmp_path / "figures" / "specs" / "chapter" / f"{shown.div_id}.json"
        assert go.Figure(json.loads(spec.read_text())).data[0].y == (1,)
    finally:
        chapters.configure("chapter", None)  # leave the module as a hand-run notebook has it


def test_the_template_keeps_colour_scales_only_for_figures_that_read_them():
    """Plotly's default template carries ~0.8 KB of continuous colour scales in every figure; a
    figure drawn with named colours does not read them, one coloured by numbers does."""
    named = figures.compact_template(go.Figure(go.Scatter(x=[1, 2], y=[1, 2], marker={"color": "#0072B2"})))
    by_number = figures.compact_template(go.Figure(go.Scatter(x=[1, 2], y=[1, 2], mode="markers",
                                                            marker={"color": [0.2, 0.9]})))
    heatmap = figures.compact_template(go.Figure(go.Heatmap(z=[[1, 2], [3, 4]])))
    assert "colorscale" not in named["layout"]["template"]["layout"]
    assert "coloraxis" not in named["layout"]["template"]["layout"]
    for spec in (by_number, heatmap):
        assert spec["layout"]["template"]["layout"]["colorscale"]["sequential"][0] == [0.0, "#0d0887"]
