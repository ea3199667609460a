"""CAR-T kinetics figures and tables: spaghetti and median bands, exposure, fitted curves, recovery."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.escape import escape_html
from helpers.stats.kinetic_model import SteinParameters, stein_curve


def _p_text(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def comparison_display(frame: pd.DataFrame, *, first: str, second: str) -> pd.DataFrame:
    """Rows of :func:`compare_kinetics` (or :func:`study_000_comparisons`) as a compact, readable
    table: counts, medians, rank-sum P with the Hodges-Lehmann fold shift and CI, Welch P with
    the ratio of geometric means and CI. The tests used are listed by :func:`tests_used`."""
    rows = []
    for _, r in frame.iterrows():
        row = {"comparison": r["comparison"]}
        if "published" in frame:
            row["published"] = r["published"]
        n = str(r["n"]) + (f" ({int(r['n_missing'])} not estimable)" if r["n_missing"] else "")
        row[f"n ({first} vs {second})"] = n
        row["medians"] = f"{_fmt(r['median_first'], 3)} vs {_fmt(r['median_second'], 3)}"
        row["P, rank-sum"] = _p_text(r["p_rank_sum"])
        row["fold shift (HL) [95% CI]"] = (f"{r['shift_hl']:.2f} [{r['shift_ci_lower']:.2f}, "
                                           f"{r['shift_ci_upper']:.2f}]")
        row["P, Welch t (log10)"] = _p_text(r["welch_p"])
        row["ratio of geometric means [95% CI]"] = (f"{r['ratio_of_geometric_means']:.2f} "
                                                    f"[{r['welch_ci_lower']:.2f}, {r['welch_ci_upper']:.2f}]")
        for key in ("same conclusion (rank-sum)", "same conclusion (Welch)"):
            if key in frame:
                row[key] = r[key]
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# summaries
# --------------------------------------------------------------------------- #
def summarise(frame: pd.DataFrame, by: str | list, columns: dict, digits: int = 3) -> pd.DataFrame:
    """Median [Q1, Q3] (n) of each column per group, as text for a results table.

    ``columns`` maps column name -> label. Missing values are counted, not hidden.
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, g in frame.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["patients"] = len(g)
        for col, lab in columns.items():
            v = pd.to_numeric(g[col], errors="coerce").dropna()
            if len(v) == 0:
                row[lab] = "—"
                continue
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            miss = len(g) - len(v)
            if len(v) == 1:
                row[lab] = _fmt(med, digits) + (" (n=1)" if miss else "")
                continue
            row[lab] = (f"{_fmt(med, digits)} [{_fmt(q1, digits)}, {_fmt(q3, digits)}]"
                        + (f" (n={len(v)})" if miss else ""))
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v: float, digits: int) -> str:
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


# --------------------------------------------------------------------------- #
# figures
# --------------------------------------------------------------------------- #
def _go():
    import plotly.graph_objects as go
    return go


def _palette():
    from helpers.plots.figures import OKABE_ITO
    return OKABE_ITO


def _log_axis(fig, title="CAR transgene copies/µg gDNA (log scale)"):
    from helpers.plots.figures import DECADE_AXIS
    fig.update_yaxes(**DECADE_AXIS, title=title)
    fig.update_xaxes(title="Days after infusion")
    return fig


#: Patients per panel a spaghetti figure draws; beyond it, a seeded random sample of this many
#: (the panel title says so) -- a median and IQR band (:func:`median_band_figure`) shows the rest.
SPAGHETTI_LIMIT = 60
SPAGHETTI_SEED = 20240101


def _spaghetti_sample(patient_ids: pd.Series) -> list:
    ids = sorted(pd.unique(patient_ids))
    if len(ids) <= SPAGHETTI_LIMIT:
        return ids
    chosen = np.random.default_rng(SPAGHETTI_SEED).choice(len(ids), size=SPAGHETTI_LIMIT, replace=False)
    return [ids[i] for i in sorted(chosen)]


#: Patients per panel above which single lines are drawn faint and grey, under the panel's median
#: per day in bold: beyond a few dozen, overplotted lines show a smear, not patients.
HIGHLIGHT_ABOVE = 20


def _spaghetti_title(group, n: int, drawn: int) -> str:
    title = f"{group} (n = {n})" if drawn == n else f"{group} (n = {n:,}): {drawn} of {n:,} drawn at random"
    return title + ("<br>bold line: median of all" if n > HIGHLIGHT_ABOVE else "")


