"""The figure rules of issue 16, asserted on the figure objects the plot helpers return.

Each test builds a small frame whose answer is known by construction (group sizes, a failed fit
at 10⁶ days, a median counted here with numpy) and checks a property a reader would see: log
axes labelled at powers of ten only, axes bounded by the data, no box for fewer than five
values, faint lines under a median when a panel holds many patients, risk-table counts that are
not clipped, grades of another scale kept apart, and an axis title that says what is counted.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from helpers import stats
from helpers.chapters import ledger
from helpers.plots import cytokines, figures, kinetics, survival, toxicity


def log_axes(figure: go.Figure) -> list:
    layout = figure.layout
    return [layout[key] for key in layout if key.startswith(("xaxis", "yaxis")) and layout[key].type == "log"]


def nca_frame(sizes: dict[str, int]) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = [{"patient_id": f"{group}-{i}", "response": group, "cmax": float(10 ** rng.uniform(2, 5))}
            for group, n in sizes.items() for i in range(n)]
    return pd.DataFrame(rows)


def test_log_axes_label_the_powers_of_ten_only():
    frame = nca_frame({"responder": 8, "non-responder": 6})
    figure = kinetics.exposure_figure(frame, value="cmax", x="response")
    axes = log_axes(figure)
    assert axes, "the exposure figure has a log axis"
    # One labelled tick per decade (dtick 1 on plotly's log scale), or labels written out in full.
    for axis in axes:
        assert axis.dtick == 1 or axis.tickmode == "array", axis


def test_a_box_is_drawn_only_for_five_values_or_more_and_the_figure_says_so():
    sizes = {"responder": 8, "non-responder": 5, "not evaluable": 2}
    figure = kinetics.exposure_figure(nca_frame(sizes), value="cmax", x="response")
    boxed = {}
    for trace in figure.data:
        if trace.line.width != 0:  # a drawn box
            for category in set(trace.x):
                boxed[category] = list(trace.x).count(category)
    assert boxed == {"responder": 8, "non-responder": 5}
    # Every patient is still a point, the two of the small group too.
    assert sum(len(trace.y) for trace in figure.data) == sum(sizes.values())
    assert all(trace.boxpoints == "all" for trace in figure.data)
    assert figures.POINTS_ONLY_NOTE in figure.layout.xaxis.title.text


def test_the_cytokine_grade_boxes_follow_the_same_rule():
    joined = pd.DataFrame({"patient_id": [f"p{i}" for i in range(9)], "cohort": ["A"] * 9,
                           "grade": [0] * 6 + [2] * 3, "peak": np.linspace(10, 90, 9),
                           "peak_day": [3.0] * 9, "unit": ["pg/mL"] * 9})
    figure = cytokines.grade_box_figure(joined)
    drawn = [trace for trace in figure.data if trace.line.width != 0]
    assert [sorted(set(trace.x)) for trace in drawn] == [["No CRS"]]
    assert "points only" in figure.layout.xaxis.title.text


def test_a_failed_fit_does_not_stretch_the_recovery_axes():
    truth = pd.DataFrame({"half_life_beta": [20.0, 40.0, 80.0, 160.0]})
    fitted = pd.DataFrame({"half_life_beta": [22.0, 37.0, 85.0, 1.0e6]})  # the last fit failed
    figure = kinetics.recovery_figure(truth, fitted, ["half_life_beta"], labels={"half_life_beta": "slow t½"})
    x_range, y_range = figure.layout.xaxis.range, figure.layout.yaxis.range
    assert x_range is not None and y_range is not None
    # Bounded by the true values (20-160 days, times or divided by the stated factor), not by 10⁶.
    factor = kinetics.RECOVERY_AXIS_FACTOR
    assert math.isclose(10 ** y_range[1], 160 * factor) and math.isclose(10 ** y_range[0], 20 / factor)
    points = [trace for trace in figure.data if trace.mode == "markers"][0]
    assert max(points.y) <= 10 ** y_range[1] + 1e-9 and points.marker.symbol[-1] == "triangle-up"
    assert "1 beyond the axis" in figure.layout.annotations[0].text
    assert "1e+06" in points.text[-1]  # the hover still gives the value


def spaghetti_frames(n_patients: int):
    days = np.array([1.0, 7.0, 14.0, 28.0])
    rng = np.random.default_rng(11)
    ids = np.repeat([f"P{i:03d}" for i in range(n_patients)], days.size)
    level = np.round(np.exp(rng.normal(8, 1.2, ids.size)))
    frame = pd.DataFrame({"patient_id": ids, "day": np.tile(days, n_patients), "copies_per_ug_gdna": level,
                          "below_lloq": False})
    patients = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n_patients)], "cohort": "Ph+ ALL"})
    return frame, patients


def test_many_lines_are_drawn_faint_under_the_median_of_all_patients():
    frame, patients = spaghetti_frames(kinetics.SPAGHETTI_LIMIT + 61)  # 121 patients, as in study 000
    figure = kinetics.spaghetti_figure(frame, patients)
    lines, median = figure.data
    assert lines.opacity <= 0.3 and lines.line.color == "#9a9a9a"  # grey: no group colour competes with the median
    assert median.line.width >= 3
    expected = frame.groupby("day")["copies_per_ug_gdna"].median()  # of all 121, not of the 60 drawn
    assert list(median.x) == list(expected.index) and np.allclose(median.y, expected.to_numpy())
    assert "median" in figure.layout.annotations[0].text


def test_a_few_lines_are_drawn_as_they_are():
    frame, patients = spaghetti_frames(kinetics.HIGHLIGHT_ABOVE)
    figure = kinetics.spaghetti_figure(frame, patients)
    assert len(figure.data) == 1 and figure.data[0].opacity > 0.3


def test_risk_table_counts_are_not_clipped_at_the_plot_edge():
    frame = pd.DataFrame({"time": np.linspace(1, 70, 121), "event": [True, False] * 60 + [True],
                          "cohort": "Ph+ ALL"})
    figure = survival.survival_figure(stats.km_by_group(frame, "time", "event", "cohort"), title="t", y_title="OS",
                                      risk_times=range(0, 73, 12))
    risk = [trace for trace in figure.data if trace.mode == "text"]
    assert risk and risk[0].text[0] == "121"
    assert all(trace.cliponaxis is False for trace in risk)


def test_the_test_result_is_a_legend_line_not_a_box_over_the_curves():
    # At 390 px a box in the plot's top corner covered every curve's start at 100 %.
    frame = pd.DataFrame({"time": np.linspace(1, 70, 40), "event": [True, False] * 20,
                          "cohort": ["A", "B"] * 20})
    text = "log-rank test: chi-square 1.23 on 1 df, P = 0.27"
    figure = survival.survival_figure(stats.km_by_group(frame, "time", "event", "cohort"), title="t", y_title="OS",
                                      test_text=text)
    assert not [a for a in figure.layout.annotations if "chi-square" in (a.text or "")]
    entries = [t for t in figure.data if t.showlegend is not False and "chi-square" in (t.name or "")]
    assert [t.name for t in entries] == ["log-rank test:<br>chi-square 1.23 on 1 df, P = 0.27"]
    without = survival.survival_figure(stats.km_by_group(frame, "time", "event", "cohort"), title="t", y_title="OS")
    assert figure.layout.margin.t > without.layout.margin.t  # room made above the plot for the extra line


def test_grades_of_another_scale_are_kept_apart_and_every_bar_gives_its_n():
    distribution = pd.DataFrame([{"row": row, "grade": g, "n": n, "N": total}
                                 for row, total, counts in (("Study 000: A", 10, [4, 3, 3, 0, 0, 0]),
                                                            ("Study 001: B", 2, [0, 0, 2, 0, 0, 0]))
                                 for g, n in enumerate(counts)])
    figure = toxicity.grade_bars(distribution, group="row", scales={"Study 000: A": "ASTCT",
                                                                    "Study 001: B": "scale not stated"})
    rows_of = {trace.name: set(trace.y) for trace in figure.data}
    assert rows_of["Grade 2"] == {"Study 000: A (n = 10)"}
    assert rows_of["Grade 2, scale not stated"] == {"Study 001: B (n = 2)"}
    assert [t.marker.pattern.shape for t in figure.data if "scale not stated" in t.name] == ["/"] * 2


def test_the_ledger_status_figure_counts_published_numbers_not_patients():
    frame = pd.DataFrame({"status": ["exact", "exact", "differs"], "evidence": ["computed", "computed", ""]})
    frame["status"] = [ledger.STATUSES[0], ledger.STATUSES[0], ledger.STATUSES[-1]]
    figure = ledger.status_figure(frame)
    assert figure.layout.xaxis.title.text == "Published numbers (%)"
    assert set(figure.data[0].y) == {"computed (n = 2)", "not computed (n = 1)"}


def test_a_swimmer_legend_is_split_into_bars_and_markers():
    from helpers.chapters import case_reports

    figure = case_reports.course_figure(case_reports.course_rows())
    entries: dict[str, list[str]] = {}
    for trace in figure.data:
        if trace.showlegend is not False:
            entries.setdefault(trace.legend or "legend", []).append(trace.legendgroup)
    # 19 entries in one legend before; now two titled legends, one for the bars, one for the event markers.
    assert set(entries) == {"legend", "legend2"}
    assert all(group.startswith("event-") for group in entries["legend2"])
    assert not any(group.startswith("event-") for group in entries["legend"])
    assert max(len(groups) for groups in entries.values()) <= 13
    assert figure.layout.legend.title.text and figure.layout.legend2.title.text


def test_the_synthetic_label_breaks_after_its_first_colon_to_fit_a_phone():
    """At 390 px the one-line label was cut at the left edge (issue 16)."""
    text = figures.label_synthetic(go.Figure()).layout.annotations[0].text
    first, second = text.split("<br>")
    label = figures.SYNTHETIC_LABEL
    assert first == label.split(": ")[0] + ":" and len(second) < len(label) - 10
