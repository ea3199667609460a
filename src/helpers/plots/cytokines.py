"""Cytokine figures: trajectories, ratios, peaks by grade, patient courses, the mixed model's fit."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.clinical.cytokines import CYTOKINES, LABELS
from helpers.escape import escape_html
from helpers.plots.figures import step_ticks
from helpers.stats.mixed import MixedModelResult

# ---------------------------------------------------------------- figures --

def _colour(index: int) -> str:
    from helpers.plots.figures import OKABE_ITO
    return OKABE_ITO[index % len(OKABE_ITO)]


def trajectory_figure(summary: pd.DataFrame, *, group: str = "cohort", order: Optional[Sequence[str]] = None,
                      analytes: Sequence[str] = CYTOKINES, title: Optional[str] = None, columns: int = 3):
    """Median (line) and interquartile range (bars) per group over days, one log-scale panel
    per analyte; hover gives the day, median, IQR and the number of patients sampled."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from helpers.plots.figures import style

    groups = list(order) if order is not None else list(pd.unique(summary[group]))
    present = [a for a in analytes if a in set(summary["analyte"])]
    rows = math.ceil(len(present) / columns)
    titles = [f"{LABELS[a]} ({summary.loc[summary['analyte'] == a, 'unit'].iloc[0]})" for a in present]
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.07,
                           vertical_spacing=0.16)
    offsets = np.linspace(-0.25, 0.25, len(groups)) if len(groups) > 1 else [0.0]
    for i, analyte in enumerate(present):
        r, c = divmod(i, columns)
        for j, name in enumerate(groups):
            part = summary[(summary["analyte"] == analyte) & (summary[group] == name)].sort_values("day")
            if part.empty:
                continue
            figure.add_trace(go.Scatter(
                x=part["day"] + offsets[j], y=part["median"], mode="lines+markers", name=str(name),
                legendgroup=str(name), showlegend=i == 0, line={"color": _colour(j), "width": 2},
                marker={"size": 6, "symbol": ["circle", "square", "diamond", "triangle-up"][j % 4]},
                error_y={"type": "data", "symmetric": False, "array": part["q3"] - part["median"],
                         "arrayminus": part["median"] - part["q1"], "thickness": 1.2, "width": 3},
                customdata=np.column_stack([part["day"], part["q1"], part["q3"], part["n"], part["below_lloq"]]),
                hovertemplate=(f"{escape_html(str(name))} · {LABELS[analyte]}<br>day %{{customdata[0]:g}}: "
                               "median %{y:.3g}<br>IQR %{customdata[1]:.3g}–%{customdata[2]:.3g}<br>"
                               "n = %{customdata[3]} sampled (%{customdata[4]} below LLOQ)<extra></extra>"),
            ), row=r + 1, col=c + 1)
        figure.update_yaxes(type="log", **step_ticks(), row=r + 1, col=c + 1)
        figure.update_xaxes(title_text="Day after infusion" if r == rows - 1 else None, row=r + 1, col=c + 1)
    style(figure, title, height=330 * rows + 80)
    # legend to the right, clear of the panel titles
    figure.update_layout(legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top"},
                         margin={"r": 110})
    return figure


def ratio_figure(table: pd.DataFrame, *, label: str = "analyte", groups: Sequence[str] = ("group 1", "group 2"),
                 title: Optional[str] = None):
    """Forest plot of Hodges-Lehmann ratios (log axis) with their 95 % CIs and the P value in the hover."""
    import plotly.graph_objects as go

    from helpers.plots.figures import style

    names = [LABELS.get(v, v) for v in table[label]]
    figure = go.Figure(go.Scatter(
        x=table["ratio (HL)"], y=names, mode="markers", marker={"size": 10, "color": _colour(0)},
        error_x={"type": "data", "symmetric": False, "array": table["CI upper"] - table["ratio (HL)"],
                 "arrayminus": table["ratio (HL)"] - table["CI lower"]},
        customdata=np.column_stack([table["CI lower"], table["CI upper"], table["P"],
                                    table[f"n {groups[0]}"], table[f"n {groups[1]}"]]),
        hovertemplate=(f"%{{y}}: {escape_html(groups[0])} / {escape_html(groups[1])} ratio %{{x:.2f}}<br>"
                       "95% CI %{customdata[0]:.2f}–%{customdata[1]:.2f}<br>P = %{customdata[2]:.3f}<br>"
                       "n = %{customdata[3]} vs %{customdata[4]}<extra></extra>"),
        showlegend=False))
    # the null value: the same peak in both groups
    figure.add_vline(x=1, line={"color": "#555", "width": 1.5}, name="null")
    # an annotation on a log axis is placed by log10 of its value: 0 is the ratio 1
    figure.add_annotation(x=0, xref="x", y=1, yref="y domain", yanchor="bottom", showarrow=False,
                          text="equal", font={"size": 11, "color": "#555"})
    figure.update_layout(xaxis={"type": "log", **step_ticks(),
                                "title": f"Ratio of peak values, {groups[0]} / {groups[1]} "
                                         "(Hodges–Lehmann, log scale)"},
                         yaxis={"autorange": "reversed"})
    return style(figure, title, height=120 + 50 * len(names))


