"""Survival figures and tables: KM/CIF curves with risk tables, rate tables, forest plots, PH residuals."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.escape import escape_html
from helpers.stats.competing_risks import cumulative_incidence, one_minus_km
from helpers.stats.format import format_estimate, format_p
from helpers.stats.survival import ZphResult


def rate_table(curves: Sequence, times: Sequence[float], *, unit: str = "months",
               what: str = "Survival") -> pd.DataFrame:
    """Estimates at fixed times with 95% CI, median with CI, n and events, one row per curve.

    ``curves``: :class:`KaplanMeier` objects, or cumulative-incidence curves with the same
    interface (``at``, ``median`` and ``label``/``n``/``events``).
    """
    rows = []
    for c in curves:
        row = {"Group": c.label, "n": c.n, "Events": c.events}
        at = c.at(times)
        for t, r in zip(times, at.itertuples()):
            key = f"{what} at {t:g} {unit} (95% CI)"
            row[key] = ("beyond follow-up" if r.beyond_followup else
                        format_estimate(r.surv, r.lower, r.upper))
        if hasattr(c, "median") and c.kind == "survival":
            m = c.median()
            row[f"Median, {unit} (95% CI)"] = (
                "not reached" if not np.isfinite(m["estimate"]) else
                f"{m['estimate']:.1f} ({format_bound(m['lower'])}–{format_bound(m['upper'])})")
        rows.append(row)
    return pd.DataFrame(rows)


def format_bound(v: float) -> str:
    return "NR" if v is None or not np.isfinite(v) else f"{v:.1f}"


# --------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------

def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    return f"rgba({r},{g},{b},{alpha})"


#: Points per step curve up to which a curve is drawn exactly as estimated (every step, every
#: censor mark); above it :func:`thin_steps` keeps only the steps a reader can see. The
#: published studies' curves (122 points at most, measured on the site) are never thinned. It
#: was 500: a 528-patient cohort of a 10,000-patient registry then drew its 458 steps whole
#: (22 KB a curve, 45 KB a figure with its bands), and the registry's survival page weighed 525 KB.
THIN_ABOVE = 200
#: Width in pixels assumed for the time axis when censor marks of a large curve are merged
#: (the book's page is narrower; a wider screen only spreads the merged marks apart).
AXIS_WIDTH_PX = 1200
CENSOR_MARK_PX = 6  # merged censor marks are at least this far apart (the tick is 11 px tall)


def thin_steps(time, value, *, tolerance: float, keep_at: Sequence[float] = (),
               limit: int = THIN_ABOVE) -> np.ndarray:
    """Indices of the points of a right-continuous step curve (value ``value[i]`` from
    ``time[i]`` until the next point) that draw it to within ``tolerance`` -- the value one
    pixel represents -- at every time.

    A curve of at most ``limit`` points is returned whole. Otherwise a point is kept when its
    value falls in another ``tolerance``-wide band (counted from the first value) than the point
    before it, so every dropped point lies in the same band as the last kept point before it and
    the thinned curve is never more than ``tolerance`` away from the full one; every jump larger
    than ``tolerance`` changes band and is kept at its exact time. The first and last points and
    the point that sets the value at each time of ``keep_at`` (the risk-table times) are always
    kept, so the curve is exact there. A monotone curve keeps at most range / tolerance + 2 +
    ``len(keep_at)`` points, whatever the number of patients.
    """
    t = np.asarray(time, dtype=float)
    y = np.asarray(value, dtype=float)
    if t.size <= limit:
        return np.arange(t.size)
    if not tolerance > 0:
        raise ValueError(f"thin_steps: tolerance must be > 0, got {tolerance}")
    band = np.floor((y - y[0]) / tolerance)
    keep = np.r_[True, band[1:] != band[:-1]]
    keep[-1] = True
    at = np.searchsorted(t, np.asarray(keep_at, dtype=float), side="right") - 1
    keep[at[at >= 0]] = True
    return np.flatnonzero(keep)


def merge_marks(times, *, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Censor times merged into runs no wider than ``width`` (one mark per run, drawn at its
    first time): the first time of each run and how many censorings it holds."""
    t = np.sort(np.asarray(times, dtype=float))
    firsts, counts = [], []
    start = 0
    while start < t.size:  # one pass per mark (a few hundred at most), each a binary search
        end = int(np.searchsorted(t, t[start] + width, side="left"))
        end = max(end, start + 1)
        firsts.append(t[start])
        counts.append(end - start)
        start = end
    return np.array(firsts), np.array(counts, dtype=int)


