"""Baseline characteristics: disease status, mutations and Table 1 inputs."""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from . import register as reg
from .ledger import Ledger
from .stats import chisq_test, clopper_pearson, fisher_exact

STATUS_LABELS = {
    "primary_refractory": "Primary refractory",
    "first_relapse": "First relapse",
    "second_or_later_relapse": "Second or later relapse",
    "relapsed_refractory_unspecified": "Relapsed/refractory (unspecified)",
    "blast_phase_refractory": "Refractory blast phase",
    "mrd_positive": "MRD-positive (flow cytometry)",
}
# Register ids use a short key per cohort of study 000.
COHORT_KEYS_000 = {"CML-LBC": "lbc", "Ph+ ALL": "phall"}
COHORT_ORDER_000 = ("CML-LBC", "Ph+ ALL")


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


def published_vs_book(patients: pd.DataFrame, *, column: str, levels: Sequence,
                      id_pattern: str, labels: dict, ledger: Optional[Ledger] = None,
                      cohort_keys: dict = COHORT_KEYS_000) -> pd.DataFrame:
    """Published k/N (%) next to the cohort's k/N (%), one row per level and cohort.

    ``id_pattern`` names the register rows, e.g. ``"000-status-{level}-{cohort}"``.
    Each row found in the register is recorded in the ledger (basis: synthetic).
    """
    rows = []
    published_ids = set(reg.load_register().index)
    for level in levels:
        for cohort, key in cohort_keys.items():
            members = patients[patients["cohort"] == cohort]
            k, n = int((members[column] == level).sum()), len(members)
            register_id = id_pattern.format(level=level, cohort=key)
            entry = reg.entry(register_id) if register_id in published_ids else None
            published = (f"{int(entry['numerator'])}/{int(entry['denominator'])} ({entry['value_text']})"
                         if entry is not None else "not published")
            if ledger is not None and entry is not None:
                ledger.record_proportion(register_id, k, n, basis="synthetic",
                                         note="count forced by the synthetic-cohort generator")
            low, high = clopper_pearson(k, n)
            rows.append({"Characteristic": labels.get(level, str(level)), "Cohort": cohort,
                         "Published": published, "Book (synthetic)": f"{k}/{n} ({100 * k / n:.1f}%)",
                         "95% CI (Clopper–Pearson)": f"{100 * low:.1f}–{100 * high:.1f}%",
                         "register_id": register_id if entry is not None else ""})
    return pd.DataFrame(rows)


def distribution_tests(patients: pd.DataFrame, column: str, levels: Sequence,
                       group_order: Sequence[str] = COHORT_ORDER_000) -> pd.DataFrame:
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


def cohort_profile(patients: pd.DataFrame, flags: dict, group_order: Sequence[str] = COHORT_ORDER_000
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


# Published facts about the studies themselves (not results), shown once in the baselines chapter.
STUDY_FACTS = {
    "000-period-start": "first month of CAR-T treatment in study 000",
    "000-period-end": "last month of CAR-T treatment in study 000",
    "000-bg-cml-share-min": "background cited by the letter, not a study result",
    "000-bg-cml-share-max": "background cited by the letter, not a study result",
    "000-bg-tki-resistance-mutations": "background cited by the letter (printed as 'more than 100'), "
                                       "not a study result",
}
COHORT_SIZE_IDS = {"003": "003-n-all", "004": "004-n-all"}


def study_facts(book) -> pd.DataFrame:
    """Show and record the studies' sizes and the published facts that are not results.

    Cohort sizes come from the cohorts in ``data_dir`` (synthetic: forced to the
    published count); the other facts are transcribed from the register as printed.
    """
    rows = []
    for study, register_id in COHORT_SIZE_IDS.items():
        if study in book.studies:
            n = len(book.cohort(study)["patients"])
            row = book.ledger.record(register_id, n, basis="synthetic", note="patients in the cohort")
            rows.append(row)
    for register_id, note in STUDY_FACTS.items():
        entry = reg.entry(register_id)
        rows.append(book.ledger.record_text(register_id, str(entry["value_text"]), note=note))
    frame = pd.DataFrame(rows)
    return frame[["register_id", "quantity", "location", "published", "reproduced", "status", "note"]]