def grade_box_figure(joined: pd.DataFrame, *, analyte: str = "IL-6", group: str = "cohort",
                     order: Optional[Sequence[str]] = None, title: Optional[str] = None):
    """Peak value by CRS grade: one box per grade with every patient as a point (log scale); a
    grade with fewer than :data:`~helpers.plots.figures.MIN_BOX_N` patients shows its points alone."""
    import plotly.graph_objects as go

    from helpers.plots.figures import POINTS_ONLY_NOTE, add_boxes, style

    groups = list(order) if order is not None else list(pd.unique(joined[group]))
    unit = joined["unit"].iloc[0] if len(joined) else ""
    figure = go.Figure()
    points_only = False
    for j, name in enumerate(groups):
        part = joined[joined[group] == name]
        points_only |= add_boxes(
            figure, part["grade"].map(lambda g: f"Grade {g}" if g else "No CRS"), part["peak"], name=str(name),
            color=_colour(j), marker={"color": _colour(j), "size": 5},
            customdata=part[["patient_id", "peak_day"]].to_numpy().tolist(),
            hovertemplate=("%{customdata[0]} (" + escape_html(str(name)) + ")<br>%{x}: peak %{y:.3g} "
                           + unit + " on day %{customdata[1]:g}<extra></extra>"))
    categories = ["No CRS"] + [f"Grade {g}" for g in range(1, 6) if (joined["grade"] == g).any()]
    x_title = "Worst CRS grade" + (f" ({POINTS_ONLY_NOTE})" if points_only else "")
    figure.update_layout(boxmode="group",
                         yaxis={"type": "log", **step_ticks(), "title": f"Peak {LABELS[analyte]} ({unit})"},
                         xaxis={"title": x_title, "categoryorder": "array", "categoryarray": categories})
    return style(figure, title)


def patient_course_figure(series: pd.DataFrame, *, analytes: Sequence[str] = CYTOKINES,
                          title: Optional[str] = None, columns: int = 3):
    """Each patient's course of each analyte (one log-scale panel per analyte, one line per patient).
    The hover says where every point comes from (its ``origin``)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from helpers.plots.figures import style

    present = [a for a in analytes if a in set(series["analyte"])]
    rows = math.ceil(len(present) / columns)
    titles = [f"{LABELS[a]} ({series.loc[series['analyte'] == a, 'unit'].iloc[0]})" for a in present]
    figure = make_subplots(rows=rows, cols=columns, subplot_titles=titles, horizontal_spacing=0.07,
                           vertical_spacing=0.16)
    patients = list(pd.unique(series["patient_id"]))
    for i, analyte in enumerate(present):
        r, c = divmod(i, columns)
        for j, patient in enumerate(patients):
            part = series[(series["analyte"] == analyte) & (series["patient_id"] == patient)].sort_values("day")
            figure.add_trace(go.Scatter(
                x=part["day"], y=part["value"], mode="lines+markers", name=str(patient), legendgroup=str(patient),
                showlegend=i == 0, line={"color": _colour(j), "dash": ["solid", "dash", "dot"][j % 3]},
                customdata=part[["origin"]].to_numpy(),
                hovertemplate=(f"{escape_html(str(patient))} · {LABELS[analyte]}<br>day %{{x:g}}: %{{y:.3g}}"
                               "<br>origin: %{customdata[0]}<extra></extra>")), row=r + 1, col=c + 1)
        figure.update_yaxes(type="log", **step_ticks(), row=r + 1, col=c + 1)
        figure.update_xaxes(title_text="Day after infusion" if r == rows - 1 else None, row=r + 1, col=c + 1)
    style(figure, title, height=330 * rows + 80)
    # legend to the right, clear of the panel titles
    figure.update_layout(legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top"},
                         margin={"r": 110})
    return figure


def model_figure(result: "MixedModelResult", observed: pd.DataFrame, *, group: str = "cohort",
                 order: Optional[Sequence[str]] = None, title: Optional[str] = None):
    """Model-based geometric means with 95 % CIs (bands) next to the observed medians (dots)."""
    import plotly.graph_objects as go

    from helpers.plots.figures import style

    groups = list(order) if order is not None else list(pd.unique(result.means[group]))
    figure = go.Figure()
    for j, name in enumerate(groups):
        m = result.means[result.means[group] == name].sort_values("day")
        colour = _colour(j)
        figure.add_trace(go.Scatter(x=list(m["day"]) + list(m["day"])[::-1], mode="lines",
                                    y=list(m["upper"]) + list(m["lower"])[::-1], fill="toself",
                                    fillcolor=colour, opacity=0.18, line={"width": 0}, hoverinfo="skip",
                                    showlegend=False, legendgroup=str(name)))
        figure.add_trace(go.Scatter(
            x=m["day"], y=m["geometric_mean"], mode="lines", name=f"{name}: model (geometric mean, 95% CI)",
            line={"color": colour, "width": 2}, legendgroup=str(name),
            customdata=m[["lower", "upper"]].to_numpy(),
            hovertemplate=(escape_html(str(name)) + " model<br>day %{x:g}: %{y:.3g} "
                           "(95% CI %{customdata[0]:.3g}–%{customdata[1]:.3g})<extra></extra>")))
        o = observed[observed[group] == name].sort_values("day")
        figure.add_trace(go.Scatter(
            x=o["day"], y=o["median"], mode="markers", name=f"{name}: observed median",
            marker={"color": colour, "size": 7, "symbol": ["circle-open", "square-open"][j % 2]},
            legendgroup=str(name), customdata=o[["n"]].to_numpy(),
            hovertemplate=(escape_html(str(name)) + " observed<br>day %{x:g}: median %{y:.3g} "
                           "(n = %{customdata[0]})<extra></extra>")))
    figure.update_layout(yaxis={"type": "log", **step_ticks(), "title": "IL-6 (pg/mL, log scale)"},
                         xaxis={"title": "Day after infusion"})
    style(figure, title, height=480)
    figure.update_layout(legend={"orientation": "v", "x": 0.99, "xanchor": "right", "y": 0.99, "yanchor": "top",
                                 "bgcolor": "rgba(255,255,255,0.85)"})
    return figure
