"""CAR-T cellular kinetics: non-compartmental parameters, a kinetic model, group comparisons.

CAR-T "pharmacokinetics" is measured as CAR transgene copies per microgram of
genomic DNA in blood by qPCR, with day 0 = the infusion. This module follows the
conventions pharmacologists use for CAR-T products (the tisagenlecleucel
cellular-kinetics reports, and the PKNCA / WinNonlin conventions for
non-compartmental analysis) and says each choice where it is made.

Non-compartmental analysis (NCA), one patient at a time
-------------------------------------------------------
``Cmax``        highest quantifiable level; ``Tmax`` the (first) day it was seen.
``Cmax_0_28``   the same within days 0-28 ("the peak within one month").
``AUC_0_28``    area under the level-time curve from day 0 to day 28 by the
                trapezoidal rule, either **linear** (straight lines between samples)
                or **linear-up/log-down** (straight lines while the level rises or
                stays flat, exponential decay while it falls -- the usual choice for
                CAR-T, whose contraction is close to exponential). Day 0 is added
                with level 0 (no transgene before infusion) unless the data have a
                day-0 sample. If no sample falls on day 28 the level there is
                interpolated between the samples either side (on the log scale
                where the method is log-down and the level falls); if the last
                sample is before day 28 the AUC is not estimable (NaN, with the
                reason given) -- it is never extrapolated.
``AUC_last``    area from day 0 to ``Tlast``.
``Clast``, ``Tlast``  last quantifiable level and its day.
``persistence_days`` = ``Tlast``: how long the transgene stayed quantifiable. It is
                right-censored (``persistence_censored`` True) when the patient's
                last sample is still quantifiable: persistence is then *at least*
                ``Tlast`` days.

Values below the limit of quantification (BLQ)
----------------------------------------------
In the data contract a BLQ sample carries ``below_lloq = True`` and the limit
itself as its value. Three rules are offered (``blq=``):

``"pknca"`` (default)  the PKNCA default: BLQ samples *before* the first
                quantifiable one count as 0; BLQ samples *between* quantifiable
                ones are dropped (the curve is drawn straight across them);
                BLQ samples *after* the last quantifiable one count as 0.
``"lloq/2"``    every BLQ sample counts as half the limit.
``"drop"``      every BLQ sample is dropped.

BLQ samples never define Cmax, Clast or Tlast, whatever the rule.

The kinetic model (Stein et al. 2019)
-------------------------------------
Stein AM et al., CPT Pharmacometrics Syst Pharmacol 2019;8:285, describe
tisagenlecleucel levels by exponential expansion up to ``Tmax`` followed by a
two-phase contraction::

    C(t) = Cmax * exp(rho * (t - Tmax))                                   t <= Tmax
    C(t) = Cmax * [(1 - FB) * exp(-alpha (t - Tmax)) + FB * exp(-beta (t - Tmax))]   t > Tmax

``rho`` is the expansion rate (doubling time ln 2 / rho), ``alpha`` the fast
contraction rate of effector cells (half-life ln 2 / alpha), ``beta`` the slow
decline of the persisting, memory-like fraction ``FB`` (half-life ln 2 / beta);
``exp(rho * Tmax)`` is the fold expansion from day 0. :func:`fit_stein` fits it to
one patient by least squares on the log scale (``scipy.optimize.least_squares``,
bounded, several starts). BLQ samples enter as censored: they add nothing while the
model is below the limit and a residual log(C(t) / LLOQ) when the model predicts a
quantifiable level (a least-squares analogue of Beal's M3 method).

Group comparisons
-----------------
:func:`rank_sum_test` is the Wilcoxon rank-sum (Mann-Whitney) test exactly as R's
``wilcox.test(x, y, conf.int = TRUE)`` computes it: exact null distribution when
both groups have fewer than 50 values and there are no ties, otherwise the normal
approximation with tie and continuity corrections; with the Hodges-Lehmann shift
and its confidence interval. On log10 copies the shift is a fold difference.
:func:`welch_t_test` (``t.test``) is the parametric sensitivity analysis on log10
copies. ``tests/test_kinetics.py`` checks both against R.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import optimize
from scipy import stats as sps

from .cytokines import mann_whitney

__all__ = [
    "AUC_METHODS", "BLQ_RULES", "WINDOW_DAYS", "LN2",
    "clean_profile", "auc", "nca_profile", "nca_table", "trapezoid_table", "sampling_overview",
    "nca_sensitivity", "persistence_table", "representative_patients",
    "SteinParameters", "stein_log_curve", "stein_curve", "simulate_stein", "fit_stein", "fit_table",
    "BOOK_SCHEDULE", "DENSE_SCHEDULE", "RECOVERY_TOLERANCE", "draw_parameters", "recovery_study",
    "recovery_summary", "rank_sum_wdiff",
    "rank_sum_test", "welch_t_test", "compare_groups",
    "response_class", "active_disease", "first_recovery_day", "COMPARISONS_000",
    "study_000_comparisons", "FACTS_001", "study_001_facts", "comparison_display", "tests_used",
    "summarise", "schedule_quantiles",
    "spaghetti_figure", "median_band_figure", "exposure_figure", "fit_overlay_figure",
    "recovery_figure",
]

AUC_METHODS = ("linear", "linear-up/log-down")
BLQ_RULES = ("pknca", "lloq/2", "drop")
#: "Within one month" is taken as days 0-28 (the last scheduled sample of the first month).
WINDOW_DAYS = 28.0
LN2 = math.log(2.0)


# --------------------------------------------------------------------------- #
# input checks
# --------------------------------------------------------------------------- #
def _as_profile(day, copies, below_lloq, who: str = "profile") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays sorted by day; a clear ValueError naming what is wrong otherwise."""
    try:
        t = np.asarray(day, dtype=float)
        c = np.asarray(copies, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{who}: day and copies must be numeric ({exc})") from None
    b = np.asarray(below_lloq)
    if t.ndim != 1 or c.ndim != 1 or b.ndim != 1:
        raise ValueError(f"{who}: day, copies and below_lloq must be one-dimensional")
    if not (len(t) == len(c) == len(b)):
        raise ValueError(f"{who}: day ({len(t)}), copies ({len(c)}) and below_lloq ({len(b)}) "
                         "must have the same length")
    if len(t) == 0:
        raise ValueError(f"{who}: no samples")
    if b.dtype != bool:
        if not all(isinstance(v, (bool, np.bool_)) for v in b):
            bad = [v for v in b if not isinstance(v, (bool, np.bool_))][:3]
            raise ValueError(f"{who}: below_lloq must be True/False, got {bad}")
        b = b.astype(bool)
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{who}: missing or infinite day at positions {np.flatnonzero(~np.isfinite(t)).tolist()}")
    if np.any(t < 0):
        raise ValueError(f"{who}: negative day {t[t < 0].tolist()} (day 0 is the infusion; "
                         "kinetics start at day 0)")
    if not np.all(np.isfinite(c)):
        raise ValueError(f"{who}: missing or infinite copies on days {t[~np.isfinite(c)].tolist()}")
    if np.any(c < 0):
        raise ValueError(f"{who}: negative copies on days {t[c < 0].tolist()}")
    if np.any((c == 0) & ~b):
        raise ValueError(f"{who}: copies of 0 on days {t[(c == 0) & ~b].tolist()} are marked quantifiable; "
                         "a level below the limit must have below_lloq True")
    if np.any(b & (c <= 0)):
        raise ValueError(f"{who}: below-limit samples must carry the limit (> 0) as their value; "
                         f"days {t[b & (c <= 0)].tolist()}")
    order = np.argsort(t, kind="stable")
    t, c, b = t[order], c[order], b[order]
    dup = t[1:][np.diff(t) == 0]
    if len(dup):
        raise ValueError(f"{who}: more than one sample on day(s) {sorted(set(dup.tolist()))}")
    return t, c, b


def _check_choice(value: str, allowed: Sequence[str], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")


# --------------------------------------------------------------------------- #
# NCA
# --------------------------------------------------------------------------- #
def clean_profile(day, copies, below_lloq, *, blq: str = "pknca", add_day0: bool = True,
                  who: str = "profile") -> pd.DataFrame:
    """The samples as the AUC sees them, one row per sample, with what was done to each.

    Columns: ``day``, ``observed`` (as recorded), ``below_lloq``, ``level`` (the value
    used; NaN when dropped), ``handling`` (``quantifiable``, ``BLQ -> 0``,
    ``BLQ -> LLOQ/2``, ``BLQ dropped``, ``added: day 0 = 0``).
    """
    _check_choice(blq, BLQ_RULES, "blq")
    t, c, b = _as_profile(day, copies, below_lloq, who)
    q = np.flatnonzero(~b)
    first_q, last_q = (q[0], q[-1]) if len(q) else (len(t), -1)
    level = c.astype(float).copy()
    handling = np.array(["quantifiable"] * len(t), dtype=object)
    for i in np.flatnonzero(b):
        if blq == "lloq/2":
            level[i], handling[i] = c[i] / 2.0, "BLQ -> LLOQ/2"
        elif blq == "drop":
            level[i], handling[i] = np.nan, "BLQ dropped"
        elif i < first_q or i > last_q:      # leading or trailing (all-BLQ profiles: all leading)
            level[i], handling[i] = 0.0, "BLQ -> 0"
        else:                                 # embedded between quantifiable samples
            level[i], handling[i] = np.nan, "BLQ dropped"
    frame = pd.DataFrame({"day": t, "observed": c, "below_lloq": b, "level": level, "handling": handling})
    if add_day0 and t[0] > 0:
        frame = pd.concat([pd.DataFrame({"day": [0.0], "observed": [np.nan], "below_lloq": [False],
                                         "level": [0.0], "handling": ["added: day 0 = 0"]}), frame],
                          ignore_index=True)
    return frame


def _segment_area(t1: float, c1: float, t2: float, c2: float, method: str) -> float:
    """Area of one trapezoid; log-down only for a fall between two positive levels."""
    dt = t2 - t1
    if method == "linear-up/log-down" and c2 < c1 and c2 > 0 and c1 > 0:
        return dt * (c1 - c2) / math.log(c1 / c2)
    return dt * (c1 + c2) / 2.0


def _interpolate(t1: float, c1: float, t2: float, c2: float, at: float, method: str) -> float:
    """Level at ``at`` between two samples, consistent with the AUC method."""
    w = (at - t1) / (t2 - t1)
    if method == "linear-up/log-down" and c2 < c1 and c2 > 0 and c1 > 0:
        return math.exp(math.log(c1) + w * (math.log(c2) - math.log(c1)))
    return c1 + w * (c2 - c1)


def auc(day, level, *, method: str = "linear-up/log-down", start: float = 0.0,
        end: Optional[float] = None) -> float:
    """Trapezoidal area under ``level`` over [start, end] from already-cleaned samples.

    ``day`` must be strictly increasing with no missing levels. ``start`` must be a
    sample day; ``end`` (default: the last day) may fall between two samples, in
    which case the level there is interpolated. Returns NaN when ``end`` is after the
    last sample (no extrapolation).
    """
    _check_choice(method, AUC_METHODS, "method")
    t = np.asarray(day, dtype=float)
    c = np.asarray(level, dtype=float)
    if len(t) != len(c) or len(t) == 0:
        raise ValueError("auc: day and level must be non-empty and of the same length")
    if np.any(~np.isfinite(t)) or np.any(~np.isfinite(c)):
        raise ValueError("auc: day and level must be finite (drop BLQ samples with clean_profile first)")
    if np.any(np.diff(t) <= 0):
        raise ValueError("auc: days must be strictly increasing")
    if np.any(c < 0):
        raise ValueError("auc: levels must be >= 0")
    end = t[-1] if end is None else float(end)
    if start not in set(t.tolist()):
        raise ValueError(f"auc: start day {start:g} is not a sample day")
    if end < start:
        raise ValueError(f"auc: end {end:g} is before start {start:g}")
    if end > t[-1]:
        return float("nan")
    total = 0.0
    for i in range(len(t) - 1):
        t1, t2, c1, c2 = t[i], t[i + 1], c[i], c[i + 1]
        if t2 <= start or t1 >= end:
            continue
        if t2 > end:
            c2 = _interpolate(t1, c1, t2, c2, end, method)
            t2 = end
        total += _segment_area(t1, c1, t2, c2, method)
    return float(total)


def nca_profile(day, copies, below_lloq, *, method: str = "linear-up/log-down", blq: str = "pknca",
                window: float = WINDOW_DAYS, who: str = "profile") -> dict:
    """Non-compartmental parameters of one patient's transgene profile (see module docstring)."""
    _check_choice(method, AUC_METHODS, "method")
    t, c, b = _as_profile(day, copies, below_lloq, who)
    q = ~b
    out = {"n_samples": int(len(t)), "n_blq": int(b.sum()), "last_sample_day": float(t[-1])}
    if q.any():
        tq, cq = t[q], c[q]
        i = int(np.argmax(cq))                       # first occurrence of the maximum
        out.update(cmax=float(cq[i]), tmax=float(tq[i]), clast=float(cq[-1]), tlast=float(tq[-1]))
        in_window = tq <= window
        if in_window.any():
            j = int(np.argmax(cq[in_window]))
            out.update(cmax_0_28=float(cq[in_window][j]), tmax_0_28=float(tq[in_window][j]))
        else:
            out.update(cmax_0_28=float("nan"), tmax_0_28=float("nan"))
        out["persistence_days"] = float(tq[-1])
        out["persistence_censored"] = bool(q[-1])
    else:
        out.update(cmax=float("nan"), tmax=float("nan"), clast=float("nan"), tlast=float("nan"),
                   cmax_0_28=float("nan"), tmax_0_28=float("nan"), persistence_days=0.0,
                   persistence_censored=False)
    clean = clean_profile(t, c, b, blq=blq, who=who)
    used = clean.dropna(subset=["level"])
    out["auc_0_28"] = auc(used["day"], used["level"], method=method, end=window)
    out["auc_0_28_note"] = "" if math.isfinite(out["auc_0_28"]) else (
        f"not estimable: last usable level on day {used['day'].iloc[-1]:g}, before day {window:g}")
    out["auc_last"] = (auc(used["day"], used["level"], method=method, end=out["tlast"])
                       if q.any() else 0.0)
    return out


def nca_table(kinetics: pd.DataFrame, *, method: str = "linear-up/log-down", blq: str = "pknca",
              window: float = WINDOW_DAYS) -> pd.DataFrame:
    """:func:`nca_profile` for every patient of a kinetics table (one row per patient).

    ``kinetics`` needs ``patient_id``, ``day``, ``copies_per_ug_gdna`` and ``below_lloq``
    (``study_id`` is carried along when present). Every patient with at least one
    sample gets a row; none is dropped.
    """
    needed = {"patient_id", "day", "copies_per_ug_gdna", "below_lloq"}
    missing = needed - set(kinetics.columns)
    if missing:
        raise ValueError(f"kinetics table lacks column(s) {sorted(missing)}")
    rows = []
    for pid, g in kinetics.groupby("patient_id", sort=True):
        row = {"patient_id": pid}
        if "study_id" in g:
            row["study_id"] = g["study_id"].iloc[0]
        row.update(nca_profile(g["day"], g["copies_per_ug_gdna"], g["below_lloq"].to_numpy(),
                               method=method, blq=blq, window=window, who=f"patient {pid}"))
        rows.append(row)
    return pd.DataFrame(rows)


def trapezoid_table(day, copies, below_lloq, *, blq: str = "pknca", window: float = WINDOW_DAYS) -> pd.DataFrame:
    """The AUC over days 0-``window`` segment by segment, both methods side by side (a worked
    example for the reader). The last row is the total; it equals :func:`nca_profile`."""
    clean = clean_profile(day, copies, below_lloq, blq=blq)
    used = clean.dropna(subset=["level"])
    t, c = used["day"].to_numpy(float), used["level"].to_numpy(float)
    rows = []
    for i in range(len(t) - 1):
        t1, t2, c1, c2 = t[i], t[i + 1], c[i], c[i + 1]
        if t1 >= window:
            break
        if t2 > window:
            rows.append({"from day": t1, "to day": window, "level at start": c1,
                         "level at end": f"interpolated: {_interpolate(t1, c1, t2, c2, window, 'linear'):,.0f} "
                                         f"(linear) / {_interpolate(t1, c1, t2, c2, window, 'linear-up/log-down'):,.0f} (log)",
                         "linear": _segment_area(t1, c1, window, _interpolate(t1, c1, t2, c2, window, "linear"),
                                                 "linear"),
                         "linear-up/log-down": _segment_area(
                             t1, c1, window, _interpolate(t1, c1, t2, c2, window, "linear-up/log-down"),
                             "linear-up/log-down"),
                         "phase": "fall" if c2 < c1 else "rise or flat"})
            break
        rows.append({"from day": t1, "to day": t2, "level at start": c1, "level at end": f"{c2:,.0f}",
                     "linear": _segment_area(t1, c1, t2, c2, "linear"),
                     "linear-up/log-down": _segment_area(t1, c1, t2, c2, "linear-up/log-down"),
                     "phase": "fall" if c2 < c1 else "rise or flat"})
    table = pd.DataFrame(rows)
    total = {"from day": 0.0, "to day": window, "level at start": np.nan, "level at end": "",
             "linear": table["linear"].sum() if len(table) else 0.0,
             "linear-up/log-down": table["linear-up/log-down"].sum() if len(table) else 0.0,
             "phase": "AUC 0-28 (total)"}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def sampling_overview(cohorts: dict) -> pd.DataFrame:
    """Per study: patients, patients with kinetics, samples, sampling days, BLQ samples and the limit.

    ``cohorts`` maps study -> dict of tables (as ``book.cohort(study)``); studies without a
    kinetics table are listed with that said."""
    rows = []
    for study, tables in cohorts.items():
        patients = tables["patients"]
        k = tables.get("kinetics")
        if k is None:
            rows.append({"study": study, "patients": len(patients), "with kinetics": 0, "samples": 0,
                         "sampling days": "no kinetics table", "BLQ samples": "", "limit (copies/µg)": ""})
            continue
        with_k = k["patient_id"].nunique()
        limits = sorted(set(k.loc[k["below_lloq"], "copies_per_ug_gdna"].round(6)))
        rows.append({
            "study": study, "patients": len(patients), "with kinetics": f"{with_k}/{len(patients)}",
            "samples": len(k), "sampling days": ", ".join(f"{d:g}" for d in sorted(k["day"].unique())),
            "BLQ samples": f"{int(k['below_lloq'].sum())}/{len(k)} ({100 * k['below_lloq'].mean():.1f}%)",
            "limit (copies/µg)": ", ".join(f"{v:g}" for v in limits) if limits else "none below the limit",
        })
    return pd.DataFrame(rows)


def nca_sensitivity(kinetics: pd.DataFrame, window: float = WINDOW_DAYS) -> pd.DataFrame:
    """AUC0-28 under each AUC method and BLQ rule: median, estimable patients, and how many
    patients have a BLQ sample inside the window (the only ones the rule can affect)."""
    inside = kinetics[(kinetics["day"] <= window) & kinetics["below_lloq"]]["patient_id"].nunique()
    rows = []
    for method in AUC_METHODS:
        for rule in BLQ_RULES:
            t = nca_table(kinetics, method=method, blq=rule, window=window)
            a = t["auc_0_28"]
            rows.append({"AUC method": method, "BLQ rule": rule,
                         "estimable": f"{int(a.notna().sum())}/{len(t)}",
                         "median AUC0-28": float(a.median()), "Q1": float(a.quantile(0.25)),
                         "Q3": float(a.quantile(0.75)),
                         "patients with a BLQ sample by day 28": inside})
    return pd.DataFrame(rows)


def persistence_table(nca: pd.DataFrame, kinetics: pd.DataFrame, group: pd.Series,
                      days: Sequence[float] = (28.0, 90.0, 180.0)) -> pd.DataFrame:
    """Persistence per group: median Tlast, patients still quantifiable at their last sample
    (persistence censored), and quantifiable k/n on given days among patients sampled then."""
    g = group.rename("group")
    n = nca.merge(g, left_on="patient_id", right_index=True, how="left")
    k = kinetics.merge(g, left_on="patient_id", right_index=True, how="left")
    rows = []
    for name, part in n.groupby("group", sort=False):
        row = {"group": name, "patients": len(part),
               "median Tlast, days [Q1, Q3]": f"{part['tlast'].median():g} "
                                              f"[{part['tlast'].quantile(.25):g}, {part['tlast'].quantile(.75):g}]",
               "still quantifiable at last sample": f"{int(part['persistence_censored'].sum())}/{len(part)}"}
        kk = k[k["group"] == name]
        for d in days:
            on = kk[kk["day"] == d]
            q = int((~on["below_lloq"]).sum())
            row[f"quantifiable on day {d:g}"] = f"{q}/{len(on)} ({100 * q / len(on):.0f}%)" if len(on) else "not sampled"
        rows.append(row)
    return pd.DataFrame(rows)


def representative_patients(values: pd.Series, group: pd.Series, quantiles=(0.1, 0.5, 0.9)) -> list:
    """Patients nearest to given quantiles of ``values`` within each group (for example plots)."""
    chosen = []
    for _, idx in group.groupby(group, sort=False).groups.items():
        v = values.reindex(idx).dropna().sort_values()
        for q in quantiles:
            if len(v) == 0:
                continue
            pick = v.index[min(int(round(q * (len(v) - 1))), len(v) - 1)]
            if pick not in chosen:
                chosen.append(pick)
    return chosen


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
            value = getattr(self, name)
            if not (isinstance(value, (int, float, np.floating)) and math.isfinite(value) and value > 0):
                raise ValueError(f"SteinParameters: {name} must be a positive number, got {value!r}")
        if not (0.0 <= self.fb <= 1.0):
            raise ValueError(f"SteinParameters: fb must be in [0, 1], got {self.fb!r}")

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
    if sd_log < 0:
        raise ValueError(f"sd_log must be >= 0, got {sd_log}")
    rng = rng if rng is not None else np.random.default_rng()
    days = np.asarray(list(days), dtype=float)
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
    t, c, b = _as_profile(day, copies, below_lloq, who)
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
    _check_choice(schedule, tuple(RECOVERY_TOLERANCE), "schedule")
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


# --------------------------------------------------------------------------- #
# group comparisons, as R computes them
# --------------------------------------------------------------------------- #
def _as_sample(values, name: str) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: values must be numeric") from None
    if x.ndim != 1:
        raise ValueError(f"{name}: must be one-dimensional")
    if np.any(~np.isfinite(x)):
        raise ValueError(f"{name}: {int((~np.isfinite(x)).sum())} missing or infinite value(s); "
                         "remove them explicitly (and report how many) before testing")
    if len(x) == 0:
        raise ValueError(f"{name}: no values")
    return x





def rank_sum_wdiff(x, y, d: float, zq: float, correct: bool) -> float:
    """R's ``wdiff(d, zq)`` inside ``wilcox.test``: the standardized rank-sum statistic of
    ``x - d`` against ``y`` minus ``zq``. Its sign change in ``d`` gives the asymptotic
    Hodges-Lehmann estimate (``zq = 0``, no continuity correction) and CI bounds."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
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
    x, y = _as_sample(x, "x"), _as_sample(y, "y")
    if not (0 < conf_level < 1):
        raise ValueError(f"conf_level must be between 0 and 1, got {conf_level}")
    # One implementation of R's wilcox.test in the book: the cytokines chapter's.
    result = mann_whitney(x, y, exact=exact, correct=correct, conf_int=True, conf_level=conf_level)
    return {"W": result.statistic, "p_value": result.p_value, "method": result.method,
            "exact": result.exact, "ties": result.ties, "estimate": result.estimate,
            "ci_lower": result.ci_lower, "ci_upper": result.ci_upper, "n_x": result.n_x,
            "n_y": result.n_y, "conf_level": conf_level}


def welch_t_test(x, y, *, conf_level: float = 0.95) -> dict:
    """Welch two-sample t-test, as R's ``t.test(x, y)``: statistic, df, P, CI of mean(x) - mean(y)."""
    x, y = _as_sample(x, "x"), _as_sample(y, "y")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("welch_t_test: each group needs at least 2 values")
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


def compare_groups(values: pd.Series, groups: pd.Series, first: str, second: str, *,
                   log10: bool = True, label: str = "") -> dict:
    """Rank-sum test (primary) and Welch t-test on log10 (sensitivity) of ``first`` vs ``second``.

    Values that are missing are counted in ``n_missing`` and left out (never silently).
    On the log10 scale the Hodges-Lehmann shift and the mean difference are reported as
    fold differences (``fold_hl``, ``fold_mean``) with their 95 % CIs.
    """
    frame = pd.DataFrame({"v": pd.to_numeric(values, errors="raise"), "g": groups})
    frame = frame[frame["g"].isin([first, second])]
    missing = frame["v"].isna()
    if log10:
        if (frame.loc[~missing, "v"] <= 0).any():
            raise ValueError(f"{label or 'compare_groups'}: log10 scale needs positive values")
        frame.loc[~missing, "v"] = np.log10(frame.loc[~missing, "v"].astype(float))
    x = frame.loc[~missing & (frame["g"] == first), "v"].to_numpy(float)
    y = frame.loc[~missing & (frame["g"] == second), "v"].to_numpy(float)
    rs, wt = rank_sum_test(x, y), welch_t_test(x, y)
    f = (lambda v: 10 ** v) if log10 else (lambda v: v)
    return {
        "comparison": label, "groups": f"{first} vs {second}", "n": f"{len(x)} vs {len(y)}",
        "n_missing": int(missing.sum()),
        "median_first": float(f(np.median(x))), "median_second": float(f(np.median(y))),
        "test": rs["method"], "W": rs["W"], "p_rank_sum": rs["p_value"],
        "shift_hl": f(rs["estimate"]), "shift_ci_lower": f(rs["ci_lower"]), "shift_ci_upper": f(rs["ci_upper"]),
        "welch_p": wt["p_value"], "ratio_of_geometric_means": f(wt["estimate"]),
        "welch_ci_lower": f(wt["ci_lower"]), "welch_ci_upper": f(wt["ci_upper"]),
    }


def _p_text(p: float) -> str:
    return "< 0.0001" if p < 1e-4 else f"{p:.4f}"


def comparison_display(frame: pd.DataFrame, *, first: str, second: str) -> pd.DataFrame:
    """Rows of :func:`compare_groups` (or :func:`study_000_comparisons`) as a compact, readable
    table: counts, medians, rank-sum P with the Hodges-Lehmann fold shift and CI, Welch P with
    the ratio of geometric means and CI. The tests used are listed by :func:`tests_used`."""
    rows = []
    for _, r in frame.iterrows():
        row = {"comparison": r["comparison"]}
        if "published" in frame:
            row["published"] = r["published"]
        n = str(r["n"]) + (f" ({int(r['n_missing'])} not estimable)" if r["n_missing"] else "")
        row[f"n ({first} vs {second})"] = n
        row["medians"] = f"{_fmt(r['median_first'], 3)} vs {_fmt(r['median_second'], 3)}"
        row["P, rank-sum"] = _p_text(r["p_rank_sum"])
        row["fold shift (HL) [95% CI]"] = (f"{r['shift_hl']:.2f} [{r['shift_ci_lower']:.2f}, "
                                           f"{r['shift_ci_upper']:.2f}]")
        row["P, Welch t (log10)"] = _p_text(r["welch_p"])
        row["ratio of geometric means [95% CI]"] = (f"{r['ratio_of_geometric_means']:.2f} "
                                                    f"[{r['welch_ci_lower']:.2f}, {r['welch_ci_upper']:.2f}]")
        for key in ("same conclusion (rank-sum)", "same conclusion (Welch)"):
            if key in frame:
                row[key] = r[key]
        rows.append(row)
    return pd.DataFrame(rows)


def tests_used(frame: pd.DataFrame) -> str:
    """A sentence naming the tests behind a comparison table."""
    names = sorted(set(frame["test"]))
    return ("Rank-sum: " + "; ".join(f"{n} (R's wilcox.test)" for n in names)
            + ". Welch: two-sample t-test with unequal variances on log10 values (R's t.test). "
              "Fold shift: Hodges–Lehmann estimate on log10, back-transformed (first group relative "
              "to second).")


# --------------------------------------------------------------------------- #
# clinical groupings used by the chapter
# --------------------------------------------------------------------------- #
def active_disease(patients: pd.DataFrame) -> pd.Series:
    """True for overt disease before CAR-T (every status except flow-MRD positive)."""
    if "disease_status" not in patients:
        raise ValueError("patients table lacks disease_status")
    return patients["disease_status"] != "mrd_positive"


def response_class(responses: pd.DataFrame) -> pd.Series:
    """Best response per patient: ``responder`` (CR or CRi at any assessment),
    ``non-responder`` or ``not evaluable`` (never assessable). Indexed by patient_id.

    For study 000 this is the paper's definition: for R/R patients response means
    reaching CR; for MRD-positive patients it means keeping morphological CR (in the
    synthetic cohort no MRD-positive non-CR patient reached CMR, so CMR adds nobody).
    """
    needed = {"patient_id", "morphologic"}
    if needed - set(responses.columns):
        raise ValueError(f"responses table lacks {sorted(needed - set(responses.columns))}")

    def best(values: pd.Series) -> str:
        v = set(values)
        if v & {"CR", "CRi"}:
            return "responder"
        if v - {"not_evaluable"}:
            return "non-responder"
        return "not evaluable"

    return responses.groupby("patient_id")["morphologic"].agg(best).rename("response")


def first_recovery_day(day, value, threshold: float) -> float:
    """First sampled day after infusion on which a count rises above ``threshold``
    after having been at or below it after day 0 (NaN if it never does)."""
    t = np.asarray(day, dtype=float)
    v = np.asarray(value, dtype=float)
    order = np.argsort(t)
    t, v = t[order], v[order]
    after = t > 0
    was_low = False
    for ti, vi in zip(t[after], v[after]):
        if vi <= threshold:
            was_low = True
        elif was_low:
            return float(ti)
    return float("nan")


# --------------------------------------------------------------------------- #
# the published statements of studies 000 and 001
# --------------------------------------------------------------------------- #
#: The four expansion comparisons of study 000 (letter text; Figs. S2E-S2F). Only the
#: active-disease comparison has a printed P value (register row); the other three are
#: printed as "no statistically significant difference" without a number.
COMPARISONS_000 = (
    {"label": "Peak within days 0-28, all patients", "value": "cmax_0_28", "subset": "all",
     "published": "no significant difference (no P printed; Fig. S2E)", "register_id": None},
    {"label": "AUC0-28, all patients", "value": "auc_0_28", "subset": "all",
     "published": "no significant difference (no P printed; Fig. S2E)", "register_id": None},
    {"label": "Peak, active disease at baseline", "value": "cmax", "subset": "active",
     "published": None, "register_id": "000-expansion-active-peak-p"},
    {"label": "Peak, MRD-positive at baseline", "value": "cmax", "subset": "mrd_positive",
     "published": "no significant difference (no P printed; Fig. S2F)", "register_id": None},
)


def study_000_comparisons(nca: pd.DataFrame, patients: pd.DataFrame, *, ledger=None,
                          register_csv=None, first: str = "CML-LBC", second: str = "Ph+ ALL",
                          p_tolerance_factor: float = 1.5) -> pd.DataFrame:
    """The four expansion comparisons of study 000 with the book's tests, next to what was published.

    ``same conclusion (...)`` says whether each test reaches the paper's conclusion at the 0.05
    level: significant for the comparison with a printed P, not significant for the three
    "no difference" statements.

    The primary test is the Wilcoxon rank-sum test (R's rules; see :func:`rank_sum_test`), on
    log10 copies so that the Hodges-Lehmann shift is a fold difference; Welch's t-test on log10
    copies is the sensitivity analysis. The one printed P value (active disease) is recorded in
    ``ledger`` with a tolerance of x/÷ ``p_tolerance_factor``.
    """
    from . import register as reg
    from .ledger import Tolerance

    frame = nca.merge(patients[["patient_id", "cohort", "disease_status"]], on="patient_id", how="right")
    active = frame["disease_status"] != "mrd_positive"
    rows = []
    for spec in COMPARISONS_000:
        part = frame if spec["subset"] == "all" else frame[active] if spec["subset"] == "active" else frame[~active]
        out = compare_groups(part[spec["value"]], part["cohort"], first, second, label=spec["label"])
        published = spec["published"]
        if spec["register_id"]:
            entry = reg.entry(spec["register_id"], *([register_csv] if register_csv else []))
            published = f"P = {entry['value_text']} (test not named)"
            if ledger is not None:
                ledger.record(spec["register_id"], out["p_rank_sum"], basis="synthetic",
                              tolerance=Tolerance(factor=p_tolerance_factor),
                              note=(f"{out['test']} on peak copies, {out['n']} patients; Welch t-test on log10 "
                                    f"copies gives P = {out['welch_p']:.4f}. The synthetic peaks were generated "
                                    "so that a rank-sum test lands near the published P; the paper does not name "
                                    "its test."))
        significant = spec["register_id"] is not None     # the paper's conclusion at the 0.05 level
        out["same conclusion (rank-sum)"] = "yes" if (out["p_rank_sum"] < 0.05) == significant else "no"
        out["same conclusion (Welch)"] = "yes" if (out["welch_p"] < 0.05) == significant else "no"
        rows.append({"comparison": spec["label"], "published": published, **{k: v for k, v in out.items()
                                                                               if k != "comparison"}})
    return pd.DataFrame(rows)


#: Study 001 facts about kinetics and count recovery: (register id, patient, what, how the
#: synthetic series gives the same day).
FACTS_001 = (
    ("001-p1-cart-peak-day", "001-P1", "day of peak CAR-T copies", "tmax"),
    ("001-p2-cart-peak-day", "001-P2", "day of peak CAR-T copies", "tmax"),
    ("001-p1-anc-recovery-day", "001-P1", "day neutrophils rose above the threshold", "ANC"),
    ("001-p2-anc-recovery-day", "001-P2", "day neutrophils rose above the threshold", "ANC"),
    ("001-p1-plt-recovery-day", "001-P1", "day platelets rose above the threshold", "platelets"),
    ("001-p2-plt-recovery-day", "001-P2", "day platelets rose above the threshold", "platelets"),
)


def study_001_facts(nca: pd.DataFrame, labs: Optional[pd.DataFrame], *, ledger=None,
                    register_csv=None) -> pd.DataFrame:
    """Published peak and count-recovery days of the two study-001 patients, shown as published
    (ledger basis ``transcribed``), next to the day the synthetic series drawn for the figures
    gives (peak: NCA Tmax; recovery: :func:`first_recovery_day` at the published threshold)."""
    from . import register as reg

    args = [register_csv] if register_csv else []
    thresholds = {"ANC": float(reg.entry("001-anc-threshold", *args)["value"]),
                  "platelets": float(reg.entry("001-plt-threshold", *args)["value"])}
    rows = []
    for rid, pid, what, source in FACTS_001:
        entry = reg.entry(rid, *args)
        if source == "tmax":
            hit = nca.loc[nca["patient_id"] == pid, "tmax"]
            synthetic = float(hit.iloc[0]) if len(hit) else float("nan")
            how = "Tmax of the synthetic copy series"
        elif labs is None:
            synthetic, how = float("nan"), "no labs table"
        else:
            lab = labs[(labs["patient_id"] == pid) & (labs["analyte"] == source)]
            synthetic = first_recovery_day(lab["day"], lab["value"], thresholds[source]) if len(lab) else float("nan")
            how = f"first day of the synthetic {source} series above {thresholds[source]:g}"
        if ledger is not None:
            ledger.record(rid, float(entry["value"]), basis="transcribed",
                          note=f"shown as published ({entry['location']}); {how}: day {synthetic:g}")
        rows.append({"patient": pid, "fact": what, "published (day)": entry["value_text"],
                     "where": entry["location"],
                     "synthetic series (day)": f"{synthetic:g}" if math.isfinite(synthetic) else "none",
                     "how the synthetic day is read": how,
                     "agree": bool(synthetic == float(entry["value"]))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# summaries
# --------------------------------------------------------------------------- #
def summarise(frame: pd.DataFrame, by: str | list, columns: dict, digits: int = 3) -> pd.DataFrame:
    """Median [Q1, Q3] (n) of each column per group, as text for a results table.

    ``columns`` maps column name -> label. Missing values are counted, not hidden.
    """
    by = [by] if isinstance(by, str) else list(by)
    rows = []
    for key, g in frame.groupby(by, sort=False, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key))
        row["patients"] = len(g)
        for col, lab in columns.items():
            v = pd.to_numeric(g[col], errors="coerce").dropna()
            if len(v) == 0:
                row[lab] = "—"
                continue
            q1, med, q3 = np.percentile(v, [25, 50, 75])
            miss = len(g) - len(v)
            if len(v) == 1:
                row[lab] = _fmt(med, digits) + (f" (n=1)" if miss else "")
                continue
            row[lab] = (f"{_fmt(med, digits)} [{_fmt(q1, digits)}, {_fmt(q3, digits)}]"
                        + (f" (n={len(v)})" if miss else ""))
        rows.append(row)
    return pd.DataFrame(rows)


def _fmt(v: float, digits: int) -> str:
    if v == 0 or not math.isfinite(v):
        return f"{v:g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def schedule_quantiles(kinetics: pd.DataFrame, group: pd.Series, *,
                       probs=(0.25, 0.5, 0.75)) -> pd.DataFrame:
    """Quartiles of the level per scheduled day and group. BLQ samples rank lowest
    (they are set to 0 before taking quantiles); a quantile that falls among them
    is reported as below the limit (``*_blq`` True, value = the limit)."""
    k = kinetics.assign(group=group.reindex(kinetics.index).to_numpy())
    rows = []
    for (g, d), part in k.groupby(["group", "day"], sort=True):
        v = np.where(part["below_lloq"], 0.0, part["copies_per_ug_gdna"].to_numpy(float))
        lloq = part.loc[part["below_lloq"], "copies_per_ug_gdna"]
        limit = float(lloq.iloc[0]) if len(lloq) else float(part["copies_per_ug_gdna"].min())
        row = {"group": g, "day": d, "n": len(part), "n_blq": int(part["below_lloq"].sum())}
        for p in probs:
            qv = float(np.quantile(v, p))
            row[f"q{int(p * 100)}"] = max(qv, limit) if qv < limit else qv
            row[f"q{int(p * 100)}_blq"] = qv < limit
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- #
# figures
# --------------------------------------------------------------------------- #
def _go():
    import plotly.graph_objects as go
    return go


def _palette():
    from .figures import OKABE_ITO
    return OKABE_ITO


def _log_axis(fig, title="CAR transgene copies/µg gDNA (log scale)"):
    fig.update_yaxes(type="log", title=title, exponentformat="power")
    fig.update_xaxes(title="Days after infusion")
    return fig


def spaghetti_figure(kinetics: pd.DataFrame, patients: pd.DataFrame, *, group: str = "cohort",
                     title: str = "", max_day: Optional[float] = None):
    """One panel per group: each patient's profile on a log axis; BLQ samples as open
    markers at the limit. Hover: patient, day, level, group n."""
    from plotly.subplots import make_subplots
    from .figures import style
    go = _go()
    k = kinetics.merge(patients[["patient_id", group]], on="patient_id", how="left")
    if k[group].isna().any():
        raise ValueError(f"{int(k[group].isna().sum())} kinetic samples have no {group}")
    if max_day is not None:
        k = k[k["day"] <= max_day]
    groups = list(dict.fromkeys(patients[group]))
    fig = make_subplots(rows=1, cols=len(groups), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[f"{g} (n = {k.loc[k[group] == g, 'patient_id'].nunique()})"
                                        for g in groups])
    colours = _palette()
    for ci, g in enumerate(groups, start=1):
        col = colours[(ci - 1) % len(colours)]
        # One trace per group, patients separated by gaps (None): a trace per patient would
        # repeat its style and hover template a hundred times over in the page.
        xs, ys, symbols, custom = [], [], [], []
        for pid, p in k[k[group] == g].groupby("patient_id"):
            p = p.sort_values("day")
            xs += [*p["day"], None]
            ys += [*p["copies_per_ug_gdna"], None]
            symbols += [*(100 if bl else 0 for bl in p["below_lloq"]), 0]  # 100 = open circle
            custom += [*([pid, "< " if bl else "", " (BLQ)" if bl else ""] for bl in p["below_lloq"]),
                       [pid, "", ""]]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines+markers", name=str(g), legendgroup=str(g), showlegend=False,
            opacity=0.55, line={"color": col, "width": 1}, connectgaps=False,
            marker={"size": 5, "color": col, "symbol": symbols}, customdata=custom,
            hovertemplate="%{customdata[0]}<br>day %{x:g}: %{customdata[1]}%{y:,.0f} copies/µg"
                          "%{customdata[2]}<extra></extra>"), row=1, col=ci)
        fig.update_xaxes(title="Days after infusion", row=1, col=ci)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1,
                     title="CAR copies/µg gDNA (log)")
    for ci in range(2, len(groups) + 1):
        fig.update_yaxes(type="log", row=1, col=ci)
    return style(fig, title, height=430)


