"""Logistic regression for small clinical cohorts: ML, separation, and Firth's estimate.

A response analysis with 13 patients in one group is where ordinary logistic
regression breaks down quietly. This module fits the model three ways and says
which answer to trust:

``fit_ml``            ordinary maximum likelihood (statsmodels ``GLM``, binomial,
                      logit link) -- the same numbers as R's ``glm(family = binomial)``:
                      coefficients, standard errors, Wald z and P, Wald 95% CIs
                      (R's ``confint.default``) and likelihood-ratio P values
                      (R's ``drop1(fit, test = "LRT")``);
``detect_separation`` linear programming (Albert & Anderson 1984; Konis 2007):
                      is there a direction in which the likelihood keeps rising
                      for ever? If so the ML estimate does not exist, and the
                      report names the coefficients that run off to +/- infinity;
``fit_firth``         Firth's (1993) penalized likelihood, the estimate recommended
                      for separation by Heinze & Schemper (2002): always finite,
                      with profile penalized-likelihood CIs and penalized
                      likelihood-ratio P values (the defaults of R's ``logistf``).

Plus two diagnostics a reader should see before any odds ratio:
``sparse_cells`` (the 2x2 table of each binary factor against the outcome) and
``covariate_patterns`` (every combination of the factors with its events, which
is where a quasi-complete separation becomes visible).

What is delegated, and what is not
----------------------------------
* ML fits: statsmodels (``GLM``, IRLS to 1e-12).
* Firth fits: the PyPI package ``firthmodels`` (``FirthLogisticRegression``, numpy
  backend): the penalized estimate (``fit``), the penalized likelihood-ratio tests
  (``lrt``) and the profile penalized-likelihood CIs (``conf_int(method="pl")``,
  Venzon & Moolgavkar 1988). It replaced (issue 14) a hand-written Newton-Raphson
  with profile bounds found by Brent's method on full constrained refits; on every
  Firth fit of tests/test_regression_vs_r.py the two agree to 1.8e-10 in the
  coefficients, 2.3e-11 in the profile CI bounds and 9e-14 in the LR P values
  (a P value that is 1 up to rounding moves by ~1e-8 in either code, its
  statistic by < 1e-15), with 13-21x fewer likelihood evaluations; the Firth
  computation is 5-12x faster and the whole ``fit_firth`` 3-6x, the unchanged
  design matrix and separation LP now taking about half of it
  (benchmarks/firth_vs_handwritten.py, which keeps the old code). What stays here,
  each a few lines: firthmodels' tolerances are tightened (its defaults, 1e-4, suit
  genome-wide screens, not a table of 13 patients) and the columns are scaled to
  max |x| = 1 for the fit (its convergence test is absolute; the old code failed on
  the endometrial data with PI multiplied or EH divided by 1000); it runs on one BLAS thread
  (``_blas_threads``); the standard errors invert ``X'WX`` as ``logistf`` does
  (firthmodels' ``bse_`` inverts its Newton matrix, the information augmented by the
  hat values, which differs); and the unpenalized log-likelihood and null deviance
  are computed from the estimate.
* Separation: hand-written LP (scipy's HiGHS). ``firthmodels.detect_separation``
  runs the same Konis LP but reports only finite / +Inf / -Inf per coefficient: it
  does not tell complete from quasi-complete separation, nor a coefficient that
  diverges in either direction ("+/-inf", e.g. the intercept of a completely
  separated sample), which the chapter's text and tests rely on.

Conventions
-----------
* ``data`` is a DataFrame with one row per patient; the outcome column holds
  0/1 (or False/True); predictors must be numeric or boolean.
* Rows with a missing outcome or predictor are **not silently dropped**: the
  fit carries them in ``excluded`` (with the column that was missing) and
  ``n_excluded``.
* Odds ratios are ``exp(coefficient)``; P values are fractions.
* Bad input (non-binary outcome, text predictor, constant or collinear
  column, empty data) raises :class:`ValueError` naming what is wrong.

Checks (tests/test_regression_vs_r.py): ML fits against R's ``glm`` through
committed fixtures (and live R when present) to 1e-6; separation detection on
data sets built to separate; Firth against exact hand computation (in a
saturated model Firth's estimate is the ML estimate with 1/2 added to every
cell, so R's ``glm`` on those augmented counts is an independent oracle for
the estimate, its profile CI and its likelihood-ratio P) and against the
published worked example of Heinze & Schemper (2002, endometrial cancer data).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from firthmodels import FirthLogisticRegression
from scipy import optimize, special, stats
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import ThreadpoolController

Z975 = float(stats.norm.ppf(0.975))
CHI2_95 = float(stats.chi2.ppf(0.95, 1))

# firthmodels settings for fit_firth (on columns scaled to max |x| = 1, see _firthmodels_fit).
# Its defaults (gtol = xtol = tol = 1e-4, 25 iterations) are meant for genome-wide screens;
# these reproduce the hand-written Newton-Raphson/Brent code they replaced to < 1e-9
# (benchmarks/firth_vs_handwritten.py). gtol is the convergence test that matters; xtol
# only has to be loose enough for firthmodels to skip step-halving once a step can no
# longer change the log-likelihood in floating point (with xtol = gtol = 1e-10 it halves
# on rounding noise and stalls at |score| ~ 1e-7).
FIRTH_GTOL = 1e-10          # max |modified score|
FIRTH_XTOL = 1e-6           # max |Newton step|
FIRTH_MAX_ITER = 200
FIRTH_MAX_HALFSTEP = 60
FIRTH_PL_TOL = 1e-10        # profile bound: |penalized loglik - target| and |nuisance score|
FIRTH_PL_MAX_ITER = 200


# --------------------------------------------------------------------------- #
# design matrix
# --------------------------------------------------------------------------- #
@dataclass
class Design:
    """The data a model is fitted to, and what was left out."""

    y: np.ndarray
    X: np.ndarray
    terms: list[str]          # column names of X, "(Intercept)" first
    rows: pd.Index            # index labels of the rows used
    excluded: pd.DataFrame    # one row per excluded patient: index label and reason


def design(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
           id_column: Optional[str] = None) -> Design:
    """Outcome vector and design matrix (intercept first), with exclusions listed.

    Raises ValueError when ``data`` is not a DataFrame, a column is absent, the
    outcome is not 0/1, a predictor is not numeric/boolean, nothing is left
    after exclusions, a predictor is constant, or the columns are collinear.
    """
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    predictors = list(predictors)
    if isinstance(outcome, (list, tuple)) or not isinstance(outcome, str):
        raise ValueError(f"outcome must be one column name, got {outcome!r}")
    missing_cols = [c for c in [outcome, *predictors] if c not in data.columns]
    if missing_cols:
        raise ValueError(f"column(s) {missing_cols} not in data; columns are {list(data.columns)}")
    if len(set(predictors)) != len(predictors):
        raise ValueError(f"predictors repeat a column: {predictors}")
    if outcome in predictors:
        raise ValueError(f"the outcome {outcome!r} is also listed as a predictor")
    for col in predictors:
        series = data[col]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
                or series.dropna().map(lambda v: isinstance(v, (bool, np.bool_))).all()):
            raise ValueError(f"predictor {col!r} must be numeric or boolean (code categories as 0/1 "
                             f"indicators), got values such as {series.dropna().unique()[:3].tolist()}")

    reasons = []
    for label, row in data[[outcome, *predictors]].iterrows():
        missing = [c for c in [outcome, *predictors] if pd.isna(row[c])]
        if missing:
            reasons.append((label, "missing " + ", ".join(missing)))
    excluded_labels = [label for label, _ in reasons]
    used = data.drop(index=excluded_labels)
    excluded = pd.DataFrame(reasons, columns=["row", "reason"])
    if id_column is not None and id_column in data.columns and len(excluded):
        excluded.insert(0, id_column, data.loc[excluded_labels, id_column].to_numpy())
    if used.empty:
        raise ValueError(f"no rows left: every row misses the outcome or a predictor ({len(data)} excluded)")

    raw_y = used[outcome]
    values = set(pd.unique(raw_y.astype(object)))
    if not values <= {0, 1, True, False, 0.0, 1.0}:
        bad = sorted((v for v in values if v not in (0, 1)), key=str)[:5]
        raise ValueError(f"outcome {outcome!r} must be 0/1 or boolean, found {bad}")
    y = raw_y.astype(float).to_numpy()
    if y.min() == y.max():
        raise ValueError(f"outcome {outcome!r} takes a single value ({int(y[0])}) in all {len(y)} rows: "
                         "no model can be fitted")
    X = np.column_stack([np.ones(len(used))] + [used[c].astype(float).to_numpy() for c in predictors])
    for j, col in enumerate(predictors, start=1):
        if np.ptp(X[:, j]) == 0:
            raise ValueError(f"predictor {col!r} is constant ({X[0, j]:g}) in the {len(y)} rows used")
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"predictors {predictors} are collinear (with each other or the intercept): "
                         "the model is not identifiable")
    return Design(y, X, ["(Intercept)", *predictors], used.index, excluded)


# --------------------------------------------------------------------------- #
# log-likelihoods
# --------------------------------------------------------------------------- #
def _loglik(X: np.ndarray, y: np.ndarray, beta: np.ndarray) -> float:
    eta = X @ beta
    # log p = -log(1 + e^-eta), log(1 - p) = -log(1 + e^eta), computed without overflow
    return float(np.sum(-y * np.logaddexp(0.0, -eta) - (1.0 - y) * np.logaddexp(0.0, eta)))


def _information(X: np.ndarray, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = special.expit(X @ beta)
    w = p * (1.0 - p)
    return X.T @ (X * w[:, None]), p, w


# --------------------------------------------------------------------------- #
# separation
# --------------------------------------------------------------------------- #
@dataclass
class SeparationReport:
    """Whether the ML estimate exists, and which coefficients diverge if not.

    ``status``: "none", "quasi-complete" or "complete". ``infinite`` maps each
    term whose ML estimate runs off to infinity to "+inf", "-inf" or "+/-inf"
    (the sign depends on the direction of the other diverging terms).
    ``direction`` is one recession direction found by the linear program.
    """

    status: str
    infinite: dict
    direction: dict
    terms: list

    @property
    def separated(self) -> bool:
        return self.status != "none"

    def describe(self) -> str:
        if not self.separated:
            return "no separation: the maximum-likelihood estimate exists"
        names = {"(Intercept)": "the intercept (the odds in the reference group)"}
        diverging = ", ".join(f"{names.get(t, t)} ({s})" for t, s in self.infinite.items())
        return (f"{self.status} separation: the likelihood keeps increasing along a direction, so "
                f"the maximum-likelihood estimates of {diverging} are infinite")


def detect_separation(X: np.ndarray, y: np.ndarray, terms: Sequence[str], tol: float = 1e-7) -> SeparationReport:
    """Linear-programming check for (quasi-)complete separation.

    With ``s_i = 2 y_i - 1`` and ``A = diag(s) X``, the ML estimate fails to exist
    exactly when some direction ``b != 0`` has ``A b >= 0`` (Albert & Anderson
    1984): moving the coefficients along ``b`` never lowers any observation's
    likelihood and raises at least one (X has full column rank, so ``A b`` is
    not all zero). The program maximizes ``sum(A b)`` over ``A b >= 0``,
    ``-1 <= b <= 1``; a positive optimum proves separation. Separation is
    *complete* when some ``b`` has ``A b > 0`` strictly for every row
    (maximize ``t`` with ``A b >= t``). A coefficient is reported infinite when
    some recession direction moves it (max / min of ``b_j`` over the same cone).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    terms = list(terms)
    if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[1] != len(terms):
        raise ValueError(f"X ({X.shape}), y ({y.shape}) and terms ({len(terms)}) do not fit together")
    scale = np.maximum(np.abs(X).max(axis=0), 1e-12)
    A = (2 * y - 1)[:, None] * (X / scale)
    n, p = A.shape
    bounds = [(-1.0, 1.0)] * p

    def solve(c, A_ub, b_ub, bnds):
        res = optimize.linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bnds, method="highs")
        if res.status != 0:
            raise RuntimeError(f"separation linear program failed: {res.message}")
        return res

    res = solve(-A.sum(axis=0), -A, np.zeros(n), bounds)
    if -res.fun <= tol * n:
        return SeparationReport("none", {}, {}, terms)
    direction = {t: float(v) for t, v in zip(terms, res.x) if abs(v) > tol}
    # complete separation: maximise t subject to A b >= t, t <= 1
    c = np.zeros(p + 1)
    c[-1] = -1.0
    A_ub = np.hstack([-A, np.ones((n, 1))])
    res_c = solve(c, A_ub, np.zeros(n), bounds + [(None, 1.0)])
    status = "complete" if -res_c.fun > tol else "quasi-complete"
    infinite = {}
    for j, term in enumerate(terms):
        e = np.zeros(p)
        e[j] = 1.0
        up = -solve(-e, -A, np.zeros(n), bounds).fun
        down = solve(e, -A, np.zeros(n), bounds).fun
        if up > tol and down < -tol:
            infinite[term] = "+/-inf"
        elif up > tol:
            infinite[term] = "+inf"
        elif down < -tol:
            infinite[term] = "-inf"
    return SeparationReport(status, infinite, direction, terms)


