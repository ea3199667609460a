"""Evidence on the papers' qualitative claims, from the results a chapter has already computed.

A chapter tests a claim of ``data/published_claims.csv`` by passing one of these dictionaries to
:meth:`helpers.reproduction.Ledger.claim` (``book.ledger.claim(claim_id, **evidence)``); the merge
decides whether the claim holds. Every builder orients its estimate as "the claim's factor against
its reference", which is the orientation the register's ``expected`` side refers to.
"""

from __future__ import annotations

import math

import pandas as pd

from helpers import stats


def survival_difference(frame: pd.DataFrame, time: str, event: str, factor: pd.Series) -> dict:
    """Log-rank P of ``factor`` (True/1 = the claim's factor) and the univariable Cox hazard ratio
    (Efron ties, Wald CI) as the estimate of its direction."""
    factor = factor.astype(int)
    test = stats.logrank_test(frame[time], frame[event].astype(bool), factor)
    fit = stats.cox_model(frame.assign(_factor=factor.to_numpy()), time, event, ["_factor"])
    row = fit.table.iloc[0]
    return {"estimate": float(row["hr"]), "lower": float(row["lower"]), "upper": float(row["upper"]),
            "p_value": float(test.p_value),
            "method": f"log-rank test (P); hazard ratio from a univariable Cox model; {fit.n} patients, {fit.events} events"}


def cox_term(fit, term: str, model: str) -> dict:
    """One covariate of a fitted (multivariable) Cox model: HR, Wald CI and Wald P."""
    row = fit.table.set_index("term").loc[term]
    return {"estimate": float(row["hr"]), "lower": float(row["lower"]), "upper": float(row["upper"]),
            "p_value": float(row["p"]), "method": f"{model}; Wald P; {fit.n} patients, {fit.events} events"}


def proportion_difference(k1: int, n1: int, k2: int, n2: int, what: str = "") -> dict:
    """Difference of proportions k1/n1 - k2/n2 (Newcombe hybrid score CI) and Fisher's exact P."""
    d, lower, upper = stats.newcombe_difference(k1, n1, k2, n2)
    p = stats.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]])
    return {"estimate": d, "lower": lower, "upper": upper, "p_value": float(p),
            "method": f"{k1}/{n1} vs {k2}/{n2}{' ' + what if what else ''}; Fisher's exact test; Newcombe CI"}


def logistic_term(fits: dict, kind: str, term: str, outcome: str) -> dict:
    """One factor of the response chapter's logistic fits (``plots.compare_methods(...)["fits"]``):
    maximum likelihood when the data are not separated, Firth's penalized likelihood when they are
    (then ML has no finite estimate). OR with its CI and the likelihood-ratio P."""
    key = "all" if kind == "multivariable" else term
    fit = fits[(kind, "ML", key)]
    method = "ML, Wald CI"
    if fit.separation.separated:
        fit, method = fits[(kind, "Firth", key)], "Firth (the ML fit is separated), profile CI"
    row = fit.table.set_index("term").loc[term]
    lower, upper = ("pl_lower", "pl_upper") if fit.method == "Firth" else ("ci_lower", "ci_upper")
    return {"estimate": math.exp(row["estimate"]), "lower": math.exp(row[lower]), "upper": math.exp(row[upper]),
            "p_value": float(row["p_lr"]),
            "method": f"{kind} logistic regression of {outcome}, {method}, likelihood-ratio P; {fit.n} patients"}


def weakest_of(*evidence: dict) -> dict:
    """For a claimed difference that several analyses must all show (two models, two readings of
    the paper): the analysis with the largest P, so the claim holds only if every one does."""
    worst = max(evidence, key=lambda e: e["p_value"])
    return worst | {"method": "weakest of: " + " | ".join(e["method"] for e in evidence)}


def closest_to_a_difference(*evidence: dict) -> dict:
    """For a claimed absence of difference over several comparisons (each cytokine, each adverse
    event): the comparison with the smallest P, so the claim holds only if none is significant."""
    nearest = min(evidence, key=lambda e: e["p_value"])
    return nearest | {"method": f"smallest P of {len(evidence)} comparisons: " + nearest["method"]}


def rank_sum(estimate: float, lower: float, upper: float, p_value: float, what: str) -> dict:
    """A rank-sum comparison on log10 values: the Hodges-Lehmann ratio with its CI and R's
    ``wilcox.test`` P (the chapters' own comparison tables hold all four)."""
    return {"estimate": float(estimate), "lower": float(lower), "upper": float(upper), "p_value": float(p_value),
            "method": f"Wilcoxon rank-sum test (R's rules) on log10 values; Hodges-Lehmann ratio; {what}"}
