"""Figures whose size grows with the cohort stay bounded on a 100,000-patient registry.

Step curves (Kaplan–Meier, cumulative incidence) are thinned to the steps a reader can see:
the thinned curve must never be more than one pixel from the full one at any time, checked
against a Kaplan–Meier / Aalen–Johansen estimate computed here (not by ``helpers.stats``)
and evaluated on a fine grid. Small cohorts (the 134-patient book) are drawn step for step.
Spaghetti and swimmer figures show a seeded sample of patients beyond their limit and say so.
"""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.plots import kinetics as plots_kinetics
from helpers.plots import survival as plots_survival
from helpers.plots import timeline
from helpers.stats import competing_risks, survival

REGISTRY = 100_000
RISK_TIMES = [0, 12, 24, 36, 48, 60, 72]


def registry_times(n: int, seed: int = 18):
    """Continuous follow-up times (months), so every patient adds a step of their own."""
    rng = np.random.default_rng(seed)
    event_time = rng.exponential(30.0, n)
    censor_time = rng.uniform(3.0, 72.0, n)
    time = np.minimum(event_time, censor_time)
    cause = np.where(event_time <= censor_time, rng.choice([1, 2], size=n, p=[0.7, 0.3]), 0)
    group = rng.choice(["B-ALL", "Ph+ ALL", "CML-LBC"], size=n, p=[0.62, 0.28, 0.10])
    return pd.DataFrame({"time": time, "event": cause > 0, "cause": cause, "cohort": group})


def km_steps(time, event):
    """Product-limit estimate (%) at 0 and at every distinct time: right-continuous corners."""
    time, event = np.asarray(time, float), np.asarray(event, bool)
    distinct, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event, minlength=distinct.size)
    leaving = np.bincount(inverse, minlength=distinct.size)
    at_risk = time.size - np.r_[0, np.cumsum(leaving)[:-1]]
    return np.r_[0.0, distinct], 100 * np.r_[1.0, np.cumprod(1 - deaths / at_risk)]


def cif_steps(time, cause, of: int = 1):
    """Aalen–Johansen cumulative incidence (%) of ``of``: sum of S(t−) d_of(t) / n(t)."""
    time, cause = np.asarray(time, float), np.asarray(cause)
    distinct, inverse = np.unique(time, return_inverse=True)
    d_of = np.bincount(inverse, weights=cause == of, minlength=distinct.size)
    d_any = np.bincount(inverse, weights=cause != 0, minlength=distinct.size)
    leaving = np.bincount(inverse, minlength=distinct.size)
    at_risk = time.size - np.r_[0, np.cumsum(leaving)[:-1]]
    surv_before = np.r_[1.0, np.cumprod(1 - d_any / at_risk)[:-1]]
    return np.r_[0.0, distinct], 100 * np.r_[0.0, np.cumsum(surv_before * d_of / at_risk)]


def step_value(x, y, at):
    """A right-continuous step function through (x, y) evaluated at ``at``."""
    return np.asarray(y, float)[np.searchsorted(np.asarray(x, float), at, side="right") - 1]


def panel_pixel(figure) -> float:
    """Percentage points per pixel of the curve panel, read from the figure's own layout."""
    layout = figure.layout
    low, high = layout.yaxis.domain
    plot_height = layout.height - layout.margin.t - layout.margin.b
    return (layout.yaxis.range[1] - layout.yaxis.range[0]) / (plot_height * (high - low))


def traces(figure, suffix: str) -> dict:
    return {t.legendgroup: t for t in figure.data if t.name and t.name.endswith(suffix)}


def main_lines(figure) -> dict:
    return {t.legendgroup: t for t in figure.data if t.name and " (n = " in t.name}


def fine_grid(*xs) -> np.ndarray:
    """Every corner of every curve, a hair either side of it, and a 50,000-point grid."""
    corners = np.unique(np.concatenate([np.asarray(x, float) for x in xs]))
    end = corners[-1]
    return np.unique(np.r_[corners, corners - 1e-9, corners + 1e-9, np.linspace(0, end, 50_000)].clip(0, end))


def assert_within_one_pixel(figure, references: dict, pixel: float):
    """Each drawn curve against its full step function, at every point of a fine grid."""
    for label, (x_full, y_full) in references.items():
        drawn = main_lines(figure)[label]
        grid = fine_grid(x_full, drawn.x)
        grid = grid[grid <= max(drawn.x)]
        error = np.abs(step_value(drawn.x, drawn.y, grid) - step_value(x_full, y_full, grid))
        assert error.max() <= pixel, f"{label}: {error.max():.3f} percentage points off (one pixel = {pixel:.3f})"