#: Height of one legend entry above a survival figure: two lines (the curve, then its median), so
#: that an entry fits a phone's width (on one line "... median 14.4 months (95% CI 6.1–NR)" was
#: cut at the right edge at 390 px).
LEGEND_ENTRY_PX = 40


def _pixel_size(height: int, entries: int, value_range: float = 102.0) -> float:
    """Percentage points one pixel of the curve panel represents, for the layout
    :func:`survival_figure` gives a figure of ``height`` with ``entries`` legend entries
    (an upper bound on the panel's height, so the tolerance errs small)."""
    total = height + LEGEND_ENTRY_PX * max(entries - 2, 0)
    panel = (total - (70 + LEGEND_ENTRY_PX * entries) - 60) * 0.76 * (1 - 0.13)
    return value_range / panel


def survival_figure(curves: Sequence, *, title: str, y_title: str, time_title: str = "Months since CAR-T infusion",
                    risk_times: Optional[Sequence[float]] = None, test_text: Optional[str] = None,
                    show_ci: bool = True, show_median: bool = True, max_time: Optional[float] = None,
                    colors: Optional[Sequence[str]] = None, comparison: Optional[Sequence] = None,
                    comparison_name: str = "1 − Kaplan–Meier (deaths censored)", height: int = 640):
    """The book's survival / cumulative-incidence figure (plotly), as survminer/ggsurvfit draw it.

    * step curves with pointwise 95% CI bands (the curves' own CI type, stated in the hover);
    * censor marks (vertical ticks) where patients leave follow-up alive / event-free;
    * a number-at-risk table under the plot, on the same time axis (shared x);
    * the test result (``test_text``) and medians with CI in the legend;
    * hover on every step: estimate, CI, number at risk n/N and events so far.

    ``curves``: :class:`KaplanMeier` or ``competing_risks.CumulativeIncidence`` objects
    (anything with ``curve()``, ``n_at_risk()``, ``censor_times``, ``label``, ``n``,
    ``kind``). ``comparison``: optional curves drawn dashed (e.g. 1 − KM next to the
    cumulative incidence), in the same colours.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from helpers.plots.figures import OKABE_ITO, style

    if not curves:
        raise ValueError("survival_figure needs at least one curve")
    colors = list(colors or OKABE_ITO)
    t_end = max_time if max_time is not None else max(float(c.time_max) for c in curves)
    if risk_times is None:
        step = 6 if t_end <= 48 else 12
        risk_times = list(np.arange(0, t_end + 1e-9, step))
    risk_times = [float(v) for v in risk_times if v <= t_end + 1e-9]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.76, 0.24], vertical_spacing=0.13)
    n_curves = len(curves)
    incidence = curves[0].kind == "incidence"
    pixel = _pixel_size(height, len(curves) + len(comparison or []))
    mark_width = CENSOR_MARK_PX * 1.04 * t_end / AXIS_WIDTH_PX  # the axis spans 1.04 t_end
    thinned = False
    for i, c in enumerate(curves):
        color = colors[i % len(colors)]
        cv = c.curve()
        cv = cv[cv["time"] <= t_end + 1e-12]
        # One point per step, drawn as steps by plotly (line_shape "hv") and carried to the end
        # of follow-up: half the points of explicit corners, and the hover rides on the line.
        x_last = min(t_end, c.time_max)
        x, y = cv["time"].to_numpy(), 100 * cv["estimate"].to_numpy()
        lo, hi = 100 * cv["lower"].to_numpy(), 100 * cv["upper"].to_numpy()
        if x_last > x[-1]:
            x, y, lo, hi = np.r_[x, x_last], np.r_[y, y[-1]], np.r_[lo, lo[-1]], np.r_[hi, hi[-1]]
        kept = thin_steps(x, y, tolerance=pixel, keep_at=risk_times)
        thinned = thinned or kept.size < x.size
        bands = [(x[k], v[k]) for v in (np.where(np.isnan(lo), y, lo), np.where(np.isnan(hi), y, hi))
                 for k in [thin_steps(x, v, tolerance=pixel, keep_at=risk_times)]]
        x, y, lo, hi = x[kept], y[kept], lo[kept], hi[kept]
        name = f"{c.label} (n = {c.n})"
        if show_median and c.kind == "survival":
            m = c.median()
            name += ("<br>median not reached" if not np.isfinite(m["estimate"]) else
                     f"<br>median {m['estimate']:.1f} months (95% CI {format_bound(m['lower'])}–"
                     f"{format_bound(m['upper'])})")
        if show_ci:  # lower bound, then the upper bound filled down to it (each thinned on its own)
            for (bx, bound), fill in zip(bands, ("none", "tonexty")):
                fig.add_trace(go.Scatter(x=bx, y=bound, mode="lines", line=dict(width=0, shape="hv"), fill=fill,
                                         fillcolor=_rgba(color, 0.15), hoverinfo="skip", showlegend=False,
                                         legendgroup=c.label, name=f"{c.label} 95% CI"), row=1, col=1)
        customdata, bound = _hover_data(lo, hi, c.n_at_risk(x), _cum_events(c, x))
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="lines", line=dict(color=color, width=2.4, shape="hv"), name=name,
            legendgroup=c.label, customdata=customdata,
            hovertemplate=(f"<b>{escape_html(c.label)}</b><br>%{{x:.1f}} months: %{{y:.1f}}% (95% CI "
                           f"%{{customdata[0]{bound}}}–%{{customdata[1]{bound}}})<br>at risk %{{customdata[2]}}/{c.n}; "
                           "events so far %{customdata[3]}<extra></extra>")), row=1, col=1)
        ct = c.censor_times
        ct = ct[ct <= t_end]
        if ct.size > THIN_ABOVE:  # one mark per few pixels, its hover counting the censorings it stands for
            ct, merged = merge_marks(ct, width=mark_width)
            thinned = True
            marks = dict(customdata=merged, hovertemplate=f"{escape_html(c.label)}: %{{customdata}} censored from "
                                                          "%{x:.1f} months<extra></extra>")
        else:
            marks = dict(hovertemplate=f"{escape_html(c.label)}: censored at %{{x:.1f}} months<extra></extra>")
        if ct.size:
            cy = 100 * _values_at(cv, ct)
            fig.add_trace(go.Scatter(
                x=ct, y=cy, mode="markers", marker=dict(symbol="line-ns-open", size=11, color=color,
                                                        line=dict(width=1.6, color=color)),
                showlegend=False, legendgroup=c.label, name=f"{c.label} censored", **marks),
                row=1, col=1)
        # number at risk
        nr = c.n_at_risk(risk_times)
        fig.add_trace(go.Scatter(
            x=risk_times, y=[n_curves - i] * len(risk_times), mode="text", text=[str(v) for v in nr],
            # Not clipped at the plot area: on a phone the count centred on time 0 ("121") is wider
            # than the axis's lead-in and lost its first digit.
            textfont=dict(color=color, size=12), cliponaxis=False, hovertext=[f"{escape_html(c.label)}: {v}/{c.n} at risk at "
                                                            f"{t:g} months" for v, t in zip(nr, risk_times)],
            hoverinfo="text", showlegend=False, legendgroup=c.label, name=f"{c.label} at risk"), row=2, col=1)
    for j, c in enumerate(comparison or []):
        color = colors[j % len(colors)]
        cv = c.curve()
        cv = cv[cv["time"] <= t_end + 1e-12]
        est = 100 * cv["estimate"].to_numpy()
        if c.kind == "survival":
            est = 100 - est
        xs, ys = cv["time"].to_numpy(), est
        if min(t_end, c.time_max) > xs[-1]:
            xs, ys = np.r_[xs, min(t_end, c.time_max)], np.r_[ys, ys[-1]]
        kept = thin_steps(xs, ys, tolerance=pixel, keep_at=risk_times)
        thinned = thinned or kept.size < xs.size
        xs, ys = xs[kept], ys[kept]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines",
                                 line=dict(color=color, width=1.6, dash="dash", shape="hv"),
                                 name=f"{c.label}: {comparison_name}", legendgroup=c.label + "-cmp",
                                 hovertemplate=f"{escape_html(c.label)} ({escape_html(comparison_name)})"
                                               "<br>%{x:.1f} months: %{y:.1f}%<extra></extra>"),
                      row=1, col=1)
    if thinned:
        fig.add_annotation(text="Large cohort: steps smaller than one pixel merged, censor marks grouped (hover "
                                "counts them); estimates in the tables are exact", xref="x domain", yref="y domain",
                           x=0.01, y=0.01 if not incidence else 0.99, xanchor="left",
                           yanchor="bottom" if not incidence else "top", showarrow=False,
                           font=dict(size=11, color="#555"), row=1, col=1)
    fig.update_yaxes(title_text=y_title, range=[0, 102], ticksuffix="%", row=1, col=1)
    fig.update_yaxes(tickmode="array", tickvals=[n_curves - i for i in range(n_curves)],
                     ticktext=[c.label for c in curves], range=[0.4, n_curves + 0.6], showgrid=False,
                     zeroline=False, showline=False, ticks="", title_text="At risk", title_font=dict(size=12),
                     ticklabelstandoff=14, row=2, col=1)
    # the time axis sits under the curves; the risk table below shares it (same ticks, no labels)
    fig.update_xaxes(title_text=time_title, range=[-0.02 * t_end, t_end * 1.02], tickvals=risk_times,
                     showticklabels=True, row=1, col=1)
    fig.update_xaxes(range=[-0.02 * t_end, t_end * 1.02], tickvals=risk_times, showticklabels=False,
                     showline=False, ticks="", showgrid=True, gridcolor="#eee", row=2, col=1)
    if test_text:
        # The last legend entry, not a box in the plot: on a phone a corner box covered the curves'
        # start at 100 % (they all begin there). Broken after the test's name to fit 390 px.
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=dict(width=0), hoverinfo="skip",
                                 name=escape_html(test_text).replace(": ", ":<br>", 1), legendrank=2000,
                                 legendgroup="test"), row=1, col=1)
    style(fig, title, height=height)
    entries = len(curves) + len(comparison or []) + bool(test_text)
    fig.update_layout(legend=dict(orientation="v", yanchor="bottom", y=1.02, x=0),
                      margin=dict(t=70 + LEGEND_ENTRY_PX * entries),
                      height=height + LEGEND_ENTRY_PX * max(entries - 2, 0),
                      hovermode="closest", title=dict(y=0.985, yanchor="top"))
    return fig


def _pct(v: float) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{v:.1f}"


def _hover_data(lower, upper, at_risk, events) -> tuple[np.ndarray, str]:
    """A curve's hover columns (CI bounds in %, at risk, events so far) and the bounds' format.

    Numbers, not text: the bounds rounded to the one decimal the hover prints (``:.1f``), the
    counts as integers. As text every value carried its quotes, and the hover data were the
    heaviest part of a registry's survival page (a third of a curve's bytes). A bound that is
    undefined anywhere on the curve makes both columns text, printed as "–" there."""
    data = np.empty((len(at_risk), 4), dtype=object)
    if np.isfinite(lower).all() and np.isfinite(upper).all():
        data[:, 0], data[:, 1], bound = np.round(lower, 1).tolist(), np.round(upper, 1).tolist(), ":.1f"
    else:
        data[:, 0], data[:, 1], bound = [_pct(v) for v in lower], [_pct(v) for v in upper], ""
    data[:, 2], data[:, 3] = np.asarray(at_risk).tolist(), np.asarray(events).tolist()
    return data, bound


def _values_at(cv: pd.DataFrame, times: np.ndarray) -> np.ndarray:
    """The step curve ``cv`` (time, estimate) at each of ``times`` (right-continuous)."""
    idx = np.searchsorted(cv["time"].to_numpy(), times, side="right") - 1
    return cv["estimate"].to_numpy()[np.maximum(idx, 0)]


def _cum_events(c, times) -> np.ndarray:
    tt = np.asarray(times, float)
    ev_times = np.sort(c.time[c.event.astype(bool)]) if c.kind == "survival" else np.sort(c.event_times)
    return np.searchsorted(ev_times, tt, side="right")


def forest_plot(table: pd.DataFrame, *, title: str, labels: Optional[dict] = None,
                x_title: str = "Hazard ratio (log scale)", reference: Optional[pd.DataFrame] = None,
                reference_name: str = "Published"):
    """Hazard ratios with 95% CIs on a log axis; ``reference`` (columns term, hr, lower,
    upper) adds the published estimates beside the book's for comparison."""
    import plotly.graph_objects as go

    from helpers.plots.figures import OKABE_ITO, WIDE_FIGURE_PX, style

    labels = labels or {}
    names = [labels.get(t, t) for t in table["term"]]
    fig = go.Figure()
    series = [("This book (synthetic cohort)", table, OKABE_ITO[0], 0.12)]
    if reference is not None:
        series.append((reference_name, reference, OKABE_ITO[5], -0.12))
    for name, tab, color, offset in series:
        ylab = [labels.get(t, t) for t in tab["term"]]
        ypos = [names.index(v) + offset for v in ylab]
        hover = [f"{escape_html(name)}: {escape_html(v)}<br>HR {hr:.2f} (95% CI {lo:.2f}–{hi:.2f})"
                 + (f"<br>P = {format_p(p)}" if p is not None and np.isfinite(p) else "")
                 for v, hr, lo, hi, p in zip(ylab, tab["hr"], tab["lower"], tab["upper"],
                                             tab["p"] if "p" in tab else [np.nan] * len(tab))]
        fig.add_trace(go.Scatter(
            x=tab["hr"], y=ypos, mode="markers", name=name, marker=dict(size=11, color=color, symbol="square"),
            error_x=dict(type="data", symmetric=False, array=tab["upper"] - tab["hr"],
                         arrayminus=tab["hr"] - tab["lower"], color=color, thickness=2),
            hovertext=hover, hoverinfo="text"))
    fig.add_trace(go.Scatter(x=[1, 1], y=[-0.5, len(names) - 0.5], mode="lines", showlegend=False,
                             line=dict(color="#777", dash="dot", width=1.5), hoverinfo="skip", name="HR = 1"))
    lows = [float(np.nanmin(t["lower"])) for _, t, _, _ in series]
    highs = [float(np.nanmax(t["upper"])) for _, t, _, _ in series]
    lo, hi = min(lows + [1.0]), max(highs + [1.0])
    ticks = [v for v in (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if lo / 1.5 <= v <= hi * 1.5]
    fig.update_xaxes(type="log", title_text=x_title, tickvals=ticks, ticktext=[f"{v:g}" for v in ticks],
                     range=[np.log10(lo / 1.3), np.log10(hi * 1.3)])
    fig.update_yaxes(tickvals=list(range(len(names))), ticktext=names, autorange="reversed")
    style(fig, title, height=200 + 70 * len(names))
    return fig.update_layout(width=WIDE_FIGURE_PX)  # long term labels and the axis title need the width


def zph_figure(zph: ZphResult, *, title: str, x_title: str = "Time (Kaplan–Meier scale: 1 − S(t−))"):
    """Scaled Schoenfeld residuals against transformed time, one panel per covariate, with
    a lowess trend and the fitted (constant) coefficient; a flat trend supports PH."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    from statsmodels.nonparametric.smoothers_lowess import lowess

    from helpers.plots.figures import OKABE_ITO, WIDE_FIGURE_PX, style

    names = list(zph.residuals.columns)
    tests = zph.table.set_index("term")
    fig = make_subplots(rows=1, cols=len(names), horizontal_spacing=0.12, subplot_titles=[
        f"{n}<br>PH test P = {format_p(tests.loc[n, 'p'])}" for n in names])
    for j, name in enumerate(names):
        y = zph.residuals[name].to_numpy()
        fig.add_trace(go.Scatter(x=zph.x, y=y, mode="markers", marker=dict(color=OKABE_ITO[0], size=6, opacity=0.7),
                                 name="scaled Schoenfeld residual", showlegend=j == 0,
                                 hovertext=[f"event at {t:.1f} months<br>residual {v:.2f}"
                                            for t, v in zip(zph.time, y)],
                                 hoverinfo="text"), row=1, col=j + 1)
        if zph.x.size > 3:
            sm = lowess(y, zph.x, frac=0.75, return_sorted=True)
            fig.add_trace(go.Scatter(x=sm[:, 0], y=sm[:, 1], mode="lines", line=dict(color=OKABE_ITO[5], width=2.5),
                                     name="lowess trend (beta(t))", showlegend=j == 0, hoverinfo="skip"),
                          row=1, col=j + 1)
        fig.add_trace(go.Scatter(x=[zph.x.min(), zph.x.max()], y=[zph.coef[j]] * 2, mode="lines",
                                 line=dict(color="#444", dash="dash"), name="Cox coefficient (constant)",
                                 showlegend=j == 0, hoverinfo="skip"), row=1, col=j + 1)
        fig.update_xaxes(title_text=x_title, row=1, col=j + 1)
    fig.update_yaxes(title_text="beta(t) for the covariate", row=1, col=1)
    style(fig, title, height=480)
    fig.update_annotations(font_size=12)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.2, x=0), margin=dict(t=150),
                      title=dict(y=0.97, yanchor="top"), width=WIDE_FIGURE_PX if len(names) > 1 else None)
    return fig


def naive_vs_aalen_johansen(frame: pd.DataFrame, time: str, status: str, group: str, times: Sequence[float], *,
                            cause: int = 1, order: Optional[Sequence] = None, cencode: int = 0,
                            competing: str = "deaths") -> pd.DataFrame:
    """Cumulative incidence (Aalen–Johansen) next to 1 − Kaplan–Meier with competing events
    censored, at fixed times, per group: how much the naive estimate overstates. ``competing``
    names the competing events in the headers."""
    levels = list(order) if order is not None else list(pd.unique(frame[group]))
    rows = []
    for g in levels:
        sub = frame[frame[group] == g]
        aj = cumulative_incidence(sub[time], sub[status], cause, label=str(g), cencode=cencode).at(times)
        km = one_minus_km(sub[time], sub[status], cause, label=str(g), cencode=cencode).at(times)
        for t, a, k in zip(times, aj.itertuples(), km.itertuples()):
            competed = int(((sub[status] != cause) & (sub[status] != cencode) & (sub[time] <= t)).sum())
            naive = 1 - k.surv if np.isfinite(k.surv) else np.nan
            rows.append({"Group": g, "Month": t, f"Competing {competing} so far": competed,
                         "Cumulative incidence (Aalen–Johansen), %": round(100 * a.surv, 1),
                         f"1 − Kaplan–Meier ({competing} censored), %": round(100 * naive, 1),
                         "Overstatement, percentage points": round(100 * (naive - a.surv), 1)})
    return pd.DataFrame(rows)
