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

import math
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "CYTOKINES", "LABELS", "cytokine_series", "monitoring", "peaks", "trajectories",
    "MannWhitney", "mann_whitney", "hodges_lehmann", "pwilcox", "qwilcox",
    "compare_groups", "peak_by_grade", "fit_log_mixed_model", "MixedModelResult",
    "trajectory_figure", "ratio_figure", "grade_box_figure", "patient_course_figure", "model_figure",
    "in_words", "median_iqr", "format_comparison",
]

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


# ------------------------------------------------ Wilcoxon-Mann-Whitney ----

@lru_cache(maxsize=256)
def _wilcox_counts(m: int, n: int) -> tuple[int, ...]:
    """Number of arrangements of m x's and n y's giving each value 0..m*n of the
    Mann-Whitney statistic (coefficients of the Gaussian binomial [m+n choose m])."""
    poly = [1]
    for i in range(1, m + 1):
        # multiply by (1 - q^(n+i)), then divide exactly by (1 - q^i)
        shifted = [0] * (n + i) + poly
        poly = [a - (shifted[k] if k < len(shifted) else 0) for k, a in
                enumerate(poly + [0] * (n + i))]
        for k in range(i, len(poly)):
            poly[k] += poly[k - i]
        while len(poly) > 1 and poly[-1] == 0:
            poly.pop()
    return tuple(poly)


def pwilcox(q: float, m: int, n: int, lower_tail: bool = True) -> float:
    """P(W <= q) (or P(W > q)) of the Mann-Whitney statistic under H0, as R's ``pwilcox``."""
    q = math.floor(q + 1e-7)
    counts = _wilcox_counts(m, n)
    total = math.comb(m + n, n)
    below = sum(counts[: max(0, min(q, m * n) + 1)]) if q >= 0 else 0
    p = Fraction(below, total)
    return float(p if lower_tail else 1 - p)


def qwilcox(p: float, m: int, n: int) -> int:
    """Smallest q with P(W <= q) >= p, with R's ``qwilcox`` guard of 10 machine epsilons."""
    counts = _wilcox_counts(m, n)
    total = float(math.comb(m + n, n))
    eps = np.finfo(float).eps
    cum = 0.0
    if p <= 0.5:
        target = p - 10 * eps
        for q, c in enumerate(counts):
            cum += c / total
            if cum >= target:
                return q
    target = 1 - p + 10 * eps
    for q, c in enumerate(counts):
        cum += c / total
        if cum > target:
            return m * n - q
    return m * n  # pragma: no cover - the loop always returns


