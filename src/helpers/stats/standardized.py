"""Standardized mean differences (SMD) for Table 1: binary, continuous and from summaries."""

from __future__ import annotations

import math
import numbers

import numpy as np


# --------------------------------------------------------------------------- #
# standardized differences (Austin 2009, Stat Med 28:3083)
# --------------------------------------------------------------------------- #
def _as_proportion(p, name: str) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {p!r}")
    fp = float(p)
    if not (0.0 <= fp <= 1.0):  # also rejects NaN
        raise ValueError(f"{name} must be a proportion between 0 and 1, got {p!r}")
    return fp


def standardized_difference_binary(p1, p2) -> float:
    """Standardized difference of two proportions (Austin 2009, eq. 2)::

        d = (p1 - p2) / sqrt((p1 (1 - p1) + p2 (1 - p2)) / 2)

    The difference in units of the pooled Bernoulli standard deviation; unlike
    a P value it does not grow with sample size, which is why it is used to
    judge covariate balance (|d| < 0.1 is the usual "negligible" threshold).
    The sign follows group 1 minus group 2; report ``abs(d)`` in balance
    tables.

    Parameters
    ----------
    p1, p2 : float
        Proportions (fractions in [0, 1], not percents).

    Returns
    -------
    float
        0.0 when p1 == p2 (including both 0 or both 1); +/-inf when the
        proportions are 0 and 1 (no within-group variation at all).
    """
    p1 = _as_proportion(p1, "p1")
    p2 = _as_proportion(p2, "p2")
    if p1 == p2:
        return 0.0
    pooled = (p1 * (1 - p1) + p2 * (1 - p2)) / 2
    if pooled == 0:
        return math.copysign(math.inf, p1 - p2)
    return (p1 - p2) / math.sqrt(pooled)


def standardized_difference_from_summary(mean1, sd1, mean2, sd2) -> float:
    """Standardized difference from published summaries (Austin 2009, eq. 1)::

        d = (mean1 - mean2) / sqrt((sd1^2 + sd2^2) / 2)

    For tables that print mean (SD) per group. SDs must be >= 0 and not both 0.
    """
    vals = {}
    for name, v in (("mean1", mean1), ("sd1", sd1), ("mean2", mean2), ("sd2", sd2)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real) or not math.isfinite(float(v)):
            raise ValueError(f"{name} must be a finite number, got {v!r}")
        vals[name] = float(v)
    for name in ("sd1", "sd2"):
        if vals[name] < 0:
            raise ValueError(f"{name} must be >= 0, got {vals[name]!r}")
    pooled = (vals["sd1"] ** 2 + vals["sd2"] ** 2) / 2
    if pooled == 0:
        raise ValueError("sd1 and sd2 are both 0: the standardized difference is undefined")
    return (vals["mean1"] - vals["mean2"]) / math.sqrt(pooled)


def standardized_difference_continuous(x1, x2, nan_policy: str = "raise") -> float:
    """Standardized difference of two samples of a continuous variable
    (Austin 2009, eq. 1)::

        d = (mean(x1) - mean(x2)) / sqrt((s1^2 + s2^2) / 2)

    with s1, s2 the sample standard deviations (n - 1 denominator, as R's
    ``sd``). Sign: group 1 minus group 2.

    Parameters
    ----------
    x1, x2 : array-like of numbers
        The two samples; each needs at least 2 non-missing values.
    nan_policy : {"raise", "omit"}
        Missing values raise a ValueError (default) or are dropped.
    """
    if nan_policy not in ("raise", "omit"):
        raise ValueError(f"nan_policy must be 'raise' or 'omit', got {nan_policy!r}")
    arrays = []
    for name, x in (("x1", x1), ("x2", x2)):
        try:
            arr = np.asarray(x, dtype=float).ravel()
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be numeric values, got {x!r}") from None
        if np.isinf(arr).any():
            raise ValueError(f"{name} contains infinite values")
        if np.isnan(arr).any():
            if nan_policy == "raise":
                raise ValueError(f"{name} contains {int(np.isnan(arr).sum())} missing values; "
                                 "pass nan_policy='omit' to drop them")
            arr = arr[~np.isnan(arr)]
        if arr.size < 2:
            raise ValueError(f"{name} needs at least 2 values, got {arr.size}")
        arrays.append(arr)
    a, b = arrays
    return standardized_difference_from_summary(
        float(a.mean()), float(a.std(ddof=1)), float(b.mean()), float(b.std(ddof=1))
    )