def spaghetti_figure(kinetics: pd.DataFrame, patients: pd.DataFrame, *, group: str = "cohort",
                     title: str = "", max_day: Optional[float] = None):
    """One panel per group: each patient's profile on a log axis; BLQ samples as open
    markers at the limit. Hover: patient, day, level, group n. A panel of more than
    :data:`SPAGHETTI_LIMIT` patients draws a seeded random sample of them, said in its title;
    one of more than :data:`HIGHLIGHT_ABOVE` draws them faint, under the median of all its
    patients per day."""
    from plotly.subplots import make_subplots

    from helpers.clinical.kinetics import schedule_quantiles
    from helpers.plots.figures import DECADE_AXIS, style
    go = _go()
    k = kinetics.merge(patients[["patient_id", group]], on="patient_id", how="left")
    if k[group].isna().any():
        raise ValueError(f"{int(k[group].isna().sum())} kinetic samples have no {group}")
    if max_day is not None:
        k = k[k["day"] <= max_day]
    groups = list(dict.fromkeys(patients[group]))
    drawn = {g: _spaghetti_sample(k.loc[k[group] == g, "patient_id"]) for g in groups}
    fig = make_subplots(rows=1, cols=len(groups), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[_spaghetti_title(g, k.loc[k[group] == g, "patient_id"].nunique(), len(drawn[g]))
                                        for g in groups])
    colours = _palette()
    for ci, g in enumerate(groups, start=1):
        col = colours[(ci - 1) % len(colours)]
        # One trace per group, patients separated by gaps (None): a trace per patient would
        # repeat its style and hover template a hundred times over in the page.
        xs, ys, symbols, custom = [], [], [], []
        part = k[k[group] == g]
        for pid, p in part[part["patient_id"].isin(drawn[g])].groupby("patient_id"):
            p = p.sort_values("day")
            xs += [*p["day"], None]
            ys += [*p["copies_per_ug_gdna"], None]
            symbols += [*(100 if bl else 0 for bl in p["below_lloq"]), 0]  # 100 = open circle
            custom += [*([pid, "< " if bl else "", " (BLQ)" if bl else ""] for bl in p["below_lloq"]),
                       [pid, "", ""]]
        faint = part["patient_id"].nunique() > HIGHLIGHT_ABOVE
        line_colour = "#9a9a9a" if faint else col
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers", name=str(g), legendgroup=str(g), showlegend=False,
            opacity=0.3 if faint else 0.55, line={"color": line_colour, "width": 1}, connectgaps=False,
            marker={"size": 4 if faint else 5, "color": line_colour, "symbol": symbols}, customdata=custom,
            hovertemplate="%{customdata[0]}<br>day %{x:g}: %{customdata[1]}%{y:,.0f} copies/µg"
                          "%{customdata[2]}<extra></extra>"), row=1, col=ci)
        if faint:
            median = schedule_quantiles(part, part[group], probs=(0.5,))
            fig.add_trace(go.Scatter(
                x=median["day"], y=median["q50"], mode="lines+markers", name=f"{g}: median", showlegend=False,
                line={"color": col, "width": 3}, marker={"size": 6, "color": col},
                customdata=median[["n"]].to_numpy(),
                hovertemplate=f"{escape_html(str(g))}: median %{{y:,.0f}} copies/µg on day %{{x:g}} "
                              "(n = %{customdata[0]})<extra></extra>"), row=1, col=ci)
        fig.update_xaxes(title="Days after infusion", row=1, col=ci)
    fig.update_yaxes(**DECADE_AXIS)
    fig.update_yaxes(title="CAR copies/µg gDNA (log)", row=1, col=1)
    return style(fig, title, height=430)