def test_a_cohort_of_a_few_hundred_is_thinned_within_one_pixel_and_the_books_largest_is_not():
    # a 528-patient registry cohort drew its 458 steps whole when only curves above 500 points were thinned
    middle = registry_times(450, seed=7).assign(cohort="CML-LBC")
    curves = survival.km_by_group(middle, "time", "event", "cohort")
    figure = plots_survival.survival_figure(curves, title="OS", y_title="Overall survival", risk_times=RISK_TIMES)
    full = km_steps(middle["time"], middle["event"])
    assert full[0].size > 400 and len(main_lines(figure)["CML-LBC"].x) < 0.75 * full[0].size
    assert_within_one_pixel(figure, {"CML-LBC": full}, panel_pixel(figure))
    assert plots_survival.THIN_ABOVE > 122  # the seed studies' longest curve (Ph+ ALL, 121 patients)


@pytest.fixture(scope="module")
def registry():
    return registry_times(REGISTRY)


@pytest.fixture(scope="module")
def km_figure(registry):
    curves = survival.km_by_group(registry, "time", "event", "cohort", order=["B-ALL", "Ph+ ALL", "CML-LBC"])
    figure = plots_survival.survival_figure(curves, title="OS", y_title="Overall survival", risk_times=RISK_TIMES)
    return curves, figure


def test_thinned_survival_curves_stay_within_one_pixel_of_the_full_curves(registry, km_figure):
    curves, figure = km_figure
    references = {g: km_steps(part["time"], part["event"]) for g, part in registry.groupby("cohort")}
    assert_within_one_pixel(figure, references, panel_pixel(figure))
    for c in curves:  # the confidence band too, against the estimator's own unthinned band
        full = c.curve()
        for bound, trace in zip(("lower", "upper"), [t for t in figure.data if t.name == f"{c.label} 95% CI"]):
            grid = fine_grid(full["time"], trace.x)
            grid = grid[grid <= max(trace.x)]
            error = np.abs(step_value(trace.x, trace.y, grid) - 100 * step_value(full["time"], full[bound], grid))
            assert error.max() <= panel_pixel(figure)


def test_thinned_curves_are_exact_at_the_risk_table_times_and_keep_their_ends(registry, km_figure):
    _, figure = km_figure
    for label, drawn in main_lines(figure).items():
        part = registry[registry["cohort"] == label]
        x_full, y_full = km_steps(part["time"], part["event"])
        assert drawn.x[0] == 0 and drawn.y[0] == 100 and drawn.x[-1] == pytest.approx(part["time"].max())
        assert drawn.y[-1] == pytest.approx(y_full[-1], abs=1e-9)
        times = [t for t in RISK_TIMES if t <= part["time"].max()]
        assert step_value(drawn.x, drawn.y, times) == pytest.approx(step_value(x_full, y_full, times), abs=1e-9)


def test_cumulative_incidence_is_thinned_within_one_pixel(registry):
    curves = [competing_risks.cumulative_incidence(part["time"], part["cause"], 1, label=g)
              for g, part in registry.groupby("cohort")]
    figure = plots_survival.survival_figure(curves, title="CIR", y_title="Relapse", risk_times=RISK_TIMES)
    references = {g: cif_steps(part["time"], part["cause"]) for g, part in registry.groupby("cohort")}
    assert_within_one_pixel(figure, references, panel_pixel(figure))
    assert all(len(t.x) < 1000 for t in main_lines(figure).values())


def test_point_count_and_weight_are_bounded_at_100000_patients(registry, km_figure):
    curves, figure = km_figure
    pixel = panel_pixel(figure)
    # a monotone curve needs one point per pixel of its range, plus its ends and the risk-table times
    bound = int(102 / pixel) + 2 + len(RISK_TIMES) + 1
    for c in curves:
        for trace in [t for t in figure.data if t.legendgroup == c.label and t.mode != "text"]:
            assert len(trace.x) <= bound, (trace.name, len(trace.x), bound)
    marks = traces(figure, " censored")
    censored = {g: int((~part["event"]).sum()) for g, part in registry.groupby("cohort")}
    for label, trace in marks.items():  # grouped marks still count every censoring once
        assert sum(trace.customdata) == censored[label] and len(trace.x) <= 1200 // plots_survival.CENSOR_MARK_PX + 1
    assert len(figure.to_json()) < 250_000  # the unthinned figure weighs about 30 MB
    # on the page: the hover data are numbers (as quoted text the figure's markup was 74 KB)
    from helpers.plots import figures

    for line in main_lines(figure).values():
        assert all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in line.customdata.ravel())
        assert ":.1f}–%{customdata[1]:.1f}" in line.hovertemplate
    assert len(figures.show(figure)._repr_html_()) < 70_000


@pytest.fixture(scope="module")
def book_cohort():
    from helpers import chapters
    from helpers.clinical import outcomes

    book = chapters.setup("figure-scale", chapters.SYNTHETIC_DIR if hasattr(chapters, "SYNTHETIC_DIR")
                          else "data/synthetic", 20240101, None)
    frame, _ = outcomes.outcome_frame(book.cohort("000"))
    return frame


