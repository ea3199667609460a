"""Small, exact statistics for re-checking published CAR-T comparisons.

Every function here answers one question a reader of a clinical paper asks
("which test gives the printed P?", "what is the exact CI of 6/13?") and
reproduces **R** to ~1e-12, because R is what most of the papers used and what
the test-suite uses as its oracle (``tests/test_stats_vs_r.py``).

Conventions
-----------
* Counts are validated: a negative, non-integer, boolean, missing or
  non-numeric count raises :class:`ValueError` naming the argument and the
  offending value (``6.0`` is accepted as the count 6; ``6.5`` is not).
* Functions return plain Python ``float`` values (or a ``(lower, upper)``
  tuple of floats for intervals) or a tidy :class:`pandas.DataFrame` with one
  row per result, never R-style "htest" objects.
* P values are fractions (0.036), percentages are in percent (61.5).

Functions
---------
``fisher_exact(table)``                     two-sided Fisher exact P, as ``fisher.test``
``chisq_test(table, correct=True)``         Pearson chi-square, as ``chisq.test``
``clopper_pearson(k, n, level)``            exact binomial CI, as ``binom.test``
``wilson(k, n, level, correct=False)``      score CI, as ``prop.test``
``proportion_table(k, n, level)``           estimate with both CIs, tidy
``newcombe_difference(k1, n1, k2, n2)``     difference of two proportions, Newcombe's CI

(``compare_proportions`` is in helpers.reproduction.recompute, ``parse_published`` /
``rounds_to`` in helpers.reproduction.published, the standardized differences in
helpers.stats.standardized.)

What is delegated to scipy, and what is not
-------------------------------------------
Differences below are measured on the tables of tests/fixtures/r/contingency_cases.csv
(15 2 x 2, 10 2 x k or k x 2, one 3 x 3) against the hand-written code this replaced
(issue 14) and against R's output (contingency_expected.csv).

* 2 x 2 Fisher: ``scipy.stats.fisher_exact``. Max |new - old| 9.7e-16, |new - R|
  3.1e-16 (old: 9.7e-16); on the 32,735 2 x 2 tables of a sweep (every table with
  cells <= 12, symmetric tables up to n = 1590, equal-row-margin tables up to n = 764,
  where ties abound) it is within 2.0e-15 of R's rule evaluated in exact rational
  arithmetic (old: 9.0e-14). scipy counts ties with a relative tolerance of 1e-14
  where R uses 1e-7 (:data:`FISHER_2X2_REL_ERR`); the rules differ only when a
  table's probability is within 1e-7 (relative) of the observed one without being
  equal to it, which happened for no table of the sweep.
* Chi-square, with or without Yates: ``scipy.stats.chi2_contingency(correction=...)``,
  for every shape (scipy, like R, corrects only when df = 1, i.e. 2 x 2, and caps the
  correction at |O - E|). Max |new - old| 2.2e-16 in the statistic, 5.6e-16 in P;
  |new - R| <= 3.9e-15 (old: the same). Kept here: a table with an all-zero row or
  column gives NaN, as in R (scipy raises), and the correction actually
  subtracted, the method text, the expected counts and R's warning, which scipy
  does not return.
* Fisher for 2 x k tables (k > 2): hand-written enumeration. scipy's
  ``fisher_exact`` for r x c tables is a Monte Carlo estimate by default (a random
  P, not R's) or a permutation test over the observations (n! pairings, not the
  tables); there is no exact network or enumeration algorithm. Matches R's FEXACT to
  1.9e-12 on the fixtures.
* Binomial CIs: hand-written from ``scipy.special``. ``scipy.stats.binomtest(...)
  .proportion_ci`` differs from R by up to 4.0e-13 for ``method="exact"`` (ours:
  2.2e-15, tests/fixtures/r/binomial_expected.csv) and by up to 0.068 for
  ``"wilsoncc"`` (k = 1, n = 2), because R caps the continuity correction at
  |k - n/2| and scipy does not; plain Wilson agrees to 1.7e-16 and is kept next to
  its corrected form. Newcombe's hybrid score interval has no scipy counterpart.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as scipy_stats

from helpers.stats.validation import as_k_n, as_level, as_table

#: R's ``fisher.test`` for a 2x2 table counts a table as "as or less likely"
#: than the observed one when its probability is <= observed * (1 + 1e-7).
#: (2 x 2 tables are now tested by ``scipy.stats.fisher_exact``, whose tolerance
#: is 1e-14; kept as the documented R rule, see the module docstring.)
FISHER_2X2_REL_ERR = 1 + 1e-7
#: For larger tables R calls FEXACT (Mehta & Patel's network algorithm), which
#: makes the same comparison on the log scale with tolerance 3.45254e-7
#: ("the square root of the smallest relative spacing"), i.e. a relative
#: tolerance of exp(3.45254e-7) - 1 ~ 3.45e-7. The two only differ for tables
#: whose probabilities differ by between 1e-7 and 3.5e-7 relative -- in practice
#: never, since real ties are equal to ~1e-15.
FEXACT_LOG_TOL = 3.45254e-7
#: The text of R's ``chisq.test`` warning when any expected count is below 5.
CHISQ_WARNING = "Chi-squared approximation may be incorrect"


# --------------------------------------------------------------------------- #
# Fisher exact test
# --------------------------------------------------------------------------- #
def _count_2xk_tables(col_totals: np.ndarray, r1: int) -> int:
    """Number of 2 x k tables with these column totals and first-row total ``r1``."""
    ways = [1] + [0] * r1  # ways[s]: number of partial first rows summing to s
    for c in col_totals:
        new = [0] * (r1 + 1)
        for s, w in enumerate(ways):
            if w:
                for x in range(0, min(int(c), r1 - s) + 1):
                    new[s + x] += w
        ways = new
    return ways[r1]


def _enumerate_2xk_logweights(col_totals: np.ndarray, r1: int) -> np.ndarray:
    """Log weights of all 2 x k tables with the given margins.

    The log weight of a table with first row ``x`` is
    ``sum_j log C(c_j, x_j)``; the hypergeometric probability is that weight
    divided by ``C(n, r1)``, a constant we never need because the P value is a
    ratio of sums over the same set of tables.
    """
    remaining = np.concatenate([np.cumsum(col_totals[::-1])[::-1][1:], [0]])  # capacity after column j
    s = np.zeros(1, dtype=np.int64)          # partial first-row sums
    lw = np.zeros(1, dtype=np.float64)       # partial log weights
    for j, c in enumerate(col_totals):
        c = int(c)
        x_all = np.arange(c + 1)
        lb = special.gammaln(c + 1) - special.gammaln(x_all + 1) - special.gammaln(c - x_all + 1)
        lo = np.maximum(0, r1 - remaining[j] - s)
        hi = np.minimum(c, r1 - s)
        lengths = hi - lo + 1                # >= 1 for every feasible partial table
        parent = np.repeat(np.arange(len(s)), lengths)
        starts = np.cumsum(lengths) - lengths
        x = lo[parent] + (np.arange(int(lengths.sum())) - starts[parent])
        s = s[parent] + x
        lw = lw[parent] + lb[x]
    return lw


def _table_logweight(first_row: np.ndarray, col_totals: np.ndarray) -> float:
    """Log weight of one table, summed in the same order as the enumeration."""
    lw = 0.0
    for x, c in zip(first_row, col_totals):
        lw = lw + float(special.gammaln(c + 1) - special.gammaln(x + 1) - special.gammaln(c - x + 1))
    return lw


def fisher_exact(table, *, max_tables: int = 5_000_000) -> float:
    """Two-sided Fisher exact test P for a 2 x k (or k x 2) table of counts.

    What it computes
        Fix both margins of the table. Under independence every table with
        those margins has a (multivariate) hypergeometric probability. The
        two-sided P is the total probability of all tables that are *at most as
        probable* as the observed one -- not "twice the smaller tail", which is
        what some other software does and what makes some published Fisher P
        values look irreproducible.

    How it matches R's ``fisher.test``
        * 2 x 2: ``scipy.stats.fisher_exact``, which sums the hypergeometric
          probabilities of the tables no more probable than the observed one,
          counting a table whose probability *ties* the observed one despite
          rounding (relative tolerance 1e-14; R's is 1e-7,
          :data:`FISHER_2X2_REL_ERR`) -- e.g. Fisher's tea-tasting table
          ``[[3, 1], [1, 3]]`` whose mirror image has exactly the same
          probability (P = 34/70).
        * larger tables: R's FEXACT makes the same comparison on the log scale
          with tolerance 3.45254e-7 (:data:`FEXACT_LOG_TOL`); we enumerate the
          tables instead of walking FEXACT's network, which gives the same sum
          (scipy has no exact test for them).
          Probabilities come from log-factorials (``scipy.special.gammaln``),
          are exponentiated relative to the most probable table and summed with
          :func:`math.fsum` (pairwise summation beyond 10^5 tables);
          P = (sum over selected tables) / (sum over all), so the normalising
          constant C(n, row total) never has to be computed.

    Parameters
    ----------
    table : 2-D array-like (list of lists, ndarray, DataFrame) of counts
        At least 2 x 2; one dimension must be 2. Rows or columns that are all
        zero are allowed (they contribute nothing; a table with only one
        possible arrangement has P = 1, as in R).
    max_tables : int
        Safety limit on the number of tables to enumerate (memory grows
        linearly, ~50 bytes a table). A ValueError is raised, before any work,
        when the margins admit more tables.

    Returns
    -------
    float
        The two-sided P value, in [0, 1].

    Examples
    --------
    >>> round(fisher_exact([[3, 1], [1, 3]]), 10)   # 34/70
    0.4857142857
    """
    counts = as_table(table)
    if counts.shape[0] != 2:
        if counts.shape[1] == 2:
            counts = counts.T
        else:
            raise ValueError(
                f"fisher_exact handles 2 x k and k x 2 tables only, got shape {counts.shape}; "
                "use R's fisher.test for larger r x c tables"
            )
    col_totals = counts.sum(axis=0)
    r1 = int(counts[0].sum())
    if counts.shape == (2, 2):
        # the first-row cell x ranges over max(0, r1 - c2) .. min(r1, c1)
        n_tables = min(r1, int(col_totals[0])) - max(0, r1 - int(col_totals[1])) + 1
    else:
        n_tables = _count_2xk_tables(col_totals, r1)
    if n_tables > max_tables:
        raise ValueError(
            f"the margins of this table admit {n_tables} tables, more than max_tables={max_tables}; "
            "raise max_tables if memory allows, or use R's fisher.test"
        )
    if counts.shape == (2, 2):
        p = float(scipy_stats.fisher_exact(counts, alternative="two-sided").pvalue)
        return float(min(1.0, max(0.0, p)))
    lw = _enumerate_2xk_logweights(col_totals, r1)
    lw_obs = _table_logweight(counts[0], col_totals)
    w = np.exp(lw - lw.max())
    selected = lw <= lw_obs + FEXACT_LOG_TOL
    p = _careful_sum(w[selected]) / _careful_sum(w)
    return float(min(1.0, max(0.0, p)))


def _careful_sum(values: np.ndarray) -> float:
    """Sum of non-negative floats: exact-rounded :func:`math.fsum` for up to
    10^5 terms, numpy's pairwise summation (relative error ~ eps * log2(n),
    i.e. < 1e-14 here) for more, where fsum would cost seconds."""
    if values.size <= 100_000:
        return math.fsum(values.tolist())
    return float(np.sum(values))


# --------------------------------------------------------------------------- #
# Pearson chi-square
# --------------------------------------------------------------------------- #
def chisq_test(table, correct: bool = True) -> pd.DataFrame:
    """Pearson's chi-square test of independence, exactly as R's ``chisq.test``.

    Expected counts are ``E = row total x column total / n``. The statistic is
    ``sum((|O - E| - Y)^2 / E)`` on ``(r - 1)(c - 1)`` degrees of freedom,
    where the continuity correction ``Y`` is

    * for a 2 x 2 table with ``correct=True`` (R's default, Yates):
      ``Y = min(0.5, |O - E|)`` -- R never lets the correction exceed the
      deviation itself, so a table that fits perfectly gets statistic 0, not a
      negative-deviation artefact;
    * otherwise 0 (R applies no correction to larger tables even when
      ``correct=TRUE``).

    The statistic and P come from ``scipy.stats.chi2_contingency(table,
    correction=correct)``, which applies the same rule (only for df = 1, capped
    at ``|O - E|``). Like R, a table with an all-zero row or column gives
    ``statistic = NaN`` and ``p_value = NaN`` (some expected counts are 0;
    scipy would raise).

    Parameters
    ----------
    table : 2-D array-like of counts, at least 2 x 2.
    correct : bool
        Apply Yates' correction to 2 x 2 tables (default True, as in R).

    Returns
    -------
    pandas.DataFrame
        One row: ``statistic``, ``df``, ``p_value``, ``method`` (R's method
        text), ``correction`` (the Y actually subtracted), ``min_expected``,
        ``expected_lt5`` (bool) and ``warning`` -- R's warning text
        :data:`CHISQ_WARNING` when any expected count is < 5, else ``""``.
        Read a value with ``chisq_test(t).at[0, "p_value"]``.
    """
    counts = as_table(table)
    n = counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
        deviation = np.abs(counts - expected)
    # the correction R and scipy (gh-13875) subtract: never more than |O - E|
    yates = float(min(0.5, deviation.min())) if correct and counts.shape == (2, 2) else 0.0
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    if n > 0 and np.all(expected > 0):
        result = scipy_stats.chi2_contingency(counts, correction=correct)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:  # an all-zero row or column: R gives NaN, scipy raises
        statistic = p_value = math.nan
    method = "Pearson's Chi-squared test"
    if yates > 0:
        method += " with Yates' continuity correction"
    min_expected = float(expected.min()) if n > 0 else math.nan
    lt5 = bool(np.any(expected < 5))
    return pd.DataFrame(
        {
            "statistic": [statistic],
            "df": [df],
            "p_value": [p_value],
            "method": [method],
            "correction": [yates],
            "min_expected": [min_expected],
            "expected_lt5": [lt5],
            "warning": [CHISQ_WARNING if lt5 else ""],
        }
    )


# --------------------------------------------------------------------------- #
# confidence intervals for one proportion
# --------------------------------------------------------------------------- #
def clopper_pearson(k, n, level: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) CI for a binomial proportion, as R's ``binom.test``.

    The interval inverts two one-sided binomial tests, each at (1 - level)/2,
    using Beta quantiles::

        lower = qbeta(alpha/2,     k,     n - k + 1)   (0 when k = 0)
        upper = qbeta(1 - alpha/2, k + 1, n - k)       (1 when k = n)

    It is conservative (coverage >= level) and never leaves [0, 1]. For
    k = 0 the upper bound has the closed form ``1 - (alpha/2)**(1/n)``
    (the "rule of three" is its large-n approximation 3/n for 95%).

    Returns
    -------
    (lower, upper) : tuple of float
    """
    k, n = as_k_n(k, n)
    alpha = (1.0 - as_level(level)) / 2.0
    lower = 0.0 if k == 0 else float(special.betaincinv(k, n - k + 1, alpha))
    upper = 1.0 if k == n else float(special.betaincinv(k + 1, n - k, 1.0 - alpha))
    return lower, upper


def wilson(k, n, level: float = 0.95, correct: bool = False) -> tuple[float, float]:
    """Wilson score CI for a binomial proportion, as R's ``prop.test(k, n)``.

    With ``correct=False`` (the default here, R's ``prop.test(correct=FALSE)``)
    this is Wilson's (1927) interval: the set of p whose score test is not
    rejected::

        (p_hat + z^2/2n  +/-  z * sqrt(p_hat(1 - p_hat)/n + z^2/4n^2)) / (1 + z^2/n)

    with z the (1 + level)/2 normal quantile. ``correct=True`` reproduces R's
    default ``prop.test`` (continuity-corrected: p_hat is shifted by
    ``min(0.5, |k - n/2|)/n`` toward each side before applying the formula).
    Exactly as in R, the lower bound is 0 when the (shifted) p_hat is <= 0 and
    the upper bound is 1 when it is >= 1, so k = 0 gives lower = 0 and k = n
    gives upper = 1 exactly.

    Returns
    -------
    (lower, upper) : tuple of float
    """
    k, n = as_k_n(k, n)
    z = float(special.ndtri((1.0 + as_level(level)) / 2.0))
    estimate = k / n
    yates = min(0.5, abs(k - n * 0.5)) if correct else 0.0
    z22n = z * z / (2.0 * n)
    p_c = estimate + yates / n
    upper = 1.0 if p_c >= 1 else (p_c + z22n + z * math.sqrt(p_c * (1 - p_c) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    p_c = estimate - yates / n
    lower = 0.0 if p_c <= 0 else (p_c + z22n - z * math.sqrt(p_c * (1 - p_c) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    return float(lower), float(upper)


def proportion_table(k, n, level: float = 0.95) -> pd.DataFrame:
    """Estimate, Clopper-Pearson and Wilson CIs for one or several proportions.

    Parameters
    ----------
    k, n : int or sequence of int
        Events and totals; scalars give one row, equal-length sequences one row
        per pair, and a scalar with a sequence is repeated (``n=13`` with
        ``k=[6, 8, 3]``).
    level : float
        Confidence level for both intervals.

    Returns
    -------
    pandas.DataFrame
        One row per proportion: ``k, n, estimate`` (fraction), ``pct``
        (percent), ``level``, ``cp_lower, cp_upper`` (Clopper-Pearson,
        as R's binom.test) and ``wilson_lower, wilson_upper`` (Wilson score,
        as R's prop.test(correct=FALSE)), all as fractions.
    """
    scalar_k, scalar_n = np.ndim(k) == 0, np.ndim(n) == 0
    ks = [k] if scalar_k else list(k)
    ns = [n] if scalar_n else list(n)
    if scalar_k != scalar_n:  # one scalar: the same k (or n) for every row
        ks, ns = (ks * len(ns), ns) if scalar_k else (ks, ns * len(ks))
    if len(ks) != len(ns):
        raise ValueError(f"k and n must have the same length, got {len(ks)} and {len(ns)}")
    rows = []
    for i, (ki, ni) in enumerate(zip(ks, ns)):
        suffix = "" if scalar_k and scalar_n else f"[{i}]"
        ki, ni = as_k_n(ki, ni, f"k{suffix}", f"n{suffix}")
        cp = clopper_pearson(ki, ni, level)
        wi = wilson(ki, ni, level)
        rows.append({
            "k": ki, "n": ni, "estimate": ki / ni, "pct": 100.0 * ki / ni, "level": float(level),
            "cp_lower": cp[0], "cp_upper": cp[1], "wilson_lower": wi[0], "wilson_upper": wi[1],
        })
    return pd.DataFrame(rows, columns=["k", "n", "estimate", "pct", "level",
                                       "cp_lower", "cp_upper", "wilson_lower", "wilson_upper"])


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