def median_band_figure(quantiles: pd.DataFrame, *, title: str = ""):
    """Median level per scheduled day with the interquartile band, one colour per group."""
    from helpers.plots.figures import style
    go = _go()
    fig = go.Figure()
    colours = _palette()
    for i, (g, part) in enumerate(quantiles.groupby("group", sort=False)):
        col = colours[i % len(colours)]
        rgba = "rgba({},{},{},0.18)".format(*[int(col[j:j + 2], 16) for j in (1, 3, 5)])
        part = part.sort_values("day")
        fig.add_trace(go.Scatter(x=part["day"], y=part["q75"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip", legendgroup=str(g)))
        fig.add_trace(go.Scatter(x=part["day"], y=part["q25"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=rgba, name=f"{g}: IQR",
                                 legendgroup=str(g), hoverinfo="skip"))
        text = [f"{g}, day {d:g}<br>median {'≤ limit' if mb else f'{m:,.0f}'} "
                f"(IQR {'≤ limit' if lb else f'{lo:,.0f}'} – {'≤ limit' if hb else f'{hi:,.0f}'})"
                f"<br>n = {n} sampled, {nb} below the limit"
                for d, m, lo, hi, mb, lb, hb, n, nb in zip(
                    part["day"], part["q50"], part["q25"], part["q75"], part["q50_blq"], part["q25_blq"],
                    part["q75_blq"], part["n"], part["n_blq"])]
        fig.add_trace(go.Scatter(x=part["day"], y=part["q50"], mode="lines+markers", name=f"{g}: median",
                                 line={"color": col, "width": 2.5, "dash": "solid" if i == 0 else "dash"},
                                 marker={"symbol": ["circle", "square", "diamond"][i % 3], "size": 7},
                                 legendgroup=str(g), text=text, hovertemplate="%{text}<extra></extra>"))
    _log_axis(fig)
    fig = style(fig, title, height=470)
    fig.update_layout(margin={"t": 130})      # room for a two-row legend under the title
    return fig


def exposure_figure(frame: pd.DataFrame, *, value: str, x: str, color: Optional[str] = None,
                    title: str = "", y_title: str = "", log: bool = True, order: Optional[dict] = None):
    """Box plots with every patient shown as a point; hover: patient, value, group n/N. A group of
    fewer than :data:`~helpers.plots.figures.MIN_BOX_N` patients is drawn as its points alone."""
    from helpers.plots.figures import DECADE_AXIS, POINTS_ONLY_NOTE, add_boxes, style
    go = _go()
    fig = go.Figure()
    colours = _palette()
    series = frame.groupby(color, sort=False) if color else [(None, frame)]
    if order and color in (order or {}):
        series = [(c, frame[frame[color] == c]) for c in order[color] if (frame[color] == c).any()]
    x_order = list(order[x]) if order and x in order else list(dict.fromkeys(frame[x]))
    points_only = False
    for i, (name, part) in enumerate(series):
        part = part.dropna(subset=[value])
        totals = part.groupby(x).size()
        grand = frame.groupby(x).size()
        text = [f"{pid}<br>{x}: {xv}" + (f"; {color}: {name}" if color else "")
                + f"<br>{value}: {v:,.3g}<br>group n = {totals.get(xv, 0)}/{grand.get(xv, 0)}"
                for pid, xv, v in zip(part["patient_id"], part[x], part[value])]
        points_only |= add_boxes(
            fig, part[x], part[value], name=str(name) if name is not None else value,
            color=colours[i % len(colours)], text=text, hoverinfo="text",
            marker={"size": 5, "color": colours[i % len(colours)], "symbol": ["circle", "square", "diamond", "x"][i % 4]})
    fig.update_layout(boxmode="group" if color else "overlay", showlegend=color is not None)
    fig.update_xaxes(categoryorder="array", categoryarray=x_order, title=POINTS_ONLY_NOTE if points_only else None)
    if log:
        fig.update_yaxes(**DECADE_AXIS)
    fig.update_yaxes(title=y_title or value)
    return style(fig, title, height=430)


def fit_overlay_figure(kinetics: pd.DataFrame, fits: pd.DataFrame, patient_ids: Sequence[str], *,
                       labels: Optional[dict] = None, title: str = "", cols: int = 3,
                       published_peaks: Optional[dict] = None):
    """Small multiples: observed samples (BLQ open) and the fitted model curve per patient;
    ``published_peaks`` (patient -> day) adds a dotted vertical line at a published peak day."""
    from plotly.subplots import make_subplots

    from helpers.plots.figures import DECADE_AXIS, style
    go = _go()
    labels = labels or {}
    rows = math.ceil(len(patient_ids) / cols)
    fits = fits.set_index("patient_id")
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=False, vertical_spacing=0.08,
                        horizontal_spacing=0.05,
                        subplot_titles=[labels.get(p, p) for p in patient_ids])
    colours = _palette()
    for i, pid in enumerate(patient_ids):
        r, c = i // cols + 1, i % cols + 1
        obs = kinetics[kinetics["patient_id"] == pid].sort_values("day")
        fig.add_trace(go.Scatter(
            x=obs["day"], y=obs["copies_per_ug_gdna"], mode="markers", showlegend=(i == 0),
            name="observed (open = below limit)", legendgroup="obs",
            marker={"color": colours[0], "size": 6,
                    "symbol": ["circle-open" if b else "circle" for b in obs["below_lloq"]]},
            text=[f"{pid}, day {d:g}: {v:,.0f}{' (BLQ)' if b else ''}"
                  for d, v, b in zip(obs["day"], obs["copies_per_ug_gdna"], obs["below_lloq"])],
            hovertemplate="%{text}<extra></extra>"), row=r, col=c)
        f = fits.loc[pid] if pid in fits.index else None
        if f is not None and f["fit_status"] == "fitted":
            # 80 points draw the smooth model curve as well as 240 did, at a third of the page weight
            grid = np.unique(np.r_[np.linspace(0.5, obs["day"].max(), 80), f["model_tmax"]])
            params = SteinParameters(f["curve_cmax"], f["curve_tmax"], f["curve_rho"], f["curve_alpha"],
                                     f["curve_beta"], f["curve_fb"])
            slow = (f"{f['model_half_life_beta']:.0f} d" if math.isfinite(f["model_half_life_beta"])
                    else "not identified")
            fig.add_trace(go.Scatter(
                x=grid, y=stein_curve(grid, params), mode="lines", showlegend=(i == 0),
                name="fitted model", legendgroup="fit", line={"color": colours[5], "width": 2},
                hovertemplate=(f"{pid} model<br>day %{{x:.1f}}: %{{y:,.0f}}<br>Tmax {f['model_tmax']:.1f} d, "
                               f"doubling {f['model_doubling_time']:.2f} d, t½ fast "
                               f"{f['model_half_life_alpha']:.1f} d, slow {slow}"
                               "<extra></extra>")), row=r, col=c)
        if published_peaks and pid in published_peaks:
            day = float(published_peaks[pid])
            top = float(obs["copies_per_ug_gdna"].max()) * 2
            fig.add_trace(go.Scatter(
                x=[day, day], y=[float(obs["copies_per_ug_gdna"].min()) / 2, top], mode="lines",
                showlegend=(i == 0), name="published peak day", legendgroup="pub",
                line={"color": "#000000", "dash": "dot", "width": 1.5},
                hovertemplate=f"{pid}: published peak on day {day:g}<extra></extra>"), row=r, col=c)
        fig.update_yaxes(**DECADE_AXIS, row=r, col=c)
    fig.update_xaxes(title="Days after infusion", row=rows)
    fig.update_yaxes(title="copies/µg gDNA", col=1)
    height = 260 * rows + 160
    fig = style(fig, title, height=height)
    # the legend sits above the subplot titles of the first row, not on them
    top, bottom = 140, 95
    fig.update_layout(margin={"t": top}, legend={"y": 1 + 38 / (height - top - bottom), "yanchor": "bottom"})
    return fig


#: How far past the true values a recovery panel's axes reach (a factor, on the log scale). A fit
#: that failed to identify a parameter (a slow half-life of 10⁶ days) is drawn at the edge instead
#: of stretching the axis until every other point sits in one corner.
RECOVERY_AXIS_FACTOR = 4.0


def recovery_figure(truth: pd.DataFrame, fitted: pd.DataFrame, parameters: Sequence[str], *,
                    labels: Optional[dict] = None, title: str = ""):
    """True against fitted value of each model parameter for simulated patients (log axes),
    with the identity line. Each panel's axes span the true values (times and divided by
    :data:`RECOVERY_AXIS_FACTOR`); a fitted value beyond them is drawn on the edge as a triangle,
    its hover giving the value, and the panel's title counts them."""
    from plotly.subplots import make_subplots

    from helpers.plots.figures import step_ticks, style
    go = _go()
    labels = labels or {}
    cols = len(parameters)
    panels = []
    for p in parameters:
        a, b = truth[p].to_numpy(float), fitted[p].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
        lo, hi = np.min(a[ok]) / RECOVERY_AXIS_FACTOR, np.max(a[ok]) * RECOVERY_AXIS_FACTOR
        panels.append((p, a[ok], b[ok], lo, hi))
    titles = []
    for p, _, b, lo, hi in panels:
        outside = int(((b < lo) | (b > hi)).sum())
        titles.append(labels.get(p, p) + (f"<br>({outside} beyond the axis)" if outside else ""))
    fig = make_subplots(rows=1, cols=cols, horizontal_spacing=0.06, subplot_titles=titles)
    colours = _palette()
    for i, (p, a, b, lo, hi) in enumerate(panels, start=1):
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=False,
                                 line={"color": "#999", "dash": "dot"}, hoverinfo="skip"), row=1, col=i)
        shown = np.clip(b, lo, hi)
        symbols = np.where(b > hi, "triangle-up", np.where(b < lo, "triangle-down", "circle"))
        fig.add_trace(go.Scatter(
            x=a, y=shown, mode="markers", showlegend=False, cliponaxis=False,  # an edge triangle whole
            marker={"color": colours[0], "size": 6, "symbol": symbols.tolist()},
            text=[f"simulated patient {j + 1}<br>true {x:.3g}, fitted {y:.3g} ({100 * (y / x - 1):+.0f}%)"
                  + ("<br>(beyond the axis)" if not lo <= y <= hi else "")
                  for j, (x, y) in enumerate(zip(a, b))],
            hovertemplate="%{text}<extra></extra>"), row=1, col=i)
        log_range = [math.log10(lo), math.log10(hi)]
        fig.update_xaxes(type="log", range=log_range, **step_ticks(), title="true", row=1, col=i)
        fig.update_yaxes(type="log", range=log_range, **step_ticks(), row=1, col=i)
    fig.update_yaxes(title="fitted", col=1)
    return style(fig, title, height=380)