# --------------------------------------------------------------------------- #
# fits
# --------------------------------------------------------------------------- #
@dataclass
class LogisticFit:
    """One fitted logistic model; ``table`` has one row per coefficient.

    ``table`` columns: term, estimate, se, z, p_wald, ci_lower, ci_upper (Wald,
    as R's ``confint.default``), p_lr (likelihood-ratio test of dropping the
    term), and for Firth fits pl_lower, pl_upper (profile penalized-likelihood
    CI). Odds ratios: ``odds_ratio``, ``or_lower``, ``or_upper`` use the CI the
    method reports as its own (Wald for ML, profile for Firth).
    """

    method: str
    outcome: str
    predictors: list
    table: pd.DataFrame
    loglik: float
    deviance: float
    null_deviance: float
    aic: float
    n: int
    events: int
    converged: bool
    iterations: int
    separation: SeparationReport
    excluded: pd.DataFrame
    penalized_loglik: Optional[float] = None
    notes: list = field(default_factory=list)

    @property
    def n_excluded(self) -> int:
        return len(self.excluded)

    @property
    def coef(self) -> pd.Series:
        return self.table.set_index("term")["estimate"]


def _lr_pvalues_ml(d: Design) -> list[float]:
    """P of the likelihood-ratio test dropping each term (R's drop1(test = "LRT"));
    NaN for the intercept, as in R."""
    full = _glm(d.X, d.y)
    out = [math.nan]
    for j in range(1, d.X.shape[1]):
        reduced = _glm(np.delete(d.X, j, axis=1), d.y)
        stat = max(0.0, 2.0 * (full.llf - reduced.llf))
        out.append(float(stats.chi2.sf(stat, 1)))
    return out


