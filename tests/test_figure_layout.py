"""Figures read whole on a phone and a wide screen (issue 16): no text of a figure (axis titles,
legend entries, notes, labels) runs past the figure's own box at 1400 or 390 px, where the page
would cut it. A figure of fixed width (plots.figures.WIDE_FIGURE_PX: forest plots, panels side by
side) scrolls inside its box, and its texts are measured against its full width. Measured in
Debian's Chromium on every page of the session build; the rules that make it hold are unit-tested
below on figures built here."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest
from plotly.subplots import make_subplots

from conftest import measure_site
from helpers.plots import figures

# Texts whose box sticks out of their figure's box by more than a pixel (a hidden figure, in a
# closed dropdown, has no width and is skipped). Inside a scroll box the figure's div keeps its
# full width, so its texts are measured against that.
MEASURE = """() => [...document.querySelectorAll('.plotly-graph-div')].map(div => {
  const box = div.getBoundingClientRect();
  if (box.width < 10) return null;
  const cut = [...div.querySelectorAll('svg text')].filter(t => t.textContent.trim()).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent.trim().slice(0, 50), left: Math.round(b.left - box.left),
            right: Math.round(box.right - b.right)};
  }).filter(t => t.left < -1 || t.right < -1);
  const wrap = div.closest('.book-figure-wrap');
  return cut.length ? {figure: wrap ? wrap.dataset.label : div.id, cut: cut.slice(0, 3)} : null;
}).filter(x => x)"""


#: Every figure outside a closed dropdown has been drawn.
DRAWN = ("() => [...document.querySelectorAll('.plotly-graph-div')]"
         ".every(d => d.querySelector('svg') || d.offsetWidth === 0)")


FIGURE_TEXTS = measure_site("figure texts", MEASURE, ready=DRAWN)


@pytest.fixture(scope="module")
def cut_texts(site_measures):
    return {key: found[FIGURE_TEXTS] for key, found in site_measures.items() if found[FIGURE_TEXTS]}


@pytest.mark.build
def test_no_figure_text_is_cut_on_a_wide_screen(cut_texts):
    assert {key: cut for key, cut in cut_texts.items() if key[0] == 1400} == {}


@pytest.mark.build
def test_no_figure_text_is_cut_on_a_phone(cut_texts):
    assert {key: cut for key, cut in cut_texts.items() if key[0] == 390} == {}


def test_long_texts_are_broken_at_spaces_and_markup_is_left_alone():
    line = figures.wrap_line("Months since the landmark (3 months after CAR-T infusion)", 26)
    assert line == "Months since the landmark<br>(3 months after CAR-T<br>infusion)"
    assert figures.wrap_line("A &amp; B " * 3, 12) == "A &amp; B A &amp; B<br>A &amp; B "  # an entity is one character
    assert figures.wrap_line("<b>events/n</b> and a very long header text", 10) == (
        "<b>events/n</b> and a very long header text")
    assert figures.wrap_line("groups of n < 5: points only, a long title", 20) == (
        "groups of n < 5:<br>points only, a long<br>title")


def test_a_figure_with_panels_side_by_side_gets_a_fixed_width_and_a_scroll_box():
    panels = make_subplots(rows=1, cols=2)
    panels.add_scatter(x=[1], y=[1], row=1, col=2)
    stacked = make_subplots(rows=2, cols=1, shared_xaxes=True)  # a KM figure: curves over the risk table
    stacked.add_scatter(x=[1], y=[1], row=2, col=1)
    shown = {name: figures.FigureHTML(fig)._repr_html_() for name, fig in (("panels", panels), ("stacked", stacked))}
    assert "book-figure-scroll" in shown["panels"] and f"{figures.WIDE_FIGURE_PX}px" in shown["panels"]
    assert "book-figure-scroll" not in shown["stacked"]


def test_axis_titles_legend_entries_and_notes_are_wrapped_in_what_is_drawn():
    fig = go.Figure(go.Scatter(x=[1], y=[1], name="Ph+ ALL (n = 121): 60 of 121 drawn at random"))
    fig.update_xaxes(title="Day of the tumour-reduction regimen (day 0 = its first dose)")
    fig.add_annotation(text="a note that is much longer than any phone could show on one line", showarrow=False)
    drawn = figures.compact_template(fig)
    assert drawn["data"][0]["name"] == "Ph+ ALL (n = 121): 60 of 121 drawn<br>at random"
    assert all(len(part) <= figures.PHONE_LINE_CHARS["x_title"] for part in drawn["layout"]["xaxis"]["title"]["text"].split("<br>"))
    assert "<br>" in drawn["layout"]["annotations"][0]["text"]
    assert fig.data[0].name == "Ph+ ALL (n = 121): 60 of 121 drawn at random"  # the figure itself is untouched
