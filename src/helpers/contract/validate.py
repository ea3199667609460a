"""Validation of cohort data against the contract declared in :mod:`helpers.contract.spec`.

Everything here is generated from the declaration, so validation, the data
dictionary and the synthetic generator cannot drift apart:

* :func:`schema` builds a pandera ``DataFrameSchema`` for one table;
* :func:`validate_table` validates one table and explains every problem;
* :func:`validate_cohort` validates a set of tables and the rules that tie
  them together (patients exist, relapse before last follow-up, ...);
* :func:`load_cohort` reads a folder of ``<table>.csv`` / ``<table>.xlsx``;
* :func:`dictionary` / :func:`dictionary_markdown` render the data dictionary.

Problems are never fixed silently. Each one becomes one line of a
:class:`ContractError`::

    patients.csv: table 'patients', column 'sex', row 2: must be one of: male, female, unknown (found 'M')

where ``row`` is the 1-based data row of the file (CSV line = row + 1, because
of the header). The same problems are on ``ContractError.problems`` as a
DataFrame (source, table, column, row, rule, value).

Direct identifiers are refused, never dropped: a column whose name looks like
one (``patient_name``, ``MRN``, ``dob`` ...) and any text value that looks like
an e-mail address, a phone number, a calendar date (possible date of birth) or
a medical record number. Such values are masked in messages, so an error
report never repeats them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import hashlib
import math
import os
import pickle
import re
import sys
import warnings
from importlib.metadata import version
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import pandera.pandas as pa

from helpers.contract import files as input_files
from helpers.contract.events_rules import RULES as EVENT_RULES
from helpers.contract.events_rules import events_problems
from helpers.contract.spec import (
    COHORT_TERM_PREFIX,
    COVARIATE_TYPES,
    DERIVED_COLUMN_NAMES,
    IDENTIFIER_COLUMN_WORDS,
    LEVEL_SEPARATOR,
    TABLES,
    Column,
    Covariate,
    Table,
)
from helpers.paths import REGISTER_CSV

# --------------------------------------------------------------------------
# Vocabulary of the checks
# --------------------------------------------------------------------------

#: Spellings accepted for booleans (compared case-insensitively).
TRUE_TEXT = ("true", "1", "yes")
FALSE_TEXT = ("false", "0", "no")
#: Cell texts read as a missing value (besides an empty or blank cell).
MISSING_TEXT = ("", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "<NA>")
#: Tables a cohort folder must contain; the others are optional.
REQUIRED_TABLES = ("patients", "outcomes")

#: Event columns that must not lie after the patient's last follow-up.
EVENT_DAY_COLUMNS = (
    ("responses", "day"),
    ("kinetics", "day"),
    ("labs", "day"),
    ("adverse_events", "onset_day"),
    ("treatments", "start_day"),
    ("events", "day"),
)

#: How many days before the start of lymphodepletion a laboratory sample may lie (baseline window).
LAB_DAYS_BEFORE_LYMPHODEPLETION = 7

#: Rules beyond single columns, in plain words (rendered in the data dictionary).
CROSS_TABLE_RULES = (
    "`patients` and `outcomes` are required; the other tables are optional.",
    "`patients` and `outcomes` hold exactly one row per patient, for the same set of patients.",
    "Every (`study_id`, `patient_id`) in any other table exists in `patients`.",
    "`outcomes.relapse_day` is filled if and only if `relapsed` is true, and is at most `followup_days`.",
    "`outcomes.death_cause` is filled if and only if `died` is true.",
    "`outcomes.progression_assessed_day` (optional) is at most `followup_days`, and not before `relapse_day` "
    "when `relapsed` is true (only patients without relapse are censored there).",
    "No event lies after the patient's last follow-up (`outcomes.followup_days`): "
    + ", ".join(f"`{t}.{c}`" for t, c in EVENT_DAY_COLUMNS) + ".",
    "`treatments.end_day` is not before `start_day`.",
    "`treatments`: a patient's first `CAR-T` row is the infusion, so it starts on day 0; "
    "`lymphodepletion` starts before the infusion (a negative day).",
    f"`labs`: no sample more than {LAB_DAYS_BEFORE_LYMPHODEPLETION} days before the patient's "
    "lymphodepletion start (when `treatments` records it): an earlier day usually means the days were "
    "counted from another reference than the infusion.",
    "`patients.cohort`: two labels that differ only in letter case, spaces or punctuation "
    "(`Ph+ ALL` and `ph+all`) are refused as two spellings of one cohort.",
    "`patients` and `outcomes` have at least one data row; an optional table with a header and no "
    "rows is read as absent (and noted).",
    "`labs`: each analyte is reported in its one fixed unit (see the table of units).",
    "No direct identifiers: columns named like names, record numbers, dates of birth, addresses, "
    "phone numbers, e-mail addresses or national ids are refused, and so are text values that look "
    "like an e-mail address, a phone number, a calendar date or a medical record number "
    "(a `patient_id` of 6 or more digits only).",
) + EVENT_RULES

_TYPE_WORDS = {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}
_PANDAS_DTYPES = {"str": str, "int": "Int64", "float": "float64", "bool": "boolean"}
_COERCE_RULES = {
    "int": "must be a whole number",
    "float": "must be a number",
    "bool": "must be true or false (accepted: " + ", ".join(
        f"{t}/{f}" for t, f in zip(TRUE_TEXT, FALSE_TEXT)) + ", in any letter case)",
    "str": "must be text",
}
RULE_MISSING_CELL = "is required but missing (empty cell)"
RULE_MISSING_COLUMN = "is required but missing: the file has no such column"
RULE_IDENTIFIER_VALUE = "must not hold a direct identifier"
RULE_UNITS = "must use the analyte's one fixed unit"
RULE_FINITE = "must be a finite number"

_NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ROWS_ATTR = "contract_rows"
_SOURCE_ATTR = "contract_source"
#: Key of ``patients.attrs`` holding the study's declared covariates (read with
#: :func:`declared_covariates`).
COVARIATES_ATTR = "contract_covariates"
PROBLEM_COLUMNS = ("source", "table", "column", "row", "rule", "value")


def folder_for_display(folder: Path | str) -> str:
    """A data folder as an error message names it: relative to the working directory when it lies
    below it, else by its own name, so no absolute path (which may hold a user's or a centre's
    name) reaches a terminal log, a notebook or a page."""
    path = Path(folder)
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return path.name


class ContractError(ValueError):
    """Data that break the contract. ``str(err)`` lists every problem, one per line.

    ``problems`` is a DataFrame with columns source, table, column, row, rule,
    value (row is the 1-based data row of the file, empty for problems that
    concern a whole column or file). ``notes`` holds what was done to the data
    on loading (whitespace stripped, optional tables absent, ...).
    """

    def __init__(self, problems: pd.DataFrame | Sequence[Mapping[str, Any]],
                 notes: Optional[pd.DataFrame] = None, where: Optional[str] = None):
        frame = _problem_frame(problems)
        self.problems = frame
        self.notes = notes if notes is not None else _note_frame([])
        self.where = where
        self.lines = [_format_problem(r) for r in frame.to_dict("records")]
        n = len(self.lines)
        head = (f"{n} problem{'s' if n != 1 else ''} with the data"
                + (f" in {where}" if where else "")
                + " (the data contract is in helpers.contract.spec):")
        super().__init__("\n".join([head, *self.lines]))

    def __reduce__(self):  # keep the exception picklable
        return (self.__class__, (self.problems, self.notes, self.where))


class ContractWarning(UserWarning):
    """Something was changed while loading (e.g. stray whitespace stripped)."""


class MissingData(KeyError):
    """A study or table an analysis needs is not in the data (an absent optional table,
    a study the data folder does not hold). A ``KeyError``, so existing ``except KeyError``
    code keeps working; the build can turn a chapter stopped by it into a visible
    "no data for this chapter" page instead of a failure (``--allow-absent``)."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class Cohort(dict):
    """``dict`` table name -> validated DataFrame, with what loading noticed.

    ``notes`` (source, table, note) lists what was done or found while loading:
    optional tables absent, stray whitespace stripped, empty rows skipped,
    byte-order marks, ignored files. ``files`` maps table -> file name.
    """

    def __init__(self, tables: Mapping[str, pd.DataFrame] | None = None, *,
                 folder: Optional[Path] = None, files: Optional[dict] = None,
                 notes: Optional[pd.DataFrame] = None):
        super().__init__(tables or {})
        self.folder = folder
        self.files = dict(files or {})
        self.notes = notes if notes is not None else _note_frame([])

    def __missing__(self, name):
        where = f" in {self.folder}" if self.folder else ""
        if name in TABLES:
            raise MissingData(f"table '{name}' is absent from this cohort{where} (no {name}.csv or "
                              f"{name}.xlsx, or a file without data rows); tables present: "
                              f"{', '.join(t for t in TABLES if t in self) or 'none'}")
        raise MissingData(f"no contract table {name!r}; the tables are: {', '.join(TABLES)}")

    @property
    def missing_tables(self) -> list[str]:
        return [t for t in TABLES if t not in self]

    def summary(self) -> str:
        lines = [f"Cohort from {self.folder}:" if self.folder else "Cohort:"]
        for name in TABLES:
            if name in self:
                lines.append(f"  {name}: {len(self[name])} rows ({self.files.get(name, 'in memory')})")
            else:
                lines.append(f"  {name}: absent (optional)")
        for note in self.notes.to_dict("records"):
            lines.append(f"  note: {note['source']}: {note['note']}")
        return "\n".join(lines)


