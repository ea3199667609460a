"""Logistic-regression tables and their forest plot: odds ratios of ML and Firth fits side by side,
separation diagnostics."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from helpers.escape import escape_html
from helpers.plots.figures import OKABE_ITO, WIDE_FIGURE_PX, style
from helpers.stats.regression import LogisticFit, fit_firth, fit_ml


# --------------------------------------------------------------------------- #
# tables for the chapter
# --------------------------------------------------------------------------- #
def _fmt_or(value: float) -> str:
    if not math.isfinite(value):
        return "∞" if value > 0 else "0"
    if value >= 1000:
        return f"{value:.3g}"
    return f"{value:.2f}"


def _fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def odds_ratio_table(fits: Sequence[LogisticFit], labels: Optional[dict] = None,
                     model_names: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per (model, factor) with OR, 95% CI and P, in numbers (for figures) and text.

    For an ML fit under separation, a diverging term is shown as "not finite"
    (its numeric OR is set to +/-inf, the CI to NaN) instead of the numbers the
    iterations stopped at.
    """
    labels = labels or {}
    rows = []
    for i, fit in enumerate(fits):
        model = model_names[i] if model_names else f"{fit.method}"
        for _, r in fit.table.iterrows():
            if r["term"] == "(Intercept)":
                continue
            diverges = fit.method == "ML" and r["infinite"] != ""
            if diverges:
                odds = math.inf if r["infinite"] == "+inf" else (0.0 if r["infinite"] == "-inf" else math.nan)
                lo = hi = math.nan
                text = {"+inf": "∞ (separation)", "-inf": "0 (separation)"}.get(r["infinite"],
                                                                                   "not finite (separation)")
                ci = "not estimable"
            else:
                odds, lo, hi = float(r["odds_ratio"]), float(r["or_lower"]), float(r["or_upper"])
                text = _fmt_or(odds)
                ci = f"{_fmt_or(lo)}–{_fmt_or(hi)}"
            rows.append({
                "model": model, "method": fit.method, "factor": labels.get(r["term"], r["term"]),
                "term": r["term"], "OR": text, "95% CI": ci,
                "CI type": "Wald" if fit.method == "ML" else "profile penalized likelihood",
                "P (LR)": _fmt_p(r["p_lr"]), "P (Wald)": _fmt_p(r["p_wald"]),
                "n": fit.n, "events": fit.events,
                "or_value": odds, "or_lower_value": lo, "or_upper_value": hi, "separated": diverges,
            })
    return pd.DataFrame(rows)


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """ML and Firth odds ratios next to each other, one row per (model, factor).

    ``table`` is :func:`odds_ratio_table` / :func:`compare_methods` output with
    both methods. The last column says in words what Firth's penalty changed.
    """
    rows = []
    for (model, factor), part in table.groupby(["model", "factor"], sort=False):
        ml = part[part["method"] == "ML"].iloc[0]
        firth = part[part["method"] == "Firth"].iloc[0]
        if ml["separated"]:
            change = "no finite ML estimate (separation); Firth gives a finite value"
        else:
            ratio = firth["or_value"] / ml["or_value"]
            if abs(math.log(ratio)) < math.log(1.1):
                change = "practically the same (within 10%)"
            else:
                change = f"Firth OR {'closer to 1' if abs(math.log(firth['or_value'])) < abs(math.log(ml['or_value'])) else 'further from 1'} (×{ratio:.2f})"
        rows.append({"model": model, "factor": factor,
                     "ML: OR (95% Wald CI)": f"{ml['OR']} ({ml['95% CI']})" if not ml["separated"] else ml["OR"],
                     "ML: P (LR)": ml["P (LR)"],
                     "Firth: OR (95% profile CI)": f"{firth['OR']} ({firth['95% CI']})",
                     "Firth: P (penalized LR)": firth["P (LR)"], "what changes": change})
    return pd.DataFrame(rows)


