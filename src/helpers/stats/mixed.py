"""A linear mixed model of log cytokine levels over time (statsmodels MixedLM).

Every fit starts with Powell's derivative-free search and is then polished by L-BFGS from where
Powell stopped (:func:`_fit_to_optimum`). statsmodels' default optimiser was measured to stop short
of the optimum: on a 1,500-patient synthetic registry's IL-6 (200 patients sampled; the large case
of ``tests/test_own_models_vs_r.py``) its REML log-likelihood was -395.537 against nlme::lme's
-389.889, with a between-patient variance of 0.0165 against 0.00935, after 9.6 s. Powell then
L-BFGS reaches nlme's log-likelihood to 1.5e-11 and its variances to 1e-8, in 2.1 s. The two
maximum-likelihood fits of the likelihood-ratio test start Powell at the REML fit's variance: on
study 000's 18 fits (6 analytes, 3 substitutes for below-LLOQ values) their LR statistics moved
by at most 2.6e-8 against starting from 1, and a fit took 1.9 s instead of 3.2 s.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

# ------------------------------------------------------------ mixed model --

@dataclass
class MixedModelResult:
    """What :func:`fit_log_mixed_model` returns."""

    fixed: pd.DataFrame          # coefficient, estimate, SE, CI (log10 scale)
    means: pd.DataFrame          # model-based geometric mean per group and day, with CI
    variance: pd.DataFrame       # between-patient and residual variance, ICC
    lr_test: pd.DataFrame        # likelihood-ratio test of all group terms (ML fits)
    n_patients: int
    n_observations: int
    substituted_lloq: int
    converged: bool
    warnings: tuple = ()
    model: object = None


def _fit_to_optimum(model, reml: bool, near=None):
    """``model`` fitted by Powell, then L-BFGS from Powell's estimate (the better of the two by
    log-likelihood; see the module header for why not statsmodels' default). Powell starts from
    the random-effect variance of ``near`` (a fit of a model on the same data) when given: the
    maximum-likelihood fits start from the REML one, about a third of the Powell steps."""
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    start = None
    if near is not None:
        start = MixedLMParams.from_components(np.zeros(model.k_fe), cov_re=np.asarray(near.cov_re_unscaled))
    coarse = model.fit(reml=reml, method=["powell"], start_params=start)
    polished = model.fit(reml=reml, start_params=coarse.params, method=["lbfgs"])
    return polished if polished.llf >= coarse.llf else coarse


def fit_log_mixed_model(series: pd.DataFrame, analyte: str, *, group: str = "cohort",
                        groups: Optional[Sequence[str]] = None, days: Optional[Sequence[float]] = None,
                        lloq_factor: float = 0.5, conf_level: float = 0.95) -> MixedModelResult:
    """Linear mixed model of log10(value) with day (categorical) x group and a
    random intercept per patient, fitted by REML with statsmodels' MixedLM.

    ``log10(value) ~ C(day) * C(group) + (1 | patient)``

    Below-LLOQ values are replaced by ``lloq_factor`` x the limit (default
    half). The likelihood-ratio test of the group terms (group and
    group x day, i.e. "do the groups differ at any time point?") compares
    maximum-likelihood fits, since REML likelihoods of models with different
    fixed effects are not comparable.
    """
    import statsmodels.formula.api as smf

    data = series[series["analyte"] == analyte].copy()
    if data.empty:
        raise ValueError(f"no rows for analyte {analyte!r}")
    if days is not None:
        data = data[data["day"].isin(list(days))]
    if groups is None:
        groups = list(pd.unique(data[group]))
    data = data[data[group].isin(groups)]
    substituted = int(data["below_lloq"].sum())
    value = np.where(data["below_lloq"], data["value"] * lloq_factor, data["value"])
    data = data.assign(y=np.log10(value.astype(float)),
                       g=pd.Categorical(data[group], categories=list(groups)),
                       d=pd.Categorical(data["day"], categories=sorted(data["day"].unique())))
    formula = "y ~ C(d) * C(g)"
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        fit = _fit_to_optimum(smf.mixedlm(formula, data, groups=data["patient_id"]), reml=True)
        ml_full = _fit_to_optimum(smf.mixedlm(formula, data, groups=data["patient_id"]), reml=False, near=fit)
        ml_null = _fit_to_optimum(smf.mixedlm("y ~ C(d)", data, groups=data["patient_id"]), reml=False, near=fit)
    caught = sorted({str(w.message).splitlines()[0] for w in record})

    z = sps.norm.isf((1 - conf_level) / 2)
    names = list(fit.fe_params.index)
    se = np.sqrt(np.diag(fit.cov_params().loc[names, names]))
    fixed = pd.DataFrame({"term": names, "estimate": fit.fe_params.to_numpy(), "SE": se})
    fixed["lower"] = fixed["estimate"] - z * fixed["SE"]
    fixed["upper"] = fixed["estimate"] + z * fixed["SE"]
    fixed["ratio"] = 10 ** fixed["estimate"]

    # model-based mean of log10(value) for each group and day: L beta, var L V L'
    # (L = the model's own design row for that group and day)
    exog = pd.DataFrame(fit.model.exog, columns=fit.model.exog_names, index=data.index)[names]
    first = data.reset_index().drop_duplicates(["g", "d"]).sort_values(["g", "d"])
    rows = exog.loc[first["index"]].to_numpy()
    cov = fit.cov_params().loc[names, names].to_numpy()
    est = rows @ fit.fe_params.to_numpy()
    var = np.einsum("ij,jk,ik->i", rows, cov, rows)
    design = first[["d", "g"]]
    means = design.rename(columns={"d": "day", "g": group}).reset_index(drop=True)
    means["day"] = means["day"].astype(float)
    means[group] = means[group].astype(str)
    means["log10_mean"] = est
    means["geometric_mean"] = 10 ** est
    means["lower"] = 10 ** (est - z * np.sqrt(var))
    means["upper"] = 10 ** (est + z * np.sqrt(var))

    between = float(fit.cov_re.iloc[0, 0])
    residual = float(fit.scale)
    variance = pd.DataFrame({"component": ["between patients (random intercept)", "within patient (residual)"],
                             "variance (log10 scale)": [between, residual]})
    variance["share"] = variance["variance (log10 scale)"] / (between + residual)

    lr = 2 * (ml_full.llf - ml_null.llf)
    df = len(ml_full.fe_params) - len(ml_null.fe_params)
    lr_test = pd.DataFrame({"test": [f"{group} and {group} x day terms (ML fits)"], "LR statistic": [lr],
                            "df": [df], "P": [float(sps.chi2.sf(lr, df))]})
    return MixedModelResult(fixed, means, variance, lr_test, int(data["patient_id"].nunique()), len(data),
                            substituted, bool(fit.converged), tuple(caught), fit)
