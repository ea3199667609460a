"""Competing risks: cumulative incidence, Gray's test and the Fine–Gray model, as R's ``cmprsk``.

After CAR-T, a patient in remission can relapse or die without relapsing. Death in remission
*competes* with relapse: a patient who has died can no longer relapse. The probability of
relapse by time t is then the **cumulative incidence** (Aalen–Johansen estimator), not
1 − Kaplan–Meier with deaths censored, which answers the question "what if nobody could die"
and overstates relapse whenever deaths occur.

Everything here is checked against R's ``cmprsk::cuminc``, ``timepoints`` and ``crr`` to
1e-6 on committed fixtures with tied times (``tests/test_competing_risks_vs_r.py``, oracle
``tests/r/cmprsk.R``).

Why hand-written (measured by ``benchmarks/library_vs_r.py`` on ``tests/fixtures/r/cmprsk_*``)
------------------------------------------------------------------------------------------------
* **Aalen–Johansen with tied times.** ``lifelines.AalenJohansenFitter`` (0.30) breaks ties by
  adding random jitter to the event times, so an estimate read at an event time misses the
  events of that time: at the times of cmprsk_timepoints_expected.csv it differs from R by up
  to 0.31 (textbook/B 1) in 18 of the 24 curves, and the worst difference moves by up to 0.19
  from one seed to another (20 seeds); beyond the largest follow-up time it gives a number
  where R gives NA. The estimator here keeps ties exactly and equals R's to the last digit
  on the same data; nothing here is random.
* **Gray's test and the Fine–Gray model.** lifelines, statsmodels and scipy offer neither, so
  there is nothing to measure: both are written from the published estimators (Gray 1988;
  Fine & Gray 1999), step by step as cmprsk's Fortran. (PyPI lists young ports -- pycmprsk,
  comprisk, pycrr -- none of them widely used; they were not evaluated.)

What is here
------------
``cumulative_incidence(time, status, cause)``  one curve (Aalen–Johansen estimate with
                                               cmprsk's variance), with ``.at(times)``
                                               (as ``cmprsk::timepoints``) and CIs.
``cuminc(time, status, group)``                every group x cause curve plus Gray's test
                                               for each cause, as ``cmprsk::cuminc``.
``gray_test(time, status, group, cause)``      Gray's K-sample test (optional strata, rho).
``fine_gray(frame, ...)``                      Fine–Gray subdistribution-hazards regression
                                               with cmprsk's Newton–Raphson and sandwich
                                               variance, as ``cmprsk::crr``.
``one_minus_km(time, status, cause)``          the naive 1 − KM (other causes censored), for
                                               showing how much it overstates.

``status`` codes: 0 (``cencode``) censored, 1, 2, ... the causes of failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from helpers.stats.format import format_p
from helpers.stats.survival import Z95, KaplanMeier, kaplan_meier
from helpers.stats.validation import (
    as_query_times,
    check_columns,
    check_frame,
    check_frame_groups,
    check_groups,
    check_time_status,
)

# --------------------------------------------------------------------------
# cumulative incidence (cmprsk::cuminc, Fortran routine cinc)
# --------------------------------------------------------------------------

def _cinc(y: np.ndarray, failed: np.ndarray, cause: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aalen–Johansen cumulative incidence and its variance in cmprsk's step format.

    ``y`` sorted ascending; ``failed`` = failed from any cause; ``cause`` = failed from the
    cause of interest. Returns (x, f, v): x[0] = 0, then two points per cause time (value
    before and after the jump), then the largest follow-up time.
    """
    n = y.size
    fk = 1.0
    v1 = v2 = v3 = 0.0
    xs, fs, vs = [0.0], [0.0], [0.0]
    ll = 0
    while ll < n:
        lu = ll
        while lu + 1 < n and y[lu + 1] == y[ll]:
            lu += 1
        rs = float(n - ll)
        nd1 = int(cause[ll:lu + 1].sum())
        nd2 = int(failed[ll:lu + 1].sum()) - nd1
        nd = nd1 + nd2
        if nd > 0:
            fkn = fk * (rs - nd) / rs
            if nd1 > 0:
                fs.append(fs[-1])
                fs.append(fs[-1] + fk * nd1 / rs)
            f_now = fs[-1]
            if nd2 > 0 and fkn > 0:
                t5 = 1.0 if nd2 == 1 else 1.0 - (nd2 - 1.0) / (rs - 1.0)
                t6 = fk * fk * t5 * nd2 / (rs * rs)
                t3 = 1.0 / fkn
                t4 = f_now / fkn
                v1 += t4 * t4 * t6
                v2 += t3 * t4 * t6
                v3 += t3 * t3 * t6
            if nd1 > 0:
                t5 = 1.0 if nd1 == 1 else 1.0 - (nd1 - 1.0) / (rs - 1.0)
                t6 = fk * fk * t5 * nd1 / (rs * rs)
                t3 = 1.0 / fkn if fkn > 0 else 0.0
                t4 = 1.0 + t3 * f_now
                v1 += t4 * t4 * t6
                v2 += t3 * t4 * t6
                v3 += t3 * t3 * t6
                xs += [y[lu], y[lu]]
                vs += [vs[-1], v1 + f_now * f_now * v3 - 2 * f_now * v2]
            fk = fkn
        ll = lu + 1
    xs.append(y[-1])
    fs.append(fs[-1])
    vs.append(vs[-1])
    return np.array(xs), np.array(fs), np.array(vs)


