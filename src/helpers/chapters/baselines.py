"""Code specific to the baselines chapter: study 000's published-vs-book composition tables and study facts."""

from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

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
