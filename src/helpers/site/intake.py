"""Run the book on your own cohort: validate a folder of CSV or Excel files, then build.

One command::

    .venv/bin/python -m helpers.site.intake /path/to/my/cohort --out /path/to/output

1. **Finds the studies.** ``/path/to/my/cohort`` is one study (it holds
   ``patients.csv`` or ``patients.xlsx``) or a folder of study folders. A study's
   name is its folder's name.
2. **Validates** every table against the data contract (:mod:`helpers.contract`:
   columns, types, ranges, identifiers, rules across tables) and the intake rules
   below. Every problem is listed with its file, column, row(s) and rule, in the
   terminal and in ``<out>/intake-problems.csv``; nothing is built until the list
   is empty (exit status 2).
3. **Says what each analysis can do** with these data (``<out>/intake-report.md``):
   which tables are absent, whether there is one cohort or several, how many
   patients are not evaluable, whether every patient is censored -- the visible
   degradations the chapters will show.
4. **Builds the book** on the folder into ``<out>/_build/html`` (the build runner
   with ``--data-dir``, ``--allow-absent`` and ``CART_BOOK_OUTPUT=<out>``), so the
   book's own build is untouched. Each chapter gets the papermill parameter
   ``data_dir``; a section or chapter whose data are absent shows a "no data"
   note. The privacy guard (:mod:`helpers.site.privacy`) then checks the built site.

Calendar dates stay off: the book counts days from the infusion. A data owner
who wants the months of infusion shown (aggregated, never a day) adds
``infusion_dates.csv`` (study_id, patient_id, infusion_date as YYYY-MM-DD) to a
study folder and passes ``--absolute-dates``.

Intake rules (beyond the contract)
----------------------------------
* A study folder holds one study: ``study_id`` has one value in every table.
* A folder named after a study the book reproduces (000, 001, 003, 004) is read
  as that study, so its cohort labels must be the ones the chapters compare
  (e.g. ``CML-LBC`` and ``Ph+ ALL`` for 000). Your own data belong in a folder
  with its own name.
* With ``--absolute-dates``, ``infusion_dates.csv`` must name each patient once,
  with a valid date.
* No direct identifier in what the book prints: the study folder's name (and the
  data folder's, for a folder of studies), the cohort labels and every free-text
  column (``term``, ``agent``, ``dose_unit``, ``mutations``...) are checked with the
  site's identifier rules (:func:`helpers.site.privacy.identifier_spans`: e-mail
  addresses plain or obfuscated, phone numbers, calendar dates including two-digit
  years, a title and a name such as ``Dr Smith``, initials and a date, absolute
  paths), beyond the contract's own. A folder name or a cohort label shaped like a
  person's name (``Jane Smith``) is a warning: a shape is not proof. The names of
  files the contract ignores are checked too (a warning: they are neither read nor
  published).

Everything the report echoes from the data (file, folder and column names, cell
values, cohort labels, in the terminal, ``intake-report.md`` and
``intake-problems.csv``) is masked (letters -> x, digits -> 9) where it matches
one of those rules, and the data folder is named by its own name, never by its
absolute path.
"""

from __future__ import annotations

import argparse
import bisect
import gc
import os
import re
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from helpers.chapters.context import (
    ABSOLUTE_DATES_ENV,
    INFUSION_DATES_FILE,
    read_infusion_months,
    register_studies,
)
from helpers.contract import files as input_files
from helpers.contract import validate as contract
from helpers.contract.validate import PROBLEM_COLUMNS, ContractError
from helpers.paths import COHORT_CACHE_SUBDIR, REGISTER_CSV, REPO_ROOT, SYNTHETIC_DIR, build_dir
from helpers.site import privacy

CYTOKINE_ANALYTES = ("IL-6", "IL-10", "TNF-alpha", "IFN-gamma", "CRP", "ferritin")


