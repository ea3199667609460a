"""Baseline characteristics: disease status, mutations and Table 1 inputs."""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

pass
from helpers.stats.proportions import chisq_test, clopper_pearson, fisher_exact

#: The level a Table 1 or a composition chart shows for a missing value of a categorical
#: characteristic: the contract's optional fields (diagnosis, disease status, CAR target) are not
#: always known, and an unknown value is neither hidden nor shown as a value.
NOT_RECORDED = "not recorded"

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
    """Tidy counts: one row per (group, level) with n and the group total N.

    A missing value is counted as the level :data:`NOT_RECORDED` (after the ``order`` levels),
    so every group's n add up to its N."""
    values = patients[column].astype(object).where(patients[column].notna(), NOT_RECORDED)
    frame = pd.DataFrame({group: patients[group].to_numpy(), column: values.to_numpy()})
    counts = frame.groupby([group, column]).size().rename("n").reset_index()
    totals = frame.groupby(group).size()
    counts["N"] = counts[group].map(totals)
    if order is not None:
        levels = list(order) + ([NOT_RECORDED] if (values == NOT_RECORDED).any() and NOT_RECORDED not in order else [])
        full = pd.MultiIndex.from_product([totals.index, levels], names=[group, column])
        counts = counts.set_index([group, column]).reindex(full, fill_value=0).reset_index()
        counts["N"] = counts[group].map(totals)
    return counts


def recorded_columns(patients: pd.DataFrame, columns: Sequence[str]) -> tuple[list[str], list[str]]:
    """``columns`` split into those with a value for at least one patient and those absent from
    ``patients`` or empty for every patient (an optional field not recorded: left out of Table 1,
    never shown as a value)."""
    recorded = [c for c in columns if c in patients and patients[c].notna().any()]
    return recorded, [c for c in columns if c not in recorded]


def status_counts(patients: pd.DataFrame, group: str = "cohort") -> Optional[pd.DataFrame]:
    """Disease status before CAR-T per group (:func:`counts_by`, levels in the order of
    :data:`STATUS_LABELS`, missing as :data:`NOT_RECORDED`), or None when no patient has a
    recorded status: there is nothing to chart."""
    if "disease_status" not in patients or patients["disease_status"].isna().all():
        return None
    present = set(patients["disease_status"].dropna())
    return counts_by(patients, "disease_status", group,
                     order=[s for s in STATUS_LABELS if s in present] + sorted(present - set(STATUS_LABELS)))


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
    """The patients table prepared for Table 1: readable labels, booleans as yes/no, and a
    missing value of a categorical column as :data:`NOT_RECORDED` (counted, never a value)."""
    frame = patients.copy()
    for column in ("abl_kd_mutation", "bridged_to_hsct", "high_risk_genetics", "tregs_high"):
        if column in frame:
            frame[column] = yes_no(frame[column])
    if "disease_status" in frame:
        frame["disease_status"] = frame["disease_status"].map(STATUS_LABELS).fillna(frame["disease_status"])
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]) or pd.api.types.is_bool_dtype(frame[column]):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), NOT_RECORDED)
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