def median_band_figure(quantiles: pd.DataFrame, *, title: str = ""):
    """Median level per scheduled day with the interquartile band, one colour per group."""
    from .figures import style
    go = _go()
    fig = go.Figure()
    colours = _palette()
    for i, (g, part) in enumerate(quantiles.groupby("group", sort=False)):
        col = colours[i % len(colours)]
        rgba = "rgba({},{},{},0.18)".format(*[int(col[j:j + 2], 16) for j in (1, 3, 5)])
        part = part.sort_values("day")
        fig.add_trace(go.Scatter(x=part["day"], y=part["q75"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip", legendgroup=str(g)))
        fig.add_trace(go.Scatter(x=part["day"], y=part["q25"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor=rgba, name=f"{g}: IQR",
                                 legendgroup=str(g), hoverinfo="skip"))
        text = [f"{g}, day {d:g}<br>median {'≤ limit' if mb else f'{m:,.0f}'} "
                f"(IQR {'≤ limit' if lb else f'{lo:,.0f}'} – {'≤ limit' if hb else f'{hi:,.0f}'})"
                f"<br>n = {n} sampled, {nb} below the limit"
                for d, m, lo, hi, mb, lb, hb, n, nb in zip(
                    part["day"], part["q50"], part["q25"], part["q75"], part["q50_blq"], part["q25_blq"],
                    part["q75_blq"], part["n"], part["n_blq"])]
        fig.add_trace(go.Scatter(x=part["day"], y=part["q50"], mode="lines+markers", name=f"{g}: median",
                                 line={"color": col, "width": 2.5, "dash": "solid" if i == 0 else "dash"},
                                 marker={"symbol": ["circle", "square", "diamond"][i % 3], "size": 7},
                                 legendgroup=str(g), text=text, hovertemplate="%{text}<extra></extra>"))
    _log_axis(fig)
    fig = style(fig, title, height=470)
    fig.update_layout(margin={"t": 130})      # room for a two-row legend under the title
    return fig


def exposure_figure(frame: pd.DataFrame, *, value: str, x: str, color: Optional[str] = None,
                    title: str = "", y_title: str = "", log: bool = True, order: Optional[dict] = None):
    """Box plots with every patient shown as a point; hover: patient, value, group n/N."""
    from .figures import style
    go = _go()
    fig = go.Figure()
    colours = _palette()
    series = frame.groupby(color, sort=False) if color else [(None, frame)]
    if order and color in (order or {}):
        series = [(c, frame[frame[color] == c]) for c in order[color] if (frame[color] == c).any()]
    x_order = list(order[x]) if order and x in order else list(dict.fromkeys(frame[x]))
    for i, (name, part) in enumerate(series):
        part = part.dropna(subset=[value])
        totals = part.groupby(x).size()
        grand = frame.groupby(x).size()
        text = [f"{pid}<br>{x}: {xv}" + (f"; {color}: {name}" if color else "")
                + f"<br>{value}: {v:,.3g}<br>group n = {totals.get(xv, 0)}/{grand.get(xv, 0)}"
                for pid, xv, v in zip(part["patient_id"], part[x], part[value])]
        fig.add_trace(go.Box(
            x=part[x], y=part[value], name=str(name) if name is not None else value, boxpoints="all",
            jitter=0.45, pointpos=0, marker={"size": 5, "color": colours[i % len(colours)],
                                             "symbol": ["circle", "square", "diamond", "x"][i % 4]},
            line={"color": colours[i % len(colours)]}, text=text, hoverinfo="text", hoveron="points"))
    fig.update_layout(boxmode="group" if color else "overlay", showlegend=color is not None)
    fig.update_xaxes(categoryorder="array", categoryarray=x_order)
    if log:
        fig.update_yaxes(type="log", exponentformat="power")
    fig.update_yaxes(title=y_title or value)
    return style(fig, title, height=430)


def fit_overlay_figure(kinetics: pd.DataFrame, fits: pd.DataFrame, patient_ids: Sequence[str], *,
                       labels: Optional[dict] = None, title: str = "", cols: int = 3,
                       published_peaks: Optional[dict] = None):
    """Small multiples: observed samples (BLQ open) and the fitted model curve per patient;
    ``published_peaks`` (patient -> day) adds a dotted vertical line at a published peak day."""
    from plotly.subplots import make_subplots
    from .figures import style
    go = _go()
    labels = labels or {}
    rows = math.ceil(len(patient_ids) / cols)
    fits = fits.set_index("patient_id")
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes=False, vertical_spacing=0.08,
                        horizontal_spacing=0.05,
                        subplot_titles=[labels.get(p, p) for p in patient_ids])
    colours = _palette()
    for i, pid in enumerate(patient_ids):
        r, c = i // cols + 1, i % cols + 1
        obs = kinetics[kinetics["patient_id"] == pid].sort_values("day")
        fig.add_trace(go.Scatter(
            x=obs["day"], y=obs["copies_per_ug_gdna"], mode="markers", showlegend=(i == 0),
            name="observed (open = below limit)", legendgroup="obs",
            marker={"color": colours[0], "size": 6,
                    "symbol": ["circle-open" if b else "circle" for b in obs["below_lloq"]]},
            text=[f"{pid}, day {d:g}: {v:,.0f}{' (BLQ)' if b else ''}"
                  for d, v, b in zip(obs["day"], obs["copies_per_ug_gdna"], obs["below_lloq"])],
            hovertemplate="%{text}<extra></extra>"), row=r, col=c)
        f = fits.loc[pid] if pid in fits.index else None
        if f is not None and f["fit_status"] == "fitted":
            # 80 points draw the smooth model curve as well as 240 did, at a third of the page weight
            grid = np.unique(np.r_[np.linspace(0.5, obs["day"].max(), 80), f["model_tmax"]])
            params = SteinParameters(f["curve_cmax"], f["curve_tmax"], f["curve_rho"], f["curve_alpha"],
                                     f["curve_beta"], f["curve_fb"])
            slow = (f"{f['model_half_life_beta']:.0f} d" if math.isfinite(f["model_half_life_beta"])
                    else "not identified")
            fig.add_trace(go.Scatter(
                x=grid, y=stein_curve(grid, params), mode="lines", showlegend=(i == 0),
                name="fitted model", legendgroup="fit", line={"color": colours[5], "width": 2},
                hovertemplate=(f"{pid} model<br>day %{{x:.1f}}: %{{y:,.0f}}<br>Tmax {f['model_tmax']:.1f} d, "
                               f"doubling {f['model_doubling_time']:.2f} d, t½ fast "
                               f"{f['model_half_life_alpha']:.1f} d, slow {slow}"
                               "<extra></extra>")), row=r, col=c)
        if published_peaks and pid in published_peaks:
            day = float(published_peaks[pid])
            top = float(obs["copies_per_ug_gdna"].max()) * 2
            fig.add_trace(go.Scatter(
                x=[day, day], y=[float(obs["copies_per_ug_gdna"].min()) / 2, top], mode="lines",
                showlegend=(i == 0), name="published peak day", legendgroup="pub",
                line={"color": "#000000", "dash": "dot", "width": 1.5},
                hovertemplate=f"{pid}: published peak on day {day:g}<extra></extra>"), row=r, col=c)
        fig.update_yaxes(type="log", exponentformat="power", row=r, col=c)
    fig.update_xaxes(title="Days after infusion", row=rows)
    fig.update_yaxes(title="copies/µg gDNA", col=1)
    height = 260 * rows + 160
    fig = style(fig, title, height=height)
    # the legend sits above the subplot titles of the first row, not on them
    top, bottom = 140, 95
    fig.update_layout(margin={"t": top}, legend={"y": 1 + 38 / (height - top - bottom), "yanchor": "bottom"})
    return fig


def recovery_figure(truth: pd.DataFrame, fitted: pd.DataFrame, parameters: Sequence[str], *,
                    labels: Optional[dict] = None, title: str = ""):
    """True against fitted value of each model parameter for simulated patients (log axes),
    with the identity line."""
    from plotly.subplots import make_subplots
    from .figures import style
    go = _go()
    labels = labels or {}
    cols = len(parameters)
    fig = make_subplots(rows=1, cols=cols, subplot_titles=[labels.get(p, p) for p in parameters],
                        horizontal_spacing=0.06)
    colours = _palette()
    for i, p in enumerate(parameters, start=1):
        a, b = truth[p].to_numpy(float), fitted[p].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        lo, hi = np.nanmin(np.r_[a[ok], b[ok]]), np.nanmax(np.r_[a[ok], b[ok]])
        fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", showlegend=False,
                                 line={"color": "#999", "dash": "dot"}, hoverinfo="skip"), row=1, col=i)
        fig.add_trace(go.Scatter(
            x=a[ok], y=b[ok], mode="markers", showlegend=False, marker={"color": colours[0], "size": 6},
            text=[f"simulated patient {j + 1}<br>true {x:.3g}, fitted {y:.3g} ({100 * (y / x - 1):+.0f}%)"
                  for j, (x, y) in enumerate(zip(a[ok], b[ok]))],
            hovertemplate="%{text}<extra></extra>"), row=1, col=i)
        fig.update_xaxes(type="log", title="true", row=1, col=i)
        fig.update_yaxes(type="log", row=1, col=i)
    fig.update_yaxes(title="fitted", col=1)
    return style(fig, title, height=380)