# --------------------------------------------------------------------------
# Direct identifiers
# --------------------------------------------------------------------------

# Words matched inside a run-together name ("dateofbirth", "patientemail")
# only when they are long enough not to occur by chance in ordinary words.
_NOT_SUBSTRING_WORDS = {"initials", "mobile", "birth", "street", "insurance"}
_SUBSTRING_WORDS = tuple(w for w in IDENTIFIER_COLUMN_WORDS
                         if len(w) >= 5 and w not in _NOT_SUBSTRING_WORDS)


def _name_tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    return [t for t in re.split(r"[^a-z0-9]+", spaced.lower()) if t]


def identifier_column_word(name: Any) -> Optional[str]:
    """The identifier word a column name matches, or None.

    The name is split into tokens on ``_``, ``-``, spaces and camelCase. It
    matches when a token equals a word of ``IDENTIFIER_COLUMN_WORDS`` or ends
    with one (``patientname``), or when the whole run-together name contains a
    long compound word (``date_of_birth`` -> ``dateofbirth``, ``e-mail`` ->
    ``email``). ``study_id`` and ``patient_id`` do not match; nor does a word
    merely containing a short one (``domain``, ``mailing`` ...).
    """
    tokens = _name_tokens(name)
    joined = "".join(tokens)
    hits = set()
    for word in IDENTIFIER_COLUMN_WORDS:
        if any(t == word or (len(word) >= 3 and t.endswith(word)) for t in tokens):
            hits.add(word)
        elif word in _SUBSTRING_WORDS and word in joined:
            hits.add(word)
    if not hits:
        return None
    return max(hits, key=lambda w: (len(w), w))


_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_PHONE_RE = re.compile(r"\+?\(?\d[\d().\- ]*\d")
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_MONTHS = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATE_RES = (
    re.compile(rf"(?<!\d){_YEAR}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])(?!\d)"),
    re.compile(rf"(?<!\d)(?:0?[1-9]|[12]\d|3[01])[-/.](?:0?[1-9]|[12]\d|3[01])[-/.]{_YEAR}(?!\d)"),
    re.compile(rf"(?<![\w])\d{{1,2}}(?:st|nd|rd|th)?[ -]?{_MONTHS}[ ,-]*{_YEAR}(?!\d)", re.I),
    re.compile(rf"(?<![\w]){_MONTHS} \d{{1,2}}(?:st|nd|rd|th)?,? {_YEAR}(?!\d)", re.I),
)
_MRN_RE = re.compile(r"\d{6,}")

_IDENTIFIER_KIND_TEXT = {
    "email": "looks like an e-mail address",
    "phone": "looks like a phone number",
    "date": "looks like a calendar date (a possible date of birth; the contract uses days relative to infusion)",
    "mrn": "looks like a medical record number (6 or more digits only); use a pseudonymous study code",
}


def identifier_value_kind(value: Any, column: Optional[str] = None) -> Optional[str]:
    """``'email'``, ``'phone'``, ``'date'``, ``'mrn'`` or None for one cell value.

    ``'mrn'`` (a run of 6 or more digits only) is checked in ``patient_id`` only.
    A phone number is 9 or more digits written with separators (spaces, dots,
    hyphens, brackets) or after a ``+``; a bare run of digits elsewhere (e.g. a
    trial registration number) is not taken for one.
    """
    if value is None or isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (_dt.date, _dt.datetime, pd.Timestamp)):
        return "date"
    if not isinstance(value, str):
        if column == "patient_id" and isinstance(value, (int, np.integer)) and abs(int(value)) >= 100000:
            return "mrn"
        return None
    return _text_identifier_kind(value, column == "patient_id")


# Validation asks about each distinct text several times (the same patient codes in every table,
# in the schema's check and in the message), so the answers are kept; bounded for long sessions.
@functools.lru_cache(maxsize=1 << 18)
def _text_identifier_kind(value: str, patient_id: bool) -> Optional[str]:
    text = value.strip()
    if patient_id and _MRN_RE.fullmatch(text):
        return "mrn"
    if _EMAIL_RE.search(text):
        return "email"
    if any(r.search(text) for r in _DATE_RES):
        return "date"
    for match in _PHONE_RE.finditer(text):
        run = match.group(0)
        digits = sum(ch.isdigit() for ch in run)
        if digits >= 9 and (run.startswith("+") or re.search(r"\d[().\- ]+\d", run)):
            return "phone"
    return None


def _mask(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    masked = re.sub(r"[0-9]", "9", re.sub(r"[^\W\d_]", "x", text))
    return f"masked value '{masked}'"


# --------------------------------------------------------------------------
# Parsing cells (pandera parsers: run before dtype coercion)
# --------------------------------------------------------------------------

def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return value.strip() in MISSING_TEXT
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _parse_bool(value: Any) -> Any:
    if _is_missing(value):
        return pd.NA
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_TEXT:
            return True
        if word in FALSE_TEXT:
            return False
    return value  # left as is: dtype coercion reports it


def _parse_number(value: Any, integer: bool) -> Any:
    if _is_missing(value):
        return pd.NA if integer else np.nan
    if isinstance(value, (bool, np.bool_)):
        return value  # a boolean is not a number: coercion reports it
    number: Any = value
    if isinstance(value, str):
        if not _NUMBER_RE.fullmatch(value.strip()):
            return value
        number = float(value.strip())
    if isinstance(number, (int, np.integer)):
        return int(number) if integer else float(number)
    if isinstance(number, (float, np.floating)):
        if not integer:
            return float(number)
        if math.isfinite(number) and float(number).is_integer():
            return int(number)
    return value


def _parse_str(value: Any) -> Any:
    if _is_missing(value):
        return np.nan
    if isinstance(value, str):
        return value
    if isinstance(value, (pd.Timestamp, _dt.datetime)):
        value = pd.Timestamp(value)
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _parse_value(value: Any, dtype: str) -> Any:
    """Parse one cell for a column of contract type ``dtype`` (unparseable values are kept as is)."""
    if dtype == "bool":
        return _parse_bool(value)
    if dtype in ("int", "float"):
        return _parse_number(value, integer=dtype == "int")
    return _parse_str(value)


def _map_cells(s: pd.Series, fn) -> pd.Series:
    """``s.map(fn)``, calling ``fn`` once per distinct cell value (keyed by type and value,
    so ``1``, ``1.0`` and ``True`` stay apart). A registry has thousands of rows but few
    distinct values per column, so validation cost follows the distinct values."""
    if len(s) > 64 and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty"):
        # text and missing cells only (every CSV): factorize, one call per distinct text
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        results = [fn(u) for u in uniques] + [fn(np.nan)]
        table = np.empty(len(results), dtype=object)
        table[:] = results
        return pd.Series(table[codes], index=s.index, dtype=object).infer_objects()
    cache: dict = {}
    out = []
    for v in s:
        try:
            key = (type(v), v)
            r = cache[key] if key in cache else cache.setdefault(key, fn(v))
        except TypeError:  # an unhashable cell
            r = fn(v)
        out.append(r)
    return pd.Series(out, index=s.index, dtype=object).infer_objects()


def _parser(dtype: str) -> pa.Parser:
    return pa.Parser(lambda s: _map_cells(s.astype(object), lambda v: _parse_value(v, dtype)),
                     name=f"parse_{dtype}")


# --------------------------------------------------------------------------
# Schemas
# --------------------------------------------------------------------------

def _table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"no contract table {name!r}; the tables are: {', '.join(TABLES)}") from None


def _fmt_num(x: Any) -> str:
    """A number as people write it: 5, 2.5, -14, 1e+10."""
    if isinstance(x, (float, np.floating)) and float(x).is_integer() and abs(x) < 1e6:
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{x:.15g}" if abs(x) < 1e6 else f"{x:g}"
    return str(x)


def _numeric(s: pd.Series) -> pd.Series:
    if s.dtype.kind in "if" or str(s.dtype) in ("Int64", "Float64"):  # already numbers: no cell loop
        return pd.to_numeric(s, errors="coerce").astype(float)
    return pd.to_numeric(s.map(lambda v: v if isinstance(v, (int, float, np.integer, np.floating))
                               and not isinstance(v, (bool, np.bool_)) else np.nan),
                         errors="coerce").astype(float)


def _min_check(minimum: float) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        x = _numeric(s)
        return (x >= minimum) | x.isna()
    return pa.Check(ok, name="greater_than_or_equal_to", error=f"must be ≥ {_fmt_num(minimum)}",
                    statistics={"min_value": minimum})


def _max_check(maximum: float) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        x = _numeric(s)
        return (x <= maximum) | x.isna()
    return pa.Check(ok, name="less_than_or_equal_to", error=f"must be ≤ {_fmt_num(maximum)}",
                    statistics={"max_value": maximum})


