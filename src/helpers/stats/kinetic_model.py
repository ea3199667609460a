"""The Stein et al. (2019) CAR-T kinetic model: curve, simulation, per-patient fit, parameter recovery."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
import pandas as pd
from scipy import optimize

from helpers.stats.validation import (
    as_finite_number,
    as_numeric,
    as_positive,
    as_profile,
    as_proportion,
    check_choice,
    check_finite,
)

LN2 = math.log(2.0)


# --------------------------------------------------------------------------- #
# Stein et al. (2019) model
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class SteinParameters:
    """Parameters of the expansion / biphasic contraction model (days, copies/µg gDNA)."""

    cmax: float
    tmax: float
    rho: float
    alpha: float
    beta: float
    fb: float

    def __post_init__(self):
        for name in ("cmax", "tmax", "rho", "alpha", "beta"):
            as_positive(getattr(self, name), f"SteinParameters: {name}")
        as_proportion(self.fb, "SteinParameters: fb")

    @property
    def doubling_time(self) -> float:
        return LN2 / self.rho

    @property
    def fold_expansion(self) -> float:
        return math.exp(self.rho * self.tmax)

    @property
    def half_life_alpha(self) -> float:
        return LN2 / self.alpha

    @property
    def half_life_beta(self) -> float:
        return LN2 / self.beta

    def as_dict(self) -> dict:
        return {"cmax": self.cmax, "tmax": self.tmax, "rho": self.rho, "alpha": self.alpha,
                "beta": self.beta, "fb": self.fb, "doubling_time": self.doubling_time,
                "fold_expansion": self.fold_expansion, "half_life_alpha": self.half_life_alpha,
                "half_life_beta": self.half_life_beta}


def stein_log_curve(t, log_cmax: float, tmax: float, rho: float, alpha: float, beta: float,
                    fb: float) -> np.ndarray:
    """Natural log of the model level at times ``t`` (computed on the log scale, stably)."""
    t = np.asarray(t, dtype=float)
    dt = t - tmax
    up = log_cmax + rho * np.minimum(dt, 0.0)
    d = np.maximum(dt, 0.0)
    with np.errstate(divide="ignore"):
        fast = np.log1p(-fb) - alpha * d if fb < 1 else np.full_like(d, -np.inf)
        slow = np.log(fb) - beta * d if fb > 0 else np.full_like(d, -np.inf)
    down = log_cmax + np.logaddexp(fast, slow)
    return np.where(dt <= 0, up, down)


def stein_curve(t, params: SteinParameters) -> np.ndarray:
    """Model level (copies/µg gDNA) at times ``t``."""
    return np.exp(stein_log_curve(t, math.log(params.cmax), params.tmax, params.rho, params.alpha,
                                  params.beta, params.fb))


def simulate_stein(params: SteinParameters, days: Iterable[float], *, sd_log: float = 0.15,
                   lloq: Optional[float] = None, rng: Optional[np.random.Generator] = None,
                   patient_id: str = "sim") -> pd.DataFrame:
    """A kinetics table for one simulated patient: model level times log-normal noise
    (SD ``sd_log`` on the natural-log scale); levels under ``lloq`` become BLQ rows
    carrying the limit, as in the data contract."""
    as_finite_number(sd_log, "sd_log", minimum=0.0)
    rng = rng if rng is not None else np.random.default_rng()
    days = check_finite(as_numeric(list(days), "days"), "days")
    level = stein_curve(days, params) * np.exp(sd_log * rng.standard_normal(len(days)))
    below = np.zeros(len(days), dtype=bool) if lloq is None else level < lloq
    return pd.DataFrame({"patient_id": patient_id, "day": days,
                         "copies_per_ug_gdna": np.where(below, lloq if lloq else 0.0, level),
                         "below_lloq": below})


# bounds of the fitted quantities (natural scale); see fit_stein
_BOUNDS = {"rho": (1e-3, 20.0), "alpha": (1e-3, 10.0), "beta_over_alpha": (1e-5, 1.0), "fb": (1e-6, 0.999)}
_PARAM_NAMES = ("cmax", "tmax", "rho", "alpha", "beta", "fb")


def _unpack(x: np.ndarray) -> tuple[float, float, float, float, float, float]:
    log_cmax, tmax, log_rho, log_alpha, log_ratio, logit_fb = x
    alpha = math.exp(log_alpha)
    return log_cmax, tmax, math.exp(log_rho), alpha, alpha * math.exp(log_ratio), 1.0 / (1.0 + math.exp(-logit_fb))


def _residuals(x, t, logy, blq, log_lloq):
    log_cmax, tmax, rho, alpha, beta, fb = _unpack(x)
    pred = stein_log_curve(t, log_cmax, tmax, rho, alpha, beta, fb)
    r = pred - logy
    # censored samples: no residual while the model is under the limit
    r[blq] = np.maximum(pred[blq] - log_lloq[blq], 0.0)
    return r


def _jacobian(x, t, logy, blq, log_lloq):
    """Analytic Jacobian of :func:`_residuals` (checked against finite differences in the tests)."""
    log_cmax, tmax, rho, alpha, beta, fb = _unpack(x)
    dt = t - tmax
    up = dt <= 0
    d = np.maximum(dt, 0.0)
    la = math.log1p(-fb) - alpha * d
    lb = math.log(fb) - beta * d
    ls = np.logaddexp(la, lb)
    wa, wb = np.exp(la - ls), np.exp(lb - ls)            # shares of the fast and slow phase
    J = np.empty((len(t), 6))
    J[:, 0] = 1.0
    J[:, 1] = np.where(up, -rho, alpha * wa + beta * wb)
    J[:, 2] = np.where(up, rho * dt, 0.0)
    J[:, 3] = np.where(up, 0.0, -d * (alpha * wa + beta * wb))
    J[:, 4] = np.where(up, 0.0, -d * beta * wb)
    J[:, 5] = np.where(up, 0.0, (1 - fb) * wb - fb * wa)
    if blq.any():
        pred = stein_log_curve(t, log_cmax, tmax, rho, alpha, beta, fb)
        J[blq & (pred <= log_lloq)] = 0.0
    return J


def _slope(t: np.ndarray, logy: np.ndarray) -> float:
    return float(np.polyfit(t, logy, 1)[0]) if len(t) >= 2 and np.ptp(t) > 0 else float("nan")


@dataclass
class SteinFit:
    """Result of :func:`fit_stein` for one patient."""

    status: str                       # "fitted" or "not fitted: <reason>"
    params: Optional[SteinParameters] = None
    n_used: int = 0
    n_blq: int = 0
    rss: float = float("nan")
    residual_sd: float = float("nan")
    at_bounds: tuple = ()
    starts: int = 0
    message: str = ""
    extra: dict = field(default_factory=dict)

    def row(self) -> dict:
        """One table row. Quantities the data do not identify are NaN here (the raw estimate
        stays in ``params``): with beta/alpha on its lower bound the slow phase shows no
        measurable decline (beta and the slow half-life are not identified); on its upper
        bound the two contraction phases coincide (FB and the slow half-life are not)."""
        out = {"fit_status": self.status, "n_used": self.n_used, "n_blq": self.n_blq,
               "residual_sd_log": self.residual_sd, "at_bounds": ";".join(self.at_bounds)}
        values = self.params.as_dict() if self.params else {k: float("nan") for k in (
            "cmax", "tmax", "rho", "alpha", "beta", "fb", "doubling_time", "fold_expansion",
            "half_life_alpha", "half_life_beta")}
        curve = {f"curve_{k}": (getattr(self.params, k) if self.params else float("nan"))
                 for k in ("cmax", "tmax", "rho", "alpha", "beta", "fb")}
        out.update(curve)                      # the raw estimates, for drawing the fitted curve
        if "beta/alpha (lower)" in self.at_bounds:
            values.update(beta=float("nan"), half_life_beta=float("nan"))
        if "beta/alpha (upper)" in self.at_bounds:
            values.update(fb=float("nan"), beta=float("nan"), half_life_beta=float("nan"))
        if "FB (lower)" in self.at_bounds or "FB (upper)" in self.at_bounds:
            values.update(fb=float("nan"), beta=float("nan"), half_life_beta=float("nan"))
        return {**{f"model_{k}": v for k, v in values.items()}, **out}


def fit_stein(day, copies, below_lloq, *, min_rise: int = 2, min_fall: int = 3,
              who: str = "profile") -> SteinFit:
    """Fit the Stein et al. (2019) model to one patient by least squares on log levels.

    Six parameters are estimated: ``Cmax``, ``Tmax`` (continuous, between the first
    and the last quantifiable sample), ``rho``, ``alpha``, ``beta`` (constrained to
    ``beta <= alpha`` so the two phases cannot swap) and ``FB``. The patient must
    have at least ``min_rise`` quantifiable samples up to and including the observed
    peak, at least ``min_fall`` after it, and more samples than parameters;
    otherwise the result says ``not fitted`` and why. Several starting points are
    tried (the observed peak day and the midpoints to its neighbours, two values of
    FB); the best is kept. Parameters ending on a bound are listed in ``at_bounds``
    (they are not identified by the data).
    """
    t, c, b = as_profile(day, copies, below_lloq, who)
    q = ~b
    n, n_blq = len(t), int(b.sum())
    if not q.any():
        return SteinFit("not fitted: no quantifiable sample", n_used=n, n_blq=n_blq)
    tq, lq = t[q], np.log(c[q])
    ipk = int(np.argmax(lq))
    n_rise, n_fall = ipk + 1, len(tq) - ipk - 1
    if n_rise < min_rise:
        return SteinFit(f"not fitted: peak at the first quantifiable sample (day {tq[ipk]:g}); "
                        "expansion not observed", n_used=n, n_blq=n_blq)
    if n_fall < min_fall:
        return SteinFit(f"not fitted: only {n_fall} quantifiable sample(s) after the peak "
                        f"(need {min_fall})", n_used=n, n_blq=n_blq)
    if n <= 6:
        return SteinFit(f"not fitted: {n} samples for 6 parameters", n_used=n, n_blq=n_blq)

    logy = np.log(c)
    log_lloq = np.where(b, np.log(c), 0.0)
    tpk = float(tq[ipk])
    rho0 = max(_slope(tq[:ipk + 1], lq[:ipk + 1]), 0.05)
    early = (tq > tpk) & (tq <= tpk + 21)
    alpha0 = max(-_slope(np.r_[tpk, tq[early]], np.r_[lq[ipk], lq[early]]), 0.02) if early.any() else 0.2
    late = tq >= max(tpk + 30, tq[-1] / 3)
    beta0 = -_slope(tq[late], lq[late]) if late.sum() >= 2 else alpha0 / 20
    beta0 = min(max(beta0, 1e-4), alpha0 * 0.5)
    if late.any():
        fb0 = float(np.exp(lq[late][0] + beta0 * (tq[late][0] - tpk) - lq[ipk]))
    else:
        fb0 = 0.02
    fb0 = min(max(fb0, 1e-4), 0.5)
    t_lo, t_hi = float(tq[0]), float(tq[-1])
    lower = np.array([lq.min() - 1.0, t_lo, math.log(_BOUNDS["rho"][0]), math.log(_BOUNDS["alpha"][0]),
                      math.log(_BOUNDS["beta_over_alpha"][0]), math.log(_BOUNDS["fb"][0] / (1 - _BOUNDS["fb"][0]))])
    upper = np.array([lq.max() + 3.0, t_hi, math.log(_BOUNDS["rho"][1]), math.log(_BOUNDS["alpha"][1]),
                      math.log(_BOUNDS["beta_over_alpha"][1]), math.log(_BOUNDS["fb"][1] / (1 - _BOUNDS["fb"][1]))])
    tmax_starts = {tpk}
    if ipk > 0:
        tmax_starts.add(0.5 * (tq[ipk - 1] + tpk))
    if ipk < len(tq) - 1:
        tmax_starts.add(0.5 * (tpk + tq[ipk + 1]))
    best, starts, last_error = None, 0, ""
    for tm in sorted(tmax_starts):
        for fb in (fb0, min(fb0 * 5, 0.5)):
            x0 = np.array([lq[ipk], tm, math.log(rho0), math.log(alpha0), math.log(beta0 / alpha0),
                           math.log(fb / (1 - fb))])
            x0 = np.clip(x0, lower + 1e-9, upper - 1e-9)
            starts += 1
            try:
                res = optimize.least_squares(_residuals, x0, jac=_jacobian, bounds=(lower, upper),
                                             args=(t, logy, b, log_lloq), method="trf",
                                             x_scale="jac", max_nfev=400, xtol=1e-10, ftol=1e-10)
            except (ValueError, FloatingPointError) as exc:  # pragma: no cover - defensive
                last_error = str(exc)
                continue
            if best is None or res.cost < best.cost:
                best = res
    if best is None:  # pragma: no cover - defensive
        return SteinFit(f"not fitted: optimiser failed ({last_error})", n_used=n, n_blq=n_blq, starts=starts)
    log_cmax, tmax, rho, alpha, beta, fb = _unpack(best.x)
    names = ("Cmax", "Tmax", "rho", "alpha", "beta/alpha", "FB")
    span = upper - lower
    tol = 1e-6 * np.maximum(span, 1.0)
    at_bounds = tuple(f"{nm} ({'lower' if x - lo <= hi - x else 'upper'})"
                      for nm, x, lo, hi, tl in zip(names, best.x, lower, upper, tol)
                      if min(x - lo, hi - x) <= tl)
    rss = float(2 * best.cost)
    params = SteinParameters(math.exp(log_cmax), tmax, rho, alpha, beta, fb)
    return SteinFit("fitted", params, n_used=n, n_blq=n_blq, rss=rss,
                    residual_sd=math.sqrt(rss / (n - 6)), at_bounds=at_bounds, starts=starts,
                    message=best.message)


def fit_table(kinetics: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """:func:`fit_stein` for every patient; one row per patient, unfitted ones included."""
    rows = []
    for pid, g in kinetics.groupby("patient_id", sort=True):
        fit = fit_stein(g["day"], g["copies_per_ug_gdna"], g["below_lloq"].to_numpy(),
                        who=f"patient {pid}", **kwargs)
        rows.append({"patient_id": pid, **fit.row()})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# does the fit recover what it should? (simulation study)
# --------------------------------------------------------------------------- #
#: Sampling days of the synthetic cohorts of studies 000 and 004.
BOOK_SCHEDULE = (1.0, 4.0, 7.0, 10.0, 14.0, 21.0, 28.0, 60.0, 90.0, 180.0, 365.0)
#: A dense schedule (daily for two weeks, then roughly monthly) for comparison.
DENSE_SCHEDULE = tuple(float(d) for d in list(range(1, 15)) + [17, 21, 28, 35, 42, 60, 90, 120, 180, 270, 365])
#: Stated recovery tolerances, per schedule: parameter -> (largest allowed |median error|,
#: largest allowed 90th percentile of |error|). Errors are relative (fitted / true - 1) except
#: for Tmax, whose error is in days. Enforced by tests/test_kinetics.py on 100 simulated patients.
RECOVERY_TOLERANCE = {
    "book": {"cmax": (0.05, 0.30), "tmax": (0.25, 1.0), "doubling_time": (0.05, 0.20),
             "half_life_alpha": (0.05, 0.30), "half_life_beta": (0.05, 0.75), "fb": (0.05, 0.75)},
    "dense": {"cmax": (0.03, 0.15), "tmax": (0.10, 0.5), "doubling_time": (0.03, 0.10),
              "half_life_alpha": (0.03, 0.20), "half_life_beta": (0.03, 0.35), "fb": (0.03, 0.35)},
}
#: Log-scale noise SD and LLOQ of the simulation study, per schedule.
RECOVERY_NOISE = {"book": 0.15, "dense": 0.10}
RECOVERY_LLOQ = 50.0


def draw_parameters(rng: np.random.Generator) -> SteinParameters:
    """Plausible CAR-T parameters for simulation: Cmax 10^3.5-10^5 copies/µg, Tmax 6-14 days,
    doubling time 0.6-1.7 days, fast half-life 3-8 days, slow half-life 30-150 days, FB 1-10 %."""
    return SteinParameters(cmax=10 ** rng.uniform(3.5, 5.0), tmax=rng.uniform(6.0, 14.0),
                           rho=rng.uniform(0.4, 1.2), alpha=LN2 / rng.uniform(3.0, 8.0),
                           beta=LN2 / rng.uniform(30.0, 150.0), fb=rng.uniform(0.01, 0.10))


def recovery_study(n: int, rng: np.random.Generator, schedule: str = "book") -> pd.DataFrame:
    """Simulate ``n`` patients with known parameters on a schedule, fit each, and return
    one row per patient with ``true_<p>``, ``fit_<p>`` and the fit status."""
    check_choice(schedule, tuple(RECOVERY_TOLERANCE), "schedule")
    days = BOOK_SCHEDULE if schedule == "book" else DENSE_SCHEDULE
    rows = []
    for i in range(n):
        truth = draw_parameters(rng)
        sim = simulate_stein(truth, days, sd_log=RECOVERY_NOISE[schedule], lloq=RECOVERY_LLOQ, rng=rng)
        fit = fit_stein(sim["day"], sim["copies_per_ug_gdna"], sim["below_lloq"])
        row = {"simulated_patient": i + 1, "fit_status": fit.status, "n_blq": int(sim["below_lloq"].sum()),
               "at_bounds": ";".join(fit.at_bounds)}
        row.update({f"true_{k}": v for k, v in truth.as_dict().items()})
        fitted = fit.params.as_dict() if fit.params else {k: float("nan") for k in truth.as_dict()}
        row.update({f"fit_{k}": v for k, v in fitted.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def recovery_summary(study: pd.DataFrame, schedule: str = "book") -> pd.DataFrame:
    """Median and 90th percentile of the estimation error per parameter, next to the stated
    tolerance (relative error; Tmax in days)."""
    rows = []
    fitted = study[study["fit_status"] == "fitted"]
    for p, (tol_med, tol_q90) in RECOVERY_TOLERANCE[schedule].items():
        err = (fitted[f"fit_{p}"] - fitted[f"true_{p}"]) if p == "tmax" else \
            (fitted[f"fit_{p}"] / fitted[f"true_{p}"] - 1)
        med, q90 = float(err.median()), float(err.abs().quantile(0.9))
        unit = "days" if p == "tmax" else "relative"
        rows.append({"parameter": p, "error": unit, "fitted": f"{len(fitted)}/{len(study)}",
                     "median error": med, "tolerance (median)": tol_med,
                     "90th percentile |error|": q90, "tolerance (90th pct)": tol_q90,
                     "within tolerance": abs(med) <= tol_med and q90 <= tol_q90})
    return pd.DataFrame(rows)
