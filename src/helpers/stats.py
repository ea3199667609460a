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
``compare_proportions(k1, n1, k2, n2, ...)`` Fisher vs Yates vs plain chi-square, and which
                                            one reproduces a published P
``clopper_pearson(k, n, level)``            exact binomial CI, as ``binom.test``
``wilson(k, n, level, correct=False)``      score CI, as ``prop.test``
``proportion_table(k, n, level)``           estimate with both CIs, tidy
``parse_published(text)`` / ``rounds_to(published_text, value)``
                                            does a recomputed number print as published?
``standardized_difference_binary(p1, p2)``  Austin (2009) standardized differences
``standardized_difference_continuous(x1, x2)``
``standardized_difference_from_summary(mean1, sd1, mean2, sd2)``
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special

__all__ = [
    "fisher_exact",
    "chisq_test",
    "compare_proportions",
    "clopper_pearson",
    "wilson",
    "proportion_table",
    "PublishedNumber",
    "parse_published",
    "rounds_to",
    "standardized_difference_binary",
    "standardized_difference_continuous",
    "standardized_difference_from_summary",
    "CHISQ_WARNING",
    "FISHER_2X2_REL_ERR",
    "FEXACT_LOG_TOL",
]

#: R's ``fisher.test`` for a 2x2 table counts a table as "as or less likely"
#: than the observed one when its probability is <= observed * (1 + 1e-7).
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
# validation
# --------------------------------------------------------------------------- #
def _as_count(value, name: str) -> int:
    """``value`` as a non-negative Python int, or a ValueError naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a non-negative integer count, got the boolean {value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif isinstance(value, numbers.Real):
        fval = float(value)
        if not math.isfinite(fval) or fval != math.floor(fval):
            raise ValueError(f"{name} must be a non-negative integer count, got {value!r}")
        out = int(fval)
    else:
        raise ValueError(f"{name} must be a non-negative integer count, got {value!r}")
    if out < 0:
        raise ValueError(f"{name} must be a non-negative integer count, got {value!r}")
    return out


def _as_k_n(k, n, k_name: str = "k", n_name: str = "n") -> tuple[int, int]:
    """Validated (k, n) with 0 <= k <= n and n >= 1."""
    k_int = _as_count(k, k_name)
    n_int = _as_count(n, n_name)
    if n_int == 0:
        raise ValueError(f"{n_name} must be at least 1, got {n!r}")
    if k_int > n_int:
        raise ValueError(f"{k_name} must not exceed {n_name}: got {k_name}={k!r} > {n_name}={n!r}")
    return k_int, n_int


def _as_level(level) -> float:
    try:
        lev = float(level)
    except (TypeError, ValueError):
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}") from None
    if not (0.0 < lev < 1.0):
        raise ValueError(f"level must be a number strictly between 0 and 1, got {level!r}")
    return lev


def _as_table(table, name: str = "table") -> np.ndarray:
    """A 2-D integer array of counts with at least 2 rows and 2 columns."""
    if isinstance(table, pd.DataFrame):
        raw = table.to_numpy(dtype=object)
    else:
        try:
            raw = np.array(table, dtype=object)
        except ValueError:  # ragged nested lists
            raise ValueError(f"{name} must be a rectangular 2-D table of counts, got {table!r}") from None
    if raw.ndim != 2:
        raise ValueError(f"{name} must be a 2-D table of counts, got an array of shape {raw.shape}")
    if raw.shape[0] < 2 or raw.shape[1] < 2:
        raise ValueError(f"{name} must have at least 2 rows and 2 columns, got shape {raw.shape}")
    out = np.empty(raw.shape, dtype=np.int64)
    for (i, j), cell in np.ndenumerate(raw):
        out[i, j] = _as_count(cell, f"{name}[{i}][{j}]")
    return out


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
    k = len(col_totals)
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

    How it matches R's ``fisher.test`` exactly
        * 2 x 2: R sums the normalised hypergeometric probabilities ``d`` with
          ``d <= d_obs * (1 + 1e-7)`` (:data:`FISHER_2X2_REL_ERR`). The relative
          tolerance makes tables whose probability *ties* the observed one
          count despite rounding -- e.g. Fisher's tea-tasting table
          ``[[3, 1], [1, 3]]`` whose mirror image has exactly the same
          probability (P = 34/70).
        * larger tables: R's FEXACT makes the same comparison on the log scale
          with tolerance 3.45254e-7 (:data:`FEXACT_LOG_TOL`); we enumerate the
          tables instead of walking FEXACT's network, which gives the same sum.
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
    counts = _as_table(table)
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
    n_tables = _count_2xk_tables(col_totals, r1)
    if n_tables > max_tables:
        raise ValueError(
            f"the margins of this table admit {n_tables} tables, more than max_tables={max_tables}; "
            "raise max_tables if memory allows, or use R's fisher.test"
        )
    lw = _enumerate_2xk_logweights(col_totals, r1)
    lw_obs = _table_logweight(counts[0], col_totals)
    w = np.exp(lw - lw.max())
    w_obs = math.exp(lw_obs - float(lw.max()))
    if counts.shape == (2, 2):
        selected = w <= w_obs * FISHER_2X2_REL_ERR
    else:
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

    Like R, a table with an all-zero row or column gives ``statistic = NaN``
    and ``p_value = NaN`` (some expected counts are 0).

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
    counts = _as_table(table).astype(float)
    n = counts.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.outer(counts.sum(axis=1), counts.sum(axis=0)) / n
        deviation = np.abs(counts - expected)
        if correct and counts.shape == (2, 2):
            yates = float(min(0.5, deviation.min()))
        else:
            yates = 0.0
        statistic = float(np.sum((deviation - yates) ** 2 / expected))
    df = (counts.shape[0] - 1) * (counts.shape[1] - 1)
    p_value = float(special.chdtrc(df, statistic)) if math.isfinite(statistic) else math.nan  # = chi2.sf
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
# which test did the paper use?
# --------------------------------------------------------------------------- #
def _published_text(published_p, published_relation: str) -> str:
    if published_relation not in {"=", "<", ">", "<=", ">="}:
        raise ValueError(f"published_relation must be one of '=', '<', '>', '<=', '>=', got {published_relation!r}")
    if isinstance(published_p, str):
        text = published_p.strip()
    elif isinstance(published_p, (numbers.Real, Decimal)) and not isinstance(published_p, bool):
        text = repr(float(published_p)) if not isinstance(published_p, Decimal) else str(published_p)
    else:
        raise ValueError(f"published_p must be the P value as printed (a string such as '0.036' or '< 0.001') "
                         f"or a number, got {published_p!r}")
    parsed = parse_published(text)  # raises a ValueError for unreadable text
    if parsed.relation == "=" and published_relation != "=":
        text = f"{published_relation} {text}"
    return text


def compare_proportions(k1, n1, k2, n2, published_p=None, published_relation: str = "=") -> pd.DataFrame:
    """Compare two proportions k1/n1 vs k2/n2 with the three usual tests.

    Papers often print "P = 0.036" without saying which test produced it.
    This computes, for the 2 x 2 table ``[[k1, n1 - k1], [k2, n2 - k2]]``:

    * ``fisher_p``  -- two-sided Fisher exact (:func:`fisher_exact`),
    * ``yates_p``   -- chi-square with Yates' correction (R's default),
    * ``chisq_p``   -- chi-square without correction,

    and, when ``published_p`` is given, checks each against the published value
    *at the published number of decimals* with :func:`rounds_to` (so "0.036"
    is matched by anything in [0.0355, 0.0365), "< 0.001" by anything below
    0.001).

    Parameters
    ----------
    k1, n1, k2, n2 : int
        Events and group sizes (0 <= k <= n, n >= 1).
    published_p : str or float, optional
        The P value **as printed**, preferably as text: ``"0.036"``,
        ``"1.000"``, ``"< 0.001"``, ``"P = .049"``. A float works but loses
        trailing zeros (``1.0`` is checked at one decimal, not three).
    published_relation : {"=", "<", ">", "<=", ">="}
        Used only when ``published_p`` carries no relation of its own,
        e.g. ``published_p=0.001, published_relation="<"``.

    Returns
    -------
    pandas.DataFrame
        One row with ``k1, n1, pct1, k2, n2, pct2`` (percent, unrounded),
        ``fisher_p, yates_p, chisq_p``, ``min_expected`` and
        ``chisq_warning`` (R's small-expected-count warning or ""),
        ``published_p`` (the text checked, or None), ``fisher_matches``,
        ``yates_matches``, ``chisq_matches`` (bool, or None without a published
        P) and ``matches``: "Fisher exact", "Yates chi-square", "both" or
        "neither" (None without a published P). An uncorrected chi-square
        match is reported in ``chisq_matches`` only.
    """
    k1, n1 = _as_k_n(k1, n1, "k1", "n1")
    k2, n2 = _as_k_n(k2, n2, "k2", "n2")
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    fisher_p = fisher_exact(table)
    yates = chisq_test(table, correct=True)
    plain = chisq_test(table, correct=False)
    row = {
        "k1": k1, "n1": n1, "pct1": 100.0 * k1 / n1,
        "k2": k2, "n2": n2, "pct2": 100.0 * k2 / n2,
        "fisher_p": fisher_p,
        "yates_p": float(yates.at[0, "p_value"]),
        "chisq_p": float(plain.at[0, "p_value"]),
        "min_expected": float(yates.at[0, "min_expected"]),
        "chisq_warning": str(yates.at[0, "warning"]),
        "published_p": None,
        "fisher_matches": None,
        "yates_matches": None,
        "chisq_matches": None,
        "matches": None,
    }
    if published_p is not None:
        text = _published_text(published_p, published_relation)
        fm = rounds_to(text, row["fisher_p"])
        ym = rounds_to(text, row["yates_p"])
        row.update(
            published_p=text,
            fisher_matches=fm,
            yates_matches=ym,
            chisq_matches=rounds_to(text, row["chisq_p"]),
            matches={(True, True): "both", (True, False): "Fisher exact",
                     (False, True): "Yates chi-square", (False, False): "neither"}[(fm, ym)],
        )
    return pd.DataFrame([row])


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
    k, n = _as_k_n(k, n)
    alpha = (1.0 - _as_level(level)) / 2.0
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
    k, n = _as_k_n(k, n)
    z = float(special.ndtri((1.0 + _as_level(level)) / 2.0))
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
        ki, ni = _as_k_n(ki, ni, f"k{suffix}", f"n{suffix}")
        cp = clopper_pearson(ki, ni, level)
        wi = wilson(ki, ni, level)
        rows.append({
            "k": ki, "n": ni, "estimate": ki / ni, "pct": 100.0 * ki / ni, "level": float(level),
            "cp_lower": cp[0], "cp_upper": cp[1], "wilson_lower": wi[0], "wilson_upper": wi[1],
        })
    return pd.DataFrame(rows, columns=["k", "n", "estimate", "pct", "level",
                                       "cp_lower", "cp_upper", "wilson_lower", "wilson_upper"])


# --------------------------------------------------------------------------- #
# does a recomputed value reproduce a printed one?
# --------------------------------------------------------------------------- #
class PublishedNumber(NamedTuple):
    """A number as printed in a paper, parsed by :func:`parse_published`."""

    text: str           # the text as given
    relation: str       # "=", "<", ">", "<=" or ">="
    number: Decimal     # the printed number, keeping its trailing zeros: Decimal("1.000")
    decimals: int       # digits after the decimal point as printed (may be negative for 1.2e3)
    percent: bool       # a "%" sign was printed


_RELATIONS = {"<": "<", ">": ">", "=": "=", "<=": "<=", ">=": ">=", "≤": "<=", "≥": ">=", "⩽": "<=", "⩾": ">="}
_PUBLISHED_RE = re.compile(
    r"""^\s*
    (?:p(?:\s*-?\s*value)?\s*)?                       # optional "P", "p value", "p-value"
    (?P<rel><=|>=|≤|≥|⩽|⩾|<|>|=)?\s*
    (?P<sign>[+\-\u2212]?)\s*
    (?P<num>\d[\d,]*(?:\.\d*)?|\.\d+)
    (?:\s*[eE](?P<exp>[+\-\u2212]?\d+)
      |\s*[x×·\u00d7*]\s*10\s*\^?\s*(?P<exp10>[+\-\u2212]?\d+))?
    \s*(?P<pct>%)?\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_published(text: str) -> PublishedNumber:
    """Parse a number as printed in a paper.

    Accepted forms (surrounding spaces ignored, case-insensitive)::

        "0.036"   ".036"   "P = 0.036"   "p-value 0.036"     relation "="
        "< 0.001" "P<.001" "≤ 0.05"     "> 0.99"            relation "<", "<=", ">"
        "61.5%"   "1,234"  "1.2e-05"    "3.4 × 10^-6"       percent, thousands, scientific
        "−0.5"    (Unicode minus)

    The printed precision is kept: ``decimals`` is the number of digits after
    the decimal point (3 for "1.000", 0 for "13", 6 for "1.2e-05"). Text that
    is not a single number -- "NS", "0,036" (decimal comma), "0.03-0.05" --
    raises ValueError rather than being guessed at.
    """
    if not isinstance(text, str):
        raise ValueError(f"published_text must be a string as printed, e.g. '0.036', got {text!r}")
    match = _PUBLISHED_RE.match(text)
    if not match:
        raise ValueError(f"cannot read a published number from {text!r}")
    num = match["num"]
    int_part = num.split(".")[0]
    if "," in int_part:
        if not re.fullmatch(r"[1-9]\d{0,2}(?:,\d{3})+", int_part):
            raise ValueError(f"cannot read a published number from {text!r}: "
                             "commas are only accepted as thousands separators (1,234)")
        num = num.replace(",", "")
    if num.endswith("."):
        num = num[:-1]
    exponent = match["exp"] or match["exp10"]
    literal = ("-" if match["sign"] in ("-", "\u2212") else "") + num
    if exponent:
        literal += "E" + exponent.replace("\u2212", "-")
    number = Decimal(literal)
    return PublishedNumber(
        text=text,
        relation=_RELATIONS[match["rel"]] if match["rel"] else "=",
        number=number,
        decimals=-number.as_tuple().exponent,
        percent=bool(match["pct"]),
    )


def _as_decimal(value, name: str = "value") -> Decimal | None:
    """Exact decimal of the shortest repr of a float (None for NaN)."""
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if isinstance(value, numbers.Integral):
        return Decimal(int(value))
    fval = float(value)
    if math.isnan(fval):
        return None
    if math.isinf(fval):
        return Decimal("Infinity") if fval > 0 else Decimal("-Infinity")
    return Decimal(repr(fval))


def rounds_to(published_text: str, value) -> bool:
    """Does ``value`` reproduce the number printed as ``published_text``?

    Rules (this is the reproduction ledger's definition of "reproduced"):

    * ``"0.036"``: round ``value`` half-up (:data:`decimal.ROUND_HALF_UP`) to
      the printed number of decimals (3) and compare: True for values in
      [0.0355, 0.0365). Trailing zeros count: ``"1.000"`` needs value >=
      0.9995; ``"0.04"`` is checked at 2 decimals.
    * ``"< 0.001"``, ``"> 0.99"``, ``"≤ 0.05"``: the relation is applied to
      the unrounded value (``value < 0.001``), since that is what the authors
      asserted.
    * ``"61.5%"``: the ``%`` sign is only notation -- ``value`` must already be
      on the printed scale, i.e. a percent (61.538...), not a fraction (0.615).
    * ``value`` is read through its shortest repr, so the float 0.0355 counts
      as exactly 0.0355 and rounds up to 0.036 (Python's ``round(0.0355, 3)``
      says 0.035 because the binary double is slightly below 0.0355; the
      printed-paper convention is half-up on the decimal value). Ties on
      negative numbers round away from zero (-0.0355 -> -0.036).
    * NaN never reproduces anything: returns False.

    Parameters
    ----------
    published_text : str
        The number exactly as printed (see :func:`parse_published` for the
        accepted forms).
    value : float, int or Decimal
        The recomputed value, on the printed scale.

    Returns
    -------
    bool
    """
    published = parse_published(published_text)
    dec = _as_decimal(value)
    if dec is None:
        return False
    relation = published.relation
    if relation == "<":
        return bool(dec < published.number)
    if relation == "<=":
        return bool(dec <= published.number)
    if relation == ">":
        return bool(dec > published.number)
    if relation == ">=":
        return bool(dec >= published.number)
    if not dec.is_finite():
        return False
    with localcontext() as ctx:
        ctx.prec = 200
        try:
            rounded = dec.quantize(published.number, rounding=ROUND_HALF_UP)
        except InvalidOperation:  # pragma: no cover - needs > 200 significant digits
            return False
    return bool(rounded == published.number)


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