def _glm(X: np.ndarray, y: np.ndarray):
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PerfectSeparationWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return sm.GLM(y, X, family=sm.families.Binomial()).fit(method="IRLS", tol=1e-12, maxiter=200)


def fit_ml(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
           id_column: Optional[str] = None) -> LogisticFit:
    """Ordinary maximum-likelihood logistic regression (statsmodels GLM, IRLS to 1e-12).

    Under separation the numbers statsmodels returns are wherever the iterations
    stopped, not estimates: the fit is returned (so the reader can see the huge
    standard errors) but ``separation`` says so and ``notes`` repeats it.
    """
    d = design(data, outcome, predictors, id_column)
    sep = detect_separation(d.X, d.y, d.terms)
    res = _glm(d.X, d.y)
    beta = np.asarray(res.params, dtype=float)
    se = np.asarray(res.bse, dtype=float)
    z = beta / se
    table = pd.DataFrame({
        "term": d.terms, "estimate": beta, "se": se, "z": z,
        "p_wald": 2.0 * stats.norm.sf(np.abs(z)),
        "ci_lower": beta - Z975 * se, "ci_upper": beta + Z975 * se,
        "p_lr": _lr_pvalues_ml(d),
    })
    table["infinite"] = [sep.infinite.get(t, "") for t in d.terms]
    _add_odds_ratios(table, "ci_lower", "ci_upper")
    null = _glm(d.X[:, :1], d.y)
    notes = [sep.describe()] if sep.separated else []
    return LogisticFit(
        method="ML", outcome=outcome, predictors=list(predictors), table=table,
        loglik=float(res.llf), deviance=float(res.deviance), null_deviance=float(null.deviance),
        aic=float(-2 * res.llf + 2 * len(beta)), n=len(d.y), events=int(d.y.sum()),
        converged=bool(res.converged) and not sep.separated, iterations=int(res.fit_history["iteration"]),
        separation=sep, excluded=d.excluded, notes=notes)


