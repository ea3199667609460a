"""Rank tests as R's ``wilcox.test``: exact and normal-approximation P, Hodges-Lehmann shift and CI.

Hand-written because scipy differs from R, measured by ``benchmarks/library_vs_r.py`` on the 27
committed cases of ``tests/fixtures/r/wilcox_*`` and ``kinetics_rank_*``:

* ``scipy.stats.mannwhitneyu(method="auto")`` uses the exact distribution only when a group has
  at most 8 values and there are no ties (R: both groups under 50, no ties). The choice differs
  from R's in 3 of the 27 cases and the P value then by up to 0.061 (wilcox.test(1, 2:60));
  forced onto R's choice, scipy's P equals R's to 1.7e-16, so the difference is the rule.
* scipy gives no Hodges-Lehmann estimate and no CI. The median of the pairwise differences,
  the most a scipy user gets, differs from R's estimate by up to 0.0026 in 15 of the 27 cases
  (on the normal-approximation path R's estimate is a root found by ``uniroot``).

This module agrees with R to 1.7e-16 in P and 4.4e-14 in the CI limits (tests/test_cytokines_vs_r.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import Optional

import numpy as np
from scipy import stats as sps

from helpers.stats.validation import as_level, as_sample, check_choice

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


#: Pairs above which the Hodges-Lehmann median is selected without forming every difference
#: (two registry cohorts of 20,000 and 8,000 patients have 160 million: 1.3 GB and seconds of sorting).
PAIRS_IN_MEMORY = 4_000_000
FORM_CANDIDATES = 200_000  # pairwise_difference_ranks forms the differences left once this few


def hodges_lehmann(x, y) -> float:
    """The Hodges-Lehmann shift: the median of all n_x * n_y differences x_i - y_j."""
    (x, _), (y, _) = as_sample(x, "x"), as_sample(y, "y")
    if len(x) * len(y) <= PAIRS_IN_MEMORY:
        return float(np.median(np.subtract.outer(x, y)))
    total = len(x) * len(y)
    low, high = pairwise_difference_ranks(x, y, [(total - 1) // 2, total // 2])
    return float(np.mean([low, high]))  # as np.median takes the middle pair (one value twice when odd)


def pairwise_difference_ranks(x, y, ranks, seed: int = 0) -> list[float]:
    """The differences x_i - y_j (as floating point computes them) of the given 0-based ranks
    among all n_x * n_y, found without forming them: randomised selection on the sorted samples
    (each row x_i - y_j is monotone in y_j, so a pivot's rank in every row is a binary search).
    Exactly the values ``np.sort(np.subtract.outer(x, y).ravel())[ranks]``; the seed only
    changes the pivots, never the result."""
    xs = np.sort(np.asarray(x, dtype=float))
    ys = np.sort(np.asarray(y, dtype=float))[::-1]  # row i, x_i - ys[j], is ascending in j
    rng = np.random.default_rng(seed)
    out = []
    for k in ranks:
        left = np.zeros(xs.size, dtype=np.int64)
        right = np.full(xs.size, ys.size, dtype=np.int64)
        while True:
            width = right - left
            candidates = int(width.sum())
            below = int(left.sum())
            if candidates <= FORM_CANDIDATES:  # few enough to form
                rows = np.repeat(np.arange(xs.size), width)
                cols = np.arange(candidates) - np.repeat(np.cumsum(width) - width, width) + np.repeat(left, width)
                values = xs[rows] - ys[cols]
                out.append(float(np.partition(values, k - below)[k - below]))
                break
            pick = int(rng.integers(candidates))
            row = int(np.searchsorted(np.cumsum(width), pick, side="right"))
            col = int(left[row] + pick - (np.cumsum(width)[row] - width[row]))
            pivot = xs[row] - ys[col]
            under = _row_counts(xs, ys, left, right, lambda d: d < pivot)
            at_most = _row_counts(xs, ys, left, right, lambda d: d <= pivot)
            if below + int(under.sum()) <= k < below + int(at_most.sum()):
                out.append(float(pivot))
                break
            if k < below + int(under.sum()):
                right = left + under
            else:
                left = left + at_most
    return out


def _row_counts(xs, ys, left, right, inside) -> np.ndarray:
    """Per row i, how many of the differences xs[i] - ys[j], j in [left, right), satisfy ``inside``
    (a prefix of the row, since the row is ascending): a binary search run on all rows at once."""
    lo, hi = left.copy(), right.copy()
    while True:
        active = lo < hi
        if not active.any():
            return lo - left
        mid = (lo + hi) // 2
        ok = inside(xs - ys[np.minimum(mid, ys.size - 1)])
        lo = np.where(active & ok, mid + 1, lo)
        hi = np.where(active & ~ok, mid, hi)


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
    check_choice(alternative, ("two.sided", "less", "greater"), "alternative")
    check_choice(nan_policy, ("raise", "omit"), "nan_policy")
    conf_level = as_level(conf_level, "conf_level")
    x, dropped_x = as_sample(x, "x", nan_policy)
    y, dropped_y = as_sample(y, "y", nan_policy)
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





def rank_sum_wdiff(x, y, d: float, zq: float, correct: bool) -> float:
    """R's ``wdiff(d, zq)`` inside ``wilcox.test``: the standardized rank-sum statistic of
    ``x - d`` against ``y`` minus ``zq``. Its sign change in ``d`` gives the asymptotic
    Hodges-Lehmann estimate (``zq = 0``, no continuity correction) and CI bounds."""
    (x, _), (y, _) = as_sample(x, "x"), as_sample(y, "y")
    m, n = len(x), len(y)
    r = sps.rankdata(np.r_[x - d, y])
    dz = r[:m].sum() - m * (m + 1) / 2 - m * n / 2
    corr = np.sign(dz) * 0.5 if correct else 0.0
    _, ties = np.unique(r, return_counts=True)
    sigma = math.sqrt((m * n / 12) * ((m + n + 1) - (ties ** 3 - ties).sum() / ((m + n) * (m + n - 1))))
    if sigma == 0:
        raise ValueError("rank_sum_test: cannot compute a confidence interval when all values are tied")
    return float((dz - corr) / sigma - zq)



def rank_sum_test(x, y, *, conf_level: float = 0.95, exact: Optional[bool] = None,
                  correct: bool = True) -> dict:
    """Two-sided Wilcoxon rank-sum test of ``x`` against ``y``, as R's
    ``wilcox.test(x, y, conf.int = TRUE, conf.level = conf_level)``.

    Returns ``W`` (R's statistic: pairs with x > y, ties counting one half), ``p_value``,
    ``method`` (the test's name as R prints it), ``exact`` (whether the exact
    distribution was used), ``estimate`` (Hodges-Lehmann shift of x relative to y)
    and ``ci_lower``/``ci_upper``. ``exact=None`` follows R: exact when both groups
    have fewer than 50 values and there are no ties.
    """
    (x, _), (y, _) = as_sample(x, "x"), as_sample(y, "y")   # missing values raise: remove and count them first
    as_level(conf_level, "conf_level")
    # One implementation of R's wilcox.test in the book: the cytokines chapter's.
    result = mann_whitney(x, y, exact=exact, correct=correct, conf_int=True, conf_level=conf_level)
    return {"W": result.statistic, "p_value": result.p_value, "method": result.method,
            "exact": result.exact, "ties": result.ties, "estimate": result.estimate,
            "ci_lower": result.ci_lower, "ci_upper": result.ci_upper, "n_x": result.n_x,
            "n_y": result.n_y, "conf_level": conf_level}


def welch_t_test(x, y, *, conf_level: float = 0.95) -> dict:
    """Welch two-sample t-test, as R's ``t.test(x, y)``: statistic, df, P, CI of mean(x) - mean(y)."""
    (x, _), (y, _) = as_sample(x, "x", min_size=2), as_sample(y, "y", min_size=2)
    conf_level = as_level(conf_level, "conf_level")
    vx, vy = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0:
        raise ValueError("welch_t_test: data are essentially constant")
    diff = float(x.mean() - y.mean())
    df = (vx + vy) ** 2 / (vx ** 2 / (len(x) - 1) + vy ** 2 / (len(y) - 1))
    t = diff / se
    p = float(2 * sps.t.sf(abs(t), df))
    h = sps.t.isf((1 - conf_level) / 2, df) * se
    return {"t": t, "df": float(df), "p_value": p, "estimate": diff, "ci_lower": diff - h,
            "ci_upper": diff + h, "method": "Welch Two Sample t-test", "n_x": len(x), "n_y": len(y)}
