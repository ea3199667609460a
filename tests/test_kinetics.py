"""helpers.stats.nca: NCA against hand-computed examples, the Stein model against known
parameters, and the group comparisons against R.

(a) NCA: worked examples computed by hand below (the arithmetic is written out), for each
    AUC method and BLQ rule; plus the trapezoidal AUC of an independent R implementation
    (tests/r/kinetics.R) through committed fixtures.
(b) Model: hand-computed curve values, the analytic Jacobian against finite differences,
    exact recovery from noise-free data, and recovery within the stated tolerances
    (kinetics.RECOVERY_TOLERANCE) from data simulated with noise.
(c) Rank-sum and Welch tests: R's ``wilcox.test(conf.int = TRUE)`` and ``t.test`` on the
    committed fixtures tests/fixtures/r/kinetics_*.csv, and live (marker ``r_live``).

Regenerate the R fixtures after editing the cases or tests/r/kinetics.R::

    .venv/bin/python tests/test_kinetics.py --regenerate
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

import r_oracle
from helpers import clinical, plots, stats
from helpers.stats import kinetic_model as stats_kinetic_model

ORACLE = r_oracle.Oracle("kinetics.R", inputs=("kinetics_rank_cases", "kinetics_nca_cases"),
                         outputs=("kinetics_rank_expected", "kinetics_nca_expected"), session="kinetics_r_session")
OUTPUT_NAMES = ORACLE.outputs

EXACT_TOL = 1e-10      # P values, statistics, exact-case estimates and CIs, AUCs vs R
UNIROOT_TOL = 2e-4     # R finds asymptotic Hodges-Lehmann estimates with uniroot(tol = 1e-4)
FIXTURE_TOL = 1e-12    # committed fixtures vs live R


# =========================================================================== #
# (a) NCA worked examples
# =========================================================================== #
# Example A -- days 1, 4, 7, 14, 28 with 100, 1000, 8000, 2000, 500 copies; day 0 = 0 is added.
#   linear:      0-1  (0 + 100)/2 * 1      =     50
#                1-4  (100 + 1000)/2 * 3   =   1650
#                4-7  (1000 + 8000)/2 * 3  =  13500
#                7-14 (8000 + 2000)/2 * 7  =  35000
#               14-28 (2000 + 500)/2 * 14  =  17500      total 67700
#   log-down: rises as above (15200); 7-14  7 * (8000 - 2000) / ln 4 = 42000 / ln 4
#                                     14-28 14 * (2000 - 500) / ln 4 = 21000 / ln 4
EX_A = dict(day=[1, 4, 7, 14, 28], copies=[100, 1000, 8000, 2000, 500], blq=[False] * 5)
EX_A_LINEAR = 67700.0
EX_A_LOGDOWN = 15200.0 + 63000.0 / math.log(4.0)


def test_worked_example_a_linear():
    r = stats.nca_profile(EX_A["day"], EX_A["copies"], EX_A["blq"], method="linear")
    assert r["auc_0_28"] == pytest.approx(EX_A_LINEAR, rel=1e-12)
    assert (r["cmax"], r["tmax"], r["clast"], r["tlast"]) == (8000.0, 7.0, 500.0, 28.0)
    assert r["persistence_days"] == 28.0 and r["persistence_censored"] is True
    assert r["auc_last"] == pytest.approx(EX_A_LINEAR, rel=1e-12)   # Tlast = 28


def test_worked_example_a_log_down():
    r = stats.nca_profile(EX_A["day"], EX_A["copies"], EX_A["blq"], method="linear-up/log-down")
    assert r["auc_0_28"] == pytest.approx(EX_A_LOGDOWN, rel=1e-12)
    assert r["auc_0_28"] < EX_A_LINEAR   # a straight line over-estimates a convex decline


# Example B -- LLOQ 50; BLQ on days 1, 14, 28 and 60; quantifiable 200 (d4), 5000 (d7), 400 (d21).
#   PKNCA rule: day 1 leading BLQ -> 0; day 14 between quantifiable samples -> dropped;
#               days 28, 60 trailing -> 0.  Profile: (0,0) (1,0) (4,200) (7,5000) (21,400) (28,0) (60,0)
#     linear AUC0-28: 0 + (0+200)/2*3 + (200+5000)/2*3 + (5000+400)/2*14 + (400+0)/2*7
#                   = 0 + 300 + 7800 + 37800 + 1400 = 47300
#     log-down:       300 + 7800 + 14*(5000-400)/ln(12.5) + 1400 (a fall to 0 stays linear)
#     AUC to Tlast (21): 300 + 7800 + 37800 = 45900 (linear)
#   LLOQ/2 rule (every BLQ = 25): (0,0) (1,25) (4,200) (7,5000) (14,25) (21,400) (28,25)
#     linear AUC0-28: 12.5 + 337.5 + 7800 + 17587.5 + 1487.5 + 1487.5 = 28712.5
#   drop rule: the last usable level is day 21 -> AUC0-28 not estimable.
EX_B = dict(day=[1, 4, 7, 14, 21, 28, 60], copies=[50, 200, 5000, 50, 400, 50, 50],
            blq=[True, False, False, True, False, True, True])


def test_worked_example_b_pknca_rule():
    clean = stats.clean_profile(EX_B["day"], EX_B["copies"], EX_B["blq"], blq="pknca")
    assert clean["handling"].tolist() == ["added: day 0 = 0", "BLQ -> 0", "quantifiable", "quantifiable",
                                          "BLQ dropped", "quantifiable", "BLQ -> 0", "BLQ -> 0"]
    lin = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"], method="linear")
    log = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"])
    assert lin["auc_0_28"] == pytest.approx(47300.0, rel=1e-12)
    assert log["auc_0_28"] == pytest.approx(300 + 7800 + 14 * 4600 / math.log(12.5) + 1400, rel=1e-12)
    assert lin["auc_last"] == pytest.approx(45900.0, rel=1e-12)
    assert (lin["cmax"], lin["tmax"], lin["clast"], lin["tlast"]) == (5000.0, 7.0, 400.0, 21.0)
    assert lin["persistence_days"] == 21.0 and lin["persistence_censored"] is False
    assert (lin["n_samples"], lin["n_blq"]) == (7, 4)


def test_worked_example_b_half_lloq_rule():
    r = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"], method="linear", blq="lloq/2")
    assert r["auc_0_28"] == pytest.approx(28712.5, rel=1e-12)
    assert r["cmax"] == 5000.0 and r["clast"] == 400.0   # BLQ never defines Cmax or Clast


def test_worked_example_b_drop_rule_is_not_extrapolated():
    r = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"], method="linear", blq="drop")
    assert math.isnan(r["auc_0_28"])
    assert "day 21" in r["auc_0_28_note"] and "not estimable" in r["auc_0_28_note"]


# Example C -- 1000 (d7), 500 (d14), 100 (d60): no day-28 sample, so C(28) is interpolated.
#   linear:   C(28) = 500 + (100 - 500) * 14/46 = 378.2608...
#             AUC = 7*1000/2 + 7*(1000+500)/2 + 14*(500 + C28)/2 = 3500 + 5250 + 7*(500 + C28)
#   log-down: C(28) = 500 * 0.2**(14/46); falls: 7*500/ln 2 + 14*(500 - C28)/ln(500/C28)
def test_worked_example_c_interpolates_day_28():
    c28 = 500 + (100 - 500) * 14 / 46
    lin = stats.nca_profile([7, 14, 60], [1000, 500, 100], [False] * 3, method="linear")
    assert lin["auc_0_28"] == pytest.approx(3500 + 5250 + 7 * (500 + c28), rel=1e-12)
    c28_log = 500 * 0.2 ** (14 / 46)
    log = stats.nca_profile([7, 14, 60], [1000, 500, 100], [False] * 3)
    expected = 3500 + 7 * 500 / math.log(2) + 14 * (500 - c28_log) / math.log(500 / c28_log)
    assert log["auc_0_28"] == pytest.approx(expected, rel=1e-12)


def test_first_occurrence_of_peak_and_window_peak():
    r = stats.nca_profile([1, 4, 7, 60], [10, 900, 900, 2000], [False] * 4, method="linear")
    assert r["tmax"] == 60.0 and r["cmax"] == 2000.0            # overall peak late
    assert r["tmax_0_28"] == 4.0 and r["cmax_0_28"] == 900.0    # first of two equal peaks in the month


def test_all_blq_profile():
    r = stats.nca_profile([1, 7, 14, 28], [50] * 4, [True] * 4)
    assert math.isnan(r["cmax"]) and math.isnan(r["tlast"])
    assert r["persistence_days"] == 0.0 and r["auc_0_28"] == 0.0 and r["auc_last"] == 0.0


def test_day0_sample_is_used_not_added():
    clean = stats.clean_profile([0, 2], [50.0, 100.0], [True, False])
    assert clean["handling"].tolist() == ["BLQ -> 0", "quantifiable"]
    clean = stats.clean_profile([0, 2], [5.0, 10.0], [False, False])
    assert clean["level"].tolist() == [5.0, 10.0]


def test_unsorted_input_is_sorted():
    a = stats.nca_profile([28, 1, 14, 4, 7], [500, 100, 2000, 1000, 8000], [False] * 5)
    assert a["auc_0_28"] == pytest.approx(EX_A_LOGDOWN, rel=1e-12)


def test_nca_table_keeps_every_patient_and_reports_short_followup():
    k = pd.DataFrame({
        "patient_id": ["a"] * 5 + ["b"] * 3,
        "day": EX_A["day"] + [1, 4, 10],
        "copies_per_ug_gdna": EX_A["copies"] + [100.0, 900.0, 300.0],
        "below_lloq": [False] * 8,
    })
    table = stats.nca_table(k, method="linear")
    assert table["patient_id"].tolist() == ["a", "b"]
    assert table.loc[0, "auc_0_28"] == pytest.approx(EX_A_LINEAR)
    assert math.isnan(table.loc[1, "auc_0_28"]) and "day 10" in table.loc[1, "auc_0_28_note"]
    with pytest.raises(ValueError, match="below_lloq"):
        stats.nca_table(k.drop(columns="below_lloq"))
    with pytest.raises(ValueError, match="patient a: below_lloq must be True/False"):
        stats.nca_table(k.assign(below_lloq="False"))          # text is refused, never read as True
    with pytest.raises(ValueError, match="patient b: more than one sample on day"):
        stats.fit_table(pd.concat([k, k.iloc[[-1]]], ignore_index=True))


@pytest.mark.parametrize("kwargs, message", [
    (dict(day=[1, 2], copies=[1.0], below_lloq=[False, False]), "same length"),
    (dict(day=[], copies=[], below_lloq=[]), "no samples"),
    (dict(day=[1, 1], copies=[5.0, 6.0], below_lloq=[False, False]), r"more than one sample on day"),
    (dict(day=[-1, 2], copies=[5.0, 6.0], below_lloq=[False, False]), "negative day"),
    (dict(day=[1, 2], copies=[-5.0, 6.0], below_lloq=[False, False]), "negative copies"),
    (dict(day=[1, 2], copies=[np.nan, 6.0], below_lloq=[False, False]), "missing or infinite copies"),
    (dict(day=[np.nan, 2], copies=[1.0, 6.0], below_lloq=[False, False]), "missing or infinite day"),
    (dict(day=[1, 2], copies=[0.0, 6.0], below_lloq=[False, False]), "marked quantifiable"),
    (dict(day=[1, 2], copies=[0.0, 6.0], below_lloq=[True, False]), "carry the limit"),
    (dict(day=[1, 2], copies=[1.0, 6.0], below_lloq=["yes", "no"]), "True/False"),
    (dict(day=["a", 2], copies=[1.0, 6.0], below_lloq=[False, False]), "numeric"),
])
def test_bad_profiles_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        stats.nca_profile(kwargs["day"], kwargs["copies"], kwargs["below_lloq"])


def test_bad_options_raise():
    with pytest.raises(ValueError, match="method must be one of"):
        stats.nca_profile([1, 2], [1.0, 2.0], [False, False], method="log")
    with pytest.raises(ValueError, match="blq must be one of"):
        stats.nca_profile([1, 2], [1.0, 2.0], [False, False], blq="zero")
    with pytest.raises(ValueError, match="strictly increasing"):
        stats.auc([0, 2, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="finite"):
        stats.auc([0, 1], [0, np.nan])
    with pytest.raises(ValueError, match="not a sample day"):
        stats.auc([0, 1], [0, 1], start=0.5)


# =========================================================================== #
# (b) the Stein model
# =========================================================================== #
def test_stein_curve_hand_values():
    # Cmax 1000 at day 5, doubling time 1 day, fast half-life 2 days, slow half-life 50 days, FB 0.1
    p = stats.SteinParameters(cmax=1000.0, tmax=5.0, rho=math.log(2), alpha=math.log(2) / 2,
                          beta=math.log(2) / 50, fb=0.1)
    got = stats.stein_curve([3.0, 5.0, 7.0, 105.0], p)
    expected = [1000 * 2 ** -2,                                  # two doublings before the peak
                1000.0,
                1000 * (0.9 * 0.5 + 0.1 * 2 ** (-2 / 50)),       # one fast half-life after it
                1000 * (0.9 * 2 ** -50 + 0.1 * 2 ** -2)]         # 50 fast, 2 slow half-lives
    assert np.allclose(got, expected, rtol=1e-12)
    assert p.doubling_time == pytest.approx(1.0) and p.half_life_alpha == pytest.approx(2.0)
    assert p.half_life_beta == pytest.approx(50.0) and p.fold_expansion == pytest.approx(32.0)


def test_stein_parameters_validated():
    with pytest.raises(ValueError, match="rho must be a positive number"):
        stats.SteinParameters(1000.0, 5.0, -1.0, 0.1, 0.01, 0.1)
    with pytest.raises(ValueError, match="fb must be in"):
        stats.SteinParameters(1000.0, 5.0, 1.0, 0.1, 0.01, 1.5)


def test_jacobian_matches_finite_differences():
    from scipy.optimize._numdiff import approx_derivative
    rng = np.random.default_rng(11)
    t = np.array(stats.BOOK_SCHEDULE)
    for _ in range(20):
        x = np.array([rng.uniform(6, 12), rng.uniform(5, 15), math.log(rng.uniform(0.3, 1.5)),
                      math.log(rng.uniform(0.05, 1.0)), math.log(rng.uniform(0.01, 0.5)), rng.uniform(-5, 0)])
        # keep Tmax away from sample days, where the model has a kink
        if np.min(np.abs(t - x[1])) < 1e-3:
            continue
        logy = x[0] + rng.normal(0, 1, len(t)) - 0.02 * t
        blq = logy < math.log(50)
        log_lloq = np.where(blq, math.log(50), 0.0)
        logy = np.where(blq, math.log(50), logy)
        analytic = stats_kinetic_model._jacobian(x, t, logy, blq, log_lloq)
        numeric = approx_derivative(lambda z: stats_kinetic_model._residuals(z, t, logy, blq, log_lloq), x, method="3-point")
        assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("params", [
    stats.SteinParameters(2e4, 9.0, 0.8, 0.2, 0.01, 0.02),
    stats.SteinParameters(5e3, 12.5, 0.5, 0.12, 0.004, 0.08),
    stats.SteinParameters(1e5, 6.3, 1.3, 0.35, 0.02, 0.01),
])
def test_noise_free_data_are_recovered_exactly(params):
    sim = stats.simulate_stein(params, stats.BOOK_SCHEDULE, sd_log=0.0)
    fit = stats.fit_stein(sim["day"], sim["copies_per_ug_gdna"], sim["below_lloq"])
    assert fit.status == "fitted" and fit.at_bounds == ()
    for name in ("cmax", "tmax", "rho", "alpha", "beta", "fb"):
        assert getattr(fit.params, name) == pytest.approx(getattr(params, name), rel=1e-5), name


def test_blq_samples_are_censored_not_dropped():
    """With a limit of 100 copies, day 1 (~33 copies) and days 180 and 365 (~72 and ~11) are
    BLQ; the fit must keep the model under the limit there (BLQ residuals vanish) and still
    recover the expansion and the fast phase."""
    params = stats.SteinParameters(2e4, 9.0, 0.8, 0.2, 0.01, 0.02)
    sim = stats.simulate_stein(params, stats.BOOK_SCHEDULE, sd_log=0.0, lloq=100.0)
    assert sim.loc[sim["below_lloq"], "day"].tolist() == [1.0, 180.0, 365.0]
    fit = stats.fit_stein(sim["day"], sim["copies_per_ug_gdna"], sim["below_lloq"])
    assert fit.status == "fitted" and fit.n_blq == 3
    pred = stats.stein_curve(sim.loc[sim["below_lloq"], "day"], fit.params)
    assert np.all(pred <= 100.0 * (1 + 1e-6))
    for name in ("cmax", "tmax", "rho", "alpha"):
        assert getattr(fit.params, name) == pytest.approx(getattr(params, name), rel=1e-3), name


@pytest.mark.parametrize("schedule", ["book", "dense"])
def test_noisy_data_recover_parameters_within_stated_tolerance(schedule):
    """100 simulated patients (parameters drawn by kinetics.draw_parameters, log-normal noise
    SD 0.15 on the book's schedule, 0.10 on the dense one, LLOQ 50): at least 95 % fitted;
    per parameter the median error (bias) and the 90th percentile of the absolute error are
    within kinetics.RECOVERY_TOLERANCE (errors relative, Tmax in days)."""
    study = stats.recovery_study(100, np.random.default_rng(20240101), schedule)
    fitted = study[study["fit_status"] == "fitted"]
    assert len(fitted) >= 95, study["fit_status"].value_counts().to_dict()
    for p, (tol_median, tol_q90) in stats.RECOVERY_TOLERANCE[schedule].items():
        truth, est = fitted[f"true_{p}"].to_numpy(), fitted[f"fit_{p}"].to_numpy()
        err = est - truth if p == "tmax" else est / truth - 1
        assert abs(np.median(err)) <= tol_median, f"{p}: median error {np.median(err):+.3f}"
        assert np.quantile(np.abs(err), 0.9) <= tol_q90, f"{p}: 90th pct |error| {np.quantile(np.abs(err), 0.9):.3f}"


def test_recovery_summary_reports_the_same_errors():
    study = stats.recovery_study(12, np.random.default_rng(3), "dense")
    summary = stats.recovery_summary(study, "dense").set_index("parameter")
    ok = study["fit_status"] == "fitted"
    err = study.loc[ok, "fit_cmax"] / study.loc[ok, "true_cmax"] - 1
    assert summary.loc["cmax", "median error"] == pytest.approx(float(np.median(err)))
    err_t = study.loc[ok, "fit_tmax"] - study.loc[ok, "true_tmax"]
    assert summary.loc["tmax", "90th percentile |error|"] == pytest.approx(float(np.quantile(np.abs(err_t), 0.9)))


def test_unidentified_slow_phase_is_flagged_and_not_reported():
    """A slow phase that does not decline before the last sample (day 90) cannot give a
    half-life: beta/alpha ends on its lower bound, and the table row reports NaN."""
    params = stats.SteinParameters(2e4, 9.0, 0.8, 0.2, 1e-8, 0.02)
    sim = stats.simulate_stein(params, stats.BOOK_SCHEDULE[:9], sd_log=0.0)
    fit = stats.fit_stein(sim["day"], sim["copies_per_ug_gdna"], sim["below_lloq"])
    assert fit.status == "fitted" and fit.at_bounds == ("beta/alpha (lower)",)
    row = fit.row()
    assert math.isnan(row["model_half_life_beta"]) and math.isnan(row["model_beta"])
    assert row["curve_beta"] == fit.params.beta > 0          # kept for drawing the curve
    assert row["model_fb"] == pytest.approx(0.02, rel=1e-3)   # the bound (1e-5) is not quite 5e-8
    assert row["model_half_life_alpha"] == pytest.approx(math.log(2) / 0.2, rel=1e-3)


@pytest.mark.parametrize("day, copies, blq, reason", [
    ([1, 4, 7, 10], [10.0, 100.0, 50.0, 20.0], [False] * 4, "after the peak"),
    ([1, 4, 7, 10, 14, 21, 28], [900.0, 100.0, 50.0, 20.0, 10.0, 8.0, 5.0], [False] * 7, "expansion not observed"),
    ([1, 4, 7, 10], [50.0] * 4, [True] * 4, "no quantifiable sample"),
    ([1, 4, 7, 10, 14, 21], [10.0, 100.0, 1000.0, 500.0, 200.0, 100.0], [False] * 6, "6 samples for 6 parameters"),
])
def test_unfittable_profiles_say_why(day, copies, blq, reason):
    fit = stats.fit_stein(day, copies, blq)
    assert fit.status.startswith("not fitted") and reason in fit.status
    assert fit.params is None and math.isnan(fit.row()["model_cmax"])


def test_fit_overlay_draws_a_fit_with_an_unidentified_slow_phase():
    sim = stats.simulate_stein(stats.SteinParameters(2e4, 9.0, 0.8, 0.2, 1e-8, 0.02), stats.BOOK_SCHEDULE[:9],
                           sd_log=0.0, patient_id="flat")
    fits = stats.fit_table(sim)
    assert math.isnan(fits.loc[0, "model_half_life_beta"])
    figure = plots.fit_overlay_figure(sim, fits, ["flat"], published_peaks={"flat": 9.0})
    assert [t.name for t in figure.data] == ["observed (open = below limit)", "fitted model", "published peak day"]
    assert "slow not identified" in figure.data[1].hovertemplate


def test_fit_table_keeps_unfitted_patients():
    good = stats.simulate_stein(stats.SteinParameters(2e4, 9.0, 0.8, 0.2, 0.01, 0.02), stats.BOOK_SCHEDULE,
                            sd_log=0.0, patient_id="good")
    short = pd.DataFrame({"patient_id": "short", "day": [1.0, 4.0, 7.0], "copies_per_ug_gdna": [5.0, 50.0, 500.0],
                          "below_lloq": [False] * 3})
    table = stats.fit_table(pd.concat([good, short], ignore_index=True))
    assert table["patient_id"].tolist() == ["good", "short"]
    assert table["fit_status"].tolist()[0] == "fitted" and table["fit_status"].tolist()[1].startswith("not fitted")


# =========================================================================== #
# (c) group comparisons against R
# =========================================================================== #
load_expected = ORACLE.expected
CASES = ORACLE.load_inputs()
RANK_IDS = CASES["kinetics_rank_cases"]["case_id"].tolist()
NCA_IDS = CASES["kinetics_nca_cases"]["case_id"].tolist()


def rank_case(case_id: str) -> tuple[np.ndarray, np.ndarray]:
    row = CASES["kinetics_rank_cases"].set_index("case_id").loc[case_id]
    x = np.array(row["x"].split(";"), dtype=float)
    y = np.array(row["y"].split(";"), dtype=float)
    if row["scale"] == "log10":
        x, y = np.log10(x), np.log10(y)
    return x, y


def check_rank_case(case_id: str, expected: pd.DataFrame) -> None:
    r = expected.set_index("case_id").loc[case_id]
    x, y = rank_case(case_id)
    ours = stats.rank_sum_test(x, y)
    assert ours["method"] == r["method"], case_id
    assert ours["W"] == pytest.approx(float(r["W"]), abs=EXACT_TOL)
    assert ours["p_value"] == pytest.approx(float(r["p_value"]), abs=EXACT_TOL)
    for key in ("estimate", "ci_lower", "ci_upper"):
        if ours["exact"]:
            assert ours[key] == pytest.approx(float(r[key]), abs=EXACT_TOL), f"{case_id} {key}"
        else:
            # R's uniroot stops within 1e-4 of the jump of a step function; where the function is
            # 0 on a whole interval, any point of it is R's answer -- check R's value is a root too.
            zq = {"estimate": 0.0, "ci_lower": 1.959963984540054, "ci_upper": -1.959963984540054}[key]
            correct = key != "estimate"
            if abs(ours[key] - float(r[key])) > UNIROOT_TOL:
                assert stats.rank_sum_wdiff(x, y, float(r[key]), zq, correct) == 0.0, f"{case_id} {key}"
                assert stats.rank_sum_wdiff(x, y, ours[key], zq, correct) == 0.0, f"{case_id} {key}"
    if len(x) >= 2 and len(y) >= 2:
        t = stats.welch_t_test(x, y)
        for ours_key, r_key in (("t", "t"), ("df", "df"), ("p_value", "t_p_value"), ("estimate", "t_estimate"),
                                ("ci_lower", "t_ci_lower"), ("ci_upper", "t_ci_upper")):
            assert t[ours_key] == pytest.approx(float(r[r_key]), abs=EXACT_TOL, rel=1e-12), f"{case_id} {ours_key}"


def check_nca_case(case_id: str, expected: pd.DataFrame) -> None:
    r = expected.set_index("case_id").loc[case_id]
    row = CASES["kinetics_nca_cases"].set_index("case_id").loc[case_id]
    day = np.array(row["day"].split(";"), dtype=float)
    level = np.array(row["level"].split(";"), dtype=float)
    end = float(row["end"])
    for method, column in (("linear", "auc_linear"), ("linear-up/log-down", "auc_logdown")):
        ours = stats.auc(day, level, method=method, end=end)
        if math.isnan(float(r[column])):
            assert math.isnan(ours), f"{case_id} {method}"
        else:
            assert ours == pytest.approx(float(r[column]), rel=EXACT_TOL), f"{case_id} {method}"


def test_trapezoid_table_total_equals_nca():
    table = stats.trapezoid_table(EX_B["day"], EX_B["copies"], EX_B["blq"])
    total = table.iloc[-1]
    assert total["linear"] == pytest.approx(47300.0, rel=1e-12)
    r = stats.nca_profile(EX_B["day"], EX_B["copies"], EX_B["blq"])
    assert total["linear-up/log-down"] == pytest.approx(r["auc_0_28"], rel=1e-12)
    table_c = stats.trapezoid_table([7, 14, 60], [1000, 500, 100], [False] * 3)   # interpolated last segment
    assert table_c.iloc[-2]["to day"] == 28.0
    assert table_c.iloc[-1]["linear"] == pytest.approx(3500 + 5250 + 7 * (500 + (500 - 400 * 14 / 46)), rel=1e-12)


def test_fixtures_cover_every_case():
    assert load_expected()["kinetics_rank_expected"]["case_id"].tolist() == RANK_IDS
    assert load_expected()["kinetics_nca_expected"]["case_id"].tolist() == NCA_IDS
    assert ORACLE.committed_r_version().startswith("R version")


@pytest.mark.parametrize("case_id", RANK_IDS)
def test_rank_sum_and_welch_vs_r_fixture(case_id):
    check_rank_case(case_id, load_expected()["kinetics_rank_expected"])


@pytest.mark.parametrize("case_id", NCA_IDS)
def test_auc_vs_r_fixture(case_id):
    check_nca_case(case_id, load_expected()["kinetics_nca_expected"])


def test_worked_examples_agree_with_r_auc():
    """The hand-computed values above and R's independent AUC say the same."""
    exp = load_expected()["kinetics_nca_expected"].set_index("case_id")
    assert exp.loc["worked_a", "auc_linear"] == pytest.approx(EX_A_LINEAR, rel=1e-12)
    assert exp.loc["worked_a", "auc_logdown"] == pytest.approx(EX_A_LOGDOWN, rel=1e-12)
    assert exp.loc["worked_b_pknca", "auc_linear"] == pytest.approx(47300.0, rel=1e-12)
    assert exp.loc["worked_b_half", "auc_linear"] == pytest.approx(28712.5, rel=1e-12)


def test_rank_sum_exact_rule_follows_r():
    x, y = np.arange(5.0), np.arange(5.0) + 0.5
    assert stats.rank_sum_test(x, y)["exact"] is True
    assert stats.rank_sum_test(np.r_[x, 1.0], y)["exact"] is False           # a tie
    big = np.arange(50.0)
    assert stats.rank_sum_test(big, big[:10] + 0.25)["exact"] is False       # n >= 50


def test_rank_sum_and_welch_refuse_bad_input():
    with pytest.raises(ValueError, match="missing or infinite"):
        stats.rank_sum_test([1.0, np.nan], [2.0, 3.0])
    with pytest.raises(ValueError, match="no values"):
        stats.rank_sum_test([], [2.0, 3.0])
    with pytest.raises(ValueError, match="at least 2 values"):
        stats.welch_t_test([1.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="conf_level"):
        stats.rank_sum_test([1.0, 2.0], [3.0, 4.0], conf_level=95)


def test_compare_groups_counts_missing_and_reports_folds():
    values = pd.Series([1e3, 2e3, np.nan, 1e4, 3e4, 2e4, 5e4])
    groups = pd.Series(["A", "A", "A", "B", "B", "B", "B"])
    out = clinical.compare_kinetics(values, groups, "A", "B", label="demo")
    assert out["n"] == "2 vs 4" and out["n_missing"] == 1
    r = stats.rank_sum_test(np.log10([1e3, 2e3]), np.log10([1e4, 3e4, 2e4, 5e4]))
    assert out["p_rank_sum"] == r["p_value"] and out["shift_hl"] == pytest.approx(10 ** r["estimate"])
    with pytest.raises(ValueError, match="positive values"):
        clinical.compare_kinetics(pd.Series([0.0, 1.0, 2.0, 3.0]), pd.Series(["A", "A", "B", "B"]), "A", "B")


# =========================================================================== #
# clinical helpers
# =========================================================================== #
def test_first_recovery_day():
    # falls below 0.5 on day 4, first back above on day 14 (the day-0 value above 0.5 does not count)
    assert clinical.first_recovery_day([-6, 0, 4, 7, 10, 14, 21], [2.7, 1.5, 0.1, 0.2, 0.4, 0.8, 1.4], 0.5) == 14.0
    assert math.isnan(clinical.first_recovery_day([0, 4, 7], [1.0, 0.2, 0.3], 0.5))          # never recovers
    assert math.isnan(clinical.first_recovery_day([0, 4, 7], [1.0, 0.9, 0.8], 0.5))          # never fell
    assert clinical.first_recovery_day([7, 0, 4], [0.9, 1.0, 0.5], 0.5) == 7.0               # unsorted; = limit is low


def test_response_class_and_active_disease():
    responses = pd.DataFrame({"patient_id": ["a", "b", "b", "c", "d"],
                              "morphologic": ["CR", "NR", "CRi", "NR", "not_evaluable"]})
    got = clinical.response_class(responses).to_dict()
    assert got == {"a": "responder", "b": "responder", "c": "non-responder", "d": "not evaluable"}
    patients = pd.DataFrame({"disease_status": ["mrd_positive", "first_relapse", "primary_refractory"]})
    assert clinical.active_disease(patients).tolist() == [False, True, True]
    with pytest.raises(ValueError, match="morphologic"):
        clinical.response_class(responses.drop(columns="morphologic"))


def test_schedule_quantiles_treat_blq_as_lowest():
    k = pd.DataFrame({"patient_id": list("abcd"), "day": [28.0] * 4,
                      "copies_per_ug_gdna": [50.0, 50.0, 50.0, 900.0], "below_lloq": [True, True, True, False]})
    q = clinical.schedule_quantiles(k, pd.Series(["g"] * 4)).iloc[0]
    assert q["n"] == 4 and q["n_blq"] == 3
    assert q["q50_blq"] and q["q50"] == 50.0          # median below the limit, shown at the limit
    assert not q["q75_blq"] and q["q75"] == pytest.approx(0.25 * 900.0)


# =========================================================================== #
# live R
# =========================================================================== #
# live_r: tests/conftest.py runs ORACLE (skipped without Rscript)
@pytest.mark.r_live
@pytest.mark.parametrize("name", OUTPUT_NAMES)
def test_committed_fixtures_equal_live_r(live_r, name):
    assert ORACLE.live_mismatches(live_r, name, tol=FIXTURE_TOL, relative=True) == []


@pytest.mark.r_live
@pytest.mark.parametrize("case_id", RANK_IDS)
def test_rank_sum_and_welch_vs_live_r(live_r, case_id):
    check_rank_case(case_id, live_r["kinetics_rank_expected"])


@pytest.mark.r_live
@pytest.mark.parametrize("case_id", NCA_IDS)
def test_auc_vs_live_r(live_r, case_id):
    check_nca_case(case_id, live_r["kinetics_nca_expected"])


# --------------------------------------------------------------------------- #
if __name__ == "__main__":   # --regenerate: re-run tests/r/kinetics.R into the committed kinetics fixtures
    ORACLE.main(sys.argv[1:])


def test_spaghetti_draws_each_patient_once_in_one_trace_per_group():
    kinetics = pd.DataFrame({
        "patient_id": ["a", "a", "a", "b", "b", "c"],
        "day": [1.0, 7.0, 14.0, 7.0, 1.0, 3.0],
        "copies_per_ug_gdna": [10.0, 5000.0, 250.0, 800.0, 20.0, 15.0],
        "below_lloq": [True, False, False, False, False, True]})
    patients = pd.DataFrame({"patient_id": ["a", "b", "c"], "cohort": ["X", "X", "Y"]})
    figure = plots.spaghetti_figure(kinetics, patients, group="cohort")
    assert len(figure.data) == 2, "one trace per group"
    x_group = figure.data[0]
    # patients separated by a gap, each in time order
    assert list(x_group.x) == [1.0, 7.0, 14.0, None, 1.0, 7.0, None]
    assert list(x_group.y) == [10.0, 5000.0, 250.0, None, 20.0, 800.0, None]
    assert x_group.connectgaps is False
    assert list(x_group.marker.symbol[:3]) == [100, 0, 0], "below the limit: open circle"
    assert [row[0] for row in x_group.customdata[:6]] == ["a", "a", "a", "a", "b", "b"]
    assert x_group.customdata[0][2] == " (BLQ)" and x_group.customdata[1][2] == ""
    assert list(figure.data[1].x) == [3.0, None]
