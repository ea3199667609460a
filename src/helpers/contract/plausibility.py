"""Plausibility rules: values each column accepts that cannot be true together, or hardly at all.

The rules are declared once, in :data:`helpers.contract.spec.PLAUSIBILITY_RULES` (id, tables,
columns, severity, message template); this module enforces them and the data dictionary lists
them. :func:`cohort_problems` is called at the end of the cross-table validation
(``helpers.contract.validate._cohort_problems``) with the same best-effort typed frames, raw
frames, file row numbers and file names, and reports in the same shape (source, table, column,
row, rule, value):

* a rule of severity ``error`` adds a problem: the cohort is refused with file, column, row and
  rule, like every other contract problem;
* a rule of severity ``warning`` is issued as a :class:`PlausibilityWarning` (a
  :class:`~helpers.contract.validate.ContractWarning` whose ``problem`` holds the same dict and
  whose ``note`` is ready for a cohort's notes): the cohort is read, the warning is printed.

``infusion_dates.csv`` (calendar dates, outside the contract tables) is read by
``helpers.chapters.context.read_infusion_months``; its rule is here as
:func:`infusion_date_problems`, for that reader to call.
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from helpers.contract import validate as _v
from helpers.contract.spec import (
    AGE_SLACK_YEARS,
    CAR_COPIES_LIMITS,
    DAYS_PER_YEAR,
    HEMOGLOBIN_G_PER_DL_BELOW,
    INVENTED_ORIGINS,
    LAB_VALUE_LIMITS,
    PLAUSIBILITY,
    TABLES,
    TREATMENT_CATEGORIES,
    TREATMENT_YEARS_BEFORE_INFUSION,
)
from helpers.paths import REGISTER_CSV


class PlausibilityWarning(_v.ContractWarning):
    """A plausibility rule of severity ``warning``: the data are read, the reader is told.

    ``problem`` is the problem dict (source, table, column, row, rule, value); ``note`` the
    same as a cohort note (source, table, note)."""

    def __init__(self, problem: Mapping[str, Any]):
        self.problem = dict(problem)
        super().__init__("plausibility warning: " + _v._format_problem(self.problem))

    def __reduce__(self):  # made again from its problem (the validated-cohort cache pickles it)
        return (self.__class__, (self.problem,))

    @property
    def note(self) -> dict:
        return dict(source=self.problem["source"], table=self.problem["table"],
                    note="warning: " + _v._format_problem(self.problem).split(": ", 1)[1])


# --------------------------------------------------------------------------
# Which studies are the book's own (their rows may be synthetic)
# --------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _register_studies(path: str, mtime: float) -> frozenset:
    with open(path, newline="", encoding="utf-8") as handle:
        return frozenset(row["study"].strip() for row in csv.DictReader(handle) if row.get("study"))


def reproduced_studies(register_csv: Path = REGISTER_CSV) -> frozenset:
    """Studies the book reproduces: the ``study`` column of the published register, as the intake
    (``helpers.site.intake``) and the chapters (``ChapterContext.reproduced_studies``) read it.
    Their synthetic cohorts (data/synthetic/<study>) are the seeds; any other study is a user's."""
    path = Path(register_csv)
    if not path.is_file():
        return frozenset()
    return _register_studies(str(path), path.stat().st_mtime)


# --------------------------------------------------------------------------
# Collecting findings
# --------------------------------------------------------------------------