@dataclass
class IntakeReport:
    """What intake found: problems (file, column, row, rule), notes, and per-analysis readiness."""

    folder: Path
    studies: dict = field(default_factory=dict)  # study -> contract.Cohort (validated)
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["study", *PROBLEM_COLUMNS]))
    notes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["study", "source", "table", "note"]))
    readiness: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["study", "analysis", "status", "detail"]))

    # Name-shaped labels (folder names, cohort labels) masked wherever the report shows them.
    hidden_labels: tuple = ()

    @property
    def ok(self) -> bool:
        return len(self.problems) == 0

    def shown(self, text) -> str:
        """How the report shows a name from the user's data (see :class:`Masker`)."""
        return Masker(self.folder, self.hidden_labels)(text)

    def problem_lines(self) -> list[str]:
        """One line per problem (the full list, as in ``intake-problems.csv``)."""
        return [_problem_line(p) for p in self.problems.to_dict("records")]

    def problem_groups(self) -> pd.DataFrame:
        """The problems grouped by root cause: one row per study, file, column and rule, with the
        number of rows it concerns, the first rows and the first value found. A column of wrong
        codes is one cause however many rows hold them, so the terminal and the report list causes,
        and the CSV keeps every row."""
        return problem_groups(self.problems)

    def group_lines(self) -> list[str]:
        """One line per cause (:meth:`problem_groups`); a cause of one problem reads as its line,
        and one rule broken by several whole columns of a file (unknown columns, say) is one line
        naming them."""
        groups = self.problem_groups().to_dict("records")
        by_rule: dict[tuple, list[str]] = {}
        for g in groups:
            if g["count"] == 1 and not g["first_rows"] and g["column"] is not None:
                by_rule.setdefault((g["study"], g["source"], g["table"], g["rule"]), []).append(g["column"])
        lines, merged = [], set()
        for g in groups:
            key = (g["study"], g["source"], g["table"], g["rule"])
            if len(by_rule.get(key, ())) > 1 and g["count"] == 1 and not g["first_rows"]:
                if key not in merged:
                    merged.add(key)
                    names = ", ".join(f"'{c}'" for c in by_rule[key])
                    lines.append(f"[{g['study']}] {g['source']}: table '{g['table']}', {len(by_rule[key])} columns "
                                 f"({names}): {g['rule']}")
                continue
            if g["count"] == 1:
                lines.append(_problem_line(dict(g, row=g["first_rows"][0] if g["first_rows"] else None,
                                                value=g["first_value"])))
                continue
            rows = contract._rows_text(g["rows"], limit=FIRST_ROWS) if g["rows"] else ""
            found = "" if contract._is_missing(g["first_value"]) else f"first found {g['first_value']}"
            detail = "; ".join(x for x in (rows, found) if x)
            lines.append(_problem_line(dict(g, row=None, value=None))
                         + f" -- {g['count']} times" + (f" ({detail})" if detail else ""))
        return lines

    def text(self) -> str:
        out = [f"Intake of {self.shown(self.folder.name)}: {len(self.studies) or 'no'} valid stud"
               f"{'y' if len(self.studies) == 1 else 'ies'}"
               + (f" ({', '.join(self.shown(s) for s in self.studies)})" if self.studies else "")]
        if not self.ok:
            causes = self.group_lines()
            out.append(f"{len(self.problems)} problem(s) from {len(causes)} cause(s) - nothing is built until "
                       f"they are fixed. {ROW_MEANING} Every row is listed in intake-problems.csv.")
            out += ["  " + line for line in causes]
        for n in self.notes.to_dict("records"):
            out.append(f"  note [{n['study']}] {n['source']}: {n['note']}")
        if len(self.readiness):
            out.append("What the chapters can do with these data:")
            for r in self.readiness.to_dict("records"):
                out.append(f"  [{r['study']}] {r['analysis']}: {r['status']}" + (f" - {r['detail']}" if r['detail'] else ""))
        return "\n".join(out)

    def markdown(self) -> str:
        lines = [f"# Intake report: `{self.shown(self.folder.name)}`", ""]
        if not self.ok:
            groups = self.problem_groups()
            lines += [f"**{len(self.problems)} problem(s) from {len(self.group_lines())} cause(s); the book was "
                      "not built.** "
                      f"{ROW_MEANING} Every row is listed in `intake-problems.csv`.", "",
                      "| Study | File | Column | Rows | First rows | Rule | First value |",
                      "|---|---|---|---|---|---|---|"]
            for g in groups.to_dict("records"):
                first = ", ".join(str(r) for r in g["first_rows"])
                lines.append("| " + " | ".join(_md(x) for x in (g["study"], g["source"], g["column"], g["count"],
                                                                 first, g["rule"], g["first_value"])) + " |")
            lines.append("")
        if len(self.notes):
            lines += ["## Notes from loading", ""] + [f"- **{_md(n['study'])}**, {_md(n['source'])}: {_md(n['note'])}"
                                                     for n in self.notes.to_dict("records")] + [""]
        if len(self.readiness):
            lines += ["## What each analysis can do with these data", "",
                      "| Study | Analysis | Status | Detail |", "|---|---|---|---|"]
            lines += ["| " + " | ".join(_md(r[c]) for c in ("study", "analysis", "status", "detail")) + " |"
                      for r in self.readiness.to_dict("records")]
        return "\n".join(lines) + "\n"


