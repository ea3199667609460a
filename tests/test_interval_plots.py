"""Interval plots show their null value and their numbers: the odds-ratio forest plot in the
layout of tern's g_forest (reference line at OR = 1 on a log axis, events/n and OR (95% CI) as
text beside each row), the adverse-event difference plot (line at 0) and the cytokine ratio plot
(line at 1). Asserted on the figure objects."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from helpers import clinical, plots
from helpers.plots import regression


def null_lines(figure, axis="x"):
    return [s for s in figure.layout.shapes if s.type == "line" and s.xref == axis and s.x0 == s.x1]


@pytest.fixture(scope="module")
def fits():
    """A small data set with one separated factor (every exposed patient responds) and one
    ordinary factor, fitted by ML and Firth, univariable and multivariable."""
    rng = np.random.default_rng(7)
    n = 60
    data = pd.DataFrame({"patient_id": range(n), "a": rng.integers(0, 2, n), "b": rng.integers(0, 2, n)})
    data["y"] = np.where(data["a"] == 1, 1, rng.integers(0, 2, n))
    return regression.compare_methods(data, "y", ["a", "b"], {"a": "Factor A", "b": "Factor B"},
                                      id_column="patient_id"), data


def annotations(figure, name):
    return [a for a in figure.layout.annotations if a.name == name]


def test_forest_has_a_reference_line_at_one_on_a_log_axis(fits):
    figure = regression.forest_figure(fits[0]["table"], panel="model")
    assert figure.layout.xaxis.type == "log"
    lines = null_lines(figure)
    # shapes on a log axis take data values (plotly.js converts them with d2r): 1, not log10(1)
    assert [line.x0 for line in lines] == [1]
    assert lines[0].yref == "y domain" and (lines[0].y0, lines[0].y1) == (0, 1)
    low, high = figure.layout.xaxis.range
    assert low < math.log10(1) < high


def test_forest_writes_each_estimate_as_the_book_prints_it(fits):
    models, _ = fits
    figure = regression.forest_figure(models["table"], panel="model")
    texts = sorted(a.text for a in annotations(figure, "estimate"))
    printed = regression.side_by_side(models["table"])  # the book's table of the same fits
    expected = []
    for _, row in printed.iterrows():
        expected.append(f"ML: {row['ML: OR (95% Wald CI)']}")
        expected.append(f"Firth: {row['Firth: OR (95% profile CI)']}")
    assert texts == sorted(expected)
    assert "ML: ∞ (separation)" in texts, "the separated ML estimate is written as the tables write it"
    # the numbers themselves, two decimals as the tables print them, against the fitted values
    ok = models["table"][~models["table"]["separated"] & (models["table"]["or_value"] < 1000)]
    for _, row in ok.iterrows():
        wanted = f"{row['method']}: {row['or_value']:.2f} ({row['or_lower_value']:.2f}–"
        assert any(t.startswith(wanted) for t in texts), wanted


def test_forest_shows_events_and_n_per_row_with_headers(fits):
    models, data = fits
    figure = regression.forest_figure(models["table"], panel="model")
    rows = list(figure.layout.yaxis.ticktext)
    events = annotations(figure, "events")
    assert len(events) == len(rows)
    complete = data.dropna(subset=["y", "a", "b"])
    expected = f"{int(complete['y'].sum())}/{len(complete)}"
    assert {a.text for a in events} == {expected}
    assert sorted(a.y for a in events) == list(range(len(rows)))
    headers = {a.text for a in annotations(figure, "header")}
    assert headers == {"<b>events/n</b>", "<b>OR (95% CI)</b>"}
    # the text columns sit right of the intervals (in the right margin), events/n first as in g_forest
    placed = {(a.name, a.xref, a.x, a.xanchor, a.xshift) for a in figure.layout.annotations}
    shift = {name: xshift for name, xref, x, anchor, xshift in placed if (xref, x, anchor) == ("paper", 1, "left")}
    assert set(shift) == {"events", "estimate", "header"}
    assert 0 < shift["events"] < shift["estimate"] < figure.layout.margin.r


def test_forest_estimates_sit_on_their_rows(fits):
    figure = regression.forest_figure(fits[0]["table"], panel="model")
    marker_rows = {round(y, 6) for trace in figure.data for y in trace.y}
    text_rows = {round(a.y, 6) for a in annotations(figure, "estimate")}
    assert text_rows == marker_rows


def test_ae_difference_plot_has_a_labelled_zero_line():
    rng = np.random.default_rng(3)
    patients = pd.DataFrame({"study_id": "S", "patient_id": [f"P{i}" for i in range(40)],
                             "cohort": ["A"] * 20 + ["B"] * 20})
    rows = [{"study_id": "S", "patient_id": p, "category": "CRS", "term": "CRS", "grade": int(g),
             "onset_day": 2, "duration_days": 3}
            for p, g in zip(patients["patient_id"], rng.integers(0, 4, 40)) if g > 0]
    table = clinical.adverse_event_table(pd.DataFrame(rows), patients, groups=["A", "B"])
    figure = plots.difference_figure(table)
    assert [line.x0 for line in null_lines(figure)] == [0]
    assert figure.layout.xaxis.type in (None, "linear", "-")
    labels = [a.text for a in figure.layout.annotations]
    assert "no difference" in labels


def test_cytokine_ratio_plot_has_a_labelled_line_at_one():
    table = pd.DataFrame({"analyte": ["IL-6", "IL-10"], "ratio (HL)": [2.0, 0.5], "CI lower": [1.1, 0.2],
                          "CI upper": [3.0, 1.4], "P": [0.01, 0.2], "n CML-LBC": [13, 13], "n Ph+ ALL": [100, 100]})
    figure = plots.ratio_figure(table, groups=["CML-LBC", "Ph+ ALL"])
    assert figure.layout.xaxis.type == "log"
    assert [line.x0 for line in null_lines(figure)] == [1]
    label = [a for a in figure.layout.annotations if a.text == "equal"]
    # an annotation on a log axis is placed by log10 of its value
    assert len(label) == 1 and label[0].x == 0 and label[0].xref == "x"


def test_the_response_chapter_draws_its_forest_plots_with_the_text_columns():
    """The call sites use the forest plot of helpers.plots.regression."""
    from helpers.paths import BOOK_DIR

    text = (BOOK_DIR / "response.md").read_text(encoding="utf-8")
    calls = re.findall(r"plots\.[\w.]*forest_figure\(", text)
    assert calls and set(calls) == {"plots.regression.forest_figure("}
