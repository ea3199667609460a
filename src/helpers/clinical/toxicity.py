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

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.stats.proportions import newcombe_difference

pass
from helpers.stats.proportions import fisher_exact

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