#: What "row" means wherever the intake names one.
ROW_MEANING = ("A row is a data row of the file, counted from 1 below the header (CSV line = row + 1; "
               "a workbook names the sheet and cell instead).")
#: How many rows a grouped problem names before "and N more".
FIRST_ROWS = 5
_GROUP_KEY = ["study", "source", "table", "column", "rule"]


def _problem_line(p: dict) -> str:
    if contract._is_missing(p.get("table")):  # a folder's problem: no table to name
        line = f"{p['source']}: {p['rule']}" + ("" if contract._is_missing(p.get("value"))
                                                else f" (found {p['value']})")
    else:
        line = contract._format_problem(p)
    return f"[{p['study']}] {line}"


def problem_groups(problems: pd.DataFrame) -> pd.DataFrame:
    """``problems`` (study + :data:`PROBLEM_COLUMNS`) grouped by study, file, table, column and rule,
    in the order each cause first appears: ``count`` (problems), ``first_rows`` (up to
    :data:`FIRST_ROWS` row numbers, ascending, of all the ``rows``) and ``first_value`` (the value of
    the first problem)."""
    columns = [*_GROUP_KEY, "count", "rows", "first_rows", "first_value"]
    if problems.empty:
        return pd.DataFrame(columns=columns)
    keyed = problems.assign(**{c: problems[c].astype(object).where(problems[c].notna(), "") for c in _GROUP_KEY})
    groups = []
    for key, group in keyed.groupby(_GROUP_KEY, sort=False):
        rows = sorted(int(r) for r in group["row"].dropna())
        record = dict(zip(_GROUP_KEY, (k if k != "" else None for k in key)))
        groups.append(dict(record, count=len(group), rows=rows, first_rows=rows[:FIRST_ROWS],
                           first_value=group["value"].iloc[0]))
    return pd.DataFrame(groups, columns=columns)


def _md(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return ""
    return str(value).replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

def expected_cohorts(study: str) -> Optional[list[str]]:
    """Cohort labels the chapters compare for a reproduced study (from its synthetic cohort)."""
    path = SYNTHETIC_DIR / study / "patients.csv"
    if study not in register_studies(REGISTER_CSV) or not path.exists():
        return None
    return sorted(pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["cohort"])["cohort"].unique())


def study_name_notes(study: str, cohort: contract.Cohort) -> list[dict]:
    """A note when the tables' ``study_id`` is not the folder's name: the book names a study by its
    folder, so the reader is told which name the pages will use instead of finding out there."""
    named = sorted(set(cohort["patients"]["study_id"].astype(str)) - {study})
    if not named:
        return []
    return [dict(study=study, source=cohort.files.get("patients", "patients.csv"), table="patients",
                 note=f"study_id is {', '.join(repr(v) for v in named)} in the tables, but the book names a "
                      f"study by its folder: the pages call it {study!r} (rename the folder to keep the other name)")]


def _intake_problems(study: str, cohort: contract.Cohort) -> list[dict]:
    problems = []
    # one study per folder
    ids = {}
    for name, frame in cohort.items():
        file_rows = _file_rows(cohort, name)
        for value, positions in frame.groupby("study_id", sort=False).indices.items():
            ids.setdefault(value, {})[name] = [file_rows[i] for i in positions]
    if len(ids) > 1:
        main = max(ids, key=lambda v: sum(len(r) for r in ids[v].values()))
        for value, tables in ids.items():
            if value == main:
                continue
            for name, rows in tables.items():
                problems.append(dict(study=study, source=cohort.files.get(name, f"{name}.csv"), table=name,
                                     column="study_id", row=rows[0],
                                     rule=f"a study folder holds one study: study_id {value!r} in "
                                          f"{contract._rows_text(rows)} differs from {main!r}, used in the "
                                          "other rows; put each study in its own folder",
                                     value=repr(value)))
    # one time zero per study
    patients = cohort["patients"]
    if "time_origin" in patients.columns:
        origins = patients["time_origin"].dropna().unique()
        if len(origins) > 1:
            rows = _file_rows(cohort, "patients")
            first_other = int(np.flatnonzero(patients["time_origin"].to_numpy() == origins[1])[0])
            problems.append(dict(study=study, source=cohort.files.get("patients", "patients.csv"), table="patients",
                                 column="time_origin", row=rows[first_other],
                                 rule=f"a study has one time zero: time_origin holds {len(origins)} values "
                                      f"({', '.join(repr(o) for o in origins)}); every day of the study counts "
                                      "from the same event",
                                 value=repr(origins[1])))
    # cohorts of a reproduced study
    expected = expected_cohorts(study)
    if expected is not None:
        patients = cohort["patients"]
        for label, rows in patients.groupby("cohort", sort=True).groups.items():
            if label not in expected:
                first = [int(r) + 1 for r in rows]
                problems.append(dict(study=study, source=cohort.files["patients"], table="patients",
                                     column="cohort", row=first[0],
                                     rule=f"unknown cohort label for study {study} ({contract._rows_text(first)}): "
                                          f"the chapters that reproduce study {study} compare the cohorts "
                                          f"{', '.join(expected)}; use those labels, or put your own data in a "
                                          f"folder with its own name (not {', '.join(register_studies(REGISTER_CSV))})",
                                     value=repr(label)))
    return problems