def _finite_check() -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        x = _numeric(s)
        return np.isfinite(x) | x.isna()
    return pa.Check(ok, name="finite", error=RULE_FINITE)


def _allowed_rule(col: Column) -> str:
    return "must be one of: " + ", ".join(map(str, col.allowed))


def _pattern_rule(col: Column) -> str:
    return f"must match the pattern {col.pattern}"


def _pattern_check(col: Column) -> pa.Check:
    regex = re.compile(col.pattern)

    def ok(s: pd.Series) -> pd.Series:
        return _map_cells(s, lambda v: not isinstance(v, str) or regex.fullmatch(v) is not None).astype(bool)
    return pa.Check(ok, name="str_fullmatch", error=_pattern_rule(col), statistics={"pattern": col.pattern})


def _identifier_check(col: Column) -> pa.Check:
    def ok(s: pd.Series) -> pd.Series:
        return _map_cells(s, lambda v: identifier_value_kind(v, col.name) is None).astype(bool)
    return pa.Check(ok, name="no_direct_identifier", error=RULE_IDENTIFIER_VALUE)


def _expected_unit(table: Table, analyte: Any) -> Optional[tuple]:
    return table.per_analyte_units.get(analyte) if isinstance(analyte, str) else None


def _units_check(table: Table) -> pa.Check:
    def ok(df: pd.DataFrame) -> pd.Series:
        if "analyte" not in df or "unit" not in df:
            return pd.Series(True, index=df.index)
        return pd.Series([
            (units := _expected_unit(table, a)) is None or _is_missing(u) or u in units
            for a, u in zip(df["analyte"], df["unit"])
        ], index=df.index)
    return pa.Check(ok, name="unit_per_analyte", error=RULE_UNITS)


def _column_schema(col: Column) -> pa.Column:
    checks: list[pa.Check] = []
    if col.dtype in ("int", "float"):
        if col.minimum is not None:
            checks.append(_min_check(col.minimum))
        if col.maximum is not None:
            checks.append(_max_check(col.maximum))
        if col.dtype == "float":
            checks.append(_finite_check())
    if col.allowed is not None:
        checks.append(pa.Check.isin(list(col.allowed), error=_allowed_rule(col)))
    if col.pattern is not None:
        checks.append(_pattern_check(col))
    if col.dtype == "str":
        checks.append(_identifier_check(col))
    return pa.Column(
        _PANDAS_DTYPES[col.dtype], checks=checks, nullable=col.nullable, required=col.required,
        coerce=True, parsers=[_parser(col.dtype)], title=col.name, description=col.description,
        metadata={"unit": col.unit, "contract_dtype": col.dtype},
    )


def schema(table_name: str) -> pa.DataFrameSchema:
    """The pandera schema of one contract table, generated from the spec.

    Cells are parsed before coercion: blank cells and the texts in
    ``MISSING_TEXT`` become missing values, booleans written
    true/false/TRUE/FALSE/1/0/yes/no become booleans, numbers written as
    text become numbers. Anything else that does not fit the column's type is
    a coercion failure. Unknown columns are refused (``strict=True``) and the
    key columns must be unique together.
    """
    return _schema(_table(table_name))


def _schema(table: Table) -> pa.DataFrameSchema:
    checks = [_units_check(table)] if table.per_analyte_units else []
    return pa.DataFrameSchema(
        {c.name: _column_schema(c) for c in table.columns},
        checks=checks, strict=True, coerce=True, unique=list(table.key), report_duplicates="all",
        name=table.name, description=table.description,
    )


# --------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------

def _problem_frame(problems) -> pd.DataFrame:
    if isinstance(problems, pd.DataFrame):
        frame = problems.copy()
    else:
        frame = pd.DataFrame(list(problems), columns=list(PROBLEM_COLUMNS))
    for c in PROBLEM_COLUMNS:
        if c not in frame:
            frame[c] = None
    frame = frame[list(PROBLEM_COLUMNS)].reset_index(drop=True)
    frame["row"] = frame["row"].astype("Int64")
    return frame


def _note_frame(notes: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(notes), columns=["source", "table", "note"])


def _format_problem(p: Mapping[str, Any]) -> str:
    where = f"{p['source']}: table '{p['table']}'"
    if p.get("column") is not None and not _is_missing(p.get("column")):
        where += f", column '{p['column']}'"
    row = p.get("row")
    if row is not None and not _is_missing(row):
        where += f", row {int(row)}"
    text = f"{where}: {p['rule']}"
    value = p.get("value")
    if value is not None and not _is_missing(value):
        text += f" (found {value})"
    return text


def _display(value: Any, column: Optional[str] = None) -> Optional[str]:
    """How a cell value is shown in a message (identifier-like values are masked)."""
    if isinstance(value, str):
        if value == "":
            return "an empty cell"
        if identifier_value_kind(value, column):
            return _mask(value)
        if _NUMBER_RE.fullmatch(value.strip()) and value == value.strip():
            return value
        return repr(value)
    if _is_missing(value):
        return None
    if identifier_value_kind(value, column):
        return _mask(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (float, np.floating, int, np.integer)):
        return _fmt_num(value)
    return repr(value)


def _rows_text(rows: Sequence[int], limit: int = 10) -> str:
    rows = sorted(int(r) for r in rows)
    word = "row" if len(rows) == 1 else "rows"
    shown = ", ".join(map(str, rows[:limit]))
    if len(rows) > limit:
        shown += f" and {len(rows) - limit} more"
    return f"{word} {shown}"


class _Collector:
    def __init__(self, source: str, table: str, rows: Sequence[int]):
        self.source, self.table, self.rows = source, table, list(rows)
        self.items: list[dict] = []

    def add(self, column: Optional[str], pos: Optional[int], rule: str, value: Optional[str] = None):
        row = None if pos is None else self.rows[pos]
        self.items.append(dict(source=self.source, table=self.table, column=column, row=row,
                               rule=rule, value=value))


# --------------------------------------------------------------------------
# One table
# --------------------------------------------------------------------------

class RowNumbers:
    """The file row of every row of a frame as read, kept in its ``attrs``.

    pandas deep-copies ``attrs`` on nearly every operation (a filter, a ``reset_index``, a
    column taken): a list of 100,000 ints costs a walk of the list each time. The numbers never
    change once read, so a copy shares them."""

    __slots__ = ("_numbers",)

    def __init__(self, numbers: Iterable[int]):
        self._numbers = np.asarray(numbers, dtype=np.int64)
        self._numbers.setflags(write=False)

    def __deepcopy__(self, memo) -> "RowNumbers":
        return self

    def __copy__(self) -> "RowNumbers":
        return self

    def __len__(self) -> int:
        return len(self._numbers)

    def __iter__(self):
        return iter(self._numbers.tolist())

    def __getitem__(self, index):
        return self._numbers[index].tolist() if isinstance(index, slice) else int(self._numbers[index])

    def __eq__(self, other) -> bool:
        return isinstance(other, RowNumbers) and np.array_equal(self._numbers, other._numbers)

    __hash__ = None

    def tolist(self) -> list[int]:
        return self._numbers.tolist()


def _row_numbers(df: pd.DataFrame) -> list[int]:
    rows = df.attrs.get(_ROWS_ATTR)
    if rows is not None and len(rows) == len(df):
        return rows.tolist() if isinstance(rows, RowNumbers) else [int(r) for r in rows]
    return list(range(1, len(df) + 1))


