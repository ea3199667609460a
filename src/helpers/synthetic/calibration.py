"""Fast KM, log-rank, Cox (Efron) and rank-sum P used inside the generators' calibration searches.

Kept apart from :mod:`helpers.stats` so the searches' arithmetic (and so the generated files)
stays fixed; tests/test_synthetic.py checks that it agrees with helpers.stats.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

pass


# --------------------------------------------------------------------------
# Small, fast statistics used by the calibration searches
# (the tests check the result independently with lifelines)
# --------------------------------------------------------------------------

def km_at(time_: np.ndarray, event: np.ndarray, t: float) -> float:
    """Kaplan-Meier survival at time ``t`` (right-continuous)."""
    time_ = np.asarray(time_, float)
    event = np.asarray(event, bool)
    et = time_[event & (time_ <= t)]
    if et.size == 0:
        return 1.0
    ut, d = np.unique(et, return_counts=True)
    n = time_.size - np.searchsorted(np.sort(time_), ut, side="left")
    return float(np.prod(1.0 - d / n))


def km_median(time_: np.ndarray, event: np.ndarray) -> float:
    """Kaplan-Meier median (smallest time with S(t) <= 0.5), inf if not reached."""
    time_ = np.asarray(time_, float)
    event = np.asarray(event, bool)
    ut, d = np.unique(time_[event], return_counts=True)
    if ut.size == 0:
        return float("inf")
    n = time_.size - np.searchsorted(np.sort(time_), ut, side="left")
    s = np.cumprod(1.0 - d / n)
    hit = np.nonzero(s <= 0.5 + 1e-9)[0]
    return float(ut[hit[0]]) if hit.size else float("inf")


def logrank_p(time_: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """Two-group log-rank test, two-sided P."""
    time_ = np.asarray(time_, float)
    event = np.asarray(event, bool)
    g = np.asarray(group, bool)
    ut, inv = np.unique(time_[event], return_inverse=True)
    if ut.size == 0:
        return 1.0
    d = np.bincount(inv, minlength=ut.size).astype(float)
    d1 = np.bincount(inv, weights=g[event].astype(float), minlength=ut.size)
    n = time_.size - np.searchsorted(np.sort(time_), ut, side="left")
    tg = np.sort(time_[g])
    n1 = tg.size - np.searchsorted(tg, ut, side="left")
    e1 = d * n1 / n
    v = np.where(n > 1, d * (n1 / n) * (1 - n1 / n) * (n - d) / np.maximum(n - 1, 1), 0.0)
    if v.sum() <= 0:
        return 1.0
    return float(sps.chi2.sf((d1.sum() - e1.sum()) ** 2 / v.sum(), 1))


def cox_efron(time_: np.ndarray, event: np.ndarray, X: np.ndarray, iters: int = 60) -> np.ndarray:
    """Cox proportional-hazards coefficients, Efron ties, Newton-Raphson with step halving."""
    time_ = np.asarray(time_, float)
    event = np.asarray(event, bool)
    X = np.asarray(X, float)
    order = np.argsort(time_, kind="stable")
    time_, event, X = time_[order], event[order], X[order]
    p = X.shape[1]
    ut, grp = np.unique(time_[event], return_inverse=True)
    start = np.searchsorted(time_, ut, side="left")
    dj = np.bincount(grp, minlength=ut.size)
    ev_idx = np.nonzero(event)[0]
    rank = np.zeros(grp.size)
    seen = np.zeros(ut.size, int)
    for i, gi in enumerate(grp):
        rank[i] = seen[gi]
        seen[gi] += 1
    frac = rank / dj[grp]
    Xe = X[ev_idx]
    XX = X[:, :, None] * X[:, None, :]

    def terms(beta):
        w = np.exp(X @ beta)
        S0 = np.cumsum(w[::-1])[::-1]
        S1 = np.cumsum((w[:, None] * X)[::-1], axis=0)[::-1]
        S2 = np.cumsum((w[:, None, None] * XX)[::-1], axis=0)[::-1]
        we = w[ev_idx]
        T0 = np.bincount(grp, weights=we, minlength=ut.size)
        T1 = np.stack([np.bincount(grp, weights=we * Xe[:, k], minlength=ut.size) for k in range(p)], 1)
        T2 = np.zeros((ut.size, p, p))
        np.add.at(T2, grp, we[:, None, None] * XX[ev_idx])
        A0 = S0[start][grp] - frac * T0[grp]
        A1 = S1[start][grp] - frac[:, None] * T1[grp]
        A2 = S2[start][grp] - frac[:, None, None] * T2[grp]
        ll = float((Xe @ beta).sum() - np.log(A0).sum())
        grad = Xe.sum(0) - (A1 / A0[:, None]).sum(0)
        m = A1 / A0[:, None]
        hess = (A2 / A0[:, None, None]).sum(0) - m.T @ m
        return ll, grad, hess

    beta = np.zeros(p)
    ll, grad, hess = terms(beta)
    for _ in range(iters):
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        big = float(np.max(np.abs(step)))
        if big > 1.0:
            step = step / big
        for _half in range(40):
            nb = beta + step
            nll, ngrad, nhess = terms(nb)
            if nll >= ll - 1e-12:
                break
            step = step / 2
        beta, ll, grad, hess = nb, nll, ngrad, nhess
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return beta


def mannwhitney_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U P (scipy's default method)."""
    return float(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)
