"""Response figures: rates with CIs, the status-to-response Sankey, odds-ratio forest plots."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from helpers.clinical.response import BEST_RESPONSE_ORDER, MRD_NOT_ASSESSED_CR, SHORT_STATUS_LABELS
from helpers.escape import escape_html
from helpers.plots.figures import OKABE_ITO, WIDE_FIGURE_PX, style

#: One colour per best-response category (Okabe-Ito; grey for not evaluable). A remission without
#: an MRD result has its own colour, never the MRD-positive one.
RESPONSE_COLOURS = {
    "MRD-negative CR/CRi": OKABE_ITO[0], "MRD-positive CR/CRi": OKABE_ITO[1], MRD_NOT_ASSESSED_CR: OKABE_ITO[6],
    "CMR without CR": OKABE_ITO[2], "PR": OKABE_ITO[3], "No response": OKABE_ITO[4], "Not evaluable": "#999999",
}
#: Width of a bar chart's plotting area (px) and of one character of a tick label (px, 12 px
#: font): how many characters a category's label may take per line without touching its neighbour.
PLOT_WIDTH_PX = 640
TICK_CHARACTER_PX = 7.5


# --------------------------------------------------------------------------- #
# figures
# --------------------------------------------------------------------------- #
def wrap_label(text: str, width: int = 16) -> str:
    """Break a tick label into lines of about ``width`` characters (plotly's <br>); lines already
    broken with <br> are each wrapped too (a single word longer than ``width`` stays whole)."""
    lines = []
    for given in str(text).split("<br>"):
        line = ""
        for word in given.split():
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
    return "<br>".join(lines)


def label_width(categories: int) -> int:
    """Characters per line that the tick labels of ``categories`` side-by-side bars can take
    without running into each other (between 8 and 16)."""
    return max(8, min(16, int(PLOT_WIDTH_PX / max(categories, 1) / TICK_CHARACTER_PX) - 1))


def rate_figure(table: pd.DataFrame, x: str, color: Optional[str] = None, title: str = "",
                y_title: str = "Patients (%)", height: int = 440) -> go.Figure:
    """Bars of rates with exact 95% CI error bars; hover: k/n, %, both CIs.
    Long category names are wrapped, never rotated."""
    figure = go.Figure()
    width = label_width(table[x].nunique())
    table = table.assign(**{x: table[x].map(lambda label: wrap_label(label, width))})
    series = table.groupby(color, sort=False) if color else [(None, table)]
    for index, (name, part) in enumerate(series):
        pct = part["pct"].to_numpy()
        figure.add_trace(go.Bar(
            x=part[x], y=pct, name=str(name) if name is not None else "",
            marker_color=OKABE_ITO[index % len(OKABE_ITO)],
            error_y={"type": "data", "symmetric": False, "array": 100 * part["cp_upper"].to_numpy() - pct,
                     "arrayminus": pct - 100 * part["cp_lower"].to_numpy(), "color": "#333"},
            customdata=np.column_stack([part["k"], part["n"], 100 * part["cp_lower"], 100 * part["cp_upper"],
                                        100 * part["wilson_lower"], 100 * part["wilson_upper"]]),
            hovertemplate=(f"{escape_html(str(name)) + '<br>' if name is not None else ''}%{{x}}: "
                           "%{customdata[0]}/%{customdata[1]} (%{y:.1f}%)<br>"
                           "exact 95% CI %{customdata[2]:.1f}–%{customdata[3]:.1f}%<br>"
                           "Wilson 95% CI %{customdata[4]:.1f}–%{customdata[5]:.1f}%<extra></extra>"),
        ))
    figure.update_layout(barmode="group", yaxis={"title": y_title, "range": [0, 105]},
                         xaxis={"tickangle": 0}, showlegend=color is not None)
    return style(figure, title, height=height)


#: Height of one patient's flow in the Sankey diagram, and the figure's margins and largest height.
SANKEY_PATIENT_PX = 4
SANKEY_MARGINS = 220
SANKEY_MAX_HEIGHT = 1200


def sankey_figure(counts: pd.DataFrame, title: str = "", labels: Optional[dict] = None,
                  height: int = 520) -> go.Figure:
    """Sankey diagram cohort -> disease status before CAR-T -> best response.

    Links are coloured by best response (Okabe-Ito); hover gives n/N of the
    source node and the percentage.
    """
    labels = labels or SHORT_STATUS_LABELS
    cohorts = list(dict.fromkeys(counts["cohort"]))
    statuses = [(c, s) for c in cohorts for s in dict.fromkeys(counts.loc[counts["cohort"] == c, "disease_status"])]
    outcomes = [b for b in BEST_RESPONSE_ORDER if b in set(counts["best_response"])]
    nodes = ([f"{c} (n={int(counts.loc[counts['cohort'] == c, 'cohort_total'].iloc[0])})" for c in cohorts]
             + [f"{c}: {labels.get(s, s)}" for c, s in statuses] + list(outcomes))
    index = {("cohort", c): i for i, c in enumerate(cohorts)}
    index.update({("status", c, s): len(cohorts) + i for i, (c, s) in enumerate(statuses)})
    index.update({("best", b): len(cohorts) + len(statuses) + i for i, b in enumerate(outcomes)})
    colour = RESPONSE_COLOURS
    source, target, value, link_colour, custom = [], [], [], [], []
    status_totals = counts.groupby(["cohort", "disease_status"])["n"].sum()
    for (c, s), total in status_totals.items():
        source.append(index[("cohort", c)])
        target.append(index[("status", c, s)])
        value.append(int(total))
        link_colour.append("rgba(120,120,120,0.25)")
        cohort_total = int(counts.loc[counts["cohort"] == c, "cohort_total"].iloc[0])
        custom.append([f"{c} → {labels.get(s, s)}", int(total), cohort_total, 100 * total / cohort_total])
    for _, r in counts.iterrows():
        source.append(index[("status", r["cohort"], r["disease_status"])])
        target.append(index[("best", r["best_response"])])
        value.append(int(r["n"]))
        rgb = colour[r["best_response"]].lstrip("#")
        link_colour.append("rgba({},{},{},0.55)".format(*(int(rgb[i:i + 2], 16) for i in (0, 2, 4))))
        custom.append([f"{r['cohort']}, {labels.get(r['disease_status'], r['disease_status'])} → "
                       f"{r['best_response']}", int(r["n"]), int(r["status_total"]),
                       100 * r["n"] / r["status_total"]])
    node_colour = (["#555555"] * len(cohorts) + ["#B0B0B0"] * len(statuses) + [colour[b] for b in outcomes])
    # fixed positions, so the order of cohorts, statuses and responses is the reading order
    sizes = ([int(counts.loc[counts["cohort"] == c, "n"].sum()) for c in cohorts]
             + [int(status_totals[(c, s)]) for c, s in statuses]
             + [int(counts.loc[counts["best_response"] == b, "n"].sum()) for b in outcomes])
    columns = [0] * len(cohorts) + [1] * len(statuses) + [2] * len(outcomes)
    # Tall enough that one patient's flow is SANKEY_PATIENT_PX high in the busiest column (it was
    # ~1 px for study 000), up to SANKEY_MAX_HEIGHT.
    per_column = [(sum(sizes[i] for i, c in enumerate(columns) if c == col), columns.count(col)) for col in (0, 1, 2)]
    needed = max(total / (1.0 - (0.04 if k > 1 else 0.0) * (k - 1)) for total, k in per_column if total)
    height = int(min(max(height, SANKEY_MARGINS + SANKEY_PATIENT_PX * needed), SANKEY_MAX_HEIGHT))
    xs, ys = [], []
    for col, x_pos in ((0, 0.001), (1, 0.45), (2, 0.999)):
        members = [i for i, c in enumerate(columns) if c == col]
        total = sum(sizes[i] for i in members)
        gap = 0.04 if len(members) > 1 else 0.0
        scale = (1.0 - gap * (len(members) - 1)) / total
        top = 0.0
        for i in members:
            extent = sizes[i] * scale
            xs.append((i, x_pos))
            ys.append((i, min(max(top + extent / 2, 0.001), 0.999)))
            top += extent + gap
    node_x = [x for _, x in sorted(xs)]
    node_y = [y for _, y in sorted(ys)]
    figure = go.Figure(go.Sankey(
        arrangement="fixed",
        node={"label": nodes, "color": node_colour, "pad": 14, "thickness": 16, "x": node_x, "y": node_y,
              "hovertemplate": "%{label}: %{value} patients<extra></extra>"},
        link={"source": source, "target": target, "value": value, "color": link_colour,
              "customdata": custom,
              "hovertemplate": "%{customdata[0]}<br>%{customdata[1]}/%{customdata[2]} "
                               "(%{customdata[3]:.1f}%)<extra></extra>"},
    ))
    # A Sankey trace has no legend: one empty marker per best response gives the link colours one.
    for best in outcomes:
        figure.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=best, hoverinfo="skip",
                                    marker={"size": 12, "symbol": "square", "color": colour[best]}))
    style(figure, title, height=height)
    figure.update_layout(showlegend=True, legend={"title": {"text": "Flows coloured by best response",
                                                            "side": "top"},
                                                  "orientation": "h", "y": -0.05, "yanchor": "top"},
                         margin={"b": 130}, width=WIDE_FIGURE_PX)  # node labels need it: scrolls on a phone
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure
