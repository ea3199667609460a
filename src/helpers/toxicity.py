"""Adverse events after CAR-T: who was graded, grade distributions, tables, timing.

The contract's ``adverse_events`` table holds one row per patient and event
term with the worst grade (0 = assessed and absent). This module turns it
into what a toxicity section reports:

* the graded population, with everyone not graded counted and named
  (:func:`graded_population`);
* each patient's worst grade of a syndrome or term (:func:`worst_grades`),
  CRS counts by cohort (:func:`crs_counts`), the grade distribution
  (:func:`grade_distribution`, :func:`grade_bars`);
* the adverse-event table by cohort in grade bands (1-2, 3-4, 5), with the
  difference between cohorts and its 95 % confidence interval (Newcombe's
  hybrid score interval) next to Fisher's exact P
  (:func:`adverse_event_table`, :func:`difference_figure`);
* onset and duration of an event (:func:`onset_duration`,
  :func:`episode_figure`).

Percentages are in percent; differences in percentage points (group 1 minus
group 2).
"""

from __future__ import annotations

import html
import math
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import figures
from .stats import fisher_exact, wilson

__all__ = [
    "GRADE_COLOURS", "BANDS", "graded_population", "worst_grades", "crs_counts", "grade_distribution",
    "grade_bars", "newcombe_difference", "adverse_event_table", "format_event_table",
    "difference_figure", "onset_duration", "onset_summary", "episode_figure", "patients_with_grade",
]

#: Grade colours from the Okabe-Ito palette, cool to warm (grey = no event).
GRADE_COLOURS = {0: "#BBBBBB", 1: "#56B4E9", 2: "#0072B2", 3: "#E69F00", 4: "#D55E00", 5: "#000000"}
GRADE_NAMES = {0: "None", 1: "Grade 1", 2: "Grade 2", 3: "Grade 3", 4: "Grade 4", 5: "Grade 5"}
#: The grade bands of the adverse-event table.
BANDS = (("grade 1–2", 1, 2), ("grade 3–4", 3, 4), ("grade 5", 5, 5))

AE_COLUMNS = ("patient_id", "category", "term", "grade")


def _check_ae(ae: pd.DataFrame) -> None:
    missing = [c for c in AE_COLUMNS if c not in ae.columns]
    if missing:
        raise ValueError(f"adverse_events is missing columns {missing}")
    bad = ~ae["grade"].isin(range(6))
    if bad.any():
        raise ValueError(f"{int(bad.sum())} adverse-event grades are not 0-5: {sorted(ae.loc[bad, 'grade'].unique())}")


def graded_population(ae: pd.DataFrame, patients: pd.DataFrame,
                      group: str = "cohort") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Patients with at least one adverse-event row (graded), and those without.

    Returns ``(graded, excluded)``; ``excluded`` has a ``reason`` column. An
    adverse-event row for a patient missing from ``patients`` raises.
    """
    _check_ae(ae)
    if group not in patients.columns:
        raise ValueError(f"patients has no column {group!r}")
    orphans = sorted(set(ae["patient_id"]) - set(patients["patient_id"]))
    if orphans:
        raise ValueError(f"{len(orphans)} adverse-event patients are not in the patients table "
                         f"(e.g. {orphans[0]!r})")
    has_rows = patients["patient_id"].isin(set(ae["patient_id"]))
    graded = patients.loc[has_rows, ["patient_id", group]].reset_index(drop=True)
    excluded = patients.loc[~has_rows, ["patient_id", group]].assign(
        reason="no adverse-event assessment in the data").reset_index(drop=True)
    return graded, excluded


def worst_grades(ae: pd.DataFrame, graded: pd.DataFrame, *, group: str = "cohort",
                 category: Optional[str] = None, term: Optional[str] = None,
                 exclude_categories: Sequence[str] = ()) -> pd.DataFrame:
    """Each graded patient's worst grade of the matching events (0 when none).

    Match by ``category`` and/or ``term``; with neither, every event except
    ``exclude_categories`` counts (e.g. "any non-haematological adverse event").
    """
    _check_ae(ae)
    rows = ae[~ae["category"].isin(exclude_categories)]
    if category is not None:
        if category not in set(ae["category"]):
            raise ValueError(f"no adverse events of category {category!r}; found {sorted(set(ae['category']))}")
        rows = rows[rows["category"] == category]
    if term is not None:
        if term not in set(ae["term"]):
            raise ValueError(f"no adverse events with term {term!r}; found {sorted(set(ae['term']))}")
        rows = rows[rows["term"] == term]
    worst = rows.groupby("patient_id")["grade"].max()
    out = graded[["patient_id", group]].copy()
    out["grade"] = out["patient_id"].map(worst).fillna(0).astype(int)
    return out


def crs_counts(ae: pd.DataFrame, patients: pd.DataFrame, *, group: str = "cohort",
               severe: tuple[int, int] = (3, 4), order: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """CRS of any grade and severe CRS (grades ``severe[0]``-``severe[1]``) per group and overall."""
    graded, _ = graded_population(ae, patients, group)
    grades = worst_grades(ae, graded, group=group, category="CRS")
    groups = list(order) if order is not None else list(pd.unique(grades[group]))
    out = []
    for name in groups + ["all"]:
        part = grades if name == "all" else grades[grades[group] == name]
        out.append({group: name, "graded": len(part), "any grade": int((part["grade"] >= 1).sum()),
                    "severe": int(part["grade"].between(*severe).sum()),
                    "grade 5": int((part["grade"] == 5).sum())})
    return pd.DataFrame(out)


def grade_distribution(grades: pd.DataFrame, *, group: str = "cohort",
                       order: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Tidy counts of worst grade (0-5) per group: ``group, grade, n, N``; all grades listed."""
    groups = list(order) if order is not None else list(pd.unique(grades[group]))
    rows = []
    for name in groups:
        part = grades[grades[group] == name]
        for g in range(6):
            rows.append({group: name, "grade": g, "n": int((part["grade"] == g).sum()), "N": len(part)})
    return pd.DataFrame(rows)


def grade_bars(distribution: pd.DataFrame, *, group: str = "cohort", title: Optional[str] = None,
               syndrome: str = "CRS") -> go.Figure:
    """100 %-stacked horizontal bars of the grade distribution; hover gives n/N and %."""
    groups = list(pd.unique(distribution[group]))
    figure = go.Figure()
    for g in range(6):
        part = distribution[distribution["grade"] == g].set_index(group).reindex(groups)
        if g > 0 and part["n"].sum() == 0:
            continue  # a grade nobody had is left out of the legend
        pct = [100 * k / n if n else 0 for k, n in zip(part["n"], part["N"])]
        name = "No " + syndrome if g == 0 else GRADE_NAMES[g]
        figure.add_trace(go.Bar(
            y=groups, x=pct, orientation="h", name=name, marker_color=GRADE_COLOURS[g],
            marker_line={"color": "white", "width": 1},
            customdata=np.column_stack([part["n"], part["N"]]),
            hovertemplate="%{y}<br>" + html.escape(name) + ": %{customdata[0]}/%{customdata[1]} "
                          "(%{x:.1f}%)<extra></extra>",
            text=[f"{p:.0f}%" if p >= 7 else "" for p in pct], textposition="inside",
            textfont={"color": "white" if g in (2, 4, 5) else "black"},
        ))
    figure.update_layout(barmode="stack", xaxis={"title": "Patients (%)", "range": [0, 100]},
                         yaxis={"autorange": "reversed"})
    figures.style(figure, title, height=190 + 55 * len(groups))
    figure.update_layout(legend={"traceorder": "normal"})
    return figure


def newcombe_difference(k1: int, n1: int, k2: int, n2: int, level: float = 0.95) -> tuple[float, float, float]:
    """Difference of two proportions p1 - p2 with Newcombe's hybrid score interval.

    Newcombe (1998, Stat Med 17:873), method 10: the Wilson score intervals
    (l1, u1) and (l2, u2) of the two proportions are combined as::

        lower = d - sqrt((p1 - l1)^2 + (u2 - p2)^2)
        upper = d + sqrt((u1 - p1)^2 + (p2 - l2)^2)

    It keeps good coverage with small groups and with 0 % or 100 %, where the
    Wald interval fails. Returns fractions ``(d, lower, upper)``.
    """
    l1, u1 = wilson(k1, n1, level)
    l2, u2 = wilson(k2, n2, level)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    return d, d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def adverse_event_table(ae: pd.DataFrame, patients: pd.DataFrame, *, groups: Sequence[str],
                        group: str = "cohort", level: float = 0.95) -> pd.DataFrame:
    """One row per event term and outcome ("any grade", "grade >= 3") with counts per
    group, the difference (percentage points) and its Newcombe interval, and
    Fisher's exact P. Tidy and numeric: :func:`format_event_table` prints it.

    Denominators are the graded patients of each group (see
    :func:`graded_population`).
    """
    if len(groups) != 2:
        raise ValueError(f"groups must name exactly two groups, got {groups!r}")
    graded, _ = graded_population(ae, patients, group)
    absent = [g for g in groups if g not in set(graded[group])]
    if absent:
        raise ValueError(f"no graded patients in group(s) {absent}")
    terms = ae[["category", "term"]].drop_duplicates().sort_values(["category", "term"])
    rows = []
    for _, t in terms.iterrows():
        grades = worst_grades(ae, graded, group=group, category=t["category"], term=t["term"])
        row = {"category": t["category"], "term": t["term"]}
        for i, name in enumerate(groups, start=1):
            part = grades[grades[group] == name]["grade"]
            row[f"N{i}"] = len(part)
            row[f"any{i}"] = int((part >= 1).sum())
            for label, lo, hi in BANDS:
                row[f"{label}#{i}"] = int(part.between(lo, hi).sum())
            row[f"ge3_{i}"] = int((part >= 3).sum())
        for outcome, key in (("any grade", "any"), ("grade ≥3", "ge3_")):
            k1, n1, k2, n2 = row[f"{key}1"], row["N1"], row[f"{key}2"], row["N2"]
            d, lo, hi = newcombe_difference(k1, n1, k2, n2, level)
            rows.append({**row, "outcome": outcome, "k1": k1, "k2": k2, "difference": 100 * d,
                         "lower": 100 * lo, "upper": 100 * hi,
                         "fisher_p": fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])})
    frame = pd.DataFrame(rows)
    frame.attrs["groups"] = list(groups)
    return frame


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
            hovertemplate=("%{customdata[0]} (" + outcome + ")<br>" + html.escape(g1)
                           + ": %{customdata[1]}/%{customdata[2]}<br>" + html.escape(g2)
                           + ": %{customdata[3]}/%{customdata[4]}<br>difference %{x:+.1f} points "
                           "(95% CI %{customdata[5]:+.1f} to %{customdata[6]:+.1f})<br>"
                           "Fisher P = %{customdata[7]:.3f}<extra></extra>"),
        ))
    figure.add_vline(x=0, line={"color": "#555", "dash": "dot"})
    figure.update_layout(xaxis={"title": f"{g1} minus {g2} (percentage points)"},
                         yaxis={"tickmode": "array", "tickvals": list(range(len(terms))), "ticktext": terms,
                                "autorange": "reversed", "showgrid": False})
    return figures.style(figure, title, height=200 + 45 * len(terms))


def onset_duration(ae: pd.DataFrame, patients: pd.DataFrame, *, category: str = "CRS",
                   group: str = "cohort") -> pd.DataFrame:
    """One row per patient with the event (grade >= 1): grade, onset day, duration, end day.

    Rows whose onset or duration is missing are kept (with NaN) so they can be
    counted; :func:`onset_summary` reports how many there are.
    """
    _check_ae(ae)
    for column in ("onset_day", "duration_days"):
        if column not in ae.columns:
            raise ValueError(f"adverse_events has no column {column!r}")
    rows = ae[(ae["category"] == category) & (ae["grade"] >= 1)]
    out = rows.merge(patients[["patient_id", group]], on="patient_id", how="left")
    out = out[["patient_id", group, "grade", "onset_day", "duration_days"]].copy()
    out["end_day"] = out["onset_day"] + out["duration_days"]
    return out.sort_values([group, "onset_day", "patient_id"]).reset_index(drop=True)


def onset_summary(episodes: pd.DataFrame, *, group: str = "cohort",
                  order: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Median [IQR] (and range) of onset day and duration per group, with missing counts."""
    groups = list(order) if order is not None else list(pd.unique(episodes[group]))
    out = []
    for name in groups + ["all"]:
        part = episodes if name == "all" else episodes[episodes[group] == name]
        row = {group: name, "patients with the event": len(part)}
        for column, label in (("onset_day", "onset, day"), ("duration_days", "duration, days")):
            v = part[column].dropna().to_numpy(float)
            row[f"{label}: median [IQR] (range)"] = (
                f"{np.median(v):.1f} [{np.quantile(v, .25):.1f}–{np.quantile(v, .75):.1f}] "
                f"({v.min():.1f}–{v.max():.1f})" if len(v) else "not recorded")
            row[f"{label}: missing"] = int(part[column].isna().sum())
        out.append(row)
    return pd.DataFrame(out)


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
                              text=f"<b>{html.escape(str(name))}</b> ({len(block)} patients)",
                              font={"size": 12})
    figure.update_layout(xaxis={"title": "Days after CAR-T infusion", "rangemode": "tozero"},
                         yaxis={"autorange": "reversed", "showticklabels": False, "ticks": "",
                                "title": "Patients with " + syndrome})
    return figures.style(figure, title, height=max(380, 8 * len(data) + 200))


def patients_with_grade(ae: pd.DataFrame, patients: pd.DataFrame, *, grade: int = 4,
                        exclude_categories: Sequence[str] = ("cytopenia",),
                        group: str = "cohort") -> dict:
    """How many graded patients had an adverse event of exactly ``grade``.

    Returns ``{"k", "n", "events" (the matching rows), "excluded" (patients not
    graded)}``; categories in ``exclude_categories`` (by default the expected
    cytopenias of lymphodepletion) are not counted.
    """
    graded, excluded = graded_population(ae, patients, group)
    rows = ae[(ae["grade"] == grade) & ~ae["category"].isin(exclude_categories)
              & ae["patient_id"].isin(graded["patient_id"])]
    return {"k": int(rows["patient_id"].nunique()), "n": len(graded),
            "events": rows.reset_index(drop=True), "excluded": excluded}
