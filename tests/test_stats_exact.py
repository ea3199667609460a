"""helpers.stats against exact arithmetic and textbook examples (no R needed).

Expected values here are derived independently of the code under test: exact
rational enumeration with math.comb and fractions.Fraction, closed forms
(Clopper-Pearson at k = 0, chi-square on 2 df), the defining equations of the
intervals, or arithmetic written out in the comments.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from helpers import reproduction, stats


# --------------------------------------------------------------------------- #
# an exact, independent Fisher enumerator
# --------------------------------------------------------------------------- #
def exact_fisher_2xk(table) -> Fraction:
    """Two-sided Fisher P as an exact fraction: the sum of the probabilities of
    all tables with the observed margins that are no more probable than the
    observed one (exact comparison, so exact ties count)."""
    top, bottom = table
    cols = [a + b for a, b in zip(top, bottom)]
    r1, n = sum(top), sum(cols)

    def weight(row):  # C(n, r1) * P(table)
        return math.prod(math.comb(c, x) for c, x in zip(cols, row))

    def rows(j, remaining):
        if j == len(cols) - 1:
            if 0 <= remaining <= cols[j]:
                yield (remaining,)
            return
        for x in range(0, min(cols[j], remaining) + 1):
            for rest in rows(j + 1, remaining - x):
                yield (x,) + rest

    w_obs = weight(top)
    weights = [weight(r) for r in rows(0, r1)]
    assert sum(weights) == math.comb(n, r1)  # Vandermonde: the enumeration is complete
    return Fraction(sum(w for w in weights if w <= w_obs), math.comb(n, r1))


# --------------------------------------------------------------------------- #
# Fisher exact
# --------------------------------------------------------------------------- #
def test_fisher_tea_tasting():
    # Fisher (1935): 4 cups of each kind, 3 identified correctly.
    # Tables by the [0][0] cell x = 0..4 have probabilities 1, 16, 36, 16, 1 (/70);
    # observed x = 3 (16/70) ties with its mirror x = 1, so P = (1+16+16+1)/70.
    assert stats.fisher_exact([[3, 1], [1, 3]]) == pytest.approx(34 / 70, abs=1e-15)
    assert 34 / 70 == pytest.approx(0.4857142857142857, abs=1e-16)


def test_fisher_tea_tasting_all_correct():
    # x = 4: only x = 0 and x = 4 are as unlikely (1/70 each) -> P = 2/70
    assert stats.fisher_exact([[4, 0], [0, 4]]) == pytest.approx(2 / 70, abs=1e-15)


def test_fisher_hand_enumerated_2x3():
    # Table [[2, 0, 0], [0, 1, 2]]: column totals (2, 1, 2), first-row total 2, n = 5.
    # First rows with sum 2 and weight C(2,x1) C(1,x2) C(2,x3):
    #   (2,0,0): 1   (1,1,0): 2   (1,0,1): 4   (0,1,1): 2   (0,0,2): 1    total 10 = C(5,2)
    # observed (2,0,0) has weight 1; as unlikely: (2,0,0) and (0,0,2) -> P = 2/10.
    expected = Fraction(2, 10)
    assert exact_fisher_2xk([[2, 0, 0], [0, 1, 2]]) == expected
    assert stats.fisher_exact([[2, 0, 0], [0, 1, 2]]) == pytest.approx(float(expected), abs=1e-15)


@pytest.mark.parametrize(
    "table",
    [
        [[6, 7], [21, 100]],
        [[8, 5], [108, 11]],
        [[3, 10], [89, 30]],
        [[1, 6], [24, 18]],
        [[2, 4], [65, 12]],
        [[1, 12], [10, 111]],
        [[2, 1], [9, 38]],
        [[0, 10], [5, 5]],
        [[7, 3], [3, 7]],
        [[3, 1, 4], [1, 5, 9]],
        [[3, 1, 2], [1, 3, 2]],          # column permutations tie exactly
        [[3, 1, 3, 1], [1, 3, 1, 3]],    # many exact ties
        [[1, 5, 1, 6], [12, 20, 12, 77]],  # study 000 disease status
        [[0, 3, 5], [0, 4, 6]],          # all-zero column
    ],
)
def test_fisher_vs_exact_rational_enumeration(table):
    assert stats.fisher_exact(table) == pytest.approx(float(exact_fisher_2xk(table)), abs=1e-12)


def test_fisher_transpose_and_row_order_invariant():
    t = [[1, 5, 1, 6], [12, 20, 12, 77]]
    p = float(exact_fisher_2xk(t))
    assert stats.fisher_exact(np.array(t).T) == pytest.approx(p, abs=1e-12)
    assert stats.fisher_exact([t[1], t[0]]) == pytest.approx(p, abs=1e-12)


def test_fisher_single_possible_table_is_one():
    # an all-zero row leaves exactly one table with these margins
    assert stats.fisher_exact([[0, 0], [3, 4]]) == 1.0


def test_fisher_accepts_integral_floats_numpy_and_dataframes():
    p = float(exact_fisher_2xk([[6, 7], [21, 100]]))
    assert stats.fisher_exact([[6.0, 7.0], [21.0, 100.0]]) == pytest.approx(p, abs=1e-13)
    assert stats.fisher_exact(np.array([[6, 7], [21, 100]], dtype=np.int32)) == pytest.approx(p, abs=1e-13)
    frame = pd.DataFrame({"yes": [6, 21], "no": [7, 100]}, index=["A", "B"])
    assert stats.fisher_exact(frame) == pytest.approx(p, abs=1e-13)


def test_fisher_max_tables_guard():
    # margins (13, 25, 13, 83) / 13 admit far more than 10 tables
    with pytest.raises(ValueError, match="max_tables=10"):
        stats.fisher_exact([[1, 5, 1, 6], [12, 20, 12, 77]], max_tables=10)


@pytest.mark.parametrize(
    "table, fragment",
    [
        ([[1, -1], [2, 3]], r"table\[0\]\[1\].*-1"),
        ([[1.5, 2], [3, 4]], r"table\[0\]\[0\].*1\.5"),
        ([[1, 2], [3, float("nan")]], r"table\[1\]\[1\].*nan"),
        ([[True, 2], [3, 4]], r"table\[0\]\[0\].*boolean"),
        ([["6", 7], [21, 100]], r"table\[0\]\[0\].*'6'"),
        ([[1, 2, 3]], r"at least 2 rows and 2 columns"),
        ([1, 2, 3, 4], r"2-D"),
        ([[1, 2], [3]], r"rectangular|2-D"),
    ],
)
def test_bad_tables_raise_value_error(table, fragment):
    with pytest.raises(ValueError, match=fragment):
        stats.fisher_exact(table)
    with pytest.raises(ValueError, match=fragment):
        stats.chisq_test(table)


def test_fisher_rejects_r_by_c():
    with pytest.raises(ValueError, match=r"2 x k.*\(3, 3\)"):
        stats.fisher_exact([[1, 2, 3], [4, 5, 6], [7, 8, 9]])


# --------------------------------------------------------------------------- #
# chi-square
# --------------------------------------------------------------------------- #
def chi2_sf_1df(x: float) -> float:
    """Upper tail of chi-square on 1 df: P(Z^2 > x) = erfc(sqrt(x/2))."""
    return math.erfc(math.sqrt(x / 2))


def test_chisq_tea_tasting_by_hand():
    # E = 4*4/8 = 2 in every cell, |O - E| = 1.
    # uncorrected: 4 * 1^2 / 2 = 2;  Yates: 4 * (1 - 0.5)^2 / 2 = 0.5
    yates = stats.chisq_test([[3, 1], [1, 3]]).iloc[0]
    plain = stats.chisq_test([[3, 1], [1, 3]], correct=False).iloc[0]
    assert yates["statistic"] == pytest.approx(0.5, abs=1e-15)
    assert plain["statistic"] == pytest.approx(2.0, abs=1e-15)
    assert yates["p_value"] == pytest.approx(chi2_sf_1df(0.5), abs=1e-14)
    assert plain["p_value"] == pytest.approx(chi2_sf_1df(2.0), abs=1e-14)
    assert yates["df"] == 1 and yates["correction"] == 0.5
    assert yates["method"] == "Pearson's Chi-squared test with Yates' continuity correction"
    assert plain["method"] == "Pearson's Chi-squared test"
    assert bool(yates["expected_lt5"]) and yates["warning"] == "Chi-squared approximation may be incorrect"


def test_yates_correction_is_capped_at_the_deviation():
    # [[1, 1], [2, 1]]: row totals (2, 3), column totals (3, 2), n = 5 -> E11 = 6/5,
    # |O - E| = 0.2 in every cell. R subtracts min(0.5, 0.2) = 0.2, so the
    # statistic is exactly 0 and P = 1 (a naive "- 0.5" would give 0.3^2 * sum(1/E) > 0).
    res = stats.chisq_test([[1, 1], [2, 1]]).iloc[0]
    assert res["correction"] == pytest.approx(0.2, abs=1e-15)
    assert res["statistic"] == pytest.approx(0.0, abs=1e-15)
    assert res["p_value"] == pytest.approx(1.0, abs=1e-12)


def test_chisq_2x3_exact_statistic_and_2df_closed_form():
    # [[10, 20, 30], [20, 20, 20]]: row totals 60, 60; column totals 30, 40, 50; n = 120
    # E = [[15, 20, 25], [15, 20, 25]]; statistic = 2 * (25/15 + 0 + 25/25) = 16/3
    # (no Yates correction for anything but 2 x 2); on 2 df P = exp(-x/2).
    table = [[10, 20, 30], [20, 20, 20]]
    expected_stat = 2 * (Fraction(25, 15) + Fraction(25, 25))
    assert expected_stat == Fraction(16, 3)
    for correct in (True, False):
        res = stats.chisq_test(table, correct=correct).iloc[0]
        assert res["statistic"] == pytest.approx(float(expected_stat), abs=1e-14)
        assert res["df"] == 2
        assert res["p_value"] == pytest.approx(math.exp(-8 / 3), abs=1e-14)
        assert res["correction"] == 0.0
        assert not res["expected_lt5"] and res["warning"] == ""
        assert res["min_expected"] == pytest.approx(15.0)


def test_chisq_df_for_3x3():
    assert stats.chisq_test([[10, 5, 3], [4, 12, 6], [2, 5, 11]]).at[0, "df"] == 4


def test_chisq_zero_margin_is_nan_like_r():
    res = stats.chisq_test([[0, 0], [3, 4]]).iloc[0]
    assert math.isnan(res["statistic"]) and math.isnan(res["p_value"])


def test_chisq_returns_one_tidy_row():
    frame = stats.chisq_test([[6, 7], [21, 100]])
    assert isinstance(frame, pd.DataFrame) and len(frame) == 1
    assert list(frame.columns) == ["statistic", "df", "p_value", "method", "correction",
                                   "min_expected", "expected_lt5", "warning"]


# --------------------------------------------------------------------------- #
# compare_proportions
# --------------------------------------------------------------------------- #
def test_compare_proportions_columns_and_values():
    row = reproduction.compare_proportions(6, 13, 21, 121).iloc[0]
    assert (row["k1"], row["n1"], row["k2"], row["n2"]) == (6, 13, 21, 121)
    assert row["pct1"] == pytest.approx(float(Fraction(600, 13)), abs=1e-12)
    assert row["pct2"] == pytest.approx(float(Fraction(2100, 121)), abs=1e-12)
    assert row["fisher_p"] == pytest.approx(float(exact_fisher_2xk([[6, 7], [21, 100]])), abs=1e-12)
    # expected counts: 27*13/134 = 2.619... is the smallest
    assert row["min_expected"] == pytest.approx(27 * 13 / 134, abs=1e-12)
    assert row["chisq_warning"] == "Chi-squared approximation may be incorrect"
    assert row["published_p"] is None and row["matches"] is None and row["fisher_matches"] is None


def test_compare_proportions_published_text_and_relation():
    # 3/13 vs 89/119: Fisher and Yates P are both far below 0.001 -> "both"
    text = reproduction.compare_proportions(3, 13, 89, 119, published_p="< 0.001").iloc[0]
    assert text["matches"] == "both" and text["published_p"] == "< 0.001"
    as_float = reproduction.compare_proportions(3, 13, 89, 119, published_p=0.001, published_relation="<").iloc[0]
    assert as_float["matches"] == "both"
    # the same P read as "= 0.001" is reproduced by neither
    equal = reproduction.compare_proportions(3, 13, 89, 119, published_p="0.001").iloc[0]
    assert equal["matches"] == "neither"


def test_compare_proportions_distinguishes_the_tests():
    # tea tasting as proportions 3/4 vs 1/4: Fisher 34/70 = 0.486, Yates erfc(0.5) = 0.480
    fisher_only = reproduction.compare_proportions(3, 4, 1, 4, published_p="0.486").iloc[0]
    assert (fisher_only["fisher_matches"], fisher_only["yates_matches"]) == (True, False)
    assert fisher_only["matches"] == "Fisher exact"
    yates_only = reproduction.compare_proportions(3, 4, 1, 4, published_p="0.480").iloc[0]
    assert yates_only["matches"] == "Yates chi-square"
    plain = reproduction.compare_proportions(3, 4, 1, 4, published_p="0.157").iloc[0]  # erfc(1) = 0.1573
    assert plain["matches"] == "neither" and plain["chisq_matches"]


@pytest.mark.parametrize(
    "args, fragment",
    [
        ((14, 13, 21, 121), r"k1 must not exceed n1.*14.*13"),
        ((-1, 13, 21, 121), r"k1.*-1"),
        ((6, 0, 0, 121), r"n1 must be at least 1"),
        ((6, 13, 21, 120.5), r"n2.*120\.5"),
        ((6, 13, "21", 121), r"k2.*'21'"),
        ((6, 13, 21, None), r"n2.*None"),
    ],
)
def test_compare_proportions_bad_counts(args, fragment):
    with pytest.raises(ValueError, match=fragment):
        reproduction.compare_proportions(*args)


def test_compare_proportions_bad_published():
    with pytest.raises(ValueError, match="published_relation"):
        reproduction.compare_proportions(6, 13, 21, 121, published_p="0.036", published_relation="~")
    with pytest.raises(ValueError, match="cannot read"):
        reproduction.compare_proportions(6, 13, 21, 121, published_p="NS")


# --------------------------------------------------------------------------- #
# confidence intervals
# --------------------------------------------------------------------------- #
def binom_cdf(k: int, n: int, p: float) -> float:
    return math.fsum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize("n", [1, 7, 10, 13, 300])
@pytest.mark.parametrize("level", [0.90, 0.95, 0.99])
def test_clopper_pearson_closed_forms_at_the_edges(n, level):
    a2 = (1 - level) / 2
    lo, up = stats.clopper_pearson(0, n, level)
    assert lo == 0.0
    assert up == pytest.approx(1 - a2 ** (1 / n), abs=1e-13)  # P(X = 0 | p) = (1-p)^n = a/2
    lo, up = stats.clopper_pearson(n, n, level)
    assert up == 1.0
    assert lo == pytest.approx(a2 ** (1 / n), abs=1e-13)      # P(X = n | p) = p^n = a/2


@pytest.mark.parametrize("k, n", [(1, 7), (8, 13), (6, 13), (3, 47), (59, 134), (108, 119)])
def test_clopper_pearson_solves_its_defining_equations(k, n):
    # lower: P(X >= k | p_L) = alpha/2 ; upper: P(X <= k | p_U) = alpha/2
    lo, up = stats.clopper_pearson(k, n)
    assert 1 - binom_cdf(k - 1, n, lo) == pytest.approx(0.025, abs=1e-12)
    assert binom_cdf(k, n, up) == pytest.approx(0.025, abs=1e-12)


def test_wilson_k0_closed_form():
    # p_hat = 0: upper = z^2 / (n + z^2), lower = 0
    z = NormalDist().inv_cdf(0.975)
    assert stats.wilson(0, 10) == (0.0, pytest.approx(z * z / (10 + z * z), abs=1e-14))
    lo, up = stats.wilson(10, 10)
    assert up == 1.0 and lo == pytest.approx(10 / (10 + z * z), abs=1e-14)


@pytest.mark.parametrize("k, n", [(1, 7), (8, 13), (59, 134), (108, 119)])
def test_wilson_solves_the_score_equation(k, n):
    # each bound p satisfies (p_hat - p)^2 = z^2 p (1 - p) / n
    z = NormalDist().inv_cdf(0.975)
    for p in stats.wilson(k, n):
        assert (k / n - p) ** 2 == pytest.approx(z * z * p * (1 - p) / n, abs=1e-14)


def test_wilson_continuity_corrected_hand_arithmetic():
    # R's prop.test(5, 10): p_hat = 0.5, correction min(0.5, |5 - 5|) = 0 -> same as uncorrected
    assert stats.wilson(5, 10, correct=True) == pytest.approx(stats.wilson(5, 10), abs=1e-15)
    # prop.test(1, 10): upper uses p_c = 0.1 + 0.5/10 = 0.15
    z = NormalDist().inv_cdf(0.975)
    n, p_c = 10, 0.15
    z22n = z * z / (2 * n)
    expected = (p_c + z22n + z * math.sqrt(p_c * (1 - p_c) / n + z22n / (2 * n))) / (1 + 2 * z22n)
    assert stats.wilson(1, 10, correct=True)[1] == pytest.approx(expected, abs=1e-14)


def test_proportion_table_is_tidy():
    frame = stats.proportion_table([0, 10, 6], [10, 10, 13])
    assert list(frame.columns) == ["k", "n", "estimate", "pct", "level",
                                   "cp_lower", "cp_upper", "wilson_lower", "wilson_upper"]
    assert frame["k"].tolist() == [0, 10, 6] and frame["n"].tolist() == [10, 10, 13]
    assert frame.at[2, "pct"] == pytest.approx(600 / 13)
    assert frame.at[0, "cp_lower"] == 0.0 and frame.at[1, "cp_upper"] == 1.0
    assert frame.at[0, "cp_upper"] == pytest.approx(1 - 0.025 ** 0.1, abs=1e-13)
    shared_n = stats.proportion_table([6, 8, 3], 13)
    assert shared_n["n"].tolist() == [13, 13, 13] and shared_n["k"].tolist() == [6, 8, 3]
    one = stats.proportion_table(6, 13)
    assert len(one) == 1 and one.at[0, "estimate"] == pytest.approx(6 / 13)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: stats.clopper_pearson(-1, 10), r"k.*-1"),
        (lambda: stats.clopper_pearson(11, 10), r"k must not exceed n.*11.*10"),
        (lambda: stats.clopper_pearson(1, 0), r"n must be at least 1"),
        (lambda: stats.clopper_pearson(1.5, 10), r"k.*1\.5"),
        (lambda: stats.clopper_pearson(1, 10, level=95), r"level.*95"),
        (lambda: stats.wilson(3, 2), r"k must not exceed n"),
        (lambda: stats.wilson(1, 10, level=0), r"level"),
        (lambda: stats.proportion_table([1, 2], [10]), r"same length"),
        (lambda: stats.proportion_table([1, 12], [10, 10]), r"k\[1\] must not exceed n\[1\]"),
    ],
)
def test_interval_input_errors(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()


# --------------------------------------------------------------------------- #
# rounds_to / parse_published
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "text, value, expected",
    [
        ("0.036", 0.036077784, True),
        ("0.036", 0.0355, True),            # the half-up boundary itself
        ("0.036", 0.03549999999, False),
        ("0.036", 0.036499999, True),
        ("0.036", 0.0365, False),           # -> 0.037
        ("0.035", 0.0355, False),           # half-up, not half-even / not binary-float rounding
        ("0.04", 0.035, True),              # two decimals printed
        ("0.009", 0.0098853609, False),     # Fisher for study 000 response prints 0.010
        ("0.010", 0.0098853609, True),
        ("0.01", 0.0098853609, True),
        ("1.000", 1.0, True),
        ("1.000", 0.9995, True),
        ("1.000", 0.99949999, False),
        ("1", 0.5, True),                   # "1" is a 0-decimal number
        ("< 0.001", 0.000999, True),
        ("< 0.001", 0.001, False),          # strict
        ("< 0.001", 0.0011, False),
        ("<0.001", 3.6e-4, True),
        ("P < .001", 3.6e-4, True),
        ("p<0.05", 0.0499, True),
        ("≤ 0.05", 0.05, True),
        ("<= 0.05", 0.0501, False),
        ("> 0.05", 0.05, False),
        ("> 0.05", 0.0501, True),
        ("≥ 0.05", 0.05, True),
        ("P = 0.049", 0.0488, True),
        ("P = .049", 0.0488, True),
        ("p-value = 0.049", 0.0488, True),
        ("61.5%", 100 * 8 / 13, True),      # 61.538...%
        ("61.5%", 8 / 13, False),           # value must be a percent, not a fraction
        ("61.5%", 61.55, False),            # -> 61.6
        ("61.5%", 61.45, True),
        ("13", 13.4999, True),
        ("13", 13.5, False),
        ("1,234", 1234.4, True),
        ("1.2e-05", 1.24e-05, True),
        ("1.2e-05", 1.25e-05, False),       # -> 1.3e-05
        ("3.4 × 10^-6", 3.35e-06, True),
        ("3.4 x 10-6", 3.449e-06, True),
        ("−0.5", -0.5, True),               # Unicode minus
        ("-0.036", -0.0355, True),          # ties round away from zero
        ("0.036", float("nan"), False),
        ("< 0.001", float("nan"), False),
        ("0.036", Decimal("0.0355"), True),
        ("0.036", np.float64(0.0355), True),
        ("5", 5, True),
    ],
)
def test_rounds_to(text, value, expected):
    assert reproduction.rounds_to(text, value) is expected


def test_rounds_to_is_decimal_half_up_not_python_round():
    # the binary double nearest 0.0355 is slightly below it, so Python's round()
    # gives 0.035; a printed "0.036" is nevertheless what the value 0.0355 prints as.
    assert round(0.0355, 3) == 0.035
    assert reproduction.rounds_to("0.036", 0.0355)


@pytest.mark.parametrize(
    "text, relation, number, decimals, percent",
    [
        ("0.036", "=", "0.036", 3, False),
        ("1.000", "=", "1.000", 3, False),
        ("< 0.001", "<", "0.001", 3, False),
        ("P ≤ .05", "<=", "0.05", 2, False),
        ("61.5%", "=", "61.5", 1, True),
        ("13", "=", "13", 0, False),
        ("1,234", "=", "1234", 0, False),
        ("1.2e-05", "=", "0.000012", 6, False),
    ],
)
def test_parse_published(text, relation, number, decimals, percent):
    parsed = reproduction.parse_published(text)
    assert parsed.relation == relation
    assert parsed.number == Decimal(number)
    assert parsed.decimals == decimals
    assert parsed.percent is percent


@pytest.mark.parametrize("text", ["NS", "n.s.", "", "0,036", "0.03-0.05", "0.036 (Fisher)", "1,23"])
def test_rounds_to_rejects_unreadable_text(text):
    with pytest.raises(ValueError, match="cannot read"):
        reproduction.rounds_to(text, 0.036)


def test_rounds_to_rejects_non_text_and_non_numbers():
    with pytest.raises(ValueError, match="published_text must be a string"):
        reproduction.rounds_to(0.036, 0.036)
    with pytest.raises(ValueError, match="value must be a real number"):
        reproduction.rounds_to("0.036", "0.036")


# --------------------------------------------------------------------------- #
# standardized differences (Austin 2009)
# --------------------------------------------------------------------------- #
def test_standardized_difference_binary_by_hand():
    # p1 = 0.4, p2 = 0.2: (0.2) / sqrt((0.24 + 0.16) / 2) = 0.2 / sqrt(0.2) = sqrt(0.2)
    assert stats.standardized_difference_binary(0.4, 0.2) == pytest.approx(math.sqrt(0.2), abs=1e-15)
    assert stats.standardized_difference_binary(0.2, 0.4) == pytest.approx(-math.sqrt(0.2), abs=1e-15)
    # p1 = 0.5, p2 = 0.1: 0.4 / sqrt((0.25 + 0.09) / 2) = 0.4 / sqrt(0.17)
    assert stats.standardized_difference_binary(0.5, 0.1) == pytest.approx(0.4 / math.sqrt(0.17), abs=1e-15)
    assert stats.standardized_difference_binary(0.3, 0.3) == 0.0
    assert stats.standardized_difference_binary(0.0, 0.0) == 0.0
    assert stats.standardized_difference_binary(1.0, 0.0) == math.inf
    assert stats.standardized_difference_binary(0.0, 1.0) == -math.inf


def test_standardized_difference_continuous_by_hand():
    # x1 = 1..5: mean 3, variance (4+1+0+1+4)/4 = 2.5
    # x2 = 2,4,...,10: mean 6, variance (16+4+0+4+16)/4 = 10
    # d = (3 - 6) / sqrt((2.5 + 10) / 2) = -3 / 2.5 = -1.2
    assert stats.standardized_difference_continuous([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(-1.2, abs=1e-15)
    assert stats.standardized_difference_continuous(pd.Series([2, 4, 6, 8, 10]), np.array([1, 2, 3, 4, 5])) == pytest.approx(1.2, abs=1e-15)


def test_standardized_difference_from_summary_by_hand():
    # (12 - 10) / sqrt((3^2 + 4^2) / 2) = 2 / sqrt(12.5)
    assert stats.standardized_difference_from_summary(12, 3, 10, 4) == pytest.approx(2 / math.sqrt(12.5), abs=1e-15)
    assert stats.standardized_difference_from_summary(10, 2, 8, 2) == pytest.approx(1.0, abs=1e-15)


def test_standardized_difference_nan_policy():
    with pytest.raises(ValueError, match="x1 contains 1 missing"):
        stats.standardized_difference_continuous([1, 2, np.nan, 3, 4, 5], [2, 4, 6, 8, 10])
    d = stats.standardized_difference_continuous([1, 2, np.nan, 3, 4, 5], [2, 4, 6, 8, 10], nan_policy="omit")
    assert d == pytest.approx(-1.2, abs=1e-15)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: stats.standardized_difference_binary(1.5, 0.2), r"p1.*1\.5"),
        (lambda: stats.standardized_difference_binary(0.2, -0.1), r"p2.*-0\.1"),
        (lambda: stats.standardized_difference_binary(40, 20), r"p1.*40"),
        (lambda: stats.standardized_difference_binary(float("nan"), 0.2), r"p1"),
        (lambda: stats.standardized_difference_continuous([1], [1, 2]), r"x1 needs at least 2"),
        (lambda: stats.standardized_difference_continuous([1, 2], ["a", "b"]), r"x2 must be numeric"),
        (lambda: stats.standardized_difference_continuous([1, 1], [2, 2]), r"both 0"),
        (lambda: stats.standardized_difference_from_summary(1, -1, 2, 1), r"sd1.*-1"),
        (lambda: stats.standardized_difference_continuous([1, 2], [1, 2], nan_policy="drop"), r"nan_policy"),
    ],
)
def test_standardized_difference_errors(call, fragment):
    with pytest.raises(ValueError, match=fragment):
        call()