def separation_table(models: dict, labels: Optional[dict] = None) -> pd.DataFrame:
    """One row per ML model of ``{outcome label: compare_methods(...) result}``: n, events,
    patients excluded for missing data, separation status and the diverging terms."""
    labels = labels or {}
    rows = []
    for outcome, result in models.items():
        for (kind, method, factor), fit in result["fits"].items():
            if method != "ML":
                continue
            rows.append({"outcome": outcome, "model": kind,
                         "factor(s)": labels.get(factor, "all factors" if factor == "all" else factor),
                         "n": fit.n, "events": fit.events, "excluded (missing data)": fit.n_excluded,
                         "separation": fit.separation.status,
                         "infinite ML estimates": ", ".join(f"{labels.get(t, t)} ({d})" for t, d in
                                                           fit.separation.infinite.items()) or "none"})
    return pd.DataFrame(rows)


def compare_methods(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
                    labels: Optional[dict] = None, id_column: Optional[str] = None) -> dict:
    """Univariable and multivariable models, each by ML and by Firth.

    Returns ``{"fits": {(kind, method, factor): LogisticFit}, "table": DataFrame}``
    where kind is "univariable" or "multivariable".
    """
    fits = {}
    for col in predictors:
        fits[("univariable", "ML", col)] = fit_ml(data, outcome, [col], id_column)
        fits[("univariable", "Firth", col)] = fit_firth(data, outcome, [col], id_column)
    fits[("multivariable", "ML", "all")] = fit_ml(data, outcome, predictors, id_column)
    fits[("multivariable", "Firth", "all")] = fit_firth(data, outcome, predictors, id_column)
    parts = []
    for (kind, method, _), fit in fits.items():
        part = odds_ratio_table([fit], labels, [kind])
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return {"fits": fits, "table": table}


# --------------------------------------------------------------------------- #
# forest plot
# --------------------------------------------------------------------------- #
#: The text columns of the forest plot, in the layout of tern's g_forest: they sit right of the
#: intervals, at fixed pixel offsets from the axis's right edge (so that the text never overlaps
#: whatever the page width), in a right margin wide enough for "Firth: 1.60 (0.15–216.99)".
EVENTS_SHIFT_PX, ESTIMATE_SHIFT_PX, TEXT_MARGIN_PX = 10, 72, 250


def estimate_text(row: pd.Series) -> str:
    """The OR with its CI as the book's tables print them (:func:`side_by_side`)."""
    return row["OR"] if row["separated"] else f"{row['OR']} ({row['95% CI']})"


