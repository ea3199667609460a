"""Toxicity figures and tables: grade bars, event tables, risk differences, onset and duration."""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from helpers.escape import escape_html
from helpers.plots import figures

#: Grade colours from the Okabe-Ito palette, cool to warm (grey = no event).
GRADE_COLOURS = {0: "#BBBBBB", 1: "#56B4E9", 2: "#0072B2", 3: "#E69F00", 4: "#D55E00", 5: "#000000"}
GRADE_NAMES = {0: "None", 1: "Grade 1", 2: "Grade 2", 3: "Grade 3", 4: "Grade 4", 5: "Grade 5"}


#: The grading scale every row of a grade chart is taken to use unless told otherwise.
COMMON_SCALE = "ASTCT"


def grade_bars(distribution: pd.DataFrame, *, group: str = "cohort", title: Optional[str] = None,
               syndrome: str = "CRS", scales: Optional[Mapping[str, str]] = None) -> go.Figure:
    """100 %-stacked horizontal bars of the grade distribution; hover gives n/N and %. Each
    row's label gives its n. ``scales`` names the grading scale of the rows not graded on
    :data:`COMMON_SCALE` (a paper's "grade II" with no scale named): their bars are hatched and
    have legend entries of their own, so that a grade 2 of another scale is not read as an
    ASTCT grade 2."""
    scales = {row: scale for row, scale in (scales or {}).items() if scale != COMMON_SCALE}
    groups = list(pd.unique(distribution[group]))
    totals = distribution.groupby(group)["N"].first()
    labels = {g: escape_html(f"{g} (n = {int(totals[g])})") for g in groups}
    figure = go.Figure()
    for scale in [COMMON_SCALE, *dict.fromkeys(scales.values())]:
        rows = [g for g in groups if scales.get(g, COMMON_SCALE) == scale]
        for g in range(6):
            part = distribution[distribution["grade"] == g].set_index(group).reindex(rows)
            if g > 0 and part["n"].sum() == 0:
                continue  # a grade nobody had is left out of the legend
            pct = [100 * k / n if n else 0 for k, n in zip(part["n"], part["N"])]
            name = "No " + syndrome if g == 0 else GRADE_NAMES[g]
            if scale != COMMON_SCALE:
                name = f"{name}, {scale}"
            figure.add_trace(go.Bar(
                y=[labels[r] for r in rows], x=pct, orientation="h", name=escape_html(name),
                marker={"color": GRADE_COLOURS[g], "line": {"color": "white", "width": 1},
                        "pattern": {"shape": "/" if scale != COMMON_SCALE else ""}},
                customdata=np.column_stack([part["n"], part["N"]]),
                hovertemplate="%{y}<br>" + escape_html(name) + ": %{customdata[0]}/%{customdata[1]} "
                              "(%{x:.1f}%)<extra></extra>",
                text=[f"{p:.0f}%" if p >= 7 else "" for p in pct], textposition="inside",
                textfont={"color": "white" if g in (2, 4, 5) else "black"},
            ))
    figure.update_layout(barmode="stack", xaxis={"title": "Patients (%)", "range": [0, 100]},
                         yaxis={"autorange": "reversed", "categoryorder": "array",
                                "categoryarray": [labels[g] for g in groups]})
    figures.style(figure, title, height=190 + 55 * len(groups))
    figure.update_layout(legend={"traceorder": "normal"})
    return figure


def _pct(k: int, n: int) -> str:
    return f"{k} ({100 * k / n:.1f}%)" if n else "–"


def format_event_table(table: pd.DataFrame, show_grade5: Optional[bool] = None) -> pd.DataFrame:
    """The adverse-event table as printed: n (%) per grade band and group, then the
    difference in any-grade and grade >= 3 rates with 95 % CIs and Fisher P."""
    g1, g2 = table.attrs.get("groups", ["group 1", "group 2"])
    if show_grade5 is None:
        show_grade5 = bool((table["grade 5#1"] + table["grade 5#2"]).sum())
    out = []
    for (category, term), part in table.groupby(["category", "term"], sort=False):
        first = part.iloc[0]
        row = {"Event": term if term == category else f"{term} ({category.replace('_', ' ')})"}
        for i, name in ((1, g1), (2, g2)):
            n = int(first[f"N{i}"])
            row[f"{name}: any"] = _pct(int(first[f"any{i}"]), n)
            row[f"{name}: 1–2"] = _pct(int(first[f"grade 1–2#{i}"]), n)
            row[f"{name}: 3–4"] = _pct(int(first[f"grade 3–4#{i}"]), n)
            if show_grade5:
                row[f"{name}: 5"] = _pct(int(first[f"grade 5#{i}"]), n)
        for _, r in part.iterrows():
            tag = "any grade" if r["outcome"] == "any grade" else "grade ≥3"
            row[f"Difference, {tag} (95% CI)"] = f"{r['difference']:+.1f} ({r['lower']:+.1f} to {r['upper']:+.1f})"
            row[f"P, {tag}"] = "1.000" if r["fisher_p"] > 0.9995 else f"{r['fisher_p']:.3f}"
        out.append(row)
    return pd.DataFrame(out)


def difference_figure(table: pd.DataFrame, title: Optional[str] = None) -> go.Figure:
    """Forest plot of the between-group differences (percentage points) with 95 % CIs,
    any grade and grade >= 3 side by side for every event."""
    g1, g2 = table.attrs.get("groups", ["group 1", "group 2"])
    figure = go.Figure()
    terms = list(pd.unique(table["term"]))
    position = {t: i for i, t in enumerate(terms)}
    for index, outcome in enumerate(("any grade", "grade ≥3")):
        part = table[table["outcome"] == outcome]
        figure.add_trace(go.Scatter(
            x=part["difference"], y=[position[t] + (-0.15 if index == 0 else 0.15) for t in part["term"]],
            mode="markers", name=outcome,
            marker={"color": figures.OKABE_ITO[index], "size": 9, "symbol": ["circle", "diamond"][index]},
            error_x={"type": "data", "symmetric": False, "array": part["upper"] - part["difference"],
                     "arrayminus": part["difference"] - part["lower"], "thickness": 1.5},
            customdata=np.column_stack([part["term"], part["k1"], part["N1"], part["k2"], part["N2"],
                                        part["lower"], part["upper"], part["fisher_p"]]),
            hovertemplate=("%{customdata[0]} (" + outcome + ")<br>" + escape_html(g1)
                           + ": %{customdata[1]}/%{customdata[2]}<br>" + escape_html(g2)
                           + ": %{customdata[3]}/%{customdata[4]}<br>difference %{x:+.1f} points "
                           "(95% CI %{customdata[5]:+.1f} to %{customdata[6]:+.1f})<br>"
                           "Fisher P = %{customdata[7]:.3f}<extra></extra>"),
        ))
    # the null value: no difference between the groups
    figure.add_vline(x=0, line={"color": "#555", "width": 1.5}, name="null",
                     annotation={"text": "no difference", "font": {"size": 11, "color": "#555"}},
                     annotation_position="top")
    figure.update_layout(xaxis={"title": f"{g1} minus {g2} (percentage points)"},
                         yaxis={"tickmode": "array", "tickvals": list(range(len(terms))), "ticktext": terms,
                                "autorange": "reversed", "showgrid": False})
    return figures.style(figure, title, height=200 + 45 * len(terms))


def episode_figure(episodes: pd.DataFrame, *, group: str = "cohort", syndrome: str = "CRS",
                   order: Optional[Sequence[str]] = None, title: Optional[str] = None) -> go.Figure:
    """One horizontal segment per patient from onset to resolution, coloured by worst grade;
    patients in blocks by ``group`` (labelled with their number), sorted by onset within a block."""
    data = episodes.dropna(subset=["onset_day", "duration_days"]).copy()
    groups = list(order) if order is not None else list(pd.unique(data[group]))
    data = data[data[group].isin(groups)]
    data["_g"] = data[group].map({g: i for i, g in enumerate(groups)})
    data = data.sort_values(["_g", "onset_day", "duration_days"]).reset_index(drop=True)
    data["y"] = data.index + 2 * data["_g"]          # a gap of two rows between blocks
    figure = go.Figure()
    for g in sorted(data["grade"].unique()):
        part = data[data["grade"] == g]
        xs, ys, custom = [], [], []
        for _, r in part.iterrows():
            xs += [r["onset_day"], r["end_day"], None]
            ys += [r["y"], r["y"], None]
            custom += [[r[group], r["onset_day"], r["duration_days"], r["patient_id"]]] * 2 + [[None] * 4]
        figure.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=GRADE_NAMES[int(g)],
            line={"color": GRADE_COLOURS[int(g)], "width": 5}, customdata=custom,
            hovertemplate=(f"%{{customdata[3]}} (%{{customdata[0]}})<br>{syndrome} {GRADE_NAMES[int(g)].lower()}"
                           "<br>onset day %{customdata[1]:.1f}, lasting %{customdata[2]:.1f} days<extra></extra>"),
        ))
    for name in groups:
        block = data[data[group] == name]
        if block.empty:
            continue
        figure.add_annotation(x=0, y=block["y"].min() - 1, xref="x", yref="y", xanchor="left", showarrow=False,
                              text=f"<b>{escape_html(str(name))}</b> ({len(block)} patients)",
                              font={"size": 12})
    figure.update_layout(xaxis={"title": "Days after CAR-T infusion", "rangemode": "tozero"},
                         yaxis={"autorange": "reversed", "showticklabels": False, "ticks": "",
                                "title": "Patients with " + syndrome})
    return figures.style(figure, title, height=max(380, 8 * len(data) + 200))