def _quietly(call):
    """``call()`` and the text of the ConvergenceWarning and RuntimeWarning it raised
    (firthmodels' way to report a fit, constrained fit or profile bound that did not
    converge, or an information matrix it could not invert); other warnings pass on."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    messages = []
    for w in caught:
        if issubclass(w.category, (ConvergenceWarning, RuntimeWarning)):
            messages.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, messages


@lru_cache(maxsize=1)
def _blas_threads() -> ThreadpoolController:
    """The BLAS libraries loaded (built once: scanning them takes ~25 ms).

    fit_firth runs firthmodels with one BLAS thread: its matrices are k x k and k x n
    with k the number of terms, far too small to gain from threads, and it calls
    LAPACK through scipy's OpenBLAS while numpy has its own -- two thread pools that,
    on this shared two-core machine, made its Firth computation 4-5x slower (165-420 ms
    a fit instead of 44-86 ms for the endometrial and study-000 models), i.e. no faster
    than the hand-written code it replaced.
    """
    return ThreadpoolController()


def _firthmodels_fit(X: np.ndarray, y: np.ndarray) -> tuple[FirthLogisticRegression, np.ndarray, list[str]]:
    """firthmodels' ``FirthLogisticRegression`` fitted to ``X`` (intercept column included).

    The columns are divided by their largest absolute value before the fit (results
    are scaled back by the caller): Firth's estimate is equivariant under a change of
    units (the Jeffreys penalty only shifts by a constant), and firthmodels'
    convergence test is absolute (max |modified score| < gtol), which a predictor
    measured in thousands would otherwise never pass. Returns the model, the column
    scales and the text of the warnings firthmodels raised.
    """
    scale = np.abs(X).max(axis=0)
    model = FirthLogisticRegression(backend="numpy", fit_intercept=False, max_iter=FIRTH_MAX_ITER,
                                    max_step=5.0, max_halfstep=FIRTH_MAX_HALFSTEP,
                                    gtol=FIRTH_GTOL, xtol=FIRTH_XTOL)
    fitted, messages = _quietly(lambda: model.fit(X / scale, y))
    return fitted, scale, messages


def fit_firth(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
              id_column: Optional[str] = None, level: float = 0.95,
              profile: bool = True) -> LogisticFit:
    """Firth's penalized-likelihood logistic regression (Jeffreys-prior penalty), by firthmodels.

    Estimates are always finite, also under separation (Kosmidis & Firth 2021).
    Reported as ``logistf`` does by default: standard errors from the inverse
    Fisher information ``X'WX`` at the estimate; ``p_lr`` from the penalized
    likelihood-ratio test (the term fixed at 0, the others re-maximized under the
    full model's penalty: firthmodels' ``lrt()``); ``pl_lower``/``pl_upper`` from
    the profile penalized likelihood (Heinze & Schemper 2002; firthmodels'
    ``conf_int(method="pl")``, the algorithm of Venzon & Moolgavkar 1988), which --
    unlike Wald intervals -- stay honest when the likelihood is lopsided. Wald CIs
    are reported as well. A likelihood-ratio test or profile bound that firthmodels
    could not compute is NaN, and ``notes`` quotes firthmodels' warning.
    """
    d = design(data, outcome, predictors, id_column)
    sep = detect_separation(d.X, d.y, d.terms)
    with _blas_threads().limit(limits=1, user_api="blas"):
        return _firth_fit(d, sep, outcome, predictors, level, profile)


def _firth_fit(d: Design, sep: SeparationReport, outcome: str, predictors: Sequence[str], level: float,
               profile: bool) -> LogisticFit:
    model, scale, messages = _firthmodels_fit(d.X, d.y)
    if not model.converged_:
        raise RuntimeError(f"Firth fit of {outcome} on {predictors} did not converge in {model.n_iter_} "
                           f"iterations ({'; '.join(messages) or 'firthmodels'})")
    beta = np.asarray(model.coef_, dtype=float) / scale
    # logistf's standard errors invert X'WX; firthmodels' bse_ inverts its Newton matrix,
    # the information with weights augmented by the hat values, and would differ
    info, _, _ = _information(d.X, beta)
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    _, caught = _quietly(model.lrt)
    messages += caught
    p_lr = np.asarray(model.lrt_pvalues_, dtype=float)
    if profile:
        bounds, caught = _quietly(lambda: model.conf_int(alpha=1.0 - level, method="pl",
                                                         max_iter=FIRTH_PL_MAX_ITER, tol=FIRTH_PL_TOL))
        messages += caught
        pl_lower, pl_upper = bounds[:, 0] / scale, bounds[:, 1] / scale
    else:
        pl_lower = pl_upper = np.full(len(beta), math.nan)
    z = beta / se
    zq = float(stats.norm.ppf(0.5 + level / 2))
    table = pd.DataFrame({
        "term": d.terms, "estimate": beta, "se": se, "z": z, "p_wald": 2.0 * stats.norm.sf(np.abs(z)),
        "ci_lower": beta - zq * se, "ci_upper": beta + zq * se, "p_lr": p_lr,
        "pl_lower": pl_lower, "pl_upper": pl_upper,
    })
    table["infinite"] = ""
    _add_odds_ratios(table, "pl_lower" if profile else "ci_lower", "pl_upper" if profile else "ci_upper")
    loglik = _loglik(d.X, d.y, beta)
    null_model, null_scale, _ = _firthmodels_fit(d.X[:, :1], d.y)
    null_beta = np.asarray(null_model.coef_, dtype=float) / null_scale
    notes = ["Firth estimates are finite although the data are separated"] if sep.separated else []
    notes += [f"firthmodels: {m}" for m in dict.fromkeys(messages)]
    # firthmodels' penalized log-likelihood is that of the scaled columns, whose
    # log det X'WX is smaller by 2 sum(log scale)
    penalized = float(model.loglik_ + np.log(scale).sum())
    return LogisticFit(
        method="Firth", outcome=outcome, predictors=list(predictors), table=table, loglik=loglik,
        deviance=-2 * loglik, null_deviance=-2 * _loglik(d.X[:, :1], d.y, null_beta),
        aic=-2 * loglik + 2 * len(beta), n=len(d.y), events=int(d.y.sum()), converged=True,
        iterations=int(model.n_iter_), separation=sep, excluded=d.excluded, penalized_loglik=penalized,
        notes=notes)


def _add_odds_ratios(table: pd.DataFrame, lower: str, upper: str) -> None:
    with np.errstate(over="ignore"):
        table["odds_ratio"] = np.exp(table["estimate"])
        table["or_lower"] = np.exp(table[lower])
        table["or_upper"] = np.exp(table[upper])


# --------------------------------------------------------------------------- #
# diagnostics
# --------------------------------------------------------------------------- #
def sparse_cells(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
                 labels: Optional[dict] = None) -> pd.DataFrame:
    """The 2x2 table of each binary predictor against the outcome, smallest cell first flagged.

    Columns: factor, "present: events/n", "absent: events/n", smallest cell,
    zero cell (a zero makes the univariable ML odds ratio infinite or zero).
    """
    labels = labels or {}
    rows = []
    for col in predictors:
        sub = data[[col, outcome]].dropna()
        x = sub[col].astype(float)
        if set(x.unique()) - {0.0, 1.0}:
            raise ValueError(f"sparse_cells: predictor {col!r} is not binary (0/1)")
        yv = sub[outcome].astype(float)
        a = int(((x == 1) & (yv == 1)).sum())
        b = int(((x == 1) & (yv == 0)).sum())
        c = int(((x == 0) & (yv == 1)).sum())
        e = int(((x == 0) & (yv == 0)).sum())
        rows.append({"factor": labels.get(col, col),
                     "with factor: events/n": f"{a}/{a + b}", "without: events/n": f"{c}/{c + e}",
                     "smallest cell": min(a, b, c, e), "zero cell": min(a, b, c, e) == 0,
                     "missing": int(len(data) - len(sub))})
    return pd.DataFrame(rows)


def covariate_patterns(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
                       labels: Optional[dict] = None) -> pd.DataFrame:
    """Every observed combination of the predictors with n, events and rate.

    A pattern in which all or none of the patients have the outcome is flagged
    ("all" / "none"): such patterns are where a quasi-complete separation sits.
    """
    labels = labels or {}
    predictors = list(predictors)
    sub = data[[*predictors, outcome]].dropna()
    grouped = sub.groupby(predictors)[outcome].agg(["size", "sum"]).reset_index()
    grouped = grouped.rename(columns={"size": "n", "sum": "events"})
    grouped["events"] = grouped["events"].astype(int)
    grouped["rate (%)"] = (100 * grouped["events"] / grouped["n"]).round(1)
    for col in predictors:
        if set(grouped[col].unique()) <= {0, 1}:
            grouped[col] = grouped[col].astype(int)
    grouped["all or none"] = np.where(grouped["events"] == grouped["n"], "all",
                                      np.where(grouped["events"] == 0, "none", ""))
    return grouped.rename(columns={c: labels.get(c, c) for c in predictors})
