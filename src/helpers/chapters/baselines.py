"""Code specific to the baselines chapter: study 000's published-vs-book composition tables and study facts."""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from helpers.clinical import baseline
from helpers.clinical.response import SHORT_STATUS_LABELS
from helpers.contract.validate import declared_covariates
from helpers.plots import figures, tables
from helpers.reproduction import register as reg
from helpers.reproduction.ledger import Ledger
from helpers.stats.proportions import clopper_pearson

# Register ids use a short key per cohort of study 000.
COHORT_KEYS_000 = {"CML-LBC": "lbc", "Ph+ ALL": "phall"}
COHORT_ORDER_000 = ("CML-LBC", "Ph+ ALL")
# Disease status in Table 1 from least to most advanced disease, not alphabetically.
DISEASE_STATUS_ORDER = ["MRD-positive (flow cytometry)", "First relapse", "Second or later relapse",
                        "Relapsed/refractory (unspecified)", "Primary refractory", "Refractory blast phase"]


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


# --------------------------------------------------------------------------
# Any cohort: Table 1 and disease status without invented values
# --------------------------------------------------------------------------

def cohort_table_one(patients: pd.DataFrame, labels: dict, numeric: Sequence[str],
                     group: str = "cohort") -> tuple[pd.DataFrame, list[str]]:
    """Table 1 of any cohort over the characteristics ``labels`` names (column -> label), then
    the study's declared covariates (``covariates.csv``, in their declared order, a category's
    levels in its declared order), and the labels of those left out because no patient has a
    value (an optional field such as the CAR target or the disease status not recorded: never
    shown as "100 %" of anything). A categorical value missing for some patients is counted as
    "not recorded"; ``numeric`` columns and declared numbers are summarised as median [Q1,Q3]."""
    labels, numeric, order = dict(labels), list(numeric), {}
    declared = declared_covariates(patients)
    for cov in declared:
        labels[cov.name] = f"{cov.label}, {cov.unit}" if cov.unit else cov.label
        if cov.type == "number":
            numeric.append(cov.name)
        else:  # levels in the declared order (yes before no), "not recorded" after them
            order[cov.name] = list(cov.levels) if cov.type == "category" else ["yes", "no"]
    shown = patients.assign(**{c.name: baseline.yes_no(patients[c.name]) for c in declared
                               if c.type == "yes_no" and c.name in patients})
    recorded, left_out = baseline.recorded_columns(shown, list(labels))
    if "disease_status" in recorded:
        order["disease_status"] = DISEASE_STATUS_ORDER
    table = tables.table_one(
        baseline.table_one_frame(shown), columns=recorded, groupby=group,
        categorical=[c for c in recorded if c not in numeric], nonnormal=[c for c in recorded if c in numeric],
        labels={c: labels[c] for c in recorded}, order={c: v for c, v in order.items() if c in recorded} or None)
    return table, [labels[c] for c in left_out]


def disease_status_figure(patients: pd.DataFrame, group_order: Sequence[str], title: str):
    """The make-up of disease status before CAR-T per cohort (patients without a recorded status
    as "not recorded"), or None when no patient has one: no chart of an empty category."""
    counts = baseline.status_counts(patients)
    if counts is None:
        return None
    return figures.composition_bars(counts, group="cohort", category="disease_status", group_order=group_order,
                                    category_order=list(dict.fromkeys(counts["disease_status"])),
                                    labels=SHORT_STATUS_LABELS, title=title)
