"""The published register: every quantitative statement of the four seed papers.

``data/published_register.csv`` holds one row per published number. Chapters
never type a published value themselves: they look it up here by
``register_id``, so a published number exists in exactly one place.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from helpers.paths import REGISTER_CSV

REGISTER_COLUMNS = (
    "register_id",   # unique slug, e.g. 000-response-lbc
    "study",         # 000, 001, 003 or 004
    "location",      # where in the paper: section/paragraph, table or figure
    "quantity",      # what the number is, in the book's own words
    "group",         # cohort/subgroup, "A vs B" for comparisons, "all", "patient 1"
    "kind",          # proportion, count, p_value, hazard_ratio, survival_rate, ...
    "numerator",     # integer count where the paper gives or implies one
    "denominator",
    "value",         # the number as a float (percentages in percent, P as a fraction)
    "value_text",    # the number exactly as printed, e.g. "46.2%", "< 0.001", "1.000"
    "relation",      # "=", "<" or ">" (P < 0.001 is relation "<", value 0.001)
    "unit",
    "ci_lower",
    "ci_upper",
    "test_evident",  # for P values: the test the paper evidently used, or "not stated"
    "compares",      # for P values: register_ids of the compared rows, ";"-separated
    "note",          # implied denominators, disagreements within the paper, caveats
)

KINDS = (
    "count", "proportion", "p_value", "hazard_ratio", "survival_rate", "cumulative_incidence",
    "median_time", "time", "date", "dose", "lab_value", "day", "age", "score", "other",
)


@lru_cache(maxsize=4)
def _load(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"study": str, "register_id": str, "value_text": str},
                        keep_default_na=False, na_values=[""])
    missing = [c for c in REGISTER_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: register is missing columns {missing}")
    duplicated = frame.loc[frame["register_id"].duplicated(), "register_id"].tolist()
    if duplicated:
        raise ValueError(f"{path}: register_id must be unique; repeated: {duplicated}")
    return frame.set_index("register_id", drop=False)


def load_register(path: Path | str = REGISTER_CSV) -> pd.DataFrame:
    """The whole register as a DataFrame indexed by ``register_id``."""
    return _load(str(path)).copy()


def entry(register_id: str, path: Path | str = REGISTER_CSV) -> pd.Series:
    """One register row; a clear error if the id does not exist."""
    frame = _load(str(path))
    if register_id not in frame.index:
        raise KeyError(f"{path}: no register row with register_id {register_id!r}")
    return frame.loc[register_id]


def count(register_id: str) -> int:
    """The integer numerator of a register row (a published count)."""
    row = entry(register_id)
    if pd.isna(row["numerator"]):
        raise ValueError(f"register row {register_id!r} has no numerator")
    return int(row["numerator"])


def denominator(register_id: str) -> int:
    row = entry(register_id)
    if pd.isna(row["denominator"]):
        raise ValueError(f"register row {register_id!r} has no denominator")
    return int(row["denominator"])


def value(register_id: str) -> float:
    """The published number as a float."""
    return float(entry(register_id)["value"])
