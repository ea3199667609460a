"""Standardized mean differences (SMD) for Table 1: binary, continuous and from summaries."""

from __future__ import annotations

import math

from helpers.stats.validation import as_finite_number, as_proportion, as_sample, check_choice


# --------------------------------------------------------------------------- #
# standardized differences (Austin 2009, Stat Med 28:3083)
# --------------------------------------------------------------------------- #
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
    p1 = as_proportion(p1, "p1")
    p2 = as_proportion(p2, "p2")
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
    vals = {name: as_finite_number(v, name) for name, v in (("mean1", mean1), ("sd1", sd1), ("mean2", mean2),
                                                              ("sd2", sd2))}
    for name in ("sd1", "sd2"):
        as_finite_number(vals[name], name, minimum=0.0)
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
    check_choice(nan_policy, ("raise", "omit"), "nan_policy")
    arrays = [as_sample(x, name, nan_policy, min_size=2)[0] for name, x in (("x1", x1), ("x2", x2))]
    a, b = arrays
    return standardized_difference_from_summary(
        float(a.mean()), float(a.std(ddof=1)), float(b.mean()), float(b.std(ddof=1))
    )