def forest_figure(table: pd.DataFrame, title: str = "", group: str = "method", row: str = "factor",
                  panel: Optional[str] = None, height: Optional[int] = None) -> go.Figure:
    """Forest plot of odds ratios in the layout of tern's ``g_forest``: one row per factor
    (per ``panel`` · factor), the estimate and 95 % CI of each ``group`` (ML, Firth) on a log
    axis with a reference line at the null value 1, and beside them, as text, events/n of
    the row and each estimate with its CI as the tables print it.

    ``table`` is :func:`odds_ratio_table` / :func:`compare_methods` output. An estimate that
    is not finite (ML under separation) is drawn as a hollow triangle at the edge of the axis
    and written as the tables write it ("∞ (separation)"), never as a number.
    """
    table = table.copy()
    table["_row"] = table[row] if panel is None else [f"{m} · {f}" for m, f in zip(table[panel], table[row])]
    rows = list(dict.fromkeys(table["_row"]))
    ypos = {r: i for i, r in enumerate(rows)}
    bounds = pd.concat([table["or_value"], table["or_lower_value"], table["or_upper_value"]]).astype(float)
    bounds = bounds[np.isfinite(bounds) & (bounds > 0)]
    lo = max(min(bounds.min(), 0.5) / 2, 1e-3) if len(bounds) else 0.01
    hi = min(max(bounds.max(), 2.0) * 2, 1e4) if len(bounds) else 100
    groups = list(dict.fromkeys(table[group]))
    offsets = np.linspace(-0.18, 0.18, len(groups)) if len(groups) > 1 else [0.0]
    markers = {"ML": "circle", "Firth": "diamond"}
    legend = {"ML": "ML (Wald CI)", "Firth": "Firth (profile CI)"}
    figure = go.Figure()
    for gi, name in enumerate(groups):
        part = table[table[group] == name]
        ok, bad = part[~part["separated"]], part[part["separated"]]
        est = ok["or_value"].to_numpy(dtype=float)
        figure.add_trace(go.Scatter(
            x=est, y=[ypos[r] + offsets[gi] for r in ok["_row"]], mode="markers",
            name=legend.get(str(name), escape_html(name)),
            marker={"symbol": markers.get(str(name), "circle"), "size": 10, "color": OKABE_ITO[gi]},
            error_x={"type": "data", "symmetric": False, "color": OKABE_ITO[gi], "thickness": 2,
                     "array": np.minimum(ok["or_upper_value"].to_numpy(dtype=float), hi) - est,
                     "arrayminus": est - np.maximum(ok["or_lower_value"].to_numpy(dtype=float), lo)},
            customdata=np.column_stack([ok["_row"], ok["OR"], ok["95% CI"], ok["CI type"], ok["P (LR)"],
                                        ok["events"], ok["n"]]),
            hovertemplate=("%{customdata[0]}<br>" + escape_html(name) +
                           ": OR %{customdata[1]} (95% CI %{customdata[2]}, %{customdata[3]})<br>"
                           "P (likelihood ratio) %{customdata[4]}<br>events %{customdata[5]}/%{customdata[6]}"
                           "<extra></extra>")))
        if len(bad):
            edge = [hi if v == np.inf else lo for v in bad["or_value"].fillna(np.inf)]
            figure.add_trace(go.Scatter(
                x=edge, y=[ypos[r] + offsets[gi] for r in bad["_row"]], mode="markers",
                name=f"{escape_html(name)}: no finite estimate",
                marker={"symbol": ["triangle-right" if x == hi else "triangle-left" for x in edge], "size": 12,
                        "color": "white", "line": {"color": OKABE_ITO[gi], "width": 2}},
                customdata=np.column_stack([bad["_row"], bad["OR"]]),
                hovertemplate=("%{customdata[0]}<br>" + escape_html(name) +
                               ": %{customdata[1]} — no finite maximum-likelihood estimate<extra></extra>")))
        for _, r in part.iterrows():  # the estimate column: one line per method, beside its marker
            figure.add_annotation(x=1, xshift=ESTIMATE_SHIFT_PX, y=ypos[r["_row"]] + offsets[gi], xref="paper",
                                  yref="y", text=escape_html(f"{name}: {estimate_text(r)}"), showarrow=False,
                                  xanchor="left", font={"size": 11, "color": OKABE_ITO[gi]}, name="estimate")
    for r, first in table.groupby("_row", sort=False).first().iterrows():
        figure.add_annotation(x=1, xshift=EVENTS_SHIFT_PX, y=ypos[r], xref="paper", yref="y", showarrow=False,
                              text=f"{int(first['events'])}/{int(first['n'])}", xanchor="left",
                              font={"size": 11}, name="events")
    for shift, header in ((EVENTS_SHIFT_PX, "events/n"), (ESTIMATE_SHIFT_PX, "OR (95% CI)")):
        figure.add_annotation(x=1, xshift=shift, y=-0.9, xref="paper", yref="y", showarrow=False, xanchor="left",
                              text=f"<b>{header}</b>", font={"size": 11}, name="header")
    figure.add_vline(x=1, line={"color": "#555", "width": 1.5}, name="null")  # no effect: OR = 1
    decades = [10.0 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]
    figure.update_xaxes(type="log", range=[math.log10(lo), math.log10(hi)], tickvals=decades,
                        ticktext=[f"{d:g}" for d in decades], title="Odds ratio (log scale)")
    figure.update_yaxes(tickvals=list(range(len(rows))), ticktext=[escape_html(r) for r in rows],
                        range=[len(rows) - 0.5, -1.4], showgrid=False)
    style(figure, title, height=height or 200 + 46 * len(rows))
    figure.update_layout(margin={"t": 120, "r": TEXT_MARGIN_PX}, legend={"y": 1.0, "yanchor": "bottom"},
                         width=WIDE_FIGURE_PX)
    return figure
