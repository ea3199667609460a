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

from typing import Sequence

import numpy as np
import pandas as pd

from helpers.stats.rank import rank_sum_test, welch_t_test


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


def compare_kinetics(values: pd.Series, groups: pd.Series, first: str, second: str, *,
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
            raise ValueError(f"{label or 'compare_kinetics'}: log10 scale needs positive values")
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