class _Findings:
    """The typed frames of one cohort and the findings on them, in validate's problem shape."""

    def __init__(self, typed: Mapping[str, pd.DataFrame], raws: Mapping[str, pd.DataFrame],
                 rows: Mapping[str, Sequence[int]], sources: Mapping[str, str]):
        self.typed, self.raws, self.rows, self.sources = typed, raws, rows, sources
        self.items: list[dict] = []
        self._keys: dict[str, list[Optional[tuple]]] = {}

    def has(self, table: str, *columns: str) -> bool:
        return table in self.typed and all(c in self.typed[table] for c in columns)

    def keyed(self, table: str) -> bool:
        return self.has(table, "study_id", "patient_id")

    def keys(self, table: str) -> list[Optional[tuple]]:
        if table not in self._keys:  # several rules ask; a registry's tables have millions of rows
            self._keys[table] = _v._patient_keys(self.typed[table])
        return self._keys[table]

    def row(self, table: str, pos: int) -> int:
        return self.rows[table][pos]

    def shown(self, table: str, column: str, pos: int) -> Optional[str]:
        return _v._display(self.raws[table][column].iloc[pos], column)

    def add(self, rule_id: str, table: str, column: str, pos: Optional[int], found: Optional[str] = None,
            **fields: Any) -> None:
        """One finding of rule ``rule_id`` on a cell; ``found`` is the cell as shown, ``fields`` fill
        the rule's message template."""
        rule = PLAUSIBILITY[rule_id]
        text = rule.message.format(**fields) + f" (plausibility rule {rule.id})"
        self.items.append(dict(source=self.sources[table], table=table, column=column,
                               row=None if pos is None else self.row(table, pos), rule=text, value=found,
                               severity=rule.severity))

    def per_patient(self, table: str, column: str) -> dict[tuple, tuple[Any, int]]:
        """Patient key -> (value, file row) of a one-row-per-patient table (first row kept)."""
        out: dict[tuple, tuple[Any, int]] = {}
        if self.keyed(table) and column in self.typed[table]:
            for pos, (k, v) in enumerate(zip(self.keys(table), self.typed[table][column])):
                if k is not None and k not in out:
                    out[k] = (v, self.row(table, pos))
        return out


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


# --------------------------------------------------------------------------
# Ranges per unit
# --------------------------------------------------------------------------

def _percent_as_fraction(f: _Findings) -> None:
    rule = PLAUSIBILITY["percent_as_fraction"]
    for table in rule.tables:
        for column in rule.columns:
            if not f.has(table, column):
                continue
            values = [(pos, v) for pos, v in enumerate(f.typed[table][column]) if _finite(v)]
            if values and all(v <= 1 for _, v in values) and any(v > 0 for _, v in values):
                shown = [f.row(table, pos) for pos, _ in values]
                f.add(rule.id, table, column, values[0][0], f.shown(table, column, values[0][0]),
                      n=len(values), rows_text=_v._rows_text(shown))


def _lab_values(f: _Findings) -> None:
    if not f.has("labs", "analyte", "value", "unit"):
        return
    labs = f.typed["labs"]
    hemoglobin = []
    values = labs["value"].to_numpy(dtype=float, na_value=np.nan)  # best-effort typed: float or NaN
    checked = np.isfinite(values) & labs["unit"].isin(list(LAB_VALUE_LIMITS)).to_numpy()
    for pos in np.flatnonzero(checked).tolist():  # a registry has millions of lab rows: only these
        analyte, value, unit = labs["analyte"].iat[pos], float(values[pos]), labs["unit"].iat[pos]
        if analyte == "hemoglobin" and unit == "g/L":
            hemoglobin.append((pos, value))
        warn, impossible = LAB_VALUE_LIMITS[unit]
        if value <= warn and value <= impossible:
            continue
        for rule_id, limit in (("lab_value_impossible", impossible), ("lab_value_implausible", warn)):
            if value > limit:
                f.add(rule_id, "labs", "value", pos, f.shown("labs", "value", pos), analyte=analyte,
                      value=_v._fmt_num(value), unit=unit, limit=_v._fmt_num(float(limit)))
                break
    if hemoglobin and all(v < HEMOGLOBIN_G_PER_DL_BELOW for _, v in hemoglobin) \
            and any(v > 0 for _, v in hemoglobin):
        first = hemoglobin[0][0]
        f.add("hemoglobin_in_g_per_dl", "labs", "value", first, f.shown("labs", "value", first),
              limit=_v._fmt_num(HEMOGLOBIN_G_PER_DL_BELOW), n=len(hemoglobin),
              rows_text=_v._rows_text([f.row("labs", p) for p, _ in hemoglobin]))


