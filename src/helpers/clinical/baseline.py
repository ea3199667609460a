"""Baseline characteristics: disease status, mutations and Table 1 inputs."""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

pass
from helpers.stats.proportions import chisq_test, clopper_pearson, fisher_exact

STATUS_LABELS = {
    "primary_refractory": "Primary refractory",
    "first_relapse": "First relapse",
    "second_or_later_relapse": "Second or later relapse",
    "relapsed_refractory_unspecified": "Relapsed/refractory (unspecified)",
    "blast_phase_refractory": "Refractory blast phase",
    "mrd_positive": "MRD-positive (flow cytometry)",
}


def yes_no(series: pd.Series) -> pd.Series:
    """Booleans as the words a Table 1 shows (missing stays missing)."""
    return series.map({True: "yes", False: "no"}).astype("object")


def counts_by(patients: pd.DataFrame, column: str, group: str = "cohort",
              order: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """Tidy counts: one row per (group, level) with n and the group total N."""
    counts = patients.groupby([group, column], dropna=False).size().rename("n").reset_index()
    totals = patients.groupby(group).size()
    counts["N"] = counts[group].map(totals)
    if order is not None:
        full = pd.MultiIndex.from_product([totals.index, list(order)], names=[group, column])
        counts = counts.set_index([group, column]).reindex(full, fill_value=0).reset_index()
        counts["N"] = counts[group].map(totals)
    return counts


def distribution_tests(patients: pd.DataFrame, column: str, levels: Sequence,
                       group_order: Sequence[str]) -> pd.DataFrame:
    """Tests of a whole categorical distribution between two groups.

    Fisher's exact test on the full 2×k table, and Pearson's chi-square on it
    (Yates' correction is defined for 2×2 tables only, so none is applied).
    """
    table = [[int(((patients["cohort"] == g) & (patients[column] == lvl)).sum()) for lvl in levels]
             for g in group_order]
    chi = chisq_test(table, correct=False).iloc[0]
    return pd.DataFrame([
        {"Table": f"{len(group_order)}×{len(levels)} ({', '.join(group_order)})",
         "Test": "Fisher exact (two-sided)", "Statistic": "", "df": "", "P": fisher_exact(table)},
        {"Table": f"{len(group_order)}×{len(levels)} ({', '.join(group_order)})",
         "Test": "Pearson chi-square (no continuity correction)", "Statistic": f"{chi['statistic']:.3f}",
         "df": int(chi["df"]), "P": chi["p_value"]},
    ]).assign(P=lambda f: f["P"].map(lambda p: f"{p:.4f}"))


def table_one_frame(patients: pd.DataFrame) -> pd.DataFrame:
    """The patients table prepared for Table 1: readable labels, booleans as yes/no."""
    frame = patients.copy()
    for column in ("abl_kd_mutation", "bridged_to_hsct", "high_risk_genetics", "tregs_high"):
        if column in frame:
            frame[column] = yes_no(frame[column])
    if "disease_status" in frame:
        frame["disease_status"] = frame["disease_status"].map(STATUS_LABELS).fillna(frame["disease_status"])
    return frame


def cohort_profile(patients: pd.DataFrame, flags: dict, group_order: Sequence[str]
                   ) -> pd.DataFrame:
    """Share of patients with each yes/no characteristic, per cohort, with exact 95 % CIs.

    ``flags`` maps a label to a boolean Series over ``patients`` (missing counts as no,
    and the count of missing values is returned so nothing is hidden).
    """
    rows = []
    for label, flag in flags.items():
        for group in group_order:
            members = patients["cohort"] == group
            values = flag[members]
            k, n = int(values.fillna(False).astype(bool).sum()), int(members.sum())
            low, high = clopper_pearson(k, n)
            rows.append({"characteristic": label, "cohort": group, "k": k, "n": n, "lower": low,
                         "upper": high, "missing": int(values.isna().sum())})
    return pd.DataFrame(rows)