# --------------------------------------------------------------------------
# Identifiers in names and free text, and masking what the report echoes
# --------------------------------------------------------------------------

class Masker:
    """Masks what the report echoes from the user's data.

    The data folder's absolute path becomes its own name (the folders around it often name a
    person or a machine); every span that matches an identifier rule of the site's scan
    (:func:`helpers.site.privacy.mask_identifiers`) and every name-shaped label in
    ``hidden_labels`` is replaced by its mask (letters -> x, digits -> 9)."""

    def __init__(self, folder: Path, hidden_labels=()):
        self.folder = Path(folder)
        self.hidden = sorted(set(hidden_labels), key=len, reverse=True)

    def _relative(self, text: str) -> str:
        for root in dict.fromkeys((str(self.folder.parent), self.folder.parent.as_posix())):
            if len(root) > 1:
                text = text.replace(root + os.sep, "").replace(root + "/", "")
        return text

    def __call__(self, text):
        if not isinstance(text, str) or not text:
            return text
        text = self._relative(text)
        for label in self.hidden:
            text = text.replace(label, f"[masked possible name: {privacy.mask(label)}]")
        return privacy.mask_identifiers(text)

    def value(self, text):
        """A problem's ``value`` (the contract writes it as ``'text'``, a number or ``masked
        value '...'``): masked whole, as the contract masks, when any part of it matches."""
        if not isinstance(text, str) or not text or text.startswith("masked value"):
            return text
        inner = text[1:-1] if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text
        inner = self._relative(inner)
        if privacy.identifier_spans(inner) or any(label in inner for label in self.hidden):
            return contract._mask(inner)
        return text

    def frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for column in out.columns:
            if column == "row":
                continue
            mask = self.value if column == "value" else self
            out[column] = out[column].map(lambda v, m=mask: m(v) if isinstance(v, str) else v)
        return out


RULE_IDENTIFIER_IN_NAME = ("the {what} looks like a direct identifier ({kind}); the name is printed on every "
                           "page, download and file name of the book: rename it with a code (e.g. 'site-a')")
RULE_IDENTIFIER_IN_TEXT = ("looks like a direct identifier ({kind}); the book prints this column on its pages "
                           "and downloads and never accepts direct identifiers: remove it or use a code")


def _kinds(text: str) -> list[str]:
    return list(dict.fromkeys(kind.split(" (")[0] for _, _, kind in privacy.identifier_spans(text)))


def name_problems(study: str, name: str, what: str) -> tuple[list[dict], list[dict], list[str]]:
    """(problems, notes, name-shaped labels) for a folder's name that the book prints."""
    kinds = _kinds(name)
    if kinds:
        return ([dict(study=study, source=name, table=None, column=None, row=None,
                      rule=RULE_IDENTIFIER_IN_NAME.format(what=what, kind=", ".join(kinds)),
                      value=contract._mask(name))], [], [])
    if privacy.name_shaped(name):
        return [], [dict(study=study, source=name, table=None,
                         note=f"the {what} has the shape of a person's name (two or three capitalised "
                              "words); it is printed on every page of the book: if it names a person, "
                              "rename the folder")], [name]
    return [], [], []


