"""Cytokine kinetics after CAR-T: long-format series, peaks, trajectories, tests.

The laboratory table of the data contract is already long (one row per
patient, analyte and day; day 0 = infusion). This module

* picks out the cytokines and inflammatory markers with their units
  (:func:`cytokine_series`) and says who was and was not monitored
  (:func:`monitoring`);
* summarises each patient's course by its peak and the day of the peak
  (:func:`peaks`) and each group's course by the median and interquartile
  range on every sampling day (:func:`trajectories`);
* compares two groups with the Wilcoxon-Mann-Whitney rank-sum test and the
  Hodges-Lehmann shift with its confidence interval, computed exactly as R's
  ``wilcox.test(x, y, conf.int = TRUE)`` does (:func:`mann_whitney`; checked
  against R in ``tests/test_cytokines_vs_r.py``);
* fits a linear mixed model on log values as a teaching example
  (:func:`fit_log_mixed_model`).

Conventions: values below the lower limit of quantification (LLOQ) carry the
limit itself and ``below_lloq = True``. Medians, peaks and rank tests use
them as they are (a value at the limit ranks at the bottom, which is what a
censored value should do when all samples share one limit); the mixed model,
which needs a number, substitutes half the limit (stated where it is used).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import pandas as pd

from helpers.stats.rank import mann_whitney

#: The cytokines and inflammatory markers followed after CAR-T, in display order.
CYTOKINES = ("IL-6", "IL-10", "TNF-alpha", "IFN-gamma", "CRP", "ferritin")
#: How each analyte is printed.
LABELS = {"IL-6": "IL-6", "IL-10": "IL-10", "TNF-alpha": "TNF-α", "IFN-gamma": "IFN-γ",
          "CRP": "CRP", "ferritin": "Ferritin"}

LAB_COLUMNS = ("study_id", "patient_id", "analyte", "day", "value", "unit", "below_lloq", "origin")


# --------------------------------------------------------------- the data --

def cytokine_series(labs: pd.DataFrame, patients: pd.DataFrame,
                    analytes: Sequence[str] = CYTOKINES, group: str = "cohort") -> pd.DataFrame:
    """The cytokine rows of a labs table, long format, with the patient's group.

    Returns one row per patient, analyte and day with ``group``, ``label``
    (printable analyte name), ``value``, ``unit``, ``below_lloq``, ``origin``
    and ``log10_value``. Raises when a requested analyte is unknown, when an
    analyte comes in more than one unit, or when a lab row belongs to no
    patient (nothing is dropped silently).
    """
    missing = [c for c in LAB_COLUMNS if c not in labs.columns]
    if missing:
        raise ValueError(f"labs is missing columns {missing}")
    unknown = [a for a in analytes if a not in LABELS]
    if unknown:
        raise ValueError(f"unknown analytes {unknown}; known: {list(LABELS)}")
    if group not in patients.columns:
        raise ValueError(f"patients has no column {group!r}")
    rows = labs[labs["analyte"].isin(analytes)].copy()
    units = rows.groupby("analyte")["unit"].nunique()
    mixed = units[units > 1].index.tolist()
    if mixed:
        raise ValueError(f"analytes {mixed} come in more than one unit; convert them first")
    orphans = ~rows["patient_id"].isin(patients["patient_id"])
    if orphans.any():
        raise ValueError(f"{int(orphans.sum())} lab rows belong to no patient in the patients table "
                         f"(e.g. {rows.loc[orphans, 'patient_id'].iloc[0]!r})")
    if (rows["value"] <= 0).any():
        raise ValueError(f"{int((rows['value'] <= 0).sum())} cytokine values are <= 0; "
                         "a log scale needs positive values (use the LLOQ with below_lloq=True)")
    rows = rows.merge(patients[["patient_id", group]], on="patient_id", how="left")
    rows["label"] = rows["analyte"].map(LABELS)
    rows["log10_value"] = np.log10(rows["value"].astype(float))
    order = {a: i for i, a in enumerate(analytes)}
    rows = rows.assign(_o=rows["analyte"].map(order)).sort_values(["_o", group, "patient_id", "day"])
    return rows.drop(columns="_o").reset_index(drop=True)


def monitoring(series: pd.DataFrame, patients: pd.DataFrame, group: str = "cohort") -> pd.DataFrame:
    """Per group: patients, patients with at least one cytokine sample, and those without."""
    monitored = set(series["patient_id"])
    out = []
    for name, part in patients.groupby(group, sort=False):
        k = int(part["patient_id"].isin(monitored).sum())
        out.append({group: name, "patients": len(part), "monitored": k, "not monitored": len(part) - k})
    frame = pd.DataFrame(out)
    total = {group: "all", "patients": int(frame["patients"].sum()),
             "monitored": int(frame["monitored"].sum()), "not monitored": int(frame["not monitored"].sum())}
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def peaks(series: pd.DataFrame, group: str = "cohort", first_day: float = 0.0,
          last_day: float = 28.0) -> pd.DataFrame:
    """Each patient's peak of each analyte between ``first_day`` and ``last_day``.

    Columns: ``baseline`` (last value on or before day 0, empty if none),
    ``peak`` (highest value in the window), ``peak_day`` (first day it was
    reached), ``fold_change`` (peak / baseline), ``samples`` (in the window)
    and ``peak_below_lloq`` (the peak itself is below the limit, i.e. the
    analyte never rose above it). Patients with no sample in the window are
    not in the result; :func:`monitoring` counts them.
    """
    window = series[(series["day"] >= first_day) & (series["day"] <= last_day)]
    if window.empty:
        return pd.DataFrame()
    keys = ["analyte", "patient_id"]
    # Vectorised (a registry has thousands of patients): one row per analyte and patient, in the
    # order the pairs first appear in the window; the peak is the highest value, earliest day first.
    order = window[keys].drop_duplicates()
    best = (window.sort_values([*keys, "value", "day"], ascending=[True, True, False, True], kind="mergesort")
            .drop_duplicates(keys))
    samples = window.groupby(keys, sort=False).size().rename("samples").reset_index()
    before = series[series["day"] <= 0].sort_values("day", kind="mergesort")
    baseline = before.drop_duplicates(keys, keep="last")[[*keys, "value"]].rename(columns={"value": "baseline"})
    out = (order.merge(best, on=keys, how="left").merge(baseline, on=keys, how="left")
           .merge(samples, on=keys, how="left"))
    base = out["baseline"].astype(float)
    peak = out["value"].astype(float)
    return pd.DataFrame({
        "patient_id": out["patient_id"].to_numpy(dtype=object), group: out[group].to_numpy(dtype=object),
        "analyte": out["analyte"].to_numpy(dtype=object), "label": out["label"].to_numpy(dtype=object),
        "unit": out["unit"].to_numpy(dtype=object), "baseline": base.to_numpy(), "peak": peak.to_numpy(),
        "peak_day": out["day"].astype(float).to_numpy(),
        "fold_change": np.where((base != 0) & base.notna(), peak / base.where(base != 0), np.nan),
        "samples": out["samples"].astype("int64").to_numpy(),
        "peak_below_lloq": out["below_lloq"].astype(bool).to_numpy()})


def trajectories(series: pd.DataFrame, group: str = "cohort") -> pd.DataFrame:
    """Median and interquartile range per group, analyte and sampling day.

    Quartiles are R's default (type 7, linear interpolation). ``n`` is the
    number of patients sampled that day, ``below_lloq`` how many of them were
    below the limit.
    """
    def q(p):
        return lambda v: float(np.quantile(v, p))  # numpy's default "linear" = R type 7

    summary = (series.groupby([group, "analyte", "label", "unit", "day"], sort=False)
               .agg(n=("value", "size"), median=("value", "median"), q1=("value", q(0.25)),
                    q3=("value", q(0.75)), below_lloq=("below_lloq", "sum"))
               .reset_index())
    summary["below_lloq"] = summary["below_lloq"].astype(int)
    return summary


def compare_groups(values: pd.DataFrame, *, value: str, group: str, groups: Sequence[str],
                   by: Optional[str] = None, log10: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
    """Two-group rank-sum comparisons (one row per level of ``by``), Hodges-Lehmann
    shift with its confidence interval.

    With ``log10=True`` the test and the shift are computed on log10 values,
    and the shift is shown back-transformed as a **ratio** (group 1 / group 2):
    the typical factor by which group 1's values exceed group 2's. The P value
    is the same either way (ranks do not change under a log).
    """
    if len(groups) != 2:
        raise ValueError(f"groups must name exactly two groups, got {groups!r}")
    missing = [g for g in groups if g not in set(values[group])]
    if missing:
        raise ValueError(f"groups {missing} not found in column {group!r}")
    parts = values.groupby(by, sort=False) if by else [(None, values)]
    rows = []
    for level, part in parts:
        a = part.loc[part[group] == groups[0], value].to_numpy(float)
        b = part.loc[part[group] == groups[1], value].to_numpy(float)
        ta, tb = (np.log10(a), np.log10(b)) if log10 else (a, b)
        res = mann_whitney(ta, tb, conf_level=conf_level)
        back = (lambda v: 10 ** v) if log10 else (lambda v: v)
        row = {by: level} if by else {}
        row.update({
            f"n {groups[0]}": len(a), f"n {groups[1]}": len(b),
            f"median [IQR] {groups[0]}": median_iqr(a), f"median [IQR] {groups[1]}": median_iqr(b),
            "W": res.statistic, "P": res.p_value,
            ("ratio (HL)" if log10 else "shift (HL)"): back(res.hodges_lehmann),
            "CI lower": back(res.ci_lower), "CI upper": back(res.ci_upper),
            "method": res.method,
        })
        rows.append(row)
    return pd.DataFrame(rows)


def median_iqr(v) -> str:
    """"median [Q1–Q3]" of the values (R type-7 quartiles), 3 significant digits."""
    v = np.asarray(v, dtype=float)
    if len(v) == 0:
        return ""
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    return f"{_fmt(med)} [{_fmt(q1)}–{_fmt(q3)}]"


def format_comparison(table: pd.DataFrame, by_labels: bool = True) -> pd.DataFrame:
    """A :func:`compare_groups` table as printed: ratios/shifts to 2 decimals, P to 3."""
    out = table.copy()
    if by_labels and "analyte" in out.columns:
        out["analyte"] = out["analyte"].map(lambda a: LABELS.get(a, a))
    for column in ("ratio (HL)", "shift (HL)", "CI lower", "CI upper"):
        if column in out.columns:
            out[column] = out[column].map(lambda v: f"{v:.2f}")
    out["P"] = out["P"].map(lambda p: f"{p:.3f}" if p >= 0.001 else "< 0.001")
    out["W"] = out["W"].map(lambda w: f"{w:g}")
    return out


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def peak_by_grade(peak_table: pd.DataFrame, grades: pd.DataFrame, analyte: str = "IL-6") -> pd.DataFrame:
    """Peaks of one analyte joined to each patient's worst CRS grade.

    ``grades`` has ``patient_id`` and ``grade``. Patients with a peak but no
    grade (or a grade but no peak) raise, so no one is dropped silently.
    """
    part = peak_table[peak_table["analyte"] == analyte]
    merged = part.merge(grades[["patient_id", "grade"]], on="patient_id", how="outer", indicator=True)
    unmatched = merged[merged["_merge"] == "left_only"]
    if len(unmatched):
        raise ValueError(f"{len(unmatched)} patients have a {analyte} peak but no CRS grade "
                         f"(e.g. {unmatched['patient_id'].iloc[0]!r})")
    return merged[merged["_merge"] == "both"].drop(columns="_merge").reset_index(drop=True)