def _car_copies(f: _Findings) -> None:
    if not f.has("kinetics", "copies_per_ug_gdna"):
        return
    warn, impossible = CAR_COPIES_LIMITS
    for pos, value in enumerate(f.typed["kinetics"]["copies_per_ug_gdna"]):
        if not _finite(value):
            continue  # missing or not finite: reported by the column's own checks
        for rule_id, limit in (("car_copies_impossible", impossible), ("car_copies_implausible", warn)):
            if value > limit:
                f.add(rule_id, "kinetics", "copies_per_ug_gdna", pos,
                      f.shown("kinetics", "copies_per_ug_gdna", pos), value=_v._fmt_num(value),
                      limit=_v._fmt_num(float(limit)))
                break


# --------------------------------------------------------------------------
# Day offsets around the infusion
# --------------------------------------------------------------------------

def _years(days: float) -> str:
    return f"{-days / DAYS_PER_YEAR:.1f}"


def _treatment_days(f: _Findings) -> None:
    if not f.has("treatments", "start_day"):
        return
    tx = f.typed["treatments"]
    earliest = -TREATMENT_YEARS_BEFORE_INFUSION * DAYS_PER_YEAR
    too_early = set()
    for column in ("start_day", "end_day"):
        if column not in tx:
            continue
        for pos, day in enumerate(tx[column]):
            if _finite(day) and day < earliest:
                too_early.add((pos, column))
                f.add("treatment_too_early", "treatments", column, pos, f.shown("treatments", column, pos),
                      years=_years(day), limit=TREATMENT_YEARS_BEFORE_INFUSION)
    if not f.keyed("treatments"):
        return
    ages = f.per_patient("patients", "age_years")
    followup = f.per_patient("outcomes", "followup_days")
    keys = f.keys("treatments")
    for pos, (key, start) in enumerate(zip(keys, tx["start_day"])):
        age, age_row = ages.get(key, (None, None))
        if (pos, "start_day") in too_early or not _finite(start) or not _finite(age):
            continue
        if start < -(age + AGE_SLACK_YEARS) * DAYS_PER_YEAR:
            f.add("treatment_before_birth", "treatments", "start_day", pos, f.shown("treatments", "start_day", pos),
                  years=_years(start), age=_v._fmt_num(age), patients_source=f.sources["patients"],
                  patients_row=age_row)
    if "end_day" in tx:
        for pos, (key, end) in enumerate(zip(keys, tx["end_day"])):
            fu, fu_row = followup.get(key, (None, None))
            if _finite(end) and _finite(fu) and end > fu:
                f.add("treatment_after_followup", "treatments", "end_day", pos, f.shown("treatments", "end_day", pos),
                      followup=_v._fmt_num(fu), outcomes_source=f.sources["outcomes"], outcomes_row=fu_row)


# --------------------------------------------------------------------------
# Event order and grade semantics
# --------------------------------------------------------------------------

def _death_cause(f: _Findings) -> None:
    if not f.has("outcomes", "death_cause", "relapsed"):
        return
    out = f.typed["outcomes"]
    for pos, (cause, relapsed) in enumerate(zip(out["death_cause"], out["relapsed"])):
        if cause == "relapse" and relapsed is False:  # a missing relapsed is reported by its column
            f.add("death_from_relapse_without_relapse", "outcomes", "death_cause", pos,
                  f.shown("outcomes", "death_cause", pos))


def _grades(f: _Findings) -> None:
    if not f.has("adverse_events", "grade"):
        return
    ae = f.typed["adverse_events"]
    died = f.per_patient("outcomes", "died")
    keys = f.keys("adverse_events") if f.keyed("adverse_events") else [None] * len(ae)
    timing = [c for c in ("onset_day", "duration_days") if c in ae]
    for pos, (key, grade, *days) in enumerate(zip(keys, ae["grade"], *(ae[c] for c in timing))):
        if grade == 5 and key in died and died[key][0] is False:
            f.add("grade5_without_death", "adverse_events", "grade", pos, f.shown("adverse_events", "grade", pos),
                  outcomes_source=f.sources["outcomes"], outcomes_row=died[key][1])
        if grade == 0:
            for column, day in zip(timing, days):
                if not pd.isna(day):
                    f.add("grade0_with_timing", "adverse_events", column, pos,
                          f.shown("adverse_events", column, pos))