def _best_effort(raw: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Typed frame where cells that fail parsing are missing (for rules across columns)."""
    out = pd.DataFrame(index=raw.index)
    for col in table.columns:
        if col.name not in raw:
            continue
        s = raw[col.name].astype(object)
        if col.dtype in ("int", "float"):
            out[col.name] = _numeric(_map_cells(s, lambda v, d=col.dtype: _parse_value(v, d)))
        elif col.dtype == "bool":
            out[col.name] = _map_cells(s, _parse_bool).map(
                lambda v: v if isinstance(v, bool) else None).astype(object)
        else:
            out[col.name] = _map_cells(s, _parse_str)
    return out


def _check_table(df: pd.DataFrame, table_name: str, source: str, declared: Optional["_Declaration"] = None
                 ) -> tuple[Optional[pd.DataFrame], pd.DataFrame, list[dict]]:
    """Validate one table: (coerced frame or None, best-effort typed frame, problems).
    ``declared``: the covariates a patients table may carry besides the contract's columns."""
    table = _table(table_name)
    declared = declared if table.name == "patients" else None  # only patients carries covariates
    table = declared.patients_table(table) if declared else table
    rows = _row_numbers(df)
    bag = _Collector(source, table.name, rows)
    work = df.copy()
    work.columns = [str(c) for c in work.columns]
    work = work.reset_index(drop=True)
    work.attrs = {}

    # Column-level problems: duplicated names, direct identifiers, unknown, missing.
    seen: set[str] = set()
    keep = []
    for i, name in enumerate(work.columns):
        if name in seen:
            bag.add(name, None, "column appears more than once in the header; only the first is read")
        else:
            keep.append(i)
            seen.add(name)
    work = work.iloc[:, keep]
    refused = []
    for name in work.columns:
        word = identifier_column_word(name)
        if word is not None:
            refused.append(name)
            bag.add(name, None, f"looks like a direct identifier ({word}); "
                                "the contract never accepts direct identifiers")
        elif name not in table.column_names:
            bag.add(name, None, _unknown_column_rule(name, table, work.columns))
    work = work.drop(columns=refused)
    missing_cols = [c.name for c in table.columns if c.required and c.name not in work]
    for name in missing_cols:
        bag.add(name, None, declared.missing_rule(name) if declared else RULE_MISSING_COLUMN)

    # Cell-level problems via pandera.
    raw = work
    failures = None
    validated = None
    try:
        validated = _schema(table).validate(work, lazy=True)
    except pa.errors.SchemaErrors as err:
        failures = err.failure_cases

    typed = _best_effort(work, table)

    identifier_cells: set[tuple[int, str]] = set()
    for col in table.columns:
        if col.dtype == "str" and col.name in raw:
            kinds = _map_cells(raw[col.name], lambda v, c=col.name: identifier_value_kind(v, c))
            for pos in np.flatnonzero(kinds.notna().to_numpy()).tolist():
                identifier_cells.add((pos, col.name))
                bag.add(col.name, pos, f"{_IDENTIFIER_KIND_TEXT[kinds.iloc[pos]]}; the contract never accepts "
                                       "direct identifiers", _mask(raw[col.name].iloc[pos]))

    unexplained = []
    if failures is not None:
        for f in failures.to_dict("records"):
            column, check, index = f["column"], str(f["check"]), f["index"]
            pos = None if index is None or _is_missing(index) else int(index)
            if check in ("column_in_schema", "column_in_dataframe"):
                continue  # reported above, with better words
            if check in ("multiple_fields_uniqueness", RULE_IDENTIFIER_VALUE, RULE_UNITS):
                continue  # reported below from the typed frame / above
            if check.startswith("dtype("):
                continue  # repeats a coercion failure
            if pos is None or column not in table.column_names:
                unexplained.append(f)
                continue
            if (pos, column) in identifier_cells:
                continue
            value = _display(raw[column].iloc[pos], column)
            if check.startswith("coerce_dtype("):
                bag.add(column, pos, _coerce_rule(table.column(column), raw[column].iloc[pos]), value)
            elif check == "not_nullable":
                bag.add(column, pos, RULE_MISSING_CELL)
            else:
                bag.add(column, pos, check, value)
        for f in unexplained:
            bag.add(None if _is_missing(f["column"]) else f["column"], None,
                    f"failed check {f['check']}", _display(f["failure_case"]))

    # Key uniqueness, on typed values.
    if all(k in typed for k in table.key) and len(typed):
        keys = typed[list(table.key)]
        keys = keys[keys.notna().all(axis=1)]
        dup = keys[keys.duplicated(keep=False)]
        if len(dup):
            for _, group in dup.groupby(list(table.key), sort=False, dropna=False):
                positions = list(group.index)
                for pos in positions:
                    others = [rows[p] for p in positions if p != pos]
                    key_text = ", ".join(f"{k}={_display(raw[k].iloc[pos], k)}" for k in table.key)
                    bag.add("patient_id" if "patient_id" in table.key else table.key[0], pos,
                            f"duplicate key ({', '.join(table.key)}) also in {_rows_text(others)}",
                            key_text)

    # Lab units: one fixed unit per analyte.
    if table.per_analyte_units and "analyte" in raw and "unit" in raw:
        by_analyte: dict[str, dict[str, list[int]]] = {}
        for pos, (a, u) in enumerate(zip(typed["analyte"], typed["unit"])):
            if isinstance(a, str) and isinstance(u, str) and a in table.per_analyte_units:
                by_analyte.setdefault(a, {}).setdefault(u, []).append(rows[pos])
        for pos, (a, u) in enumerate(zip(typed["analyte"], typed["unit"])):
            units = _expected_unit(table, a)
            if units is None or not isinstance(u, str) or u in units:
                continue
            used = by_analyte.get(a, {})
            rule = f"analyte '{a}' must be reported in {' or '.join(units)}"
            if len(used) > 1:
                rule += "; this file mixes units for it (" + "; ".join(
                    f"{unit} in {_rows_text(r)}" for unit, r in used.items()) + ")"
            bag.add("unit", pos, rule, _display(raw["unit"].iloc[pos], "unit"))

    # Rules across the columns of one table.
    _within_table_rules(table, typed, raw, bag)

    if failures is not None and not bag.items:  # never pass data pandera refused
        bag.add(None, None, "failed validation: " + "; ".join(
            sorted({str(c) for c in failures["check"]})))

    if bag.items or validated is None:
        return None, typed, bag.items

    result = validated
    for col in table.columns:
        if col.name not in result:  # optional column absent from the file: present and empty
            dtype = object if col.dtype == "str" else _PANDAS_DTYPES[col.dtype]
            empty = np.nan if col.dtype in ("str", "float") else pd.NA  # float64 holds no pd.NA
            result[col.name] = pd.Series([empty] * len(result), index=result.index, dtype=dtype)
        elif not col.nullable and col.dtype in ("int", "bool"):  # no missing values: numpy dtypes
            result[col.name] = result[col.name].astype("int64" if col.dtype == "int" else bool)
    result = result[table.column_names]
    if declared:
        declared.categorize(result)
    return result, typed, []


def _unknown_column_rule(name: str, table: Table, present: Sequence[str]) -> str:
    hint = _similar_column(name, table, present)
    return (f"unknown column (not in the contract's '{table.name}' table, whose columns are: "
            f"{', '.join(table.column_names)})" + (f"; did you mean '{hint}'?" if hint else "")
            + (_DECLARE_HINT if table.name == "patients" else ""))


def _similar_column(name: str, table: Table, present: Sequence[str]) -> Optional[str]:
    """The contract column an unknown column name was probably meant to be (or None).

    Only a required-or-optional contract column that is *absent* from the file is
    proposed, matched on the name with case, spaces and punctuation ignored, or by
    close spelling (difflib), or when one name starts with the other
    (``followup`` -> ``followup_days``).
    """
    import difflib

    def squash(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", str(text).lower())

    absent = [c for c in table.column_names if c not in set(map(str, present))]
    key = squash(name)
    if not key:
        return None
    for col in absent:
        if squash(col) == key:
            return col
    starts = [c for c in absent if len(key) >= 3 and (squash(c).startswith(key) or key.startswith(squash(c)))]
    if len(starts) == 1:
        return starts[0]
    close = difflib.get_close_matches(key, [squash(c) for c in absent], n=1, cutoff=0.75)
    if close:
        return next(c for c in absent if squash(c) == close[0])
    return None


def _coerce_rule(col: Column, value: Any) -> str:
    """The rule broken by a cell that cannot be read as the column's type, with a hint for the
    usual causes (a calendar date in a day column, a decimal comma)."""
    rule = _COERCE_RULES[col.dtype]
    if col.dtype in ("int", "float"):
        text = value.strip() if isinstance(value, str) else ""
        short_date = re.fullmatch(r"\d{1,2}([/.-])\d{1,2}\1\d{2}", text)  # 30/03/21: a two-digit year
        if (identifier_value_kind(value) == "date" or short_date
                or isinstance(value, (_dt.date, _dt.datetime, pd.Timestamp))):
            unit = f" ({col.unit})" if col.unit else ""
            return (f"{rule}{unit}, but holds a calendar date (an Excel date cell or a typed date): the "
                    "contract counts days from the CAR-T infusion (day 0), so enter the number of days "
                    "(the date minus the infusion date); no calendar date is accepted")
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+", text):  # 760,000: a comma between thousands or a decimal one
            return (f"{rule}, without separators (found commas between groups of three digits: write "
                    f"{text.replace(',', '')} if they separate thousands, or {text.replace(',', '.', 1)} if "
                    "the comma is a decimal one; the file cannot tell which)")
        if re.fullmatch(r"[+-]?\d+,\d+", text):
            return f"{rule}, written with a decimal point (found a decimal comma: write {text.replace(',', '.')})"
    return rule


def _outcome_rules(typed: pd.DataFrame, raw: pd.DataFrame, bag: _Collector) -> None:
    """A patient's relapse, death and last progression assessment must agree."""
    def has(*cols):
        return all(c in typed for c in cols)

    if has("relapsed", "relapse_day"):
        missing_day = np.isnan(_days(typed["relapse_day"]))
        relapsed = typed["relapsed"].to_numpy(dtype=object)
        true = np.fromiter((r is True for r in relapsed), dtype=bool, count=len(relapsed))
        false = np.fromiter((r is False for r in relapsed), dtype=bool, count=len(relapsed))
        for pos in np.flatnonzero((true & missing_day) | (false & ~missing_day)).tolist():
            if true[pos]:
                bag.add("relapse_day", pos, "is required when relapsed is true (day of relapse missing)")
            else:
                bag.add("relapse_day", pos, "must be empty when relapsed is false",
                        _display(raw["relapse_day"].iloc[pos]))
    for column, what in (("relapse_day", "relapse"), ("progression_assessed_day", "an assessment")):
        if has(column, "followup_days"):
            day, fu = _days(typed[column]), _days(typed["followup_days"])
            for pos in np.flatnonzero(day > fu).tolist():  # NaN on either side compares False
                bag.add(column, pos, f"must be ≤ followup_days ({_fmt_num(fu[pos])}): "
                                     f"{what} cannot come after the last follow-up", _display(raw[column].iloc[pos]))
    if has("died", "death_cause"):
        for pos, (died, cause) in enumerate(zip(typed["died"], typed["death_cause"])):
            if died is True and _is_missing(cause):
                bag.add("death_cause", pos, "is required when died is true (cause of death missing)")
            elif died is False and not _is_missing(cause):
                bag.add("death_cause", pos, "must be empty when died is false",
                        _display(raw["death_cause"].iloc[pos], "death_cause"))
    if has("progression_assessed_day", "relapsed", "relapse_day"):
        assessed, day = _days(typed["progression_assessed_day"]), _days(typed["relapse_day"])
        relapsed = np.fromiter((r is True for r in typed["relapsed"]), dtype=bool, count=len(typed))
        for pos in np.flatnonzero(relapsed & (assessed < day)).tolist():
            bag.add("progression_assessed_day", pos, f"must be empty or ≥ relapse_day ({_fmt_num(day[pos])}) when "
                                                     "relapsed is true: the relapse is counted on relapse_day, so "
                                                     "no assessment before it can be the last one",
                    _display(raw["progression_assessed_day"].iloc[pos]))


def _within_table_rules(table: Table, typed: pd.DataFrame, raw: pd.DataFrame, bag: _Collector) -> None:
    def has(*cols):
        return all(c in typed for c in cols)

    if table.name == "outcomes":
        _outcome_rules(typed, raw, bag)
    if table.name == "treatments" and has("start_day", "end_day"):
        start, end = _days(typed["start_day"]), _days(typed["end_day"])
        for pos in np.flatnonzero(end < start).tolist():  # NaN on either side compares False
            bag.add("end_day", pos, f"must be ≥ start_day ({_fmt_num(start[pos])})",
                    _display(raw["end_day"].iloc[pos]))
    if table.name == "treatments" and has("patient_id", "category", "start_day"):
        frame = pd.DataFrame({"patient": typed["patient_id"].to_numpy(), "category": typed["category"].to_numpy(),
                              "start": typed["start_day"].to_numpy()})
        for pos in frame.index[(frame["category"] == "lymphodepletion") & (frame["start"] >= 0)]:
            bag.add("start_day", pos, "lymphodepletion must start before the infusion (a negative day; day 0 is "
                                      "the CAR-T infusion): dates out of order, or days counted from another "
                                      "reference", _display(raw["start_day"].iloc[pos]))
        car = frame[(frame["category"] == "CAR-T") & frame["start"].notna() & frame["patient"].notna()]
        # each patient's earliest CAR-T row (the first on a tie), patients in order of first appearance
        firsts = car.groupby("patient", sort=False)["start"].idxmin().to_numpy()
        for first in firsts[car.loc[firsts, "start"].to_numpy() != 0].tolist():
            bag.add("start_day", first, "the patient's first CAR-T row is the infusion and must be on day 0 "
                                        "(every day in the contract is counted from it)",
                    _display(raw["start_day"].iloc[first]))
    if table.name == "covariates":
        _covariate_rules(typed, raw, bag)
    if table.name == "patients" and has("cohort"):
        spellings: dict[str, dict[str, list[int]]] = {}
        squashed_of: dict[str, str] = {}
        for pos, label in enumerate(typed["cohort"]):
            if isinstance(label, str):
                if label not in squashed_of:
                    squashed_of[label] = re.sub(r"[^0-9a-z]", "", label.casefold())
                spellings.setdefault(squashed_of[label], {}).setdefault(label, []).append(pos)
        for variants in spellings.values():
            if len(variants) < 2:
                continue
            # the most frequent spelling (on a tie, the first seen) is taken as meant; the others are reported
            meant = max(variants, key=lambda v: (len(variants[v]), -min(variants[v])))
            for label, positions in variants.items():
                if label == meant:
                    continue
                for pos in positions:
                    bag.add("cohort", pos, f"cohort label differs from '{meant}' ({_rows_text([bag.rows[q] for q in variants[meant]])}) "
                                           "only in letter case, spaces or punctuation; one cohort needs one "
                                           "spelling, or the book would compare it with itself",
                            _display(raw["cohort"].iloc[pos], "cohort"))


def _sorted_problems(items: list[dict]) -> pd.DataFrame:
    order = {name: i for i, name in enumerate(TABLES)}

    def key(p):
        table = TABLES.get(p["table"])
        cols = table.column_names if table else []
        col_pos = cols.index(p["column"]) if p["column"] in cols else -1
        row = p["row"]
        return (order.get(p["table"], len(order)), str(p["source"]), row is not None,
                row if row is not None else 0, col_pos)
    return _problem_frame(sorted(items, key=key))


def validate_table(df: pd.DataFrame, table_name: str, source: Optional[str] = None) -> pd.DataFrame:
    """Validate one table against the contract and return it coerced.

    ``source`` names the file in messages (default: the name :func:`load_cohort`
    attached, else ``"<table> (in memory)"``). Rows are numbered 1, 2, ... as
    data rows of the file. Optional columns absent from ``df`` are added, empty,
    so every returned table has all contract columns, in contract order.

    Raises :class:`ContractError` listing every problem found (lazy validation).
    """
    source = source or df.attrs.get(_SOURCE_ATTR) or f"{table_name} (in memory)"
    result, _, problems = _check_table(df, table_name, source)
    if problems:
        raise ContractError(_sorted_problems(problems), where=source)
    result.index = df.index
    result.attrs = {k: v for k, v in df.attrs.items()}
    result.attrs[_SOURCE_ATTR] = source
    return result


# --------------------------------------------------------------------------
# Covariates a centre declares (the covariates table)
# --------------------------------------------------------------------------

_DECLARE_HINT = ("; a column of the centre's own is read once declared in covariates.csv (one row per "
                 "covariate: study_id, column, label, type number, category or yes_no, and the levels of a "
                 "category; see the data dictionary)")


def declared_covariates(patients: pd.DataFrame) -> tuple[Covariate, ...]:
    """The covariates a validated patients table carries beside the contract's columns, in the
    order declared (``covariates.csv``); empty when the study declares none. The declaration is
    kept in ``patients.attrs``, which copies, filters and ``assign`` keep and a merge drops: take
    it from the patients table, or put it back on a merged frame with :func:`carry_covariates`."""
    return tuple(patients.attrs.get(COVARIATES_ATTR, ()))


def carry_covariates(frame: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (built from ``patients`` by a merge, which drops ``attrs``) with the patients'
    covariate declaration attached again, so :func:`declared_covariates` finds it; returns it."""
    frame.attrs[COVARIATES_ATTR] = declared_covariates(patients)
    return frame


def _levels(text: Any) -> list[str]:
    return [part.strip() for part in str(text).split(LEVEL_SEPARATOR)]


def _covariates_of(frame: Optional[pd.DataFrame]) -> tuple[Covariate, ...]:
    """A validated covariates table as declarations, in file order."""
    if frame is None:
        return ()
    out = []
    for r in frame.to_dict("records"):
        unit, per = r.get("unit"), r.get("per")
        out.append(Covariate(r["column"], r["label"], r["type"],
                             tuple(_levels(r["levels"])) if r["type"] == "category" else (),
                             None if _is_missing(unit) else str(unit), None if _is_missing(per) else float(per)))
    return tuple(out)


@dataclasses.dataclass
class _Declaration:
    """What the covariates table declares, as the patients check needs it. When the declaration
    itself has problems (reported on it), the declared columns are read as unchecked text, so
    that each mistake is reported once, in covariates.csv."""

    covariates: tuple[Covariate, ...]
    rows: dict  # declared name -> file row of the declaration
    source: str

    def patients_table(self, table: Table) -> Table:
        if self.covariates:
            extra = tuple(c.column() for c in self.covariates)
        else:
            extra = tuple(Column(n, "str", "declared covariate (its declaration has problems)",
                                 required=False, nullable=True) for n in self.rows if n not in table.column_names)
        return dataclasses.replace(table, columns=table.columns + extra)

    def missing_rule(self, name: str) -> str:
        if name not in self.rows:
            return RULE_MISSING_COLUMN
        return (f"is declared in {self.source} row {self.rows[name]} but the file has no such column "
                f"(add the column, or remove its row from {self.source})")

    def categorize(self, frame: pd.DataFrame) -> None:
        """Category covariates as pandas categoricals, levels in the declared order."""
        for c in self.covariates:
            if c.type == "category" and c.name in frame:
                frame[c.name] = pd.Categorical(frame[c.name], categories=list(c.levels))


def _declaration(result: Optional[pd.DataFrame], typed: pd.DataFrame, rows: Sequence[int],
                 source: str) -> _Declaration:
    names = typed["column"] if "column" in typed else pd.Series([], dtype=object)
    declared = {n: rows[pos] for pos, n in enumerate(names) if isinstance(n, str)}
    return _Declaration(_covariates_of(result), declared, source)


def _covariate_rules(typed: pd.DataFrame, raw: pd.DataFrame, bag: "_Collector") -> None:
    """The rules of a declaration row beyond its columns' types: a name of its own, the levels of a
    category, a unit and ``per`` for numbers only."""
    owner = {c: t.name for t in TABLES.values() if t.name != "covariates" for c in t.column_names}

    def cell(column, pos):
        return typed[column].iloc[pos] if column in typed else np.nan

    for pos in range(len(typed)):
        name, kind, levels = cell("column", pos), cell("type", pos), cell("levels", pos)
        shown = _display(raw["column"].iloc[pos], "column") if "column" in raw else None
        if isinstance(name, str):
            word = identifier_column_word(name)
            if word is not None:
                bag.add("column", pos, f"looks like a direct identifier ({word}); the contract never accepts "
                                     "direct identifiers, so no covariate may be named like one", shown)
            elif name in owner:
                bag.add("column", pos, f"clashes with the contract column '{name}' of table '{owner[name]}'; a "
                                     "covariate needs a name of its own", shown)
            elif name in DERIVED_COLUMN_NAMES or name.startswith(COHORT_TERM_PREFIX):
                bag.add("column", pos, "clashes with a column the analyses derive (" + ", ".join(DERIVED_COLUMN_NAMES)
                        + f", {COHORT_TERM_PREFIX}...); a covariate needs a name of its own", shown)
        if kind == "category":
            _level_rules(levels, pos, raw, bag)
        elif kind in COVARIATE_TYPES and isinstance(levels, str):  # an unknown type is reported already
            bag.add("levels", pos, f"must be empty for type {kind} (levels belong to a category)",
                    _display(raw["levels"].iloc[pos], "levels"))
        for column in ("unit", "per"):
            if kind in COVARIATE_TYPES and kind != "number" and not _is_missing(cell(column, pos)):
                bag.add(column, pos, f"must be empty for type {kind} (a unit and per belong to a number)",
                        _display(raw[column].iloc[pos], column))
        per = cell("per", pos)
        if isinstance(per, (float, int)) and not _is_missing(per) and per <= 0:
            bag.add("per", pos, "must be > 0 (models give the effect per this many units)",
                    _display(raw["per"].iloc[pos], "per"))


def _level_rules(levels: Any, pos: int, raw: pd.DataFrame, bag: "_Collector") -> None:
    if not isinstance(levels, str):
        bag.add("levels", pos, "is required for a category covariate: its values separated by semicolons, "
                               "the reference level first")
        return
    parts = _levels(levels)
    shown = _display(raw["levels"].iloc[pos], "levels")
    twice = [p for p in dict.fromkeys(parts) if parts.count(p) > 1]
    if any(not p for p in parts):
        bag.add("levels", pos, "has an empty level (two semicolons in a row, or one at an end)", shown)
    elif twice:
        bag.add("levels", pos, f"lists the level {twice[0]!r} more than once", shown)
    elif len(parts) < 2:
        bag.add("levels", pos, "needs two or more levels separated by semicolons (one value cannot be compared)",
                shown)


# --------------------------------------------------------------------------
# A whole cohort
# --------------------------------------------------------------------------

def _has_patient_keys(frame: pd.DataFrame) -> bool:
    return "study_id" in frame and "patient_id" in frame


def _patient_keys(typed: pd.DataFrame) -> list[Optional[tuple]]:
    if "study_id" not in typed or "patient_id" not in typed:
        return [None] * len(typed)
    studies, patients = typed["study_id"].to_numpy(dtype=object), typed["patient_id"].to_numpy(dtype=object)
    keys: list[Optional[tuple]] = list(zip(studies.tolist(), patients.tolist()))
    # A best-effort typed text cell is text or NaN: only rows with a missing part need a look.
    for pos in np.flatnonzero(pd.isna(studies) | pd.isna(patients)).tolist():
        keys[pos] = None
    return keys


_NO_DAY = (np.nan, None)


def _days(column: pd.Series) -> np.ndarray:
    """A best-effort typed day column (float, NaN where missing or unreadable) as an array."""
    return column.to_numpy(dtype=float, na_value=np.nan)


def _first_per_patient(keys: Sequence[Optional[tuple]], days: np.ndarray, rows: Sequence[int],
                       earliest: bool = False) -> dict[tuple, tuple[float, int]]:
    """Patient key -> (day, file row) of the patient's first row with a day, or with
    ``earliest`` of its smallest day (the first such row on a tie)."""
    out: dict[tuple, tuple[float, int]] = {}
    for pos in np.flatnonzero(~np.isnan(days)).tolist():
        k = keys[pos]
        if k is not None and (k not in out or (earliest and days[pos] < out[k][0])):
            out[k] = (float(days[pos]), rows[pos])
    return out


def _cohort_problems(tables: Mapping[str, pd.DataFrame], sources: Mapping[str, str],
                     report_missing: bool = True) -> tuple[dict, list[dict]]:
    items: list[dict] = []
    results: dict[str, pd.DataFrame] = {}
    typed: dict[str, pd.DataFrame] = {}
    raws: dict[str, pd.DataFrame] = {}
    rows: dict[str, list[int]] = {}
    declared: Optional[_Declaration] = None
    for name in sorted(tables, key=lambda n: n != "covariates"):  # the declaration before patients
        df = tables[name]
        if name not in TABLES:
            items.append(dict(source=sources.get(name, name), table=name, column=None, row=None,
                              rule=f"unknown table (the contract's tables are: {', '.join(TABLES)})",
                              value=None))
            continue
        result, t, problems = _check_table(df, name, sources[name], declared)
        if name == "covariates":
            declared = _declaration(result, t, _row_numbers(df), sources[name])
        items += problems
        typed[name] = t
        raws[name] = df.reset_index(drop=True)
        rows[name] = _row_numbers(df)
        if result is not None:
            results[name] = result
    for name in REQUIRED_TABLES if report_missing else ():
        if name not in tables:
            items.append(dict(source=sources.get(name, f"{name}.csv"), table=name, column=None, row=None,
                              rule="required table is missing", value=None))

    def add(name, column, pos, rule, value=None):
        items.append(dict(source=sources[name], table=name, column=column,
                          row=rows[name][pos], rule=rule, value=value))

    # Tables without their key columns are already reported; rules that need them are skipped.
    keyed = {name for name, frame in typed.items() if _has_patient_keys(frame)}
    keys = {name: _patient_keys(typed[name]) for name in keyed}  # once per table: a registry has millions
    patients = set(k for k in keys["patients"] if k) if "patients" in keyed else None
    if patients is not None:
        for name in typed:
            if name == "patients" or name not in keyed:
                continue
            for pos, k in enumerate(keys[name]):
                if k is not None and k not in patients:
                    add(name, "patient_id", pos, f"patient is not in {sources['patients']} "
                                                 f"(no patient with study_id {_display(k[0], 'study_id')} "
                                                 f"and this patient_id there)",
                        _display(raws[name]["patient_id"].iloc[pos], "patient_id"))
    if "outcomes" in keyed and "patients" in keyed:
        with_outcome = set(k for k in keys["outcomes"] if k)
        for pos, k in enumerate(keys["patients"]):
            if k is not None and k not in with_outcome:
                add("patients", "patient_id", pos, f"patient has no row in {sources['outcomes']} "
                                                   "(every patient needs one outcomes row)",
                    _display(raws["patients"]["patient_id"].iloc[pos], "patient_id"))
    if "outcomes" in keyed and "followup_days" in typed["outcomes"]:
        followup = _first_per_patient(keys["outcomes"], _days(typed["outcomes"]["followup_days"]),
                                      rows["outcomes"])
        for name, column in EVENT_DAY_COLUMNS:
            if name not in keyed or column not in typed[name]:
                continue
            day = _days(typed[name][column])
            limit = np.array([followup.get(k, _NO_DAY)[0] for k in keys[name]], dtype=float)
            for pos in np.flatnonzero(day > limit).tolist():  # NaN on either side compares False
                fu, fu_row = followup[keys[name][pos]]
                add(name, column, pos, f"is after the patient's last follow-up (followup_days "
                                       f"{_fmt_num(fu)} in {sources['outcomes']} row {fu_row})",
                    _display(raws[name][column].iloc[pos], column))
    if "labs" in keyed and "treatments" in keyed and "day" in typed["labs"] \
            and {"category", "start_day"} <= set(typed["treatments"]):
        tx = typed["treatments"]
        starts = _days(tx["start_day"])
        starts = np.where((tx["category"] == "lymphodepletion").to_numpy(), starts, np.nan)
        ld = _first_per_patient(keys["treatments"], starts, rows["treatments"], earliest=True)
        day = _days(typed["labs"]["day"])
        limit = np.array([ld.get(k, _NO_DAY)[0] for k in keys["labs"]], dtype=float)
        for pos in np.flatnonzero(day < limit - LAB_DAYS_BEFORE_LYMPHODEPLETION).tolist():
            start, ld_row = ld[keys["labs"][pos]]
            add("labs", "day", pos, f"is more than {LAB_DAYS_BEFORE_LYMPHODEPLETION} days before the "
                                    f"patient's lymphodepletion (start_day {_fmt_num(start)} in "
                                    f"{sources['treatments']} row {ld_row}): a sample before lymphodepletion's "
                                    "baseline window, or days counted from another reference than the infusion",
                _display(raws["labs"]["day"].iloc[pos], "day"))
    for name in REQUIRED_TABLES:
        if name in tables and len(tables[name]) == 0:
            items.append(dict(source=sources[name], table=name, column=None, row=None,
                              rule="table has a header but no data rows; the book needs at least one patient",
                              value=None))
    # Plausibility rules (declared in spec.PLAUSIBILITY_RULES): errors join the problems, warnings
    # are issued as ContractWarning. Imported here because plausibility imports this module.
    from helpers.contract.plausibility import cohort_problems as plausibility_problems
    items += plausibility_problems(typed, raws, rows, sources)
    items += events_problems(typed, raws, rows, sources)
    return results, items


def _output_attrs(name: str, source: str, results: Mapping[str, pd.DataFrame]) -> dict:
    """``attrs`` of a validated table: its file name, and for patients the declared covariates."""
    attrs: dict[str, Any] = {_SOURCE_ATTR: source}
    if name == "patients":
        attrs[COVARIATES_ATTR] = _covariates_of(results.get("covariates"))
    return attrs


def validate_cohort(tables: Mapping[str, pd.DataFrame], source_dir: Optional[str | Path] = None,
                    sources: Optional[Mapping[str, str]] = None) -> Cohort:
    """Validate every table and the rules across tables; return the coerced tables.

    ``tables`` maps table name -> DataFrame (``patients`` and ``outcomes``
    required). ``sources`` maps table name -> file name for messages
    (default: the name :func:`load_cohort` attached, else ``<table>.csv``);
    ``source_dir`` is named in the error's first line.

    Raises one :class:`ContractError` with every problem in every table.
    """
    sources = dict(sources or {})
    for name, df in tables.items():
        sources.setdefault(name, df.attrs.get(_SOURCE_ATTR) or f"{name}.csv")
    results, items = _cohort_problems(tables, sources)
    if items:
        raise ContractError(_sorted_problems(items), where=folder_for_display(source_dir) if source_dir else None)
    out = Cohort(folder=Path(source_dir) if source_dir else None,
                 files={n: sources[n] for n in results})
    for name in TABLES:
        if name in results:
            frame = results[name].reset_index(drop=True)
            frame.attrs = _output_attrs(name, sources[name], results)
            out[name] = frame
    return out


# --------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------

def _clean_frame(header: Sequence[Any], body_rows: Sequence[Sequence[Any]], source: str, table: str,
                 notes: list, problems: list, skip: Iterable[int] = ()) -> pd.DataFrame:
    """Header + data rows -> frame of cells; strip whitespace, drop empty rows, keep row numbers.

    ``skip`` holds 1-based data-row numbers already reported as unreadable.
    The frame's ``attrs`` carry the file row number of every kept row.
    """
    names = []
    stripped_headers = []
    for h in header:
        h = "" if not isinstance(h, str) and _is_missing(h) else str(h)
        clean = h.replace("\ufeff", "").strip()
        if clean != h and clean:
            stripped_headers.append(clean)
        names.append(clean)
    width = len(names)
    if all(len(r) == width for r in body_rows):  # the usual file: no row to pad or cut
        body = pd.DataFrame(body_rows if isinstance(body_rows, list) else list(body_rows),
                            columns=range(width), dtype=object)
    else:
        body = pd.DataFrame([list(r)[:width] + [None] * (width - len(r)) for r in body_rows],
                            columns=range(width), dtype=object)
    # Unnamed columns: ignored (and noted) when empty, refused otherwise.
    keep = []
    for i, name in enumerate(names):
        if name == "":
            if body[i].map(_is_missing).all():
                notes.append(dict(source=source, table=table,
                                  note=f"ignored empty column {i + 1}, which has no header"))
                continue
            names[i] = f"(unnamed column {i + 1})"
        keep.append(i)
    body = body[keep]
    body.columns = [names[i] for i in keep]

    stripped_cells: list[tuple[int, str]] = []
    missing_text = set(MISSING_TEXT)
    for j, name in enumerate(body.columns):
        values, stripped = _clean_cells(body.iloc[:, j].to_numpy(dtype=object), missing_text)
        stripped_cells += [(pos + 1, name) for pos in stripped]
        body.isetitem(j, pd.Series(values, index=body.index, dtype=object))
    row_numbers = np.arange(1, len(body) + 1)
    drop = np.isin(row_numbers, list(skip))
    empty = (body.isna().all(axis=1).to_numpy() if body.shape[1]  # cells are clean: missing = NA
             else np.ones(len(body), dtype=bool)) & ~drop
    if empty.any():
        skipped = row_numbers[empty].tolist()
        notes.append(dict(source=source, table=table,
                          note=f"skipped {len(skipped)} empty {_rows_text(skipped)}"))
    stripped_cells = [(r, c) for r, c in stripped_cells if not (drop | empty)[r - 1]]
    body = body[~(drop | empty)].reset_index(drop=True)
    row_numbers = row_numbers[~(drop | empty)]
    if stripped_headers or stripped_cells:
        parts = []
        if stripped_headers:
            n = len(stripped_headers)
            parts.append(f"{n} header{'s' if n != 1 else ''} ({', '.join(stripped_headers)})")
        if stripped_cells:
            n = len(stripped_cells)
            cols = [c for c in body.columns if any(c == sc for _, sc in stripped_cells)]
            parts.append(f"{n} cell{'s' if n != 1 else ''} (column{'s' if len(cols) != 1 else ''} "
                         f"{', '.join(cols)}; {_rows_text(sorted({r for r, _ in stripped_cells}))})")
        text = "stripped stray whitespace from " + " and ".join(parts)
        notes.append(dict(source=source, table=table, note=text))
        warnings.warn(f"{source}: {text}", ContractWarning, stacklevel=4)
    body.attrs[_ROWS_ATTR] = RowNumbers(row_numbers)
    body.attrs[_SOURCE_ATTR] = source
    return body


def _clean_cells(cells: np.ndarray, missing_text: set) -> tuple[np.ndarray, list[int]]:
    """Text cells stripped, the missing texts read as NaN, other cells as they are; and the
    0-based positions of the cells that were stripped. Each distinct text is cleaned once."""
    values = cells.copy()
    if len(cells) > 64 and pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):
        # only text and missing cells (a CSV): factorize, then clean each distinct text
        codes, uniques = pd.factorize(cells, use_na_sentinel=True)
        clean = [u.strip() for u in uniques]
        table = np.empty(len(uniques), dtype=object)
        table[:] = [np.nan if c in missing_text else c for c in clean]
        was_stripped = np.array([c != u for c, u in zip(clean, uniques)], dtype=bool)
        text = codes >= 0
        if not text.any():
            return values, []
        values[text] = table[codes[text]]
        return values, np.flatnonzero(text & was_stripped[np.maximum(codes, 0)]).tolist()
    cleaned: dict = {}  # distinct text -> (clean value, was stripped)
    stripped = []
    for pos, v in enumerate(cells):
        if isinstance(v, str):
            if v not in cleaned:
                clean = v.strip()
                cleaned[v] = (np.nan if clean in missing_text else clean, clean != v)
            values[pos], was = cleaned[v]
            if was:
                stripped.append(pos)
    return values, stripped


def _shown_file_name(name: str) -> str:
    """A file or sheet name as messages show it: masked when it looks like an identifier."""
    return _mask(name) if identifier_value_kind(name) else name


def _read_csv(path: Path, table: str, notes: list, problems: list) -> Optional[pd.DataFrame]:
    source = _shown_file_name(path.name)
    read = input_files.read_csv_table(path, table, notes, problems, columns=TABLES[table].column_names,
                                      missing_text=MISSING_TEXT, source=source)
    if read is None:
        return None
    header, rows, ragged = read
    return _clean_frame(header, rows, source, table, notes, problems, skip=ragged)


def _read_xlsx(path: Path, table: str, notes: list, problems: list) -> Optional[pd.DataFrame]:
    source = _shown_file_name(path.name)
    read = input_files.read_xlsx_table(path, table, notes, problems, columns=TABLES[table].column_names,
                                       missing_text=MISSING_TEXT, source=source, show=_shown_file_name)
    if read is None:
        return None
    header, rows = read
    return _clean_frame(header, rows, source, table, notes, problems)


# Cohorts validated ahead of time in this process (preload_cohort), by folder and the content of
# its files; each entry keeps the warnings its validation raised, to raise them again on loading.
_LOADED: dict[tuple[str, str], tuple[Cohort, list[warnings.WarningMessage]]] = {}


def folder_content_digest(folder: Path) -> str:
    """sha256 over the name, size and bytes of every regular file directly in ``folder``
    (links and sub-folders are not opened: the loader refuses them by name either way)."""
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_symlink() or not path.is_file():
            digest.update(f"{path.name}\0other\0".encode())
            continue
        digest.update(f"{path.name}\0{path.stat().st_size}\0".encode())
        with open(path, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()


def load_cohort(folder: str | Path, cache_dir: Optional[Path] = None) -> Cohort:
    """Read, validate and return the contract tables found in ``folder``: see
    :func:`read_cohort`. When this process already validated the folder's files, byte for byte,
    ahead of time (:func:`preload_cohort`: a build does it once, before it forks the workers whose
    forked kernels run the chapters, :mod:`helpers.site.warm_kernels`), those tables are handed
    over without reading the files again, and the warnings that validation raised are raised
    again. Handed over, not copied: the caller may change them, so this process forgets them,
    and a second load of the folder reads it afresh. (A forked kernel forgets its own copy of
    its worker's cache: the worker keeps the tables unchanged for the next kernel, and no
    registry of 100,000 patients is held twice in one process.)

    With ``cache_dir``, a validation is also kept on disk there (:func:`cached_validation`) and
    taken from there by the next process that loads the same files with the same contract."""
    folder = Path(folder)
    key, (cohort, raised), _ = _load_cached(folder, cache_dir)
    del _LOADED[key]
    _replay(raised)
    return Cohort(dict(cohort), folder=folder, files=cohort.files, notes=cohort.notes)


def preload_cohort(folder: str | Path, cache_dir: Optional[Path] = None) -> str:
    """Validate ``folder`` into this process's cache of :func:`load_cohort`, without copying its
    tables out (a build loads each study once, before its workers fork and share the cache).
    Raises what :func:`load_cohort` raises; its warnings are kept for the later loads only.
    ``cache_dir`` as for :func:`load_cohort`. Returns where the tables came from: ``"memory"``
    (this process had them), ``"disk"`` (a validation kept in ``cache_dir``) or ``"validated"``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _load_cached(Path(folder), cache_dir)[2]


def _load_cached(folder: Path, cache_dir: Optional[Path] = None
                 ) -> tuple[tuple[str, str], tuple[Cohort, list[warnings.WarningMessage]], str]:
    """The folder's key, its validated tables with their warnings, and where they came from."""
    if not folder.is_dir():
        raise FileNotFoundError(f"cohort folder not found: {folder}")
    key = (str(folder.resolve()), folder_content_digest(folder))
    if key in _LOADED:
        return key, _LOADED[key], "memory"
    kept_file = None if cache_dir is None else _cache_file(cache_dir, key)
    kept = None if kept_file is None else cached_validation(kept_file)
    if kept is not None:
        _LOADED[key] = kept
        return key, kept, "disk"
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        try:
            cohort, refusal = read_cohort(folder), None
        except ContractError as error:  # not cached; what was warned before it is still said
            cohort, refusal = None, error
    if refusal is not None:
        _replay(raised)
        raise refusal
    if sum(len(frame) for frame in cohort.values()) >= _LARGE_COHORT_ROWS:
        return_freed_memory()
    _LOADED[key] = (cohort, raised)
    if kept_file is not None:
        keep_validation(kept_file, cohort, raised)
    return key, _LOADED[key], "validated"


# --------------------------------------------------------------------------
# Validations kept on disk
# --------------------------------------------------------------------------
# The intake validates a registry of 100,000 patients (36 s) and then starts the build, which
# validated it again in its own process; and every forced build validated the seed cohorts anew.
# A validation is kept as a pickle (100 MB, written in 0.4 s, read in about 1 s at 100,000
# patients) under a name made of the folder and a key that changes with any byte of its files,
# any source file of the contract, the register (the plausibility rules read it) and the versions
# of Python, pandas, numpy and pandera. A pickle runs code when read: the cache lives in the
# build's own output folder (``helpers.paths.COHORT_CACHE_DIR``), which is trusted as the
# repository is; a file that does not read back is ignored and the folder validated again.

def _contract_fingerprint() -> str:
    versions = "|".join([sys.version, *(version(package) for package in ("pandas", "numpy", "pandera"))])
    digest = hashlib.sha256(versions.encode())
    here = Path(__file__).resolve().parent
    for path in sorted(here.glob("*.py")) + [here.parent / "paths.py", REGISTER_CSV]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"absent")
    return digest.hexdigest()


def _cache_file(cache_dir: Path, key: tuple[str, str]) -> Path:
    folder = hashlib.sha256(key[0].encode()).hexdigest()[:16]
    content = hashlib.sha256(f"{key[1]}|{_contract_fingerprint()}".encode()).hexdigest()[:32]
    return Path(cache_dir) / f"{folder}-{content}.pickle"


def cached_validation(path: Path) -> Optional[tuple[Cohort, list[warnings.WarningMessage]]]:
    """The validation kept in ``path`` (:func:`_cache_file`), or None."""
    try:
        with open(path, "rb") as handle:
            cohort, raised = pickle.load(handle)
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a truncated or stale file: validate again
        return None
    os.utime(path)  # recently used: pruned last
    return cohort, [warnings.WarningMessage(message, category, filename, lineno)
                    for message, category, filename, lineno in raised]


def keep_validation(path: Path, cohort: Cohort, raised: list[warnings.WarningMessage]) -> Path:
    """Write a validation to ``path`` (:func:`_cache_file`, atomically), replacing the folder's
    earlier ones."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    with open(partial, "wb") as handle:
        pickle.dump((cohort, [(w.message, w.category, w.filename, w.lineno) for w in raised]), handle,
                    protocol=pickle.HIGHEST_PROTOCOL)
    partial.replace(path)
    for earlier in path.parent.glob(f"{path.name.split('-')[0]}-*.pickle"):
        if earlier != path:
            earlier.unlink(missing_ok=True)
    # and the least recently used beyond KEPT_VALIDATIONS (the tests validate many folders)
    kept = sorted(path.parent.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in kept[KEPT_VALIDATIONS:]:
        stale.unlink(missing_ok=True)
    return path


#: Validations kept on disk at most, the most recently used.
KEPT_VALIDATIONS = 16


#: Rows (all tables) from which validation hands its garbage back to the system: a registry.
_LARGE_COHORT_ROWS = 100_000


def return_freed_memory() -> None:
    """Collect garbage and hand the memory freed to the system. Validating a registry of 100,000
    patients frees about as much memory as its tables take, which glibc's allocator would keep
    for the process (a third of its resident memory at 20,000 patients)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass


def _replay(raised: list[warnings.WarningMessage]) -> None:
    for w in raised:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def read_cohort(folder: str | Path) -> Cohort:
    """Read, validate and return the contract tables found in ``folder``.

    Each table is read from ``<table>.csv`` (UTF-8, with or without a
    byte-order mark) or ``<table>.xlsx`` (the sheet named after the table, or
    the only sheet); the file name matches in any letter case. Links, folders
    and pipes named like a table are refused unopened, and so are other
    encodings, merged or hidden cells, formula text and error values
    (:mod:`helpers.contract.files`, which names file, row and cell).
    ``patients`` and ``outcomes`` are required; absent optional tables (no
    file, a 0-byte file or a header without rows) are listed in
    ``cohort.notes`` / ``cohort.summary()``.
    Stray whitespace around headers and cells is stripped and reported (in the
    notes and as a :class:`ContractWarning`); fully empty rows are skipped and
    reported; row numbers in messages stay those of the file.

    Raises one :class:`ContractError` listing every problem in every file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"cohort folder not found: {folder}")
    tables: dict[str, pd.DataFrame] = {}
    files: dict[str, str] = {}
    found = input_files.find_tables(folder, list(TABLES), REQUIRED_TABLES, show=_shown_file_name)
    notes: list[dict] = found.notes
    problems: list[dict] = found.problems
    for name, entry in found.files.items():
        source = _shown_file_name(entry.name)
        if entry.size == 0:  # like a header without rows: absent when optional, a problem when required
            if name in REQUIRED_TABLES:
                problems.append(dict(source=source, table=name, column=None, row=None, value=None,
                                     rule="file is empty (0 bytes); the table is required: write its header "
                                          "and one row per patient (the template is in data/template/)"))
            else:
                notes.append(dict(source=source, table=name,
                                  note="file is empty (0 bytes): read as an absent optional table"))
            continue
        reader = _read_xlsx if entry.path.suffix.lower() == ".xlsx" else _read_csv
        frame = reader(entry.path, name, notes, problems)
        if frame is not None and frame.shape[1] and len(frame) == 0 and name not in REQUIRED_TABLES:
            notes.append(dict(source=source, table=name,
                              note="has a header but no data rows: read as an absent optional table"))
        elif frame is not None and frame.shape[1]:
            tables[name] = frame
            files[name] = source
        elif frame is not None:
            problems.append(dict(source=source, table=name, column=None, row=None,
                                 rule="file has no columns", value=None))

    note_frame = _note_frame(notes)
    # Absent or unreadable required tables are reported above.
    results, items = _cohort_problems(tables, {**{n: f"{n}.csv" for n in TABLES}, **files},
                                      report_missing=False)
    problems += items
    if problems:
        raise ContractError(_sorted_problems(problems), notes=note_frame, where=folder_for_display(folder))
    out = Cohort(folder=folder, files=files, notes=note_frame)
    for name in TABLES:
        if name in results:
            frame = results[name].reset_index(drop=True)
            frame.attrs = _output_attrs(name, files[name], results)
            out[name] = frame
    return out
