"""CAR-T kinetics figures and tables: spaghetti and median bands, exposure, fitted curves, recovery."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd

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
    fig.update_yaxes(type="log", title=title, exponentformat="power")
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


def _spaghetti_title(group, n: int, drawn: int) -> str:
    return f"{group} (n = {n})" if drawn == n else f"{group} (n = {n:,}): {drawn} of {n:,} drawn at random"


def spaghetti_figure(kinetics: pd.DataFrame, patients: pd.DataFrame, *, group: str = "cohort",
                     title: str = "", max_day: Optional[float] = None):
    """One panel per group: each patient's profile on a log axis; BLQ samples as open
    markers at the limit. Hover: patient, day, level, group n. A panel of more than
    :data:`SPAGHETTI_LIMIT` patients draws a seeded random sample of them, said in its title."""
    from plotly.subplots import make_subplots

    from helpers.plots.figures import style
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
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers", name=str(g), legendgroup=str(g), showlegend=False,
            opacity=0.55, line={"color": col, "width": 1}, connectgaps=False,
            marker={"size": 5, "color": col, "symbol": symbols}, customdata=custom,
            hovertemplate="%{customdata[0]}<br>day %{x:g}: %{customdata[1]}%{y:,.0f} copies/µg"
                          "%{customdata[2]}<extra></extra>"), row=1, col=ci)
        fig.update_xaxes(title="Days after infusion", row=1, col=ci)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1,
                     title="CAR copies/µg gDNA (log)")
    for ci in range(2, len(groups) + 1):
        fig.update_yaxes(type="log", row=1, col=ci)
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
    """Box plots with every patient shown as a point; hover: patient, value, group n/N."""
    from helpers.plots.figures import style
    go = _go()
    fig = go.Figure()
    colours = _palette()
    series = frame.groupby(color, sort=False) if color else [(None, frame)]
    if order and color in (order or {}):
        series = [(c, frame[frame[color] == c]) for c in order[color] if (frame[color] == c).any()]
    x_order = list(order[x]) if order and x in order else list(dict.fromkeys(frame[x]))
    for i, (name, part) in enumerate(series):
        part = part.dropna(subset=[value])
        totals = part.groupby(x).size()
        grand = frame.groupby(x).size()
        text = [f"{pid}<br>{x}: {xv}" + (f"; {color}: {name}" if color else "")
                + f"<br>{value}: {v:,.3g}<br>group n = {totals.get(xv, 0)}/{grand.get(xv, 0)}"
                for pid, xv, v in zip(part["patient_id"], part[x], part[value])]
        fig.add_trace(go.Box(
            x=part[x], y=part[value], name=str(name) if name is not None else value, boxpoints="all",
            jitter=0.45, pointpos=0, marker={"size": 5, "color": colours[i % len(colours)],
                                             "symbol": ["circle", "square", "diamond", "x"][i % 4]},
            line={"color": colours[i % len(colours)]}, text=text, hoverinfo="text", hoveron="points"))
    fig.update_layout(boxmode="group" if color else "overlay", showlegend=color is not None)
    fig.update_xaxes(categoryorder="array", categoryarray=x_order)
    if log:
        fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title=y_title or value)
    return style(fig, title, height=430)


def fit_overlay_figure(kinetics: pd.DataFrame, fits: pd.DataFrame, patient_ids: Sequence[str], *,
                       labels: Optional[dict] = None, title: str = "", cols: int = 3,
                       published_peaks: Optional[dict] = None):
    """Small multiples: observed samples (BLQ open) and the fitted model curve per patient;
    ``published_peaks`` (patient -> day) adds a dotted vertical line at a published peak day."""
    from plotly.subplots import make_subplots

    from helpers.plots.figures import style
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
        fig.update_yaxes(type="log", exponentformat="power", row=r, col=c)
    fig.update_xaxes(title="Days after infusion", row=rows)
    fig.update_yaxes(title="copies/µg gDNA", col=1)
    height = 260 * rows + 160
    fig = style(fig, title, height=height)
    # the legend sits above the subplot titles of the first row, not on them
    top, bottom = 140, 95
    fig.update_layout(margin={"t": top}, legend={"y": 1 + 38 / (height - top - bottom), "yanchor": "bottom"})
    return fig


def recovery_figure(truth: pd.DataFrame, fitted: pd.DataFrame, parameters: Sequence[str], *,
                    labels: Optional[dict] = None, title: str = ""):
    """True against fitted value of each model parameter for simulated patients (log axes),
    with the identity line."""
    from plotly.subplots import make_subplots

    from helpers.plots.figures import style
    go = _go()
    labels = labels or {}
    cols = len(parameters)
    fig = make_subplots(rows=1, cols=cols, subplot_titles=[labels.get(p, p) for p in parameters],
                        horizontal_spacing=0.06)
    colours = _palette()
    for i, p in enumerate(parameters, start=1):
        a, b = truth[p].to_numpy(float), fitted[p].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        lo, hi = np.nanmin(np.r_[a[ok], b[ok]]), np.nanmax(np.r_[a[ok], b[ok]])
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=False,
                                 line={"color": "#999", "dash": "dot"}, hoverinfo="skip"), row=1, col=i)
        fig.add_trace(go.Scatter(
            x=a[ok], y=b[ok], mode="markers", showlegend=False, marker={"color": colours[0], "size": 6},
            text=[f"simulated patient {j + 1}<br>true {x:.3g}, fitted {y:.3g} ({100 * (y / x - 1):+.0f}%)"
                  for j, (x, y) in enumerate(zip(a[ok], b[ok]))],
            hovertemplate="%{text}<extra></extra>"), row=1, col=i)
        fig.update_xaxes(type="log", title="true", row=1, col=i)
        fig.update_yaxes(type="log", row=1, col=i)
    fig.update_yaxes(title="fitted", col=1)
    return style(fig, title, height=380)