# --------------------------------------------------------------------------
# Flags agree with rows
# --------------------------------------------------------------------------

def _treatment_rows(f: _Findings) -> dict[tuple, list[tuple[str, float, int]]]:
    """Patient key -> [(category, start_day, file row)] of the treatments table."""
    tx = f.typed["treatments"]
    by_patient: dict[tuple, list[tuple[str, float, int]]] = {}
    for pos, (key, category, start) in enumerate(zip(f.keys("treatments"), tx["category"], tx["start_day"])):
        if key is not None and isinstance(category, str):
            by_patient.setdefault(key, []).append((category, start, f.row("treatments", pos)))
    return by_patient


def _hsct_detail(hsct: list[tuple[str, float, int]], relapse_day: float) -> str:
    parts = []
    for _, start, row in hsct:
        if not _finite(start):
            continue
        where = "before the infusion" if start <= 0 else f"after the relapse on day {_v._fmt_num(relapse_day)}"
        parts.append(f"day {_v._fmt_num(start)} (row {row}) is {where}")
    return ("; its allo-HSCT rows: " + ", ".join(parts)) if parts else ""


def _flags_agree_with_rows(f: _Findings) -> None:
    if not (f.keyed("treatments") and f.has("treatments", "category", "start_day") and f.keyed("patients")):
        return
    by_patient = _treatment_rows(f)
    relapsed = f.per_patient("outcomes", "relapsed")
    relapse_days = f.per_patient("outcomes", "relapse_day")
    patients = f.typed["patients"]
    flags = patients["bridged_to_hsct"] if "bridged_to_hsct" in patients else [None] * len(patients)
    treatments_source = f.sources["treatments"]
    for pos, (key, flag) in enumerate(zip(f.keys("patients"), flags)):
        if key is None:
            continue
        rows = by_patient.get(key, [])
        misspelt = any(category not in TREATMENT_CATEGORIES for category, _, _ in rows)  # refused already
        if not misspelt and not any(category == "CAR-T" for category, _, _ in rows):
            f.add("no_car_t_row", "patients", "patient_id", pos, f.shown("patients", "patient_id", pos),
                  treatments_source=treatments_source)
        if flag is None or pd.isna(flag):
            continue  # unknown flag: the treatments table is the record
        relapse_day = relapse_days.get(key, (None, None))[0] if relapsed.get(key, (None,))[0] is True else None
        until = relapse_day if _finite(relapse_day) else math.inf
        hsct = [r for r in rows if r[0] == "allo-HSCT"]
        bridging = [r for r in hsct if _finite(r[1]) and 0 < r[1] < until]
        if flag is True and not bridging:
            f.add("hsct_flag_without_row", "patients", "bridged_to_hsct", pos,
                  f.shown("patients", "bridged_to_hsct", pos), treatments_source=treatments_source,
                  detail=_hsct_detail(hsct, until))
        elif flag is False and bridging:
            _, day, row = min(bridging, key=lambda r: r[1])
            f.add("hsct_row_without_flag", "patients", "bridged_to_hsct", pos,
                  f.shown("patients", "bridged_to_hsct", pos), treatments_source=treatments_source,
                  treatments_row=row, day=_v._fmt_num(day))


# --------------------------------------------------------------------------
# Origin on a user's data
# --------------------------------------------------------------------------