def _cif_ci(est: np.ndarray, var: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI on the log(-log) scale (as tidycmprsk): F^exp(+-z se / (F log F))."""
    est = np.asarray(est, float)
    var = np.asarray(var, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (est > 0) & (est < 1)
        se = np.sqrt(np.maximum(var, 0.0))
        h = z * se / (est * np.abs(np.log(est)))
        lower = np.where(ok, est ** np.exp(h), np.where(est <= 0, 0.0, np.nan))
        upper = np.where(ok, est ** np.exp(-h), np.where(est <= 0, 0.0, np.nan))
    return lower, upper


@dataclass
class CumulativeIncidence:
    """Cumulative incidence of one cause (Aalen–Johansen), cmprsk-compatible.

    ``steps``: cmprsk's (time, est, var) corner points; ``table``: one row per distinct time
    with the number at risk, events of this cause, of other causes, censorings, estimate,
    variance and 95% CI (log(-log) scale).
    """

    label: str
    cause: int
    steps: pd.DataFrame
    table: pd.DataFrame
    time: np.ndarray = field(repr=False)
    status: np.ndarray = field(repr=False)
    cencode: int = 0
    kind: str = "incidence"

    @property
    def n(self) -> int:
        return int(self.time.size)

    @property
    def events(self) -> int:
        return int((self.status == self.cause).sum())

    @property
    def event_times(self) -> np.ndarray:
        return np.sort(self.time[self.status == self.cause])

    @property
    def time_max(self) -> float:
        return float(self.time.max())

    @property
    def censor_times(self) -> np.ndarray:
        return np.sort(self.time[self.status == self.cencode])

    def n_at_risk(self, times) -> np.ndarray:
        times = as_query_times(times)
        srt = np.sort(self.time)
        return (srt.size - np.searchsorted(srt, times, side="left")).astype(int)

    def at(self, times, z: float = Z95) -> pd.DataFrame:
        """Estimate and variance at fixed times, as ``cmprsk::timepoints`` (NaN beyond the
        largest follow-up time), plus SE and a log(-log) 95% CI."""
        times = as_query_times(times)
        x = self.steps["time"].to_numpy()
        f = self.steps["est"].to_numpy()
        v = self.steps["var"].to_numpy()
        N = x.size
        est, var = [], []
        for t in times:
            if t > x[-1] or t < 0:
                est.append(np.nan)
                var.append(np.nan)
                continue
            if t == x[-1]:
                idx = N - 1
            else:
                k = np.flatnonzero(x[:N - 1] <= t)
                idx = int(k[-1]) + 1
            est.append(f[idx])
            var.append(v[idx])
        est, var = np.array(est), np.array(var)
        lower, upper = _cif_ci(est, var, z)
        return pd.DataFrame(dict(t=times, surv=est, var=var, se=np.sqrt(var), lower=lower, upper=upper,
                                 n_risk=self.n_at_risk(times), n_event=[int(((self.status == self.cause)
                                                                             & (self.time <= t)).sum())
                                                                        for t in times],
                                 beyond_followup=times > self.time_max))

    def curve(self) -> pd.DataFrame:
        """Step corners for plotting (time, estimate, lower, upper) from time 0."""
        tab = self.table
        lo = tab["lower"].to_numpy().copy()
        hi = tab["upper"].to_numpy().copy()
        est = tab["estimate"].to_numpy()
        lo = np.where(np.isnan(lo), est, lo)
        hi = np.where(np.isnan(hi), est, hi)
        return pd.DataFrame(dict(time=np.r_[0.0, tab["time"]], estimate=np.r_[0.0, est], lower=np.r_[0.0, lo],
                                 upper=np.r_[0.0, hi], n_risk=np.r_[self.n, tab["n_risk"]],
                                 n_event=np.r_[0, tab["n_cause"]]))


def cumulative_incidence(time, status, cause: int = 1, *, label: str = "", cencode: int = 0) -> CumulativeIncidence:
    """Cumulative incidence of ``cause`` with all other causes competing (Aalen–Johansen),
    with cmprsk's variance estimate. R: ``cmprsk::cuminc(time, status, cencode = 0)``."""
    t, s = check_time_status(time, status, cencode, label)
    order = np.argsort(t, kind="stable")
    ys, ss = t[order], s[order]
    failed = ss != cencode
    is_cause = ss == cause
    x, f, v = _cinc(ys, failed, is_cause)
    steps = pd.DataFrame(dict(time=x, est=f, var=v))
    ut, inv = np.unique(ys, return_inverse=True)
    n_cause = np.bincount(inv, weights=is_cause, minlength=ut.size).astype(int)
    n_other = np.bincount(inv, weights=failed & ~is_cause, minlength=ut.size).astype(int)
    n_all = np.bincount(inv, minlength=ut.size)
    n_risk = ys.size - np.r_[0, np.cumsum(n_all)[:-1]]
    # estimate and variance after each distinct time (last corner at or before it)
    est = np.empty(ut.size)
    var = np.empty(ut.size)
    for i, u in enumerate(ut):
        k = np.flatnonzero(x[1:-1] <= u)
        j = int(k[-1]) + 1 if k.size else 0
        est[i], var[i] = f[j], v[j]
    lower, upper = _cif_ci(est, var)
    table = pd.DataFrame(dict(time=ut, n_risk=n_risk, n_cause=n_cause, n_other=n_other,
                              n_censor=n_all - n_cause - n_other, estimate=est, variance=var,
                              lower=lower, upper=upper))
    return CumulativeIncidence(label, int(cause), steps, table, t, s, cencode)


def one_minus_km(time, status, cause: int = 1, *, label: str = "", cencode: int = 0) -> KaplanMeier:
    """Kaplan–Meier for ``cause`` with every other outcome treated as censoring. ``1 − S``
    is what a naive analysis reports as "incidence"; it overstates when others compete."""
    t, s = check_time_status(time, status, cencode, label)
    km = kaplan_meier(t, s == cause, label=label)
    return km


# --------------------------------------------------------------------------
# Gray's test (cmprsk Fortran routines crstm / crst)
# --------------------------------------------------------------------------

def _crst(y: np.ndarray, m: np.ndarray, ig: np.ndarray, ng: int, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Score and variance of Gray's test within one stratum. ``y`` sorted; ``m`` 0 censored,
    1 cause of interest, 2 other cause; ``ig`` group codes 0..ng-1."""
    n = y.size
    ng1 = ng - 1
    rs = np.bincount(ig, minlength=ng).astype(float)
    s = np.zeros(ng1)
    v = np.zeros((ng1, ng1))
    f1m = np.zeros(ng)
    f1 = np.zeros(ng)
    skmm = np.ones(ng)
    skm = np.ones(ng)
    v3 = np.zeros(ng)
    v2 = np.zeros((ng1, ng))
    c = np.zeros((ng, ng))
    a = np.zeros((ng, ng))
    fm = f = 0.0
    ll = 0
    while True:
        lu = ll
        while lu + 1 < n and y[lu + 1] <= y[ll]:
            lu += 1
        d = np.zeros((3, ng))
        for i in range(ll, lu + 1):
            d[m[i], ig[i]] += 1
        nd1, nd2 = d[1].sum(), d[2].sum()
        if nd1 > 0 or nd2 > 0:
            tr = tq = 0.0
            for i in range(ng):
                if rs[i] <= 0:
                    continue
                td = d[1, i] + d[2, i]
                skm[i] = skmm[i] * (rs[i] - td) / rs[i]
                f1[i] = f1m[i] + (skmm[i] * d[1, i]) / rs[i]
                tr += rs[i] / skmm[i]
                tq += rs[i] * (1 - f1m[i]) / skmm[i]
            f = fm + nd1 / tr
            fb = (1 - fm) ** rho
            for i in range(ng):
                a[i, i:] = 0.0
                if rs[i] <= 0:
                    continue
                t1 = rs[i] / skmm[i]
                a[i, i] = fb * t1 * (1 - t1 / tr)
                c[i, i] += a[i, i] * nd1 / (tr * (1 - fm))
                for j in range(i + 1, ng):
                    if rs[j] <= 0:
                        continue
                    a[i, j] = -fb * t1 * rs[j] / (skmm[j] * tr)
                    c[i, j] += a[i, j] * nd1 / (tr * (1 - fm))
            for i in range(1, ng):
                for j in range(i):
                    a[i, j] = a[j, i]
                    c[i, j] = c[j, i]
            for i in range(ng1):
                if rs[i] <= 0:
                    continue
                s[i] += fb * (d[1, i] - nd1 * rs[i] * (1 - f1m[i]) / (skmm[i] * tq))
            if nd1 > 0:
                for k in range(ng):
                    if rs[k] <= 0:
                        continue
                    t4 = 1.0 - (1 - f) / skm[k] if skm[k] > 0 else 1.0
                    t5 = 1.0 - (nd1 - 1) / (tr * skmm[k] - 1) if nd1 > 1 else 1.0
                    t3 = t5 * skmm[k] * nd1 / (tr * rs[k])
                    v3[k] += t4 * t4 * t3
                    for i in range(ng1):
                        t1 = a[i, k] - t4 * c[i, k]
                        v2[i, k] += t1 * t4 * t3
                        for j in range(i + 1):
                            t2 = a[j, k] - t4 * c[j, k]
                            v[i, j] += t1 * t2 * t3
            if nd2 > 0:
                for k in range(ng):
                    if skm[k] <= 0 or d[2, k] <= 0:
                        continue
                    t4 = (1 - f) / skm[k]
                    t5 = 1.0 - (d[2, k] - 1.0) / (rs[k] - 1.0) if d[2, k] > 1 else 1.0
                    t3 = t5 * (skmm[k] ** 2) * d[2, k] / (rs[k] ** 2)
                    v3[k] += t4 * t4 * t3
                    for i in range(ng1):
                        t1 = t4 * c[i, k]
                        v2[i, k] -= t1 * t4 * t3
                        for j in range(i + 1):
                            t2 = t4 * c[j, k]
                            v[i, j] += t1 * t2 * t3
        if lu >= n - 1:
            break
        for i in range(ll, lu + 1):
            rs[ig[i]] -= 1
        fm = f
        f1m = f1.copy()
        skmm = skm.copy()
        ll = lu + 1
    for i in range(ng1):
        for j in range(i + 1):
            for k in range(ng):
                v[i, j] += c[i, k] * c[j, k] * v3[k] + c[i, k] * v2[j, k] + c[j, k] * v2[i, k]
    for i in range(ng1):
        for j in range(i):
            v[j, i] = v[i, j]
    return s, v


def gray_test(time, status, group, *, cause: int = 1, strata=None, rho: float = 0.0,
              cencode: int = 0) -> dict:
    """Gray's (1988) K-sample test that the cumulative incidence of ``cause`` is the same in
    every group, as reported by ``cmprsk::cuminc`` (``$Tests``).

    Returns dict(statistic, df, p_value, score, variance, groups). Groups are ordered as R
    orders factor levels (sorted); the statistic does not depend on the order.
    """
    t, s = check_time_status(time, status, cencode, "gray_test")
    g, levels = check_groups(group, t.size, what="gray_test", test="gray_test", as_text=True)
    st, _ = check_groups(np.zeros(t.size, int) if strata is None else strata, t.size, name="strata",
                         what="gray_test", min_groups=1, as_text=True)
    ng = len(levels)
    codes = np.array([levels.index(v) for v in g])
    m = np.where(s == cencode, 0, np.where(s == cause, 1, 2))
    order = np.argsort(t, kind="stable")
    score = np.zeros(ng - 1)
    var = np.zeros((ng - 1, ng - 1))
    st_sorted = st[order]
    for stratum in sorted(set(st_sorted)):
        idx = order[st_sorted == stratum]
        sc, vv = _crst(t[idx], m[idx], codes[idx], ng, rho)
        score += sc
        var += vv
    try:
        stat = float(score @ np.linalg.solve(var, score))
    except np.linalg.LinAlgError:
        stat = float("nan")
    df = ng - 1
    return dict(statistic=stat, df=df, p_value=float(sps.chi2.sf(stat, df)) if np.isfinite(stat) else float("nan"),
                score=score, variance=var, groups=levels, cause=cause, rho=rho,
                method="Gray's test" + (f" (rho = {rho:g})" if rho else ""))


def cuminc(time, status, group=None, *, strata=None, rho: float = 0.0, cencode: int = 0) -> dict:
    """Everything ``cmprsk::cuminc`` returns: a curve per group and cause (keys
    "group cause", as R names them) and, with more than one group, ``"Tests"``: Gray's test
    for every cause (columns stat, pv, df)."""
    t, s = check_time_status(time, status, cencode, "cuminc")
    g, levels = check_groups(["1"] * t.size if group is None else group, t.size, what="cuminc", min_groups=1,
                             as_text=True)
    causes = sorted(set(s[s != cencode].tolist()))
    out: dict = {}
    for c in causes:
        for lev in levels:
            mask = g == lev
            out[f"{lev} {c}"] = cumulative_incidence(t[mask], s[mask], c, label=str(lev), cencode=cencode)
    if len(levels) > 1:
        rows = []
        for c in causes:
            r = gray_test(t, s, g, cause=c, strata=strata, rho=rho, cencode=cencode)
            rows.append(dict(cause=c, stat=r["statistic"], pv=r["p_value"], df=r["df"]))
        out["Tests"] = pd.DataFrame(rows)
    return out


# --------------------------------------------------------------------------
# Fine–Gray regression (cmprsk::crr; Fortran routines crrfsv, crrf, crrvv)
# --------------------------------------------------------------------------

@dataclass
class FineGrayResult:
    """Fine–Gray subdistribution-hazards model: one row per covariate."""

    table: pd.DataFrame
    coef: np.ndarray
    var: np.ndarray
    loglik: float
    loglik_null: float
    score: np.ndarray
    information: np.ndarray
    converged: bool
    iterations: int
    n: int
    events: int
    competing: int
    failcode: int

    def hazard_ratios(self, labels: Optional[dict] = None) -> pd.DataFrame:
        labels = labels or {}
        tab = self.table
        return pd.DataFrame({
            "Covariate": [labels.get(c, c) for c in tab["term"]],
            "Subdistribution HR": tab["hr"].round(3),
            "95% CI": [f"{lo:.3f}–{hi:.3f}" for lo, hi in zip(tab["lower"], tab["upper"])],
            "P": [format_p(p) for p in tab["p"]],
        })


def _censoring_weights(t: np.ndarray, cens: np.ndarray, groups: np.ndarray, ncg: int) -> np.ndarray:
    """G_g(t_i-) for every censoring group g and subject i: the Kaplan–Meier of the
    censoring distribution just before each time (crr's ``uuu``)."""
    eps = np.finfo(float).eps
    out = np.zeros((ncg, t.size))
    for k in range(ncg):
        sel = groups == k
        km = kaplan_meier(t[sel], cens[sel])
        ut = km.table["time"].to_numpy()
        su = km.table["surv"].to_numpy()
        xk = np.r_[min(0.0, ut.min()) - 10 * eps, ut, ut.max() * (1 + 10 * eps)]
        yk = np.r_[1.0, su, 0.0]
        xout = t * (1 - 100 * eps)
        idx = np.searchsorted(xk, xout, side="right") - 1   # approx(..., method = "constant", f = 0)
        idx = np.clip(idx, 0, xk.size - 1)
        out[k] = yk[idx]
    return out


class _CrrData:
    def __init__(self, t, ici, X, wt, cg):
        self.t, self.ici, self.X, self.wt, self.cg = t, ici, X, wt, cg
        self.n, self.p = X.shape
        self.fail_times = np.unique(t[ici == 1])
        self.first_index = {u: int(np.searchsorted(t, u, side="left")) for u in self.fail_times}

    def risk_weights(self, b: np.ndarray, u: float) -> np.ndarray:
        """Weights of every subject in the risk set at failure time u: exp(xb) for t >= u;
        exp(xb) G(u-)/G(t_i-) for earlier failures from other causes; 0 otherwise."""
        eb = np.exp(self.X @ b)
        iu = self.first_index[u]
        later = self.t >= u
        w = np.where(later, eb, 0.0)
        comp = (~later) & (self.ici == 2)
        if comp.any():
            gi = self.cg[comp]
            w[comp] = eb[comp] * self.wt[gi, iu] / self.wt[gi, np.flatnonzero(comp)]
        return w

    def objective(self, b: np.ndarray, derivatives: bool = True):
        lik = 0.0
        s = np.zeros(self.p)
        v = np.zeros((self.p, self.p))
        for u in self.fail_times:
            dmask = (self.t == u) & (self.ici == 1)
            twf = float(dmask.sum())
            xd = self.X[dmask]
            lik -= float((xd @ b).sum())
            w = self.risk_weights(b, u)
            s0 = w.sum()
            lik += twf * np.log(s0)
            if derivatives:
                s -= xd.sum(axis=0)
                s1 = w @ self.X
                xbar = s1 / s0
                dev = self.X - xbar
                s += twf * xbar
                v += twf * (dev * w[:, None]).T @ dev / s0
        return lik, s, v


def _crr_variance(D: _CrrData, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Information matrix and the middle of the sandwich (crrvv): score contributions
    eta_i plus psi_i, the correction for estimating the censoring distribution."""
    t, ici, X, wt, cg = D.t, D.ici, D.X, D.wt, D.cg
    n, p = X.shape
    eb = np.exp(X @ b)
    idx_all = np.arange(n)
    fail = np.flatnonzero(ici == 1)
    S0 = np.zeros(n)
    S1 = np.zeros((n, p))
    for i in fail:
        later = t >= t[i]
        w = np.where(later, eb, 0.0)
        comp = (~later) & (ici == 2)
        w[comp] = eb[comp] * wt[cg[comp], i] / wt[cg[comp], idx_all[comp]]
        S0[i] = w.sum()
        S1[i] = w @ X
    info = np.zeros((p, p))
    v2 = np.zeros((p, p))
    ncg = wt.shape[0]
    icrsk = np.bincount(cg, minlength=ncg).astype(float)
    ss2 = np.zeros((p, ncg))
    qu = np.zeros((ncg, p))
    xbar_f = S1[fail] / S0[fail][:, None]
    for i in range(n):
        # eta_i: the d-lambda-hat part, over every failure time j
        before_or_at = t[fail] <= t[i]
        twt = np.where(before_or_at, eb[i], 0.0)
        if ici[i] == 2:
            later = ~before_or_at
            twt = np.where(later, eb[i] * wt[cg[i], fail] / wt[cg[i], i], twt)
        st = -(((X[i] - xbar_f) * (twt / S0[fail])[:, None]).sum(axis=0))
        if ici[i] == 1:
            st += X[i] - S1[i] / S0[i]
            later = t >= t[i]
            w = np.where(later, eb, 0.0)
            comp = (~later) & (ici == 2)
            w[comp] = eb[comp] * wt[cg[comp], i] / wt[cg[comp], idx_all[comp]]
            dev = X - S1[i] / S0[i]
            info += (dev * w[:, None]).T @ dev / S0[i]
        first_of_block = i == 0 or t[i] > t[i - 1]
        if first_of_block:
            block = np.flatnonzero(t == t[i])
            if (ici[block] == 0).any():
                # q_g(u): how the estimated weights of earlier competing failures of censoring
                # group g enter the scores of the failures still to come
                qu = np.zeros((ncg, p))
                comp_before = np.flatnonzero((t < t[i]) & (ici == 2))
                for j1 in fail[t[fail] >= t[i]]:
                    g = cg[j1]   # as cmprsk 2.2-11: each failure is paired with its own censoring group
                    cb = comp_before[cg[comp_before] == g]
                    if cb.size == 0:
                        continue
                    w2 = eb[cb] * wt[g, j1] / wt[g, cb]
                    qu[g] += (w2 @ X[cb] - S1[j1] * w2.sum() / S0[j1]) / S0[j1]
                for j in block[ici[block] == 0]:
                    ss2[:, cg[j]] -= qu[cg[j]] / icrsk[cg[j]] ** 2
        psi = ss2[:, cg[i]].copy()
        if ici[i] == 0:
            psi += qu[cg[i]] / icrsk[cg[i]]
        total = st + psi
        v2 += np.outer(total, total)
        if i < n - 1 and t[i + 1] > t[i]:
            start = int(np.searchsorted(t, t[i], side="left"))
            for j in range(start, i + 1):
                icrsk[cg[j]] -= 1
    return info, v2


def fine_gray(frame: pd.DataFrame, time: str, status: str, covariates: Sequence[str], *, failcode: int = 1,
              cencode: int = 0, cengroup: Optional[str] = None, gtol: float = 1e-6, maxiter: int = 10,
              conf_level: float = 0.95) -> FineGrayResult:
    """Fine–Gray proportional subdistribution-hazards model, exactly as ``cmprsk::crr``.

    The subdistribution hazard of ``failcode`` is modelled with the other causes competing:
    patients who failed from another cause stay in the risk set with a weight G(t-)/G(T_i-)
    (G = Kaplan–Meier of censoring, per ``cengroup``). Estimation follows crr step by step
    (Newton–Raphson from 0 with step halving, stopping rule ``gtol``, at most ``maxiter``
    iterations), so the same data give the same numbers. Variance: the sandwich of Fine &
    Gray (1999) including the term for the estimated censoring distribution.
    Time-varying covariates (crr's ``cov2``/``tf``) are not implemented.
    """
    covariates = list(covariates)
    cols = [time, status] + covariates + ([cengroup] if cengroup else [])
    check_columns(frame, cols, "fine_gray")
    if not covariates:
        raise ValueError("fine_gray needs at least one covariate")
    data = check_frame(frame, cols, "fine_gray", labels=[cengroup] if cengroup else [],
                       dropped_by="crr in R (na.omit)")
    t, s = check_time_status(data[time], data[status], cencode, "fine_gray")
    X = data[covariates].astype(float).to_numpy()
    for j, c in enumerate(covariates):
        if np.ptp(X[:, j]) == 0:
            raise ValueError(f"fine_gray: covariate {c!r} takes a single value")
    if not (s == failcode).any():
        raise ValueError(f"fine_gray: no failures of type {failcode}")
    order = np.argsort(t, kind="stable")
    t, s, X = t[order], s[order], X[order]
    cens = s == cencode
    ici = np.where(s == failcode, 1, np.where(cens, 0, 2))
    if cengroup:
        gv = data[cengroup].to_numpy()[order]
        ug = sorted(set(gv.tolist()))
        cg = np.array([ug.index(v) for v in gv])
    else:
        cg = np.zeros(t.size, int)
    ncg = int(cg.max()) + 1
    wt = _censoring_weights(t, cens, cg, ncg)
    D = _CrrData(t, ici, X, wt, cg)
    b = np.zeros(X.shape[1])
    converged = False
    iterations = 0
    for ll in range(maxiter + 1):
        lik, sc, h = D.objective(b)
        if np.max(np.abs(sc) * np.maximum(np.abs(b), 1)) < max(abs(lik), 1) * gtol:
            converged = True
            break
        if ll == maxiter:
            break
        step = -np.linalg.solve(h, sc)
        bn = b + step
        fbn = D.objective(bn, derivatives=False)[0]
        halvings = 0
        while not np.isfinite(fbn) or fbn > lik + 1e-4 * float(step @ sc):
            halvings += 1
            step = step * 0.5
            bn = b + step
            fbn = D.objective(bn, derivatives=False)[0]
            if halvings > 20:
                break
        if halvings > 20:
            break
        b = bn
        iterations = ll + 1
    info, middle = _crr_variance(D, b)
    inv = np.linalg.inv(info)
    var = inv @ middle @ inv.T
    se = np.sqrt(np.diag(var))
    z = b / se
    zq = float(sps.norm.ppf(1 - (1 - conf_level) / 2))
    table = pd.DataFrame(dict(term=covariates, coef=b, hr=np.exp(b), se=se, z=z, p=2 * (1 - sps.norm.cdf(np.abs(z))),
                              lower=np.exp(b - zq * se), upper=np.exp(b + zq * se)))
    lik0 = D.objective(np.zeros_like(b), derivatives=False)[0]
    return FineGrayResult(table, b, var, -lik, -lik0, -sc, info, converged, iterations, int(t.size),
                          int((ici == 1).sum()), int((ici == 2).sum()), failcode)


# --------------------------------------------------------------------------
# chapter helpers
# --------------------------------------------------------------------------

def cif_by_group(frame: pd.DataFrame, time: str, status: str, group: str, *, cause: int = 1,
                 order: Optional[Sequence] = None, cencode: int = 0) -> list[CumulativeIncidence]:
    """One cumulative-incidence curve of ``cause`` per group (in ``order``)."""
    levels = check_frame_groups(frame, [time, status], group, order, "cif_by_group")
    return [cumulative_incidence(frame.loc[frame[group] == g, time], frame.loc[frame[group] == g, status], cause,
                                 label=str(g), cencode=cencode) for g in levels]