def ignored_file_notes(study: str, folder: Path, cohort_files=()) -> list[dict]:
    """Warnings for files in a study folder whose names look like identifiers. The contract
    reads only its tables (whose names are fixed), so these are neither read nor published."""
    notes = []
    tables = {f"{t}.{ext}" for t in contract.TABLES for ext in ("csv", "xlsx")} | set(cohort_files)
    for path in sorted(folder.iterdir()):
        if path.name.lower() in tables or path.name in tables:
            continue
        kinds = _kinds(path.name) or (["a person's name, by its shape"] if privacy.name_shaped(path.name) else [])
        if kinds:
            notes.append(dict(study=study, source=path.name, table=None,
                              note=f"this file's name looks like a direct identifier ({', '.join(kinds)}); the "
                                   "file is not read and not published, but rename or move it if it names a "
                                   "person"))
    return notes


def _file_rows(cohort: contract.Cohort, table: str) -> list[int]:
    """The file's row numbers of a validated table's rows (row 1 = the first data row)."""
    frame = cohort[table]
    rows = frame.attrs.get(contract._ROWS_ATTR)
    if rows is not None and len(rows) == len(frame):
        return [int(r) for r in rows]
    source = cohort.files.get(table, "")
    skipped = any(n["source"] == source and str(n["note"]).startswith("skipped")
                  for n in cohort.notes.to_dict("records"))
    workbook = source.lower().endswith((".xlsx", ".xls"))
    reader = getattr(contract, "_read_xlsx" if workbook else "_read_csv", None)
    if skipped and reader is not None and cohort.folder is not None:
        # Empty rows were skipped: read the file again with the contract's reader for its numbers.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = reader(Path(cohort.folder) / source, table, [], [])
        rows = None if raw is None else raw.attrs.get(contract._ROWS_ATTR)
        if rows is not None and len(rows) == len(frame):
            return [int(r) for r in rows]
    return list(range(1, len(frame) + 1))


_SEPARATOR = "\n|\n"  # no identifier rule matches across it (see identifier_problems)


def identifier_problems(study: str, cohort: contract.Cohort) -> list[dict]:
    """Direct identifiers in the free-text columns (every text column without a closed
    vocabulary: cohort, term, agent, dose_unit, mutations, codes) by the site's rules, which
    go beyond the contract's (a title and a name, obfuscated e-mail, initials and a date, a
    two-digit year, an absolute path). One problem per distinct value, with its rows."""
    problems = []
    for name, frame in cohort.items():
        table = contract.TABLES[name]
        free = [c.name for c in table.columns if c.dtype == "str" and not c.allowed and c.name in frame]
        rows = None
        for column in free:
            values = frame[column].dropna().astype(str).unique().tolist()
            if not values:
                continue
            # One scan over all distinct values (a registry has 100,000 patient codes). The
            # separator holds a character that every rule stops at, so no match spans two values.
            joined = _SEPARATOR.join(values)
            starts, offset = [], 0
            for v in values:
                starts.append(offset)
                offset += len(v) + len(_SEPARATOR)
            hits: dict[int, list[str]] = {}
            for start, _, kind in privacy.identifier_spans(joined):
                index = _value_at(starts, start)
                hits.setdefault(index, []).append(kind.split(" (")[0])
            if not hits:
                continue
            rows = rows or _file_rows(cohort, name)
            text = frame[column].astype(str).to_numpy()
            for index, kinds in sorted(hits.items()):
                value = values[index]
                where = [rows[i] for i in np.flatnonzero(text == value)]
                problems.append(dict(study=study, source=cohort.files.get(name, f"{name}.csv"), table=name,
                                     column=column, row=where[0],
                                     rule=RULE_IDENTIFIER_IN_TEXT.format(kind=", ".join(dict.fromkeys(kinds)))
                                     + (f" ({contract._rows_text(where)})" if len(where) > 1 else ""),
                                     value=contract._mask(value)))
    return problems


def _value_at(starts: list[int], offset: int) -> int:
    return bisect.bisect_right(starts, offset) - 1


def cohort_label_notes(study: str, cohort: contract.Cohort) -> tuple[list[dict], list[str]]:
    """Warnings for cohort labels shaped like a person's name (every page prints them)."""
    notes, hidden = [], []
    for label in sorted(cohort["patients"]["cohort"].dropna().astype(str).unique()):
        if privacy.name_shaped(label):
            hidden.append(label)
            notes.append(dict(study=study, source=cohort.files.get("patients", "patients.csv"), table="patients",
                              note="a cohort label has the shape of a person's name (two or three capitalised "
                                   "words); labels are printed on every page: if it names a person, use another "
                                   "label"))
    return notes, hidden