def test_the_134_patient_book_is_drawn_step_for_step(book_cohort):
    frame = book_cohort.assign(os_event=book_cohort["os_event"].astype(bool))
    assert len(frame) == 134
    curves = survival.km_by_group(frame, "os_time", "os_event", "cohort")
    figure = plots_survival.survival_figure(curves, title="OS", y_title="Overall survival")
    for c in curves:
        part = frame[frame["cohort"] == c.label]
        x_full, y_full = km_steps(part["os_time"], part["os_event"])
        drawn = main_lines(figure)[c.label]
        assert list(drawn.x) == pytest.approx(list(x_full)) and list(drawn.y) == pytest.approx(list(y_full))
        censored = np.sort(part.loc[~part["os_event"], "os_time"].to_numpy())
        assert list(traces(figure, " censored")[c.label].x) == pytest.approx(list(censored))
    assert not any("Large cohort" in (a.text or "") for a in figure.layout.annotations)


def kinetics_frame(n_patients: int, seed: int = 5):
    rng = np.random.default_rng(seed)
    days = np.array([0, 7, 14, 28, 90])
    ids = np.repeat([f"P{i:06d}" for i in range(n_patients)], days.size)
    level = np.exp(rng.normal(8, 1.5, ids.size))
    kinetics = pd.DataFrame({"patient_id": ids, "day": np.tile(days, n_patients).astype(float),
                             "copies_per_ug_gdna": level, "below_lloq": level < 50})
    kinetics.loc[kinetics["below_lloq"], "copies_per_ug_gdna"] = 50.0
    patients = pd.DataFrame({"patient_id": [f"P{i:06d}" for i in range(n_patients)],
                             "cohort": np.where(np.arange(n_patients) % 3 == 0, "A", "B")})
    return kinetics, patients


def test_spaghetti_draws_a_seeded_sample_beyond_its_limit_and_says_so():
    kinetics, patients = kinetics_frame(20_000)
    figure = plots_kinetics.spaghetti_figure(kinetics, patients, title="big")
    again = plots_kinetics.spaghetti_figure(kinetics, patients, title="big")
    limit = plots_kinetics.SPAGHETTI_LIMIT
    lines = [(trace, repeat) for trace, repeat in zip(figure.data, again.data) if not trace.name.endswith("median")]
    assert len(lines) == 2  # one per group, each beside its median (plots.kinetics.HIGHLIGHT_ABOVE)
    for trace, repeat in lines:
        drawn = {c[0] for c in trace.customdata}
        assert len(drawn) == limit and set(drawn) == {c[0] for c in repeat.customdata}  # seeded
    titles = [a.text for a in figure.layout.annotations]
    assert any(f"{limit} of {int((patients['cohort'] == 'A').sum()):,}" in t for t in titles), titles
    small_kinetics, small_patients = kinetics_frame(30)
    small = plots_kinetics.spaghetti_figure(small_kinetics, small_patients)
    assert sum(len({c[0] for c in t.customdata}) for t in small.data) == 30  # every patient below the limit
    assert "of" not in " ".join(a.text for a in small.layout.annotations)


def test_swimmer_draws_a_seeded_sample_of_lanes_beyond_its_limit_and_says_so():
    n = 5_000
    followup = pd.DataFrame({"lane": [f"P{i:05d}" for i in range(n)], "end": np.linspace(10, 400, n)})
    figure = timeline.swimmer(followup=followup, title="Courses", max_lane_labels=1000)
    lanes = timeline.lanes_in(figure)
    assert len(lanes) == timeline.MAX_LANES and len(set(lanes)) == timeline.MAX_LANES
    assert timeline.lanes_in(timeline.swimmer(followup=followup, title="Courses", max_lane_labels=1000)) == lanes  # seeded
    assert f"{timeline.MAX_LANES} of {n:,}" in figure.layout.title.text
    assert len(json.dumps(figure.to_plotly_json(), default=str)) < 400_000
    few = followup.head(40)
    assert len(timeline.lanes_in(timeline.swimmer(followup=few, title="Courses", max_lane_labels=1000))) == 40


def test_a_figure_on_a_page_carries_only_the_template_defaults_of_its_own_trace_types():
    import plotly.graph_objects as go

    from helpers.plots import figures

    figure = figures.style(go.Figure([go.Scatter(x=[0, 1], y=[1, 0.5]), go.Bar(x=["a"], y=[3])]), "Two kinds")
    markup = figures.show(figure)._repr_html_()
    assert '"barpolar"' not in markup and '"heatmap"' not in markup and '"polar"' not in markup
    full, compact = figure.to_dict(), figures.compact_template(figure)
    assert compact["data"] == full["data"]  # nothing drawn changes
    assert {k: v for k, v in compact["layout"].items() if k != "template"} == \
           {k: v for k, v in full["layout"].items() if k != "template"}
    kept = compact["layout"]["template"]
    assert set(kept["data"]) == {"scatter", "bar"}
    assert all(kept["data"][kind] == full["layout"]["template"]["data"][kind] for kind in kept["data"])
    assert all(kept["layout"][key] == value for key, value in full["layout"]["template"]["layout"].items()
               if key in kept["layout"])
    assert len(markup) < len(figure.to_html(include_plotlyjs=False, full_html=False)) - 5000
