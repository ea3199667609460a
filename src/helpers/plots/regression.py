"""Logistic-regression tables: odds ratios of ML and Firth fits side by side, separation diagnostics."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import pandas as pd

from helpers.stats.regression import LogisticFit, fit_firth, fit_ml


# --------------------------------------------------------------------------- #
# tables for the chapter
# --------------------------------------------------------------------------- #
def _fmt_or(value: float) -> str:
    if not math.isfinite(value):
        return "∞" if value > 0 else "0"
    if value >= 1000:
        return f"{value:.3g}"
    return f"{value:.2f}"


def _fmt_p(p: float) -> str:
    if p is None or not math.isfinite(p):
        return ""
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def odds_ratio_table(fits: Sequence[LogisticFit], labels: Optional[dict] = None,
                     model_names: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per (model, factor) with OR, 95% CI and P, in numbers (for figures) and text.

    For an ML fit under separation, a diverging term is shown as "not finite"
    (its numeric OR is set to +/-inf, the CI to NaN) instead of the numbers the
    iterations stopped at.
    """
    labels = labels or {}
    rows = []
    for i, fit in enumerate(fits):
        model = model_names[i] if model_names else f"{fit.method}"
        for _, r in fit.table.iterrows():
            if r["term"] == "(Intercept)":
                continue
            diverges = fit.method == "ML" and r["infinite"] != ""
            if diverges:
                odds = math.inf if r["infinite"] == "+inf" else (0.0 if r["infinite"] == "-inf" else math.nan)
                lo = hi = math.nan
                text = {"+inf": "∞ (separation)", "-inf": "0 (separation)"}.get(r["infinite"],
                                                                                   "not finite (separation)")
                ci = "not estimable"
            else:
                odds, lo, hi = float(r["odds_ratio"]), float(r["or_lower"]), float(r["or_upper"])
                text = _fmt_or(odds)
                ci = f"{_fmt_or(lo)}–{_fmt_or(hi)}"
            rows.append({
                "model": model, "method": fit.method, "factor": labels.get(r["term"], r["term"]),
                "term": r["term"], "OR": text, "95% CI": ci,
                "CI type": "Wald" if fit.method == "ML" else "profile penalized likelihood",
                "P (LR)": _fmt_p(r["p_lr"]), "P (Wald)": _fmt_p(r["p_wald"]),
                "n": fit.n, "events": fit.events,
                "or_value": odds, "or_lower_value": lo, "or_upper_value": hi, "separated": diverges,
            })
    return pd.DataFrame(rows)


def side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """ML and Firth odds ratios next to each other, one row per (model, factor).

    ``table`` is :func:`odds_ratio_table` / :func:`compare_methods` output with
    both methods. The last column says in words what Firth's penalty changed.
    """
    rows = []
    for (model, factor), part in table.groupby(["model", "factor"], sort=False):
        ml = part[part["method"] == "ML"].iloc[0]
        firth = part[part["method"] == "Firth"].iloc[0]
        if ml["separated"]:
            change = "no finite ML estimate (separation); Firth gives a finite value"
        else:
            ratio = firth["or_value"] / ml["or_value"]
            if abs(math.log(ratio)) < math.log(1.1):
                change = "practically the same (within 10%)"
            else:
                change = f"Firth OR {'closer to 1' if abs(math.log(firth['or_value'])) < abs(math.log(ml['or_value'])) else 'further from 1'} (×{ratio:.2f})"
        rows.append({"model": model, "factor": factor,
                     "ML: OR (95% Wald CI)": f"{ml['OR']} ({ml['95% CI']})" if not ml["separated"] else ml["OR"],
                     "ML: P (LR)": ml["P (LR)"],
                     "Firth: OR (95% profile CI)": f"{firth['OR']} ({firth['95% CI']})",
                     "Firth: P (penalized LR)": firth["P (LR)"], "what changes": change})
    return pd.DataFrame(rows)


def separation_table(models: dict, labels: Optional[dict] = None) -> pd.DataFrame:
    """One row per ML model of ``{outcome label: compare_methods(...) result}``: n, events,
    patients excluded for missing data, separation status and the diverging terms."""
    labels = labels or {}
    rows = []
    for outcome, result in models.items():
        for (kind, method, factor), fit in result["fits"].items():
            if method != "ML":
                continue
            rows.append({"outcome": outcome, "model": kind,
                         "factor(s)": labels.get(factor, "all factors" if factor == "all" else factor),
                         "n": fit.n, "events": fit.events, "excluded (missing data)": fit.n_excluded,
                         "separation": fit.separation.status,
                         "infinite ML estimates": ", ".join(f"{labels.get(t, t)} ({d})" for t, d in
                                                           fit.separation.infinite.items()) or "none"})
    return pd.DataFrame(rows)


def compare_methods(data: pd.DataFrame, outcome: str, predictors: Sequence[str],
                    labels: Optional[dict] = None, id_column: Optional[str] = None) -> dict:
    """Univariable and multivariable models, each by ML and by Firth.

    Returns ``{"fits": {(kind, method, factor): LogisticFit}, "table": DataFrame}``
    where kind is "univariable" or "multivariable".
    """
    fits = {}
    for col in predictors:
        fits[("univariable", "ML", col)] = fit_ml(data, outcome, [col], id_column)
        fits[("univariable", "Firth", col)] = fit_firth(data, outcome, [col], id_column)
    fits[("multivariable", "ML", "all")] = fit_ml(data, outcome, predictors, id_column)
    fits[("multivariable", "Firth", "all")] = fit_firth(data, outcome, predictors, id_column)
    parts = []
    for (kind, method, _), fit in fits.items():
        part = odds_ratio_table([fit], labels, [kind])
        parts.append(part)
    table = pd.concat(parts, ignore_index=True)
    return {"fits": fits, "table": table}