def _load(path: Path, cache_dir: Optional[Path]) -> tuple[Optional[contract.Cohort], Optional[ContractError], list]:
    """The contract's load, with its warnings held back so that they can be masked."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return contract.load_cohort(path, cache_dir=cache_dir), None, list(caught)
        except ContractError as error:
            return None, error, list(caught)


def _warning_notes(study: str, caught, notes: list[dict], masker: Masker) -> list[dict]:
    """Warnings raised while loading become notes (unless a note already says it) and are issued
    again, masked: a warning echoes the data too. A warning that carries its own note (a
    plausibility warning's ``note``) gives that note."""
    added = []
    for item in caught:
        warning, message = item.message, str(item.message)
        if not isinstance(warning, contract.ContractWarning):  # a library's warning: not about the data
            warnings.warn(warning, stacklevel=3)
            continue
        own = getattr(warning, "note", None)
        if isinstance(own, dict) and "note" in own:
            note = dict(study=study, source=own.get("source"), table=own.get("table"), note=own["note"])
        else:
            source = re.search(r"[\w.() -]+\.(?:csv|xlsx)\b", message)
            note = dict(study=study, source=source.group(0).strip() if source else "contract", table=None,
                        note=message)
        if not any(str(n.get("note")) and (str(n.get("note")) in message or n.get("note") == note["note"])
                   for n in notes + added):
            added.append(note)
        warnings.warn(_masked_warning(warning, masker), stacklevel=3)
    return added


def _masked_warning(warning: Warning, masker: Masker) -> Warning:
    """The same warning with its text masked (of its own class when that class can be made again)."""
    message = str(warning)
    masked = masker(message)
    if masked == message:
        return warning
    problem = getattr(warning, "problem", None)
    try:
        if isinstance(problem, dict):
            return type(warning)({k: masker.value(v) if k == "value" else masker(v) for k, v in problem.items()})
        return type(warning)(masked)
    except (TypeError, ValueError):
        return contract.ContractWarning(masked)


def followup_text(cohort: contract.Cohort) -> str:
    """Median follow-up as the site reports it (reverse Kaplan–Meier, months from time zero, with its
    95 % CI and the range of observed times), so the intake and the pages print the same number."""
    from helpers.clinical.outcomes import outcome_frame
    from helpers.plots.survival import format_bound
    from helpers.stats.survival import median_followup

    frame, _ = outcome_frame(cohort)
    follow = median_followup(frame["os_time"], frame["os_event"])
    return (f"median {format_bound(follow['median'])} months by reverse Kaplan–Meier (95% CI "
            f"{format_bound(follow['lower'])}–{format_bound(follow['upper'])}), range {follow['min']:.1f}–"
            f"{follow['max']:.1f} months, as the survival chapter reports it")


def readiness(study: str, cohort: contract.Cohort) -> list[dict]:
    """What each analysis can do with one study's data: ok, degraded (and why) or absent."""
    rows = []
    patients, outcomes = cohort["patients"], cohort["outcomes"]
    n = len(patients)
    labels = sorted(patients["cohort"].unique())

    def add(analysis, status, detail=""):
        rows.append(dict(study=study, analysis=analysis, status=status, detail=detail))

    add("Patients", "ok", f"{n} patients in {len(labels)} cohort(s): {', '.join(labels)}")
    if len(labels) < 2:
        add("Comparisons between cohorts", "degraded",
            f"one cohort ({labels[0]}): between-cohort tests (Fisher, rank-sum, log-rank) are not computable; "
            "chapters describe the cohort on its own")
    else:
        sizes = patients["cohort"].value_counts()
        single = sorted(sizes.index[sizes == 1])
        if single:
            add("Comparisons between cohorts", "degraded",
                f"{len(labels)} cohorts; {', '.join(single)} {'has' if len(single) == 1 else 'each have'} 1 patient: "
                "tests that need a spread within each cohort (Welch t) are not computable for "
                f"{'it' if len(single) == 1 else 'them'}, and counts and rank tests rest on one observation")
        else:
            add("Comparisons between cohorts", "ok", f"{len(labels)} cohorts")
    for table, analysis in (("responses", "Response"), ("adverse_events", "Toxicity (CRS, ICANS, other events)"),
                            ("labs", "Cytokines and blood counts"), ("kinetics", "CAR-T expansion"),
                            ("treatments", "Treatment timelines")):
        if table not in cohort:
            add(analysis, "absent", f"no {table} table: the chapter shows 'no data for this analysis'")
            continue
        frame = cohort[table]
        covered = frame["patient_id"].nunique()
        detail = f"{len(frame)} rows for {covered} of {n} patients"
        if table == "labs":
            cytokines = frame[frame["analyte"].isin(CYTOKINE_ANALYTES)]
            if cytokines.empty:
                add(analysis, "degraded", detail + "; no cytokine or inflammatory-marker analyte")
                continue
            detail = f"{cytokines['patient_id'].nunique()} of {n} patients with cytokine samples"
        if table == "responses":
            readable = frame[frame["morphologic"] != "not_evaluable"]["patient_id"].nunique()
            if readable < n:
                detail += f"; {n - readable} patient(s) without a readable assessment are counted as not evaluable"
        add(analysis, "ok" if covered == n or table in ("labs", "kinetics") else "ok (partial)", detail)
    deaths, relapses = int(outcomes["died"].sum()), int(outcomes["relapsed"].sum())
    add("Follow-up", "ok", followup_text(cohort))
    if deaths == 0:
        add("Overall survival", "degraded",
            "every patient is censored (no death): survival stays at 100%, medians are not reached and "
            "the log-rank test is not computable")
    else:
        add("Overall survival", "ok", f"{deaths} deaths among {n}")
    if relapses + deaths == 0:
        add("Relapse-free survival", "degraded", "no relapse and no death: every patient censored")
    else:
        add("Relapse-free survival", "ok", f"{relapses} relapses, {deaths} deaths")
    add(*_events_readiness(cohort))
    return rows


def _events_readiness(cohort: contract.Cohort) -> tuple[str, str, str]:
    """The endpoints the optional events table adds (GRFS, count recovery, the centre's own codes),
    with each code's patients; EFS and duration of response need only the responses."""
    from helpers.clinical import endpoints

    analysis = "Dated events (GRFS, count recovery, own event types)"
    if "events" not in cohort:
        return (analysis, "absent", "no events table: GVHD-free survival, count recovery and a centre's own "
                                    "event types are not shown (EFS and duration of response need only the "
                                    "responses)")
    events = cohort["events"]
    reserved, own = endpoints.event_codes(events)
    counts = events.groupby("event")["patient_id"].nunique()
    listed = "; ".join(f"{code} {int(counts[code])} patient(s)" for code in [*reserved, *own])
    grfs = ("GRFS computable" if endpoints.gvhd_recorded(events)
            else "no GVHD row, so GRFS is not shown")
    return (analysis, "ok", f"{len(events)} rows: {listed}; {grfs}")


def validate(folder: str | Path, *, absolute_dates: bool = False, cache_dir: Optional[Path] = None) -> IntakeReport:
    """Validate every study under ``folder``; never raises for bad data (see ``report.problems``).
    With ``cache_dir`` (the build's :data:`helpers.paths.COHORT_CACHE_DIR`), each study's
    validation is kept there for the build, which then does not validate it again.

    What the report holds is masked (:class:`Masker`): it names the folder by its own name and
    hides anything that matches an identifier rule."""
    folder = Path(folder).expanduser().resolve()
    report = IntakeReport(folder)
    problems, notes, ready, hidden = [], [], [], []
    if not folder.is_dir():
        problems.append(dict(study="", source=folder.name, table=None, column=None, row=None,
                             rule="the data folder does not exist or is not a folder", value=None))
    else:
        studies = input_files.cohort_folders(folder)
        if not studies:
            problems.append(dict(study="", source=folder.name, table="patients", column=None, row=None,
                                 rule="no study found: neither the folder nor any folder inside it holds a "
                                      "patients.csv or patients.xlsx (the template is in data/template/); "
                                      + input_files.describe_folder(folder, contract.TABLES, privacy.mask_identifiers),
                                 value=None))
        elif folder not in studies.values():  # a folder of studies: its name is printed too
            named, noted, shaped = name_problems("", folder.name, "data folder's name")
            problems, notes, hidden = problems + named, notes + noted, hidden + shaped
        for study, path in studies.items():
            named, noted, shaped = name_problems(study, study, "study folder's name")
            problems, notes, hidden = problems + named, notes + noted, hidden + shaped
            cohort, error, caught = _load(path, cache_dir)
            if error is not None:
                problems += [dict(study=study, **p) for p in error.problems.to_dict("records")]
                notes += [dict(study=study, **n) for n in error.notes.to_dict("records")]
                notes += ignored_file_notes(study, path)
                notes += _warning_notes(study, caught, notes, Masker(folder, hidden))
                continue
            notes += [dict(study=study, **n) for n in cohort.notes.to_dict("records")]
            notes += study_name_notes(study, cohort)
            notes += ignored_file_notes(study, path, cohort.files.values())
            labelled, shaped = cohort_label_notes(study, cohort)
            notes, hidden = notes + labelled, hidden + shaped
            notes += _warning_notes(study, caught, notes, Masker(folder, hidden))
            found = _intake_problems(study, cohort) + identifier_problems(study, cohort)
            dates = path / INFUSION_DATES_FILE
            if absolute_dates and dates.exists():
                try:
                    months = read_infusion_months(dates, cohort["patients"])
                    notes.append(dict(study=study, source=dates.name, table=None,
                                      note=f"calendar dates switched on: months of infusion of {len(months)} "
                                           f"patients are shown (aggregated by month, never a day)"))
                except ContractError as error:
                    found += [dict(study=study, **p) for p in error.problems.to_dict("records")]
            elif absolute_dates:
                notes.append(dict(study=study, source=INFUSION_DATES_FILE, table=None,
                                  note="--absolute-dates given but the study has no infusion_dates.csv: "
                                       "days from infusion only"))
            problems += found
            if not found:
                report.studies[study] = cohort
                ready += readiness(study, cohort)
    masker = Masker(folder, hidden)
    report.hidden_labels = tuple(hidden)
    report.problems = masker.frame(pd.DataFrame(problems, columns=["study", *PROBLEM_COLUMNS]))
    report.problems["row"] = report.problems["row"].astype("Int64")
    report.notes = masker.frame(pd.DataFrame(notes, columns=["study", "source", "table", "note"]))
    report.readiness = masker.frame(pd.DataFrame(ready, columns=["study", "analysis", "status", "detail"]))
    return report


# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------

def build_command(folder: Path, *, seed: int, jobs: int, force: bool) -> list[str]:
    command = [sys.executable, "-m", "helpers.site.build", "--data-dir", str(folder), "--no-regenerate",
               "--allow-absent", "--seed", str(seed), "--jobs", str(jobs)]
    return command + (["--force"] if force else [])


def build(folder: Path, out: Path, *, seed: int = 20240101, jobs: int = 2, force: bool = False,
          absolute_dates: bool = False) -> int:
    """Build the book on ``folder`` into ``out/_build/html``; returns the build's exit status."""
    env = dict(os.environ, CART_BOOK_OUTPUT=str(out))
    env[ABSOLUTE_DATES_ENV] = "1" if absolute_dates else ""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), env.get("PYTHONPATH", "")]))
    return subprocess.run(build_command(folder, seed=seed, jobs=jobs, force=force), cwd=REPO_ROOT,
                          env=env).returncode


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site.intake",
                                     description="Validate a cohort folder, then build the book on it.")
    parser.add_argument("folder", help="folder of CSV/Excel tables in the data contract (one study, or "
                                       "one folder per study)")
    parser.add_argument("--out", help="output folder (the site goes to <out>/_build/html)")
    parser.add_argument("--check-only", action="store_true", help="validate and report; do not build")
    parser.add_argument("--absolute-dates", action="store_true",
                        help="show months of infusion from infusion_dates.csv (off: days from infusion only)")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--force", action="store_true", help="re-execute every chapter")
    args = parser.parse_args(argv)
    if not args.check_only and not args.out:
        parser.error("--out is required unless --check-only is given")

    start = time.perf_counter()
    out = Path(args.out).expanduser().resolve() if args.out else None
    cache_dir = None if args.check_only or out is None else build_dir(out) / COHORT_CACHE_SUBDIR
    report = validate(args.folder, absolute_dates=args.absolute_dates, cache_dir=cache_dir)
    print(report.text(), flush=True)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "intake-report.md").write_text(report.markdown(), encoding="utf-8")
        report.problems.to_csv(out / "intake-problems.csv", index=False, lineterminator="\n")
    if not report.ok:
        print(f"[intake] {len(report.problems)} problem(s): fix them and run again (nothing was built)",
              file=sys.stderr)
        return 2
    if args.check_only:
        return 0
    folder = report.folder
    # The build reads the validated tables kept in cache_dir; the intake's copy would only hold
    # memory while it runs (about 1.5 GB for a 100,000-patient registry).
    report.studies.clear()
    del report
    gc.collect()
    code = build(folder, out, seed=args.seed, jobs=args.jobs, force=args.force,
                 absolute_dates=args.absolute_dates)
    site = out / "_build" / "html" / "index.html"
    print(f"[intake] {'built' if code == 0 else 'build FAILED'} in {time.perf_counter() - start:.0f} s"
          + (f": open {site}" if code == 0 else ""), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