def hodges_lehmann(x, y) -> float:
    """The Hodges-Lehmann shift: the median of all n_x * n_y differences x_i - y_j."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.median(np.subtract.outer(x, y)))


def _zeroin(f, a: float, b: float, fa: float, fb: float, tol: float, maxit: int = 1000) -> float:
    """Brent's root finder as R's ``uniroot`` runs it (R_zeroin2 in R's zeroin.c).

    Re-implemented step for step so that the asymptotic confidence limits and
    estimate of :func:`mann_whitney` land where R's do: the function being
    solved is a step function, so *which* point of a flat stretch is returned
    depends on the path the iteration takes.
    """
    eps = np.finfo(float).eps
    c, fc = a, fa
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * eps * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


@dataclass(frozen=True)
class MannWhitney:
    """Result of :func:`mann_whitney` (the fields of R's ``htest``, flattened)."""

    statistic: float          # W = rank sum of x minus n_x (n_x + 1) / 2 (R's W; Mann-Whitney U of x)
    p_value: float
    method: str               # R's method text
    exact: bool               # P from the exact null distribution?
    n_x: int
    n_y: int
    ties: bool
    alternative: str = "two.sided"
    estimate: float = math.nan          # R's "difference in location"
    hodges_lehmann: float = math.nan    # median of all pairwise differences x_i - y_j
    ci_lower: float = math.nan
    ci_upper: float = math.nan
    conf_level: float = math.nan        # achieved level (R lowers it when not achievable)
    notes: tuple = field(default_factory=tuple)


def _as_sample(values, name: str, nan_policy: str) -> tuple[np.ndarray, int]:
    try:
        arr = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric values, got {values!r}") from None
    if np.isinf(arr).any():
        raise ValueError(f"{name} contains {int(np.isinf(arr).sum())} infinite values")
    dropped = int(np.isnan(arr).sum())
    if dropped:
        if nan_policy == "raise":
            raise ValueError(f"{name} contains {dropped} missing values; pass nan_policy='omit' "
                             "to drop them (the count is reported in the result's notes)")
        arr = arr[~np.isnan(arr)]
    if arr.size < 1:
        raise ValueError(f"{name} needs at least one value")
    return arr, dropped


def mann_whitney(x, y, *, alternative: str = "two.sided", exact: Optional[bool] = None,
                 correct: bool = True, conf_int: bool = True, conf_level: float = 0.95,
                 tol_root: float = 1e-4, nan_policy: str = "raise") -> MannWhitney:
    """Wilcoxon rank-sum (Mann-Whitney) test of x vs y, with the Hodges-Lehmann
    shift and its confidence interval -- R's ``wilcox.test(x, y, conf.int = TRUE)``.

    What R does, and so what this does
        * ``W`` is the rank sum of ``x`` minus ``n_x (n_x + 1) / 2``.
        * **Exact** P (the permutation distribution of W) when ``exact`` is
          None and both samples are smaller than 50, or ``exact=True`` --
          unless there are ties, in which case R falls back to the normal
          approximation (noted in ``notes``). The exact confidence interval
          is read off the ordered pairwise differences; the estimate is their
          median (the Hodges-Lehmann shift).
        * Otherwise the **normal approximation** with the tie correction of
          the variance and, with ``correct=True``, the continuity correction.
          The confidence limits invert the same statistic with R's root
          finder (tolerance ``tol_root``), and R's estimate is the root of
          the *uncorrected* statistic -- close to, but not always equal to,
          the median of the differences, which is reported separately as
          ``hodges_lehmann``.

    Parameters
    ----------
    x, y : array-like of numbers
        The two samples. Missing values raise unless ``nan_policy="omit"``
        (R drops them silently; the number dropped is put in ``notes``).
    alternative : "two.sided", "less" or "greater"
    exact, correct, conf_level, tol_root : as in R.

    Returns
    -------
    MannWhitney
    """
    if alternative not in ("two.sided", "less", "greater"):
        raise ValueError(f"alternative must be 'two.sided', 'less' or 'greater', got {alternative!r}")
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    if not (isinstance(conf_level, (int, float)) and 0 < conf_level < 1):
        raise ValueError(f"conf_level must be a number between 0 and 1, got {conf_level!r}")
    x, dropped_x = _as_sample(x, "x", nan_policy)
    y, dropped_y = _as_sample(y, "y", nan_policy)
    notes = []
    if dropped_x or dropped_y:
        notes.append(f"dropped missing values: {dropped_x} from x, {dropped_y} from y")
    nx, ny = float(len(x)), float(len(y))
    ranks = sps.rankdata(np.concatenate([x, y]), method="average")
    statistic = float(ranks[: len(x)].sum() - nx * (nx + 1) / 2)
    ties = len(np.unique(ranks)) != len(ranks)
    if exact is None:
        exact = nx < 50 and ny < 50
    est = hl = lo = hi = level = math.nan
    hl = hodges_lehmann(x, y)

    if exact and not ties:
        m, n = len(x), len(y)
        method = "Wilcoxon rank sum exact test"
        if alternative == "two.sided":
            p = (pwilcox(statistic - 1, m, n, lower_tail=False) if statistic > nx * ny / 2
                 else pwilcox(statistic, m, n))
            p_value = min(2 * p, 1.0)
        elif alternative == "greater":
            p_value = pwilcox(statistic - 1, m, n, lower_tail=False)
        else:
            p_value = pwilcox(statistic, m, n)
        if conf_int:
            alpha = 1 - conf_level
            diffs = np.sort(np.subtract.outer(x, y).ravel())
            if alternative == "two.sided":
                qu = qwilcox(alpha / 2, m, n) or 1
                ql = m * n - qu
                achieved = 2 * pwilcox(qu - 1, m, n)
                lo, hi = float(diffs[qu - 1]), float(diffs[ql])
            else:
                qu = qwilcox(alpha, m, n) or 1
                achieved = pwilcox(qu - 1, m, n)
                if alternative == "greater":
                    lo, hi = float(diffs[qu - 1]), math.inf
                else:
                    lo, hi = -math.inf, float(diffs[m * n - qu])
            level = conf_level
            if achieved - alpha > alpha / 2:
                notes.append("requested conf_level not achievable")
                level = 1 - achieved
            est = float(np.median(diffs))
        return MannWhitney(statistic, float(p_value), method, True, len(x), len(y), ties, alternative,
                           est, hl, lo, hi, level, tuple(notes))

    # normal approximation
    def sigma_of(r: np.ndarray) -> float:
        _, t = np.unique(r, return_counts=True)
        t = t.astype(float)
        return math.sqrt((nx * ny / 12) * ((nx + ny + 1) - float(np.sum(t ** 3 - t)) / ((nx + ny) * (nx + ny - 1))))

    z = statistic - nx * ny / 2
    sigma = sigma_of(ranks)
    if sigma == 0:
        raise ValueError("all observations are tied: the rank-sum test is undefined")
    correction = 0.0
    method = "Wilcoxon rank sum test"
    if correct:
        correction = {"two.sided": float(np.sign(z)) * 0.5, "greater": 0.5, "less": -0.5}[alternative]
        method += " with continuity correction"
    zval = (z - correction) / sigma
    p_value = {"less": sps.norm.cdf(zval), "greater": sps.norm.sf(zval),
               "two.sided": 2 * min(sps.norm.cdf(zval), sps.norm.sf(zval))}[alternative]
    if exact and ties:
        notes.append("cannot compute exact p-value with ties: normal approximation used")

    if conf_int:
        alpha = 1 - conf_level
        mumin, mumax = float(x.min() - y.max()), float(x.max() - y.min())

        def w_of(d: float, use_correction: bool) -> float:
            r = sps.rankdata(np.concatenate([x - d, y]), method="average")
            dz = float(r[: len(x)].sum()) - nx * (nx + 1) / 2 - nx * ny / 2
            corr = 0.0
            if use_correction:
                corr = {"two.sided": float(np.sign(dz)) * 0.5, "greater": 0.5, "less": -0.5}[alternative]
            s = sigma_of(r)
            if s == 0:
                raise ValueError("cannot compute a confidence interval when all observations are tied")
            return (dz - corr) / s

        w_min, w_max = w_of(mumin, correct), w_of(mumax, correct)

        def root(zq: float) -> float:
            f_lower, f_upper = w_min - zq, w_max - zq
            if f_lower <= 0:
                return mumin
            if f_upper >= 0:
                return mumax
            return _zeroin(lambda d: w_of(d, correct) - zq, mumin, mumax, f_lower, f_upper, tol_root)

        if alternative == "two.sided":
            lo, hi = root(sps.norm.isf(alpha / 2)), root(sps.norm.ppf(alpha / 2))
        elif alternative == "greater":
            lo, hi = root(sps.norm.isf(alpha)), math.inf
        else:
            lo, hi = -math.inf, root(sps.norm.ppf(alpha))
        level = conf_level
        # R estimates the location with the uncorrected statistic (it sets correct <- FALSE first)
        if mumin >= mumax:
            raise ValueError("x and y leave no room for a location shift (one value each and equal?)")
        f_lo, f_hi = w_of(mumin, False), w_of(mumax, False)
        if f_lo * f_hi > 0:
            raise ValueError("the rank statistic does not change sign over the range of shifts")
        est = _zeroin(lambda d: w_of(d, False), mumin, mumax, f_lo, f_hi, tol_root)
    return MannWhitney(statistic, float(p_value), method, False, len(x), len(y), ties, alternative,
                       est, hl, lo, hi, level, tuple(notes))


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


# ------------------------------------------------------------ mixed model --

@dataclass
class MixedModelResult:
    """What :func:`fit_log_mixed_model` returns."""

    fixed: pd.DataFrame          # coefficient, estimate, SE, CI (log10 scale)
    means: pd.DataFrame          # model-based geometric mean per group and day, with CI
    variance: pd.DataFrame       # between-patient and residual variance, ICC
    lr_test: pd.DataFrame        # likelihood-ratio test of all group terms (ML fits)
    n_patients: int
    n_observations: int
    substituted_lloq: int
    converged: bool
    warnings: tuple = ()
    model: object = None


def fit_log_mixed_model(series: pd.DataFrame, analyte: str, *, group: str = "cohort",
                        groups: Optional[Sequence[str]] = None, days: Optional[Sequence[float]] = None,
                        lloq_factor: float = 0.5, conf_level: float = 0.95) -> MixedModelResult:
    """Linear mixed model of log10(value) with day (categorical) x group and a
    random intercept per patient, fitted by REML with statsmodels' MixedLM.

    ``log10(value) ~ C(day) * C(group) + (1 | patient)``

    Below-LLOQ values are replaced by ``lloq_factor`` x the limit (default
    half). The likelihood-ratio test of the group terms (group and
    group x day, i.e. "do the groups differ at any time point?") compares
    maximum-likelihood fits, since REML likelihoods of models with different
    fixed effects are not comparable.
    """
    import statsmodels.formula.api as smf

    data = series[series["analyte"] == analyte].copy()
    if data.empty:
        raise ValueError(f"no rows for analyte {analyte!r}")
    if days is not None:
        data = data[data["day"].isin(list(days))]
    if groups is None:
        groups = list(pd.unique(data[group]))
    data = data[data[group].isin(groups)]
    substituted = int(data["below_lloq"].sum())
    value = np.where(data["below_lloq"], data["value"] * lloq_factor, data["value"])
    data = data.assign(y=np.log10(value.astype(float)),
                       g=pd.Categorical(data[group], categories=list(groups)),
                       d=pd.Categorical(data["day"], categories=sorted(data["day"].unique())))
    formula = "y ~ C(d) * C(g)"
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit = smf.mixedlm(formula, data, groups=data["patient_id"]).fit(reml=True)
        ml_full = smf.mixedlm(formula, data, groups=data["patient_id"]).fit(reml=False)
        ml_null = smf.mixedlm("y ~ C(d)", data, groups=data["patient_id"]).fit(reml=False)
    caught = sorted({str(w.message).splitlines()[0] for w in record})

    z = sps.norm.isf((1 - conf_level) / 2)
    names = list(fit.fe_params.index)
    se = np.sqrt(np.diag(fit.cov_params().loc[names, names]))
    fixed = pd.DataFrame({"term": names, "estimate": fit.fe_params.to_numpy(), "SE": se})
    fixed["lower"] = fixed["estimate"] - z * fixed["SE"]
    fixed["upper"] = fixed["estimate"] + z * fixed["SE"]
    fixed["ratio"] = 10 ** fixed["estimate"]

    # model-based mean of log10(value) for each group and day: L beta, var L V L'
    # (L = the model's own design row for that group and day)
    exog = pd.DataFrame(fit.model.exog, columns=fit.model.exog_names, index=data.index)[names]
    first = data.reset_index().drop_duplicates(["g", "d"]).sort_values(["g", "d"])
    rows = exog.loc[first["index"]].to_numpy()
    cov = fit.cov_params().loc[names, names].to_numpy()
    est = rows @ fit.fe_params.to_numpy()
    var = np.einsum("ij,jk,ik->i", rows, cov, rows)
    design = first[["d", "g"]]
    means = design.rename(columns={"d": "day", "g": group}).reset_index(drop=True)
    means["day"] = means["day"].astype(float)
    means[group] = means[group].astype(str)
    means["log10_mean"] = est
    means["geometric_mean"] = 10 ** est
    means["lower"] = 10 ** (est - z * np.sqrt(var))
    means["upper"] = 10 ** (est + z * np.sqrt(var))

    between = float(fit.cov_re.iloc[0, 0])
    residual = float(fit.scale)
    variance = pd.DataFrame({"component": ["between patients (random intercept)", "within patient (residual)"],
                             "variance (log10 scale)": [between, residual]})
    variance["share"] = variance["variance (log10 scale)"] / (between + residual)

    lr = 2 * (ml_full.llf - ml_null.llf)
    df = len(ml_full.fe_params) - len(ml_null.fe_params)
    lr_test = pd.DataFrame({"test": [f"{group} and {group} x day terms (ML fits)"], "LR statistic": [lr],
                            "df": [df], "P": [float(sps.chi2.sf(lr, df))]})
    return MixedModelResult(fixed, means, variance, lr_test, int(data["patient_id"].nunique()), len(data),
                            substituted, bool(fit.converged), tuple(caught), fit)


# ---------------------------------------------------------------- figures --

def _colour(index: int) -> str:
    from .figures import OKABE_ITO
    return OKABE_ITO[index % len(OKABE_ITO)]


def trajectory_figure(summary: pd.DataFrame, *, group: str = "cohort", order: Optional[Sequence[str]] = None,
                      analytes: Sequence[str] = CYTOKINES, title: Optional[str] = None, columns: int = 3):
    """Median (line) and interquartile range (bars) per group over days, one log-scale panel
    per analyte; hover gives the day, median, IQR and the number of patients sampled."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .figures import style

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
                hovertemplate=(f"{html_escape(str(name))} · {LABELS[analyte]}<br>day %{{customdata[0]:g}}: "
                               "median %{y:.3g}<br>IQR %{customdata[1]:.3g}–%{customdata[2]:.3g}<br>"
                               "n = %{customdata[3]} sampled (%{customdata[4]} below LLOQ)<extra></extra>"),
            ), row=r + 1, col=c + 1)
        figure.update_yaxes(type="log", **_log_ticks(), row=r + 1, col=c + 1)
        figure.update_xaxes(title_text="Day after infusion" if r == rows - 1 else None, row=r + 1, col=c + 1)
    style(figure, title, height=330 * rows + 80)
    # legend to the right, clear of the panel titles
    figure.update_layout(legend={"orientation": "v", "x": 1.01, "y": 1, "yanchor": "top"},
                         margin={"r": 110})
    return figure


def _log_ticks() -> dict:
    """Tick marks at 1-2-5 steps for a log axis, printed in full (20, not "2")."""
    values = [m * 10.0 ** e for e in range(-3, 7) for m in (1, 2, 5)]
    text = [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in values]
    return {"tickmode": "array", "tickvals": values, "ticktext": text}


def html_escape(text: str) -> str:
    import html
    return html.escape(text)


def ratio_figure(table: pd.DataFrame, *, label: str = "analyte", groups: Sequence[str] = ("group 1", "group 2"),
                 title: Optional[str] = None):
    """Forest plot of Hodges-Lehmann ratios (log axis) with their 95 % CIs and the P value in the hover."""
    import plotly.graph_objects as go

    from .figures import style

    names = [LABELS.get(v, v) for v in table[label]]
    figure = go.Figure(go.Scatter(
        x=table["ratio (HL)"], y=names, mode="markers", marker={"size": 10, "color": _colour(0)},
        error_x={"type": "data", "symmetric": False, "array": table["CI upper"] - table["ratio (HL)"],
                 "arrayminus": table["ratio (HL)"] - table["CI lower"]},
        customdata=np.column_stack([table["CI lower"], table["CI upper"], table["P"],
                                    table[f"n {groups[0]}"], table[f"n {groups[1]}"]]),
        hovertemplate=(f"%{{y}}: {html_escape(groups[0])} / {html_escape(groups[1])} ratio %{{x:.2f}}<br>"
                       "95% CI %{customdata[0]:.2f}–%{customdata[1]:.2f}<br>P = %{customdata[2]:.3f}<br>"
                       "n = %{customdata[3]} vs %{customdata[4]}<extra></extra>"),
        showlegend=False))
    figure.add_vline(x=1, line={"color": "#555", "dash": "dot"})
    figure.update_layout(xaxis={"type": "log", **_log_ticks(),
                                "title": f"Ratio of peak values, {groups[0]} / {groups[1]} "
                                         "(Hodges–Lehmann, log scale)"},
                         yaxis={"autorange": "reversed"})
    return style(figure, title, height=120 + 50 * len(names))


def grade_box_figure(joined: pd.DataFrame, *, analyte: str = "IL-6", group: str = "cohort",
                     order: Optional[Sequence[str]] = None, title: Optional[str] = None):
    """Peak value by CRS grade: one box per grade with every patient as a point (log scale)."""
    import plotly.graph_objects as go

    from .figures import style

    groups = list(order) if order is not None else list(pd.unique(joined[group]))
    unit = joined["unit"].iloc[0] if len(joined) else ""
    figure = go.Figure()
    for j, name in enumerate(groups):
        part = joined[joined[group] == name]
        figure.add_trace(go.Box(
            x=part["grade"].map(lambda g: f"Grade {g}" if g else "No CRS"), y=part["peak"], name=str(name),
            boxpoints="all", jitter=0.4, pointpos=0, marker={"color": _colour(j), "size": 5},
            line={"color": _colour(j)}, customdata=part[["patient_id", "peak_day"]].to_numpy(),
            hovertemplate=("%{customdata[0]} (" + html_escape(str(name)) + ")<br>%{x}: peak %{y:.3g} "
                           + unit + " on day %{customdata[1]:g}<extra></extra>")))
    categories = ["No CRS"] + [f"Grade {g}" for g in range(1, 6) if (joined["grade"] == g).any()]
    figure.update_layout(boxmode="group",
                         yaxis={"type": "log", **_log_ticks(), "title": f"Peak {LABELS[analyte]} ({unit})"},
                         xaxis={"title": "Worst CRS grade", "categoryorder": "array", "categoryarray": categories})
    return style(figure, title)


def patient_course_figure(series: pd.DataFrame, *, analytes: Sequence[str] = CYTOKINES,
                          title: Optional[str] = None, columns: int = 3):
    """Each patient's course of each analyte (one log-scale panel per analyte, one line per patient).
    The hover says where every point comes from (its ``origin``)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .figures import style

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
                hovertemplate=(f"{html_escape(str(patient))} · {LABELS[analyte]}<br>day %{{x:g}}: %{{y:.3g}}"
                               "<br>origin: %{customdata[0]}<extra></extra>")), row=r + 1, col=c + 1)
        figure.update_yaxes(type="log", **_log_ticks(), row=r + 1, col=c + 1)
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

    from .figures import style

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
            hovertemplate=(html_escape(str(name)) + " model<br>day %{x:g}: %{y:.3g} "
                           "(95% CI %{customdata[0]:.3g}–%{customdata[1]:.3g})<extra></extra>")))
        o = observed[observed[group] == name].sort_values("day")
        figure.add_trace(go.Scatter(
            x=o["day"], y=o["median"], mode="markers", name=f"{name}: observed median",
            marker={"color": colour, "size": 7, "symbol": ["circle-open", "square-open"][j % 2]},
            legendgroup=str(name), customdata=o[["n"]].to_numpy(),
            hovertemplate=(html_escape(str(name)) + " observed<br>day %{x:g}: median %{y:.3g} "
                           "(n = %{customdata[0]})<extra></extra>")))
    figure.update_layout(yaxis={"type": "log", **_log_ticks(), "title": "IL-6 (pg/mL, log scale)"},
                         xaxis={"title": "Day after infusion"})
    style(figure, title, height=480)
    figure.update_layout(legend={"orientation": "v", "x": 0.99, "xanchor": "right", "y": 0.99, "yanchor": "top",
                                 "bgcolor": "rgba(255,255,255,0.85)"})
    return figure


_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def in_words(n: int) -> str:
    """A count from 0 to 999 in English words, as papers print them at the start of a
    sentence ("One hundred and twenty-six")."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 0 <= n <= 999:
        raise ValueError(f"in_words handles whole numbers 0-999, got {n!r}")
    n = int(n)
    hundreds, rest = divmod(n, 100)
    tens, ones = divmod(rest, 10)
    below = _ONES[rest] if rest < 20 else _TENS[tens] + (f"-{_ONES[ones]}" if ones else "")
    if hundreds == 0:
        words = below
    else:
        words = f"{_ONES[hundreds]} hundred" + (f" and {below}" if rest else "")
    return words[0].upper() + words[1:]
