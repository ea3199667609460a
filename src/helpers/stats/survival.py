"""Time-to-event analysis for the book, written to agree with R's ``survival`` package.

Every estimator here is checked against R (``survfit``, ``survdiff``, ``coxph``
with Efron ties, ``cox.zph``) to 1e-6 on committed fixtures that include tied
times (``tests/test_survival_vs_r.py``, oracle script ``tests/r/survival.R``); the
Breslow and exact ties of ``cox_model`` against ``coxph(ties = "breslow" / "exact")`` and
``clogit`` (``tests/test_cox_ties.py``, oracle script ``tests/r/cox_ties.R``).

Why the Kaplan–Meier quantiles and ``cox.zph`` are hand-written
-----------------------------------------------------------------
lifelines (0.30) gives other numbers than R for both, measured by
``benchmarks/library_vs_r.py`` on the committed fixtures ``tests/fixtures/r/survival_*``
(the functions here agree with R to 1e-11 on the same data):

* **Median and its CI.** ``KaplanMeierFitter.median_survival_time_`` is the first time
  S(t) <= 0.5; R's ``quantile.survfit`` takes the midpoint of a flat stretch at exactly 0.5.
  lifelines' median differs from R's by up to 1.5 time units (ties_3groups/b: 6 vs 7.5) in
  3 of the 25 curves of survival_median_expected.csv. Its CI limits
  (``median_survival_times(confidence_interval_)``, the same log(-log) band) equal R's where
  both are finite, but in 5 of the 25 curves lifelines gives a finite upper limit (up to
  17.5 months, small_vs_large/LBC) where R reports none (NA: the band is undefined once the
  curve reaches 0).
* **Proportional-hazards test.** ``lifelines.statistics.proportional_hazard_test`` uses the
  approximation ``cox.zph`` used before survival 3.0 (2019) and has no GLOBAL test; its
  chi-squares differ from R's by up to 0.33 and its P values by up to 0.37, for every one
  of the 7 model terms of survival_zph_expected.csv under the km, rank and identity
  transforms.

The Cox fit with Efron ties is lifelines' (``CoxPHFitter``, ``CoxTimeVaryingFitter``),
pushed to full convergence.

Cox ties: Breslow from statsmodels, exact hand-written
-----------------------------------------------------
Measured against survival 3.5-3 on the fixtures of ``tests/test_cox_ties.py`` (Freireich's
6-MP data and its 3-covariate version, R's lung data in days and rounded to months, the
Stanford heart (start, stop] data, the 6-MP data split at 10 weeks); largest differences:

* **Breslow.** statsmodels 0.15 ``PHReg(ties="breslow")``, on right-censored data: 6.4e-10
  (coefficients), 2.1e-11 (SEs), 5.7e-9 (z), 2.3e-9 (P), 7.5e-10 (CI limits), 9.1e-13
  (log-likelihoods), 1.8e-12 (likelihood-ratio statistic), so it is used. On (start, stop]
  data it counts a row as at risk at its own entry time, which R does not: the heart
  coefficients then differ from R's by up to 0.045 (log-likelihood 0.65), the split 6-MP
  data's by 0.26. Entering each row at the next double above its start gives R's risk sets
  exactly: then 2.7e-9 (coefficients), 2.6e-8 (CI limits), 1e-13 (log-likelihoods).
* **Exact.** No maintained Python library fits R's exact partial likelihood (the discrete,
  conditional-logistic model: a tied failure set against every subset of its risk set of
  the same size), so it is hand-written: elementary symmetric sums over the risk set built
  by recursion with their derivatives (Gail et al. 1981), Newton–Raphson with analytic
  gradient and information. Against ``coxph(ties = "exact")``, right-censored and
  (start, stop] data: 5.7e-10 (coefficients), 6.6e-11 (SEs), 4.0e-9 (z), 1.5e-9 (P), 8.3e-9
  (CI limits), 1.7e-13 (log-likelihoods), 3.6e-14 (score test); against ``clogit`` on the
  expanded risk sets 2.5e-10. With R run to full convergence (eps 1e-14) the lung
  coefficients of both agree to 2e-16: what is left above is R's stopping rule.

What is here
------------
``kaplan_meier(time, event)``          product-limit estimate with Greenwood variance and
                                       log-log ("log(-log)") 95% CIs, as ``survfit(...,
                                       conf.type = "log-log")``; the result answers
                                       ``.at(times)`` (rates at fixed times, as
                                       ``summary(fit, times)``) and ``.median()`` /
                                       ``.quantile(p)`` with CI (as ``quantile.survfit``).
``logrank_test(time, event, group)``   K-sample log-rank test, as ``survdiff`` (rho = 0).
``median_followup(time, event)``       median follow-up by the reverse Kaplan–Meier method.
``cox_model(frame, ..., ties=)``       Cox proportional hazards with Efron (default),
                                       Breslow or exact ties, fitted to full convergence;
                                       also counting-process (start, stop] data for time-
                                       dependent covariates. The result names its ties
                                       (``.ties``, ``.ties_label``).
``cox_zph(...)``                       the proportional-hazards score test of
                                       ``cox.zph`` (survival >= 3.0) and scaled Schoenfeld
                                       residuals (for Efron fits).
``split_at_exposure(...)``             counting-process data for a covariate that switches
                                       on during follow-up (e.g. allo-HSCT after CAR-T).
``landmark(...)``                      a landmark data set: patients still at risk at the
                                       landmark, exposure fixed at the landmark.
``outcome_frame(tables)``              one analysis row per patient (OS, LFS, competing-risk
                                       status, transplant time) from the data contract.
``survival_figure(curves, ...)``       the book's Kaplan–Meier / cumulative-incidence figure:
                                       step curves, CI bands, censor marks, number-at-risk
                                       table aligned under the time axis, test P and medians.
``forest_plot(table)`` / ``zph_figure(zph)``
                                       hazard ratios with CIs; scaled Schoenfeld residuals.
``consistency_000(register_csv)``      can the survival numbers published for study 000 hold
                                       on one population? (arithmetic on published numbers).
``immortal_time_comparison(...)``      naive vs time-dependent vs landmark analysis of an
                                       exposure that starts after day 0;
                                       ``immortal_time_simulation`` makes patients for whom
                                       the exposure does nothing, to show the bias.
``record_rates(ledger, curves, at, ids)``  ledger rows for rates at a fixed time (±2 points).
``rate_table``, ``endpoint_definitions``, ``published_hazard_ratios``, ``format_p``
                                       tables for readers.

Conventions
-----------
* ``event`` is 1/True for an event and 0/False for censoring; times are >= 0 and finite.
  Anything else raises :class:`ValueError` naming the argument and the offending rows.
* Survival and incidence are fractions inside the estimators (0.495) and percentages only
  in tables and figures meant for reading (49.5). P values are fractions.
* Tied times are kept exactly (no jitter). The chapter works in months of
  ``DAYS_PER_MONTH`` = 365.25 / 12 days.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from helpers.stats.format import format_p
from helpers.stats.validation import (
    as_finite_number,
    as_level,
    as_numeric,
    as_proportion,
    as_query_times,
    as_times,
    check_choice,
    check_columns,
    check_finite,
    check_frame,
    check_frame_groups,
    check_groups,
    check_time_event,
)

Z95 = float(sps.norm.ppf(0.975))
CONF_TYPES = ("log-log", "log", "plain")
ZPH_TRANSFORMS = ("km", "rank", "identity", "log")


# --------------------------------------------------------------------------
# Kaplan–Meier
# --------------------------------------------------------------------------

def _confint(surv: np.ndarray, std_err: np.ndarray, conf_type: str, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI of a survival curve from the SE of -log S (R's ``survfit_confint``)."""
    check_choice(conf_type, CONF_TYPES, "conf_type")
    surv = np.asarray(surv, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if conf_type == "log-log":
            xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
            se2 = z * std_err / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
        elif conf_type == "log":
            xx = np.where(surv == 0, np.nan, surv)
            lower = np.exp(np.log(xx) - z * std_err)
            upper = np.minimum(np.exp(np.log(xx) + z * std_err), 1.0)
        else:  # "plain"
            se2 = std_err * surv * z
            lower = np.maximum(surv - se2, 0.0)
            upper = np.minimum(surv + se2, 1.0)
    return lower, upper


def _findq(x: np.ndarray, y: np.ndarray, p: float, tol: float) -> float:
    """The quantile rule of R's ``survival:::findq`` (first time the curve 1 - S reaches p;
    the midpoint of a flat stretch when 1 - S equals p exactly)."""
    y = np.asarray(y, float)
    x = np.asarray(x, float)
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return float("nan")
    xmax = x[-1]
    # drop duplicated y values (NaN counts as a value), as R's duplicated()
    keep, seen_nan, seen = [], False, set()
    for i, v in enumerate(y):
        key = "nan" if np.isnan(v) else v
        if (seen_nan if key == "nan" else key in seen):
            continue
        if key == "nan":
            seen_nan = True
        else:
            seen.add(key)
        keep.append(i)
    x, y = x[keep], y[keep]
    n = y.size
    valid = ~np.isnan(y)

    def first_at_least(shift: float) -> Optional[int]:
        hit = np.flatnonzero(valid & (y + shift >= p))
        if hit.size == 0:
            return None
        # approx() with method "constant", f = 1 on the non-missing points: the first index
        # whose value reaches p (the points are increasing)
        return int(hit[0])

    i1 = first_at_least(tol)
    i2 = first_at_least(-tol)
    if p == 0:
        return float(x[0])
    if i1 is None:
        return float("nan")
    last_valid = valid[n - 1]
    if last_valid and abs(p - y[n - 1]) < tol:
        return float((x[i1] + xmax) / 2)
    if i2 is None:
        return float("nan")
    return float((x[i1] + x[i2]) / 2)


@dataclass
class KaplanMeier:
    """A Kaplan–Meier curve: one row per distinct time (event or censoring), as ``survfit``.

    ``table`` columns: ``time, n_risk, n_event, n_censor, surv, std_err`` (SE of -log S,
    R's ``std.err``), ``se_surv`` (Greenwood SE of S), ``lower, upper`` (pointwise CI).
    """

    label: str
    table: pd.DataFrame
    time: np.ndarray = field(repr=False)
    event: np.ndarray = field(repr=False)
    conf_level: float = 0.95
    conf_type: str = "log-log"
    kind: str = "survival"

    @property
    def n(self) -> int:
        return int(self.time.size)

    @property
    def events(self) -> int:
        return int(self.event.sum())

    @property
    def time_max(self) -> float:
        return float(self.time.max())

    @property
    def censor_times(self) -> np.ndarray:
        return np.sort(self.time[~self.event])

    def n_at_risk(self, times) -> np.ndarray:
        """Patients still under observation (time >= t) at each of ``times``."""
        times = as_query_times(times)
        srt = np.sort(self.time)
        return (srt.size - np.searchsorted(srt, times, side="left")).astype(int)

    def at(self, times) -> pd.DataFrame:
        """Estimates at fixed times, as R's ``summary(fit, times = ...)``.

        A time beyond the last observation has no estimate (NaN, flagged
        ``beyond_followup``), as R drops it. Columns: ``t, surv, se_surv, lower, upper,
        n_risk, n_event`` (events up to and including t), ``beyond_followup``.
        """
        times = as_query_times(times)
        tab = self.table
        rows = []
        for t in times:
            beyond = bool(t > self.time_max)
            idx = np.searchsorted(tab["time"].to_numpy(), t, side="right") - 1
            if beyond:
                s = se = lo = hi = float("nan")
            elif idx < 0:
                s, se, lo, hi = 1.0, 0.0, 1.0, 1.0
            else:
                r = tab.iloc[idx]
                s, se, lo, hi = float(r["surv"]), float(r["se_surv"]), float(r["lower"]), float(r["upper"])
            rows.append(dict(t=float(t), surv=s, se_surv=se, lower=lo, upper=hi,
                             n_risk=int(self.n_at_risk([t])[0]),
                             n_event=int(self.event[self.time <= t].sum()), beyond_followup=beyond))
        return pd.DataFrame(rows)

    def quantile(self, p: float, tol: float = math.sqrt(np.finfo(float).eps)) -> dict:
        """Time at which the curve first falls to ``1 - p`` (p = 0.5: the median) with its CI,
        exactly as R's ``quantile.survfit``; NaN where not reached."""
        p = as_proportion(p, "p")
        x = np.r_[0.0, self.table["time"].to_numpy()]
        est = _findq(x, np.r_[0.0, 1 - self.table["surv"].to_numpy()], p, tol)
        lower = _findq(x, np.r_[0.0, 1 - self.table["lower"].to_numpy()], p, tol)
        upper = _findq(x, np.r_[0.0, 1 - self.table["upper"].to_numpy()], p, tol)
        return dict(estimate=est, lower=lower, upper=upper)

    def median(self) -> dict:
        """Median with its CI (NaN = not reached)."""
        return self.quantile(0.5)

    def curve(self) -> pd.DataFrame:
        """Step corners for plotting: time, estimate, lower, upper (from time 0)."""
        tab = self.table
        est = tab["surv"].to_numpy()
        lo = tab["lower"].to_numpy().copy()
        hi = tab["upper"].to_numpy().copy()
        lo[est == 1] = 1.0
        hi[est == 1] = 1.0
        lo[est == 0] = 0.0
        hi[est == 0] = 0.0
        return pd.DataFrame(dict(time=np.r_[0.0, tab["time"]], estimate=np.r_[1.0, est],
                                 lower=np.r_[1.0, lo], upper=np.r_[1.0, hi],
                                 n_risk=np.r_[self.n, tab["n_risk"]],
                                 n_event=np.r_[0, tab["n_event"]]))


def kaplan_meier(time, event, *, label: str = "", conf_level: float = 0.95,
                 conf_type: str = "log-log") -> KaplanMeier:
    """Kaplan–Meier estimate with Greenwood variance, as R's ``survfit``.

    ``conf_type`` "log-log" (the book's default, as in most clinical papers and SAS),
    "log" (R's default) or "plain". R: ``survfit(Surv(time, event) ~ 1,
    conf.type = "log-log")``.
    """
    t, e = check_time_event(time, event, label)
    as_level(conf_level, "conf_level")
    check_choice(conf_type, CONF_TYPES, "conf_type")
    z = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    ut, inv = np.unique(t, return_inverse=True)
    n_event = np.bincount(inv, weights=e.astype(float), minlength=ut.size).astype(int)
    n_all = np.bincount(inv, minlength=ut.size)
    n_censor = n_all - n_event
    n_risk = t.size - np.r_[0, np.cumsum(n_all)[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = 1.0 - n_event / n_risk
        surv = np.cumprod(factor)
        inc = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(inc))
    lower, upper = _confint(surv, std_err, conf_type, z)
    with np.errstate(invalid="ignore"):
        se_surv = surv * std_err   # 0 x Inf (everyone has died) is NaN, as in R
    table = pd.DataFrame(dict(time=ut, n_risk=n_risk.astype(int), n_event=n_event, n_censor=n_censor,
                              surv=surv, std_err=std_err, se_surv=se_surv, lower=lower, upper=upper))
    return KaplanMeier(label, table, t, e, conf_level, conf_type)


def km_by_group(frame: pd.DataFrame, time: str, event: str, group: str, *,
                order: Optional[Sequence] = None, **kwargs) -> list[KaplanMeier]:
    """One Kaplan–Meier curve per group (in ``order``), labelled by the group value."""
    levels = check_frame_groups(frame, [time, event], group, order, "km_by_group")
    return [kaplan_meier(frame.loc[frame[group] == g, time], frame.loc[frame[group] == g, event],
                         label=str(g), **kwargs) for g in levels]


# --------------------------------------------------------------------------
# log-rank test
# --------------------------------------------------------------------------

@dataclass
class LogRankResult:
    """K-sample log-rank test (``survdiff``): statistic, df, P and a per-group table."""

    statistic: float
    df: int
    p_value: float
    table: pd.DataFrame
    variance: np.ndarray = field(repr=False)
    method: str = "log-rank test"

    def describe(self) -> str:
        return f"{self.method}: chi-square {self.statistic:.2f} on {self.df} df, P = {format_p(self.p_value)}"


def logrank_test(time, event, group) -> LogRankResult:
    """Log-rank test of equal hazards across groups, as R's ``survdiff`` (rho = 0).

    The table has per group: n, observed and expected events. The statistic uses the
    full variance matrix (first group dropped), so it equals R's for any number of groups.
    """
    t, e = check_time_event(time, event)
    g, levels = check_groups(group, t.size, test="the log-rank test")
    k = len(levels)
    codes = np.array([levels.index(v) for v in g])
    ut = np.unique(t[e])
    obs = np.zeros(k)
    exp = np.zeros(k)
    var = np.zeros((k, k))
    srt = [np.sort(t[codes == j]) for j in range(k)]
    n_j_all = np.array([[s.size - np.searchsorted(s, u, side="left") for s in srt] for u in ut], float)
    for i, u in enumerate(ut):
        nj = n_j_all[i]
        n = nj.sum()
        at = (t == u) & e
        dj = np.bincount(codes[at], minlength=k).astype(float)
        d = dj.sum()
        obs += dj
        exp += d * nj / n
        if n > 1:
            w = d * (n - d) / (n - 1)
            var += w * (np.diag(nj / n) - np.outer(nj, nj) / n ** 2)
    keep = exp > 0
    if keep.sum() < 2:
        stat = 0.0
    else:
        diff = (obs - exp)[keep][1:]
        vv = var[np.ix_(keep, keep)][1:, 1:]
        try:
            stat = float(np.sum(np.linalg.solve(vv, diff) * diff))
        except np.linalg.LinAlgError as error:  # R's survdiff stops the same way ("exactly singular")
            raise np.linalg.LinAlgError(
                "the log-rank test is not computable: the variance of observed minus expected events is "
                "singular (e.g. at every event time everyone still at risk had the event)") from error
    df = int(keep.sum()) - 1
    p = float(sps.chi2.sf(stat, df)) if df > 0 else float("nan")
    table = pd.DataFrame(dict(group=[str(v) for v in levels], n=np.bincount(codes, minlength=k),
                              observed=obs.astype(int), expected=exp))
    table["o_minus_e"] = table["observed"] - table["expected"]
    return LogRankResult(stat, df, p, table, var)


# --------------------------------------------------------------------------
# follow-up
# --------------------------------------------------------------------------

def median_followup(time, event, *, conf_level: float = 0.95) -> dict:
    """Median follow-up by the reverse Kaplan–Meier method (Schemper & Smith, 1996).

    Censoring is treated as the "event" and death as censoring, so the estimate is the
    median *potential* follow-up: how long patients would have been observed had they
    not died. Also returned: the range of observed times (all patients) and the range
    and simple median among patients still alive (censored), which papers often print.
    """
    t, e = check_time_event(time, event, "follow-up")
    reverse = kaplan_meier(t, ~e, conf_level=conf_level, conf_type="log-log")
    med = reverse.median()
    alive = t[~e]
    return dict(median=med["estimate"], lower=med["lower"], upper=med["upper"],
                min=float(t.min()), max=float(t.max()), n=int(t.size), n_alive=int(alive.size),
                alive_median=float(np.median(alive)) if alive.size else float("nan"),
                alive_min=float(alive.min()) if alive.size else float("nan"),
                alive_max=float(alive.max()) if alive.size else float("nan"), curve=reverse)


# --------------------------------------------------------------------------
# Cox proportional hazards (Efron: lifelines; Breslow: statsmodels; exact: hand-written)
# --------------------------------------------------------------------------

# lifelines stops *before* applying the Newton step that met its criterion, so the
# criteria are set far below the accuracy wanted (1e-6 vs R): the unapplied step is ~1e-10.
_FIT_OPTIONS = dict(precision=1e-18, r_precision=1e-18, max_steps=200)

COX_TIES = ("efron", "breslow", "exact")
COX_TIES_LABELS = {"efron": "Efron", "breslow": "Breslow",
                   "exact": "exact partial likelihood (discrete, conditional logistic)"}
# the exact fit's Newton–Raphson stops once a step moves no coefficient by more than this
_EXACT_STEP_TOL = 1e-11
_EXACT_MAX_ITER = 100


@dataclass
class CoxResult:
    """A fitted Cox model: one row per covariate (coef, HR, SE, z, Wald P, 95% CI).

    ``ties`` names the handling of tied event times ("efron", "breslow" or "exact");
    ``ties_label`` says it in words for a reader.
    """

    table: pd.DataFrame
    loglik: float
    loglik_null: float
    n: int
    events: int
    concordance: float
    lr_statistic: float
    lr_df: int
    lr_p: float
    ties: str = "efron"
    counting_process: bool = False
    model: object = field(default=None, repr=False)
    data: pd.DataFrame = field(default=None, repr=False)
    duration: str = ""
    event: str = ""
    covariates: tuple = ()

    @property
    def ties_label(self) -> str:
        """The ties method in words ("Breslow"), for a table note or a sentence."""
        return COX_TIES_LABELS[self.ties]

    def hazard_ratios(self, labels: Optional[dict] = None) -> pd.DataFrame:
        """A reader's table: HR (95% CI) and P, with readable covariate names."""
        labels = labels or {}
        tab = self.table
        return pd.DataFrame({
            "Covariate": [labels.get(c, c) for c in tab["term"]],
            "HR": tab["hr"].round(3), "95% CI": [f"{lo:.3f}–{hi:.3f}" for lo, hi in zip(tab["lower"], tab["upper"])],
            "Wald P": [format_p(p) for p in tab["p"]],
        })


@dataclass
class ExactCoxFit:
    """The hand-written exact partial-likelihood fit (what ``CoxResult.model`` holds for
    ``ties="exact"``): estimates, their covariance (inverse information), the
    log partial likelihoods at the estimates and at zero, and the score test at zero."""

    coef: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik_null: float
    score_statistic: float
    iterations: int


@dataclass
class _RiskSets:
    """The event times of a data set and who is at risk at each, R's convention: a row is at
    risk at t when start < t <= stop (right-censored data: t <= stop). Row m is at risk at
    the consecutive event times ``lo[m] <= j < hi[m]``."""

    risk: list           # rows at risk, per event time
    dead: list           # rows failing, per event time
    deaths: np.ndarray   # d, per event time
    lo: np.ndarray
    hi: np.ndarray


def _risk_sets(start: Optional[np.ndarray], stop: np.ndarray, event: np.ndarray) -> _RiskSets:
    times = np.unique(stop[event])
    risk, dead = [], []
    for t in times:
        at_risk = stop >= t
        if start is not None:
            at_risk &= start < t
        risk.append(np.flatnonzero(at_risk))
        dead.append(np.flatnonzero(at_risk & event & (stop == t)))
    lo = np.zeros(stop.size, int) if start is None else np.searchsorted(times, start, side="right")
    return _RiskSets(risk, dead, np.array([d.size for d in dead]), lo, np.searchsorted(times, stop, side="right"))


def _exact_loglik(beta: np.ndarray, X: np.ndarray, sets: _RiskSets) -> tuple[float, np.ndarray, np.ndarray]:
    """Exact (discrete) log partial likelihood, its gradient and the information matrix.

    At an event time with d failures the denominator sums exp(eta) over every d-subset of
    the risk set: the d-th elementary symmetric sum of the risks, built one row at a time,
    with its first and second derivatives (Gail, Lubin & Rubinstein, 1981), for all event
    times at once (each row joins the sums of the times it is at risk at). Risks at a time
    are scaled by the mean of its d largest linear predictors, so that the sums neither
    overflow nor underflow.
    """
    p = X.shape[1]
    eta = X @ beta
    deaths = sets.deaths
    n_times, d_max = deaths.size, int(deaths.max())
    shift = np.array([np.sort(eta[risk])[-d:].mean() for risk, d in zip(sets.risk, deaths)])
    A = np.zeros((n_times, d_max + 1))
    B = np.zeros((n_times, d_max + 1, p))
    C = np.zeros((n_times, d_max + 1, p, p))
    A[:, 0] = 1.0
    # sums of more than d terms are never needed (and could overflow): their updates are dropped
    needed = (np.arange(1, d_max + 1)[None, :] <= deaths[:, None]).astype(float)
    for m in np.flatnonzero(sets.lo < sets.hi):
        at = slice(sets.lo[m], sets.hi[m])
        x_m = X[m]
        r = (np.exp(eta[m] - shift[at])[:, None] * needed[at])   # (times, k)
        a, b = A[at, :-1], B[at, :-1]
        # e_k(with m) = e_k(without m) + r_m e_{k-1}(without m), and its derivatives; every
        # right-hand side reads the sums before row m joined them
        C[at, 1:] += r[:, :, None, None] * (C[at, :-1] + x_m[None, None, :, None] * b[:, :, None, :]
                                            + b[:, :, :, None] * x_m[None, None, None, :]
                                            + np.outer(x_m, x_m)[None, None] * a[:, :, None, None])
        B[at, 1:] += r[:, :, None] * (b + x_m[None, None, :] * a[:, :, None])
        A[at, 1:] += r * a
    rows = np.arange(n_times)
    a, b, c = A[rows, deaths], B[rows, deaths], C[rows, deaths]
    mean = b / a[:, None]
    loglik = float(sum(eta[dead].sum() for dead in sets.dead) - np.sum(np.log(a) + deaths * shift))
    grad = sum(X[dead].sum(axis=0) for dead in sets.dead) - mean.sum(axis=0)
    info = (c / a[:, None, None]).sum(axis=0) - mean.T @ mean
    return loglik, grad, info


def _fit_exact(start: Optional[np.ndarray], stop: np.ndarray, event: np.ndarray, X: np.ndarray,
               names: Sequence[str]) -> ExactCoxFit:
    """Newton–Raphson on the exact partial likelihood from beta = 0, halving a step that
    lowers the likelihood (as R's coxph), until no coefficient moves by more than
    ``_EXACT_STEP_TOL``. Warns, as R does, when a coefficient may be infinite: iterations
    ran out, the information is singular or has all but vanished, or the next Newton step is
    still large relative to the coefficient once the likelihood has stopped rising (a
    monotone likelihood)."""
    X = X - X.mean(axis=0)   # the partial likelihood is unchanged; the sums are better scaled
    sets = _risk_sets(start, stop, event)
    beta = np.zeros(X.shape[1])
    loglik, grad, info = _exact_loglik(beta, X, sets)
    loglik_null, info_null = loglik, info
    score_statistic = float(grad @ np.linalg.solve(info, grad))
    converged = False
    for iteration in range(1, _EXACT_MAX_ITER + 1):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            break
        new_loglik, new_grad, new_info = _exact_loglik(beta + step, X, sets)
        halvings = 0
        while not new_loglik >= loglik - 1e-12 * abs(loglik) and halvings < 30:
            step /= 2
            halvings += 1
            new_loglik, new_grad, new_info = _exact_loglik(beta + step, X, sets)
        beta = beta + step
        loglik, grad, info = new_loglik, new_grad, new_info
        if np.max(np.abs(step)) <= _EXACT_STEP_TOL * (1 + np.max(np.abs(beta))):
            converged = True
            break
    try:
        cov = np.linalg.inv(info)
        next_step = np.abs(cov @ grad)
    except np.linalg.LinAlgError:
        cov = np.full_like(info, np.nan)
        next_step = np.full_like(beta, np.inf)
    # R's rule (coxph.fit: eps 1e-9, toler.inf = sqrt(eps)); and, where the gradient has drowned
    # in rounding (R then runs out of iterations), information lost to below 1e-8 of that at zero
    infinite = (~np.isfinite(next_step) | ((next_step > 1e-9) & (next_step > math.sqrt(1e-9) * np.abs(beta)))
                | ~(np.diag(info) > 1e-8 * np.diag(info_null)))
    if not converged or infinite.any():
        suspects = [n for n, flag in zip(names, infinite) if flag] or list(names)
        warnings.warn(f"cox_model(ties='exact'): Newton–Raphson stopped after {iteration} iterations without a "
                      f"finite maximum for {suspects}; the coefficient may be infinite (a monotone likelihood)",
                      RuntimeWarning, stacklevel=3)
    return ExactCoxFit(beta, cov, loglik, loglik_null, score_statistic, iteration)


def _fit_breslow(start: Optional[np.ndarray], stop: np.ndarray, event: np.ndarray, X: np.ndarray):
    """statsmodels' ``PHReg`` with Breslow ties (its Newton–Raphson converges fully).

    PHReg counts a row as at risk at its entry time ([entry, stop], Stata's rule); R's
    (start, stop] excludes it. Entering each row at the next double above ``start`` makes the
    two risk sets identical, whatever the time unit.
    """
    from statsmodels.duration.hazard_regression import PHReg

    entry = None if start is None else np.nextafter(start, np.inf)
    model = PHReg(stop, X, status=event.astype(float), entry=entry, ties="breslow")
    fit = model.fit(disp=False)
    coef = np.asarray(fit.params, float)
    return fit, coef, np.sqrt(np.diag(np.asarray(fit.cov_params(), float))), float(model.loglike(coef)), \
        float(model.loglike(np.zeros_like(coef)))


@dataclass
class _CoxFit:
    """What each ties method's fitter hands to :func:`cox_model`."""

    model: object
    terms: list
    coef: np.ndarray
    se: np.ndarray
    loglik: float
    loglik_null: float
    lr_statistic: float
    lr_df: int
    lr_p: float
    n: int
    concordance: float


def cox_model(frame: pd.DataFrame, duration: str, event: str, covariates: Sequence[str], *,
              start: Optional[str] = None, id_col: Optional[str] = None,
              conf_level: float = 0.95, ties: str = "efron") -> CoxResult:
    """Cox proportional-hazards model, as R's ``coxph(..., ties = ties)``.

    ``ties``: "efron" (the default, as R; fitted with ``lifelines``), "breslow" (SAS's and
    Stata's default, and many textbooks'; ``statsmodels`` PHReg) or "exact" (R's exact
    partial likelihood, the discrete/conditional-logistic model, SAS's TIES=DISCRETE;
    hand-written). ``start`` given: counting-process data ``(start, duration]``
    (time-dependent covariates), as R's ``coxph(Surv(start, stop, event) ~ ...)``, with any
    ``ties`` (Efron: ``lifelines.CoxTimeVaryingFitter``). Otherwise right-censored data.
    Fitted to full convergence so coefficients agree with R to better than 1e-6. Wald CIs
    and P values; likelihood-ratio test against the null model (whose log partial
    likelihood depends on ``ties``). For counting-process data ``n`` counts patients
    (``id_col``) and no concordance is reported.
    """
    check_choice(ties, COX_TIES, "ties")
    covariates = list(covariates)
    if not covariates:
        raise ValueError("cox_model needs at least one covariate")
    cols = ([start] if start else []) + [duration, event] + covariates + ([id_col] if id_col else [])
    data = check_frame(frame, cols, "cox_model", labels=[id_col] if id_col else [], dropped_by="coxph in R")
    check_time_event(data[duration], data[event], "cox_model")
    if start:
        as_times(data[start], "cox_model: start")
        bad = data[start] >= data[duration]
        if bad.any():
            raise ValueError(f"cox_model: {int(bad.sum())} interval(s) have start >= stop")
    for c in covariates:
        if data[c].nunique() < 2:
            raise ValueError(f"cox_model: covariate {c!r} takes a single value; it cannot be estimated")
    if int(data[event].sum()) == 0:
        raise ValueError("cox_model: there are no events")
    alpha = 1 - conf_level
    if ties == "efron":
        fit = _fit_efron(data, duration, event, covariates, start, id_col, alpha)
    else:
        fit = _fit_other_ties(data, duration, event, covariates, start, id_col, ties)
    z = float(sps.norm.ppf(1 - alpha / 2))
    coef, se = fit.coef, fit.se
    zval = coef / se
    table = pd.DataFrame(dict(term=fit.terms, coef=coef, hr=np.exp(coef), se=se, z=zval,
                              p=2 * sps.norm.sf(np.abs(zval)), lower=np.exp(coef - z * se),
                              upper=np.exp(coef + z * se)))
    return CoxResult(table, fit.loglik, fit.loglik_null, fit.n, int(data[event].sum()), fit.concordance,
                     fit.lr_statistic, fit.lr_df, fit.lr_p, ties, bool(start), fit.model, data, duration, event,
                     tuple(covariates))


def _fit_efron(data: pd.DataFrame, duration: str, event: str, covariates: list, start: Optional[str],
               id_col: Optional[str], alpha: float) -> _CoxFit:
    """lifelines' fit (Efron ties), pushed to full convergence."""
    from lifelines import CoxPHFitter, CoxTimeVaryingFitter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if start:
            model = CoxTimeVaryingFitter(alpha=alpha)
            fit_data = data.copy()
            if id_col is None:
                fit_data["_id"] = np.arange(len(fit_data))
                id_col_use = "_id"
            else:
                id_col_use = id_col
            model.fit(fit_data[[id_col_use, start, duration, event] + covariates], event_col=event,
                      start_col=start, stop_col=duration, id_col=id_col_use, fit_options=dict(_FIT_OPTIONS))
            n = int(fit_data[id_col_use].nunique())
            concordance = float("nan")
        else:
            model = CoxPHFitter(alpha=alpha)
            model.fit(data[[duration, event] + covariates], duration_col=duration, event_col=event,
                      fit_options=dict(_FIT_OPTIONS))
            n = len(data)
            concordance = float(model.concordance_index_)
        lr = model.log_likelihood_ratio_test()
    s = model.summary
    loglik = float(model.log_likelihood_)
    return _CoxFit(model, list(s.index), s["coef"].to_numpy(), s["se(coef)"].to_numpy(), loglik,
                   loglik - float(lr.test_statistic) / 2, float(lr.test_statistic), int(lr.degrees_freedom),
                   float(lr.p_value), n, concordance)


def _fit_other_ties(data: pd.DataFrame, duration: str, event: str, covariates: list, start: Optional[str],
                    id_col: Optional[str], ties: str) -> _CoxFit:
    """Breslow (statsmodels) or exact (hand-written) ties; the concordance as lifelines
    computes it for an Efron fit (Harrell's C of the linear predictor)."""
    from lifelines.utils import concordance_index

    stop = data[duration].to_numpy(float)
    status = data[event].to_numpy() == 1
    entry = data[start].to_numpy(float) if start else None
    X = data[covariates].to_numpy(float)
    if ties == "breslow":
        model, coef, se, loglik, loglik_null = _fit_breslow(entry, stop, status, X)
    else:
        model = _fit_exact(entry, stop, status, X, covariates)
        coef, se = model.coef, np.sqrt(np.diag(model.cov))
        loglik, loglik_null = model.loglik, model.loglik_null
    lr_statistic = 2 * (loglik - loglik_null)
    if start:
        n = int(data[id_col].nunique()) if id_col else len(data)
        concordance = float("nan")
    else:
        n = len(data)
        concordance = float(concordance_index(stop, -(X @ coef), status))
    return _CoxFit(model, covariates, coef, se, loglik, loglik_null, lr_statistic, len(covariates),
                   float(sps.chi2.sf(lr_statistic, len(covariates))), n, concordance)


# --------------------------------------------------------------------------
# proportional-hazards check (cox.zph, survival >= 3.0)
# --------------------------------------------------------------------------

@dataclass
class ZphResult:
    """Score tests of proportional hazards and scaled Schoenfeld residuals."""

    table: pd.DataFrame
    transform: str
    x: np.ndarray
    time: np.ndarray
    residuals: pd.DataFrame
    coef: np.ndarray


def cox_zph(time, event, X, coef, *, transform: str = "km", names: Optional[Sequence[str]] = None) -> ZphResult:
    """Test of proportional hazards, exactly as R's ``cox.zph`` (survival >= 3.0, Efron ties).

    For each covariate the model is extended with ``x * g(t)`` (``g`` = the chosen
    transform of time, centred over the event times) and a score test of the extra
    coefficient is computed at the fitted ``coef``, using the full information matrix;
    GLOBAL tests all of them together. ``transform``: "km" (R's default: 1 - KM(t-)),
    "rank", "identity" or "log". Right-censored data without strata or weights.
    Also returns scaled Schoenfeld residuals (``coef`` + residual scaled by the
    information), whose smoothed trend over time estimates beta(t).
    """
    t, e = check_time_event(time, event, "cox_zph")
    check_choice(transform, ZPH_TRANSFORMS, "transform")
    X = as_numeric(X, "cox_zph: X", ndim=(1, 2))
    if X.ndim == 1:
        X = X[:, None]
    if X.shape[0] != t.size:
        raise ValueError(f"cox_zph: X has {X.shape[0]} rows for {t.size} times")
    check_finite(X, "cox_zph: X")
    p = X.shape[1]
    coef = check_finite(as_numeric(coef, "cox_zph: coef", ndim=None).reshape(-1), "cox_zph: coef")
    if coef.size != p:
        raise ValueError(f"cox_zph: {coef.size} coefficients for {p} covariates")
    names = list(names) if names is not None else [f"x{j + 1}" for j in range(p)]
    if e.sum() == 0:
        raise ValueError("cox_zph: no events")
    if transform == "km":
        km = kaplan_meier(t, e)
        kt = km.table["time"].to_numpy()
        ks = km.table["surv"].to_numpy()
        idx = np.searchsorted(kt, t, side="left")  # number of curve times strictly below t
        ttimes = 1 - np.r_[1.0, ks][idx]
    elif transform == "rank":
        ttimes = sps.rankdata(t, method="average")
    elif transform == "identity":
        ttimes = t.copy()
    else:  # "log"
        ttimes = np.log(t)
    gtime = ttimes - ttimes[e].mean()
    order = np.argsort(t, kind="stable")
    ts, es, Xs, gs = t[order], e[order], X[order], gtime[order]
    Xc = Xs - Xs.mean(axis=0)
    risk = np.exp(Xc @ coef)
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    schoen = []
    for tk in np.unique(ts[es]):
        at_risk = ts >= tk
        dead = (ts == tk) & es
        others = at_risk & ~dead
        d = int(dead.sum())
        g = float(gs[dead][0])
        r_o, r_d = risk[others], risk[dead]
        den_o, den_d = r_o.sum(), r_d.sum()
        a_o, a_d = r_o @ Xc[others], r_d @ Xc[dead]
        c_o = (Xc[others] * r_o[:, None]).T @ Xc[others]
        c_d = (Xc[dead] * r_d[:, None]).T @ Xc[dead]
        u[:p] += Xc[dead].sum(axis=0)
        u[p:] += g * Xc[dead].sum(axis=0)
        tmean = np.zeros(p)
        for k in range(1, d + 1):
            frac = k / d
            den = den_o + den_d * frac
            a = a_o + a_d * frac
            c = c_o + c_d * frac
            mean = a / den
            tmean += mean
            u[:p] -= mean
            u[p:] -= g * mean
            v = c / den - np.outer(mean, mean)
            imat[:p, :p] += v
            imat[:p, p:] += g * v
            imat[p:, p:] += g * g * v
        tmean /= d
        for row in Xc[dead]:
            schoen.append(row - tmean)
    imat[p:, :p] = imat[:p, p:].T
    rows = []
    for j in range(p):
        kk = list(range(p)) + [p + j]
        uu = np.r_[np.zeros(p), u[p + j]]
        stat = float(uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu))
        rows.append(dict(term=names[j], chisq=stat, df=1, p=float(sps.chi2.sf(stat, 1))))
    uu = np.r_[np.zeros(p), u[p:]]
    stat = float(uu @ np.linalg.solve(imat, uu))
    rows.append(dict(term="GLOBAL", chisq=stat, df=p, p=float(sps.chi2.sf(stat, p))))
    schoen = np.array(schoen)
    nevent = int(es.sum())
    used = np.array([nevent if np.ptp(Xs[:, j]) > 0 else 0 for j in range(p)], float)
    wt = np.minimum.outer(used, used)
    vmean = imat[:p, :p] / np.where(wt == 0, 1, wt)
    scaled = np.linalg.solve(vmean, schoen.T).T + coef
    ev_order = order[es]
    return ZphResult(pd.DataFrame(rows), transform, ttimes[ev_order], t[ev_order],
                     pd.DataFrame(scaled, columns=names), coef)


def zph_for(result: CoxResult, transform: str = "km", labels: Optional[dict] = None) -> ZphResult:
    """``cox_zph`` for a fitted right-censored :class:`CoxResult`."""
    if result.counting_process:
        raise ValueError("cox_zph is implemented for right-censored data (not counting-process data)")
    if result.ties != "efron":
        raise ValueError(f"cox_zph is implemented for Efron ties (as cox.zph on an Efron fit); this fit has "
                         f"{result.ties_label} ties")
    data = result.data
    names = [(labels or {}).get(c, c) for c in result.covariates]
    return cox_zph(data[result.duration], data[result.event], data[list(result.covariates)].to_numpy(float),
                   result.table["coef"].to_numpy(), transform=transform, names=names)


# --------------------------------------------------------------------------
# time-dependent exposure and landmark analysis
# --------------------------------------------------------------------------

def split_at_exposure(frame: pd.DataFrame, *, id_col: str, time: str, event: str, exposure_time: str,
                      keep: Sequence[str] = ()) -> pd.DataFrame:
    """Counting-process rows ``(start, stop]`` with a 0/1 ``exposed`` column that switches on
    at ``exposure_time`` (NaN = never exposed), as R's ``tmerge``/``survSplit``.

    A patient exposed at time e < stop gets two rows, (0, e] unexposed without an event and
    (e, stop] exposed carrying the event; exposure at time 0 gives one exposed row; exposure
    at or after the end of follow-up is ignored (the event or censoring came first).
    """
    check_columns(frame, [id_col, time, event, exposure_time] + list(keep), "split_at_exposure")
    t, e = check_time_event(frame[time], frame[event], "split_at_exposure")
    if frame[id_col].duplicated().any():
        raise ValueError("split_at_exposure: one row per patient expected; duplicated ids "
                         f"{frame.loc[frame[id_col].duplicated(), id_col].tolist()[:5]}")
    x = as_times(frame[exposure_time], f"split_at_exposure: {exposure_time}",
                 nan_policy="propagate")
    rows = []
    for i, rec in enumerate(frame.itertuples(index=False)):
        base = {c: getattr(rec, c) for c in [id_col] + list(keep)}
        xi = x[i]
        if np.isnan(xi) or xi >= t[i]:
            rows.append(dict(base, start=0.0, stop=t[i], event=int(e[i]), exposed=0))
        elif xi <= 0:
            rows.append(dict(base, start=0.0, stop=t[i], event=int(e[i]), exposed=1))
        else:
            rows.append(dict(base, start=0.0, stop=xi, event=0, exposed=0))
            rows.append(dict(base, start=xi, stop=t[i], event=int(e[i]), exposed=1))
    return pd.DataFrame(rows)


def landmark(frame: pd.DataFrame, *, at: float, time: str, event: str,
             exposure_time: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A landmark data set at time ``at``.

    Keeps the patients still under observation and event-free just after the landmark
    (time > at), classifies them by exposure *by* the landmark (``exposed_at_landmark``)
    and restarts the clock there (``time_from_landmark``).
    Returns (data, exclusions), where exclusions counts the patients left out and why.
    Patients exposed after the landmark stay in the unexposed group (intention-to-treat at
    the landmark); their number is reported in the exclusions table as a note.
    """
    check_columns(frame, [time, event, exposure_time], "landmark")
    t, e = check_time_event(frame[time], frame[event], "landmark")
    as_finite_number(at, "landmark time", minimum=0.0)
    x = as_times(frame[exposure_time], f"landmark: {exposure_time}", nan_policy="propagate")
    event_before = (t <= at) & e
    censored_before = (t <= at) & ~e
    keep = t > at
    data = frame.loc[keep].copy()
    data["time_from_landmark"] = t[keep] - at
    data["exposed_at_landmark"] = (~np.isnan(x[keep]) & (x[keep] <= at)).astype(int)
    later = int((~np.isnan(x[keep]) & (x[keep] > at)).sum())
    exposed_lost = int((~np.isnan(x) & (x <= at) & ~keep).sum())
    exclusions = pd.DataFrame([
        dict(reason=f"event at or before the landmark ({at:g})", patients=int(event_before.sum())),
        dict(reason=f"censored at or before the landmark ({at:g})", patients=int(censored_before.sum())),
        dict(reason="analysed (at risk at the landmark)", patients=int(keep.sum())),
        dict(reason="  of whom exposed after the landmark (analysed as unexposed)", patients=later),
        dict(reason="  exposed by the landmark but not at risk there (excluded above)", patients=exposed_lost),
    ])
    return data, exclusions


def immortal_time_comparison(frame: pd.DataFrame, *, time: str, event: str, exposure_time: str,
                             covariates: Sequence[str] = (), landmark_at: float = 3.0,
                             id_col: str = "patient_id", labels: Optional[dict] = None) -> dict:
    """Three analyses of an exposure that starts after time zero (e.g. allo-HSCT after CAR-T).

    1. *naive*: exposure coded at baseline ("ever transplanted") — biased, because a patient
       must survive event-free until the transplant to be counted as transplanted
       (immortal time);
    2. *time-dependent*: the exposure switches on at its date (counting-process Cox);
    3. *landmark*: patients event-free at ``landmark_at`` months, grouped by exposure by then,
       followed from the landmark.
    Returns dict(table, split, landmark_data, landmark_exclusions, immortal_months).
    """
    labels = dict(labels or {})
    covariates = list(covariates)
    data = frame.copy()
    data["exposed_ever"] = data[exposure_time].notna().astype(int)
    naive = cox_model(data, time, event, ["exposed_ever"] + covariates)
    split = split_at_exposure(data, id_col=id_col, time=time, event=event, exposure_time=exposure_time,
                              keep=covariates)
    tdc = cox_model(split, "stop", "event", ["exposed"] + covariates, start="start", id_col=id_col)
    lm_data, lm_excl = landmark(data, at=landmark_at, time=time, event=event, exposure_time=exposure_time)
    lm_data = lm_data.assign(lm_event=lm_data[event].astype(int))
    lm = cox_model(lm_data, "time_from_landmark", "lm_event", ["exposed_at_landmark"] + covariates)
    rows = []
    for name, res, term in (("Naive: transplant as a baseline factor (biased)", naive, "exposed_ever"),
                            ("Time-dependent covariate (counting process)", tdc, "exposed"),
                            (f"Landmark at {landmark_at:g} months", lm, "exposed_at_landmark")):
        r = res.table.set_index("term").loc[term]
        rows.append({"Analysis": name, "Patients": res.n, "Events": res.events,
                     "HR for allo-HSCT": round(float(r["hr"]), 2),
                     "95% CI": f"{r['lower']:.2f}–{r['upper']:.2f}", "P": format_p(float(r["p"])),
                     "Adjusted for": ", ".join(labels.get(c, c) for c in covariates) or "–"})
    exposed = data[data[exposure_time].notna()]
    immortal = float(exposed[exposure_time].sum())
    return dict(table=pd.DataFrame(rows), split=split, landmark_data=lm_data, landmark_exclusions=lm_excl,
                immortal_months=immortal, n_exposed=int(len(exposed)), models=dict(naive=naive, tdc=tdc, landmark=lm))


def immortal_time_simulation(rng: np.random.Generator, *, n: int = 2000, hazard_per_month: float = 0.04,
                             transplant_share: float = 0.5, window: tuple = (1.0, 4.0),
                             followup_months: float = 36.0) -> pd.DataFrame:
    """Patients for whom transplant has **no effect** (a teaching simulation).

    Every patient has the same constant hazard of relapse-or-death; half are *planned* for a
    transplant at a uniform time in ``window`` months, and receive it only if still event-free
    and under observation then. Columns: patient_id, time, event, hsct_time (NaN = none).
    Any hazard ratio for transplant different from 1 is bias.
    """
    t_event = rng.exponential(1 / hazard_per_month, n)
    t_cens = rng.uniform(followup_months / 3, followup_months, n)
    planned = np.where(rng.random(n) < transplant_share, rng.uniform(window[0], window[1], n), np.nan)
    time = np.minimum(t_event, t_cens)
    event = (t_event <= t_cens).astype(int)
    hsct = np.where(~np.isnan(planned) & (planned < time), planned, np.nan)
    return pd.DataFrame(dict(patient_id=[f"sim-{i + 1}" for i in range(n)], time=time, event=event, hsct_time=hsct))
