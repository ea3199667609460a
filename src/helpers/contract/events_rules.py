"""Rules of the optional ``events`` table beyond its columns' types and ranges.

The column checks (code pattern, ``day`` >= 0, ``grade`` 0–5) and the cross-table rule every
table obeys (each patient exists in ``patients``) are validate's own. What they cannot see is
the meaning of the reserved codes (:data:`helpers.contract.spec.RESERVED_EVENTS`):

* ``acute_gvhd`` is graded I–IV, so a grade, when given, is 1–4;
* a GVHD row records GVHD that occurred: grade 0 (absent) has no row;
* a count recovery has no grade, and happens once per patient (its first day).

:func:`events_problems` returns validate's problem dicts (source, table, column, row, rule,
value); ``helpers.contract.validate._cohort_problems`` adds them to the cohort's problems.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

#: Reserved codes that are a single dated milestone per patient, without a grade.
MILESTONES = ("anc_recovery", "platelet_recovery")

RULES = (
    "`events`: an `acute_gvhd` grade is 1–4 (overall grade I–IV); a GVHD row records GVHD that "
    "occurred, so its grade is not 0.",
    "`events`: `anc_recovery` and `platelet_recovery` have no grade and one row per patient (the first "
    "day of the recovery).",
)


def _shown(value) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def events_problems(typed: Mapping[str, pd.DataFrame], raws: Mapping[str, pd.DataFrame],
                    rows: Mapping[str, Sequence[int]], sources: Mapping[str, str]) -> list[dict]:
    """Problems of the ``events`` table's reserved codes (empty without an events table).
    ``typed``/``raws``/``rows``/``sources`` as validate's cohort check holds them."""
    if "events" not in typed or not {"event", "patient_id"} <= set(typed["events"].columns):
        return []
    frame, raw, row_of, source = typed["events"], raws["events"], rows["events"], sources["events"]
    problems = []

    def add(column, pos, rule):
        problems.append(dict(source=source, table="events", column=column, row=row_of[pos], rule=rule,
                             value=_shown(raw[column].iloc[pos]) if column in raw else None))

    code = frame["event"].astype(object).to_numpy()
    grade = (pd.to_numeric(frame["grade"], errors="coerce").to_numpy(float) if "grade" in frame
             else np.full(len(frame), np.nan))
    absent = "a GVHD row records GVHD that occurred, so grade 0 (absent) has no row"
    for pos in np.flatnonzero((code == "acute_gvhd") & ((grade < 1) | (grade > 4))).tolist():
        add("grade", pos, "must be 1–4 for acute_gvhd (overall grade I–IV)" + (f"; {absent}" if grade[pos] == 0 else ""))
    for pos in np.flatnonzero((code == "chronic_gvhd") & (grade == 0)).tolist():
        add("grade", pos, f"must not be 0 for chronic_gvhd: {absent}")
    milestone = np.isin(code, MILESTONES)
    for pos in np.flatnonzero(milestone & ~np.isnan(grade)).tolist():
        add("grade", pos, f"must be empty for {code[pos]} (a count recovery has no grade)")
    keys = frame[["study_id", "patient_id", "event"]].astype(str).agg("\x1f".join, axis=1) if "study_id" in frame \
        else frame["patient_id"].astype(str) + "\x1f" + frame["event"].astype(str)
    first_row: dict[str, int] = {}
    for pos in np.flatnonzero(milestone).tolist():
        key = keys.iloc[pos]
        if key in first_row:
            add("event", pos, f"{code[pos]} is recorded twice for this patient (first in {source} row "
                              f"{first_row[key]}): a recovery has one row, its first day")
        else:
            first_row[key] = row_of[pos]
    return problems