def _origin(f: _Findings) -> None:
    """One warning per study and invented origin, on the first table holding it (patients first:
    the chapter banner reads the patients' origin), naming the other tables that hold it too."""
    reproduced = reproduced_studies()
    groups: dict[tuple[str, str], dict[str, list[int]]] = {}
    for table in PLAUSIBILITY["origin_invented_on_user_study"].tables:
        if not f.has(table, "study_id", "origin"):
            continue
        frame = f.typed[table]
        study, origin = frame["study_id"], frame["origin"]  # best-effort typed: text or NaN
        invented = (study.notna() & ~study.isin(list(reproduced)) & origin.isin(list(INVENTED_ORIGINS))).to_numpy()
        if not invented.any():
            continue
        studies, origins = study.to_numpy(dtype=object), origin.to_numpy(dtype=object)
        # the few (study, origin) pairs in order of first appearance, then each pair's rows
        for pair in dict.fromkeys(zip(studies[invented].tolist(), origins[invented].tolist())):
            positions = np.flatnonzero(invented & (studies == pair[0]) & (origins == pair[1])).tolist()
            groups.setdefault(pair, {})[table] = positions
    for (study, origin), tables in groups.items():
        table, positions = next(iter(tables.items()))
        also = [f.sources[t] for t in tables if t != table]
        f.add("origin_invented_on_user_study", table, "origin", positions[0],
              f.shown(table, "origin", positions[0]), origin=origin, study=_v._display(study, "study_id"),
              rows_text=_v._rows_text([f.row(table, p) for p in positions])
              + (f" (and in {', '.join(also)})" if also else ""))


_CHECKS = (_percent_as_fraction, _lab_values, _car_copies, _treatment_days, _death_cause, _grades,
           _flags_agree_with_rows, _origin)


def findings(typed: Mapping[str, pd.DataFrame], raws: Mapping[str, pd.DataFrame],
             rows: Mapping[str, Sequence[int]], sources: Mapping[str, str]) -> list[dict]:
    """Every plausibility finding on one cohort: problem dicts plus their rule's ``severity``.

    ``typed`` holds validate's best-effort typed frames (a cell that failed parsing is missing, so
    a rule never repeats a type error), ``raws`` the frames as read, ``rows`` the file row of
    every frame row, ``sources`` the file names."""
    known = {name: frame for name, frame in typed.items() if name in TABLES}
    f = _Findings(known, raws, rows, sources)
    for check in _CHECKS:
        check(f)
    return f.items


def cohort_problems(typed: Mapping[str, pd.DataFrame], raws: Mapping[str, pd.DataFrame],
                    rows: Mapping[str, Sequence[int]], sources: Mapping[str, str]) -> list[dict]:
    """The errors among :func:`findings`, as validate's problem dicts; the warnings are issued
    as :class:`PlausibilityWarning` (printed, and never a reason to refuse the data)."""
    errors = []
    for item in findings(typed, raws, rows, sources):
        problem = {k: v for k, v in item.items() if k != "severity"}
        if item["severity"] == "error":
            errors.append(problem)
        else:
            # Located at the data file and row, not at this module: a warning printed into a
            # chapter's output must not carry the absolute path of the source code (and "<...>"
            # keeps linecache from echoing a line of a file that happens to bear the name).
            warnings.warn_explicit(PlausibilityWarning(problem), PlausibilityWarning,
                                   filename=f"<{problem['source']}>", lineno=int(problem["row"] or 0),
                                   module=__name__)
    return errors


# --------------------------------------------------------------------------
# Calendar dates (infusion_dates.csv, outside the contract tables)
# --------------------------------------------------------------------------

def infusion_date_problems(frame: pd.DataFrame, source: str = "infusion_dates.csv",
                           today: Optional[_dt.date] = None) -> list[dict]:
    """Problems of rule ``future_infusion_date`` in ``infusion_dates.csv`` as read (text cells,
    1-based data rows): an ``infusion_date`` after ``today``. Unreadable dates are left to the
    reader, which refuses them."""
    if "infusion_date" not in frame:
        return []
    today = today or _dt.date.today()
    rule = PLAUSIBILITY["future_infusion_date"]
    dates = pd.to_datetime(frame["infusion_date"].astype(str).str.strip(), format="%Y-%m-%d", errors="coerce")
    problems = []
    for row, date in enumerate(dates, start=1):
        if not pd.isna(date) and date.date() > today:
            problems.append(dict(source=source, table="infusion_dates", column="infusion_date", row=row,
                                 rule=rule.message + f" (plausibility rule {rule.id})",
                                 value=_v._mask(frame["infusion_date"].iloc[row - 1])))
    return problems
