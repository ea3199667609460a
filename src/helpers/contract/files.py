"""Reading a cohort folder's files safely, saying exactly where a file cannot be read.

:func:`helpers.contract.validate.load_cohort` finds its tables with :func:`find_tables` and reads
them with :func:`read_csv_table` / :func:`read_xlsx_table`; ``chapters.read_infusion_months``
reads ``infusion_dates.csv`` with :func:`read_csv_table` too. Each returns the header and the
data rows as they are in the file (cells still text, or Excel values) and appends every problem
as a dict (source, table, column, row, rule, value) naming the file and, where it applies, the
column and data row (CSV line = row + 1) or the sheet and cell. Nothing here raises for bad data
and nothing is fixed in silence: what is changed is said in a note.

What is refused, and why:

* **Not a regular file.** A symbolic link (it could point at another study's data or a system
  file), a folder or a named pipe named like a table is refused *without being opened*: the kind
  is read with ``os.lstat`` and the file is then opened with ``O_NOFOLLOW | O_NONBLOCK`` and
  checked again with ``fstat``, so a link swapped in meanwhile is not followed either.
* **File names.** Table names match in any letter case (``Patients.CSV``). A name that is almost
  a table's (``patients.csv.csv``, ``Patients.csv `` with a trailing space, ``export\\patients.csv``
  as some zip programs write it, ``patients.txt``), a zip archive and an old ``.xls`` workbook are
  named with the fix; a missing required table lists the files the folder holds.
* **Encodings.** UTF-8, with or without a byte-order mark (noted). UTF-16 and UTF-32 (with a
  byte-order mark, or UTF-16 without one, found by its pattern of NUL bytes) are refused by
  name; an undecodable byte and a NUL byte are located by line, row and column.
* **CSV syntax.** An unclosed quote (located where it opens), text after a closing quote and a
  cell over ``csv.field_size_limit()`` are reported with their row.
* **Header below row 1.** Title or group rows above the header: "the header seems to start on
  line N" instead of a list of unknown columns.
* **Workbooks.** Merged cells, formulas without a saved value, hidden rows and columns, and a
  workbook of several sheets none of which is named after the table, each named by sheet and
  cell; a saved formula result is read and noted.
* **Cells.** A spreadsheet error value (``#N/A``, ``#VALUE!``, ...) and a text beginning with
  ``=``, ``+``, ``-`` or ``@`` that is not a number (OWASP's CSV-injection rule: a spreadsheet
  runs it as a formula) are refused by column and row, and never echoed; the missing-value
  markers (``NA``, ``N/A``, ...) that the contract reads as missing are counted in a note.

Before issue 17 the 51 inputs of ``tests/test_bad_inputs.py`` cases 50-100 gave: 21 accepted in
silence (links followed, a folder, a pipe or a dangling link named like a table taken for an
absent table, merged cells, formulas without a value, error cells, hidden rows and columns, a
workbook's first sheet of several, formula text, ``treatments.xls`` and ``kinetics.csv.csv``
ignored, a NUL byte kept, ``NA`` read as missing without a word), 2 crashes (a 0-byte or a
UTF-16 ``infusion_dates.csv``), 26 refusals that did not say where or why (a byte offset instead
of a row, "not well-formed CSV" without a row, UTF-16 as unknown columns ``s\\x00t\\x00...``, title
rows as unknown columns, a missing table without the files seen and with the folder's absolute
path, a 0-byte optional table refused, an ``#N/A`` cell as "required but missing", the lines of
``/etc/passwd`` echoed as unknown columns) and 2 refused by a less exact rule ("file has no
header row" for a 0-byte file, ``must be a number (found '#VALUE!')``). After it: 48 refused
with file, place and rule, 3 read with a note (0-byte optional tables, ``NA`` markers counted);
none silent, none a crash.
"""

from __future__ import annotations

import bisect
import csv
import io
import os
import re
import stat
import warnings
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

#: File suffixes read as tables.
TABLE_SUFFIXES = (".csv", ".xlsx")
#: Old Excel workbooks: refused by name (no reader for them here).
OLD_EXCEL_SUFFIXES = (".xls",)
#: Other spreadsheet formats that a data owner may save by mistake.
OTHER_SPREADSHEET_SUFFIXES = (".xlsm", ".xlsb", ".ods", ".numbers")
#: Text formats that are not comma-separated CSV.
OTHER_TEXT_SUFFIXES = (".txt", ".tsv", ".tab")
#: How many of the folder's files a "required table is missing" problem names.
LISTED_FILES = 20
#: How many lines with an undecodable or NUL byte are reported one by one per file.
LISTED_BAD_LINES = 20
#: How far down a header row below title rows is looked for.
HEADER_SEARCH_ROWS = 10
#: Spreadsheet error values (Excel and LibreOffice); a cell holding one is refused.
SPREADSHEET_ERRORS = frozenset({
    "#N/A", "#N/A!", "#VALUE!", "#REF!", "#DIV/0!", "#NUM!", "#NAME?", "#NULL!", "#SPILL!", "#CALC!",
    "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#PYTHON!", "#GETTING_DATA", "ERR:502",
    "ERR:504", "ERR:508", "ERR:511", "ERR:522", "ERR:532",
})
#: First characters that make a spreadsheet run a cell as a formula (OWASP, CSV injection).
FORMULA_LEADERS = ("=", "+", "-", "@")

_BYTE_ORDER_MARKS = (  # longest first: the UTF-32 LE mark begins with the UTF-16 LE one
    (b"\x00\x00\xfe\xff", "UTF-32 BE"),
    (b"\xff\xfe\x00\x00", "UTF-32 LE"),
    (b"\xef\xbb\xbf", "UTF-8"),
    (b"\xff\xfe", "UTF-16 LE"),
    (b"\xfe\xff", "UTF-16 BE"),
)
_LINE_END = re.compile(r"\r\n|\r|\n")
_SAVE_AS_UTF8 = "save it as CSV UTF-8 (comma-separated)"
_KIND_RULES = {
    "symlink": ("is a symbolic link: the book reads only regular files and does not follow links "
                "(a link can point at another study's data or at a system file); copy the file itself "
                "into the folder"),
    "folder": "is a folder, not a file: a table is one file, {table}.csv or {table}.xlsx",
    "fifo": "is a named pipe (FIFO), not a regular file: it is not opened; put the table's file here instead",
    "other": "is not a regular file (a socket or a device): it is not opened",
    "gone": "could not be examined (it disappeared or is not accessible)",
}


def problem(source: str, table: Optional[str], rule: str, *, column: Optional[str] = None,
            row: Optional[int] = None) -> dict:
    """One problem in the contract's form (value stays empty: a cell refused here is never echoed)."""
    return dict(source=source, table=table, column=column, row=row, rule=rule, value=None)


def note(source: str, table: Optional[str], text: str) -> dict:
    return dict(source=source, table=table, note=text)


def rows_text(rows: Sequence[int], limit: int = 10) -> str:
    rows = sorted(int(r) for r in rows)
    shown = ", ".join(map(str, rows[:limit])) + (f" and {len(rows) - limit} more" if len(rows) > limit else "")
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------
# The folder: which file holds which table
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    """One name in a cohort folder, examined without following it."""

    path: Path
    kind: str  # "file", "symlink", "folder", "fifo", "other" or "gone"
    size: int

    @property
    def name(self) -> str:
        return self.path.name


def examine(path: Path) -> Entry:
    """The kind of ``path`` by ``os.lstat``: a link is a link, whatever it points at."""
    try:
        info = os.lstat(path)
    except OSError:
        return Entry(path, "gone", 0)
    mode = info.st_mode
    kind = ("symlink" if stat.S_ISLNK(mode) else "file" if stat.S_ISREG(mode) else
            "folder" if stat.S_ISDIR(mode) else "fifo" if stat.S_ISFIFO(mode) else "other")
    return Entry(path, kind, info.st_size)


def folder_entries(folder: Path) -> list[Entry]:
    return sorted((examine(p) for p in Path(folder).iterdir()), key=lambda e: (e.name.lower(), e.name))


def table_of_name(name: str, tables: Iterable[str]) -> Optional[tuple[str, str]]:
    """``(table, suffix)`` when ``name`` is a table's file name in any letter case, else None."""
    stem, dot, suffix = name.rpartition(".")
    suffix = "." + suffix.lower()
    if not dot or suffix not in TABLE_SUFFIXES + OLD_EXCEL_SUFFIXES:
        return None
    table = stem.strip().lower()
    return (table, suffix) if table in set(tables) else None


def near_miss(name: str, tables: Iterable[str]) -> Optional[tuple[Optional[str], str]]:
    """``(table or None, what to do)`` for a name that is almost a table's file name, or a zip."""
    tables = list(tables)
    lowered = name.strip().lower()
    if lowered.endswith(".zip"):
        return None, "a zip archive: unpack it into this folder"
    if name != name.strip() and table_of_name(name.strip(), tables):
        table, suffix = table_of_name(name.strip(), tables)
        where = "end" if name.rstrip() != name else "start"
        return table, f"a space at the {where} of the name: rename it {table}{suffix}"
    if "\\" in name:
        base = name.strip().rsplit("\\", 1)[1]
        if table_of_name(base, tables):
            table, suffix = table_of_name(base, tables)
            return table, (f"a folder path kept in the file name, as some zip programs do: "
                           f"rename it {table}{suffix}")
    known = TABLE_SUFFIXES + OLD_EXCEL_SUFFIXES + OTHER_SPREADSHEET_SUFFIXES + OTHER_TEXT_SUFFIXES
    stem, suffixes = lowered, []
    while "." in stem and "." + stem.rsplit(".", 1)[1] in known:
        stem, suffix = stem.rsplit(".", 1)
        suffixes.insert(0, "." + suffix)
    stem = stem.strip()
    if stem not in tables:
        return None
    last = suffixes[-1] if suffixes else ""
    if len(suffixes) >= 2 and last in TABLE_SUFFIXES:
        return stem, f"a doubled extension: rename it {stem}{last}"
    if last in OTHER_TEXT_SUFFIXES:
        return stem, f"a {last} text file: save it as CSV UTF-8 (comma-separated) named {stem}.csv"
    if last in OTHER_SPREADSHEET_SUFFIXES:
        return stem, f"a {last} workbook: save it as {stem}.xlsx, or as CSV UTF-8 named {stem}.csv"
    if not suffixes:
        return stem, f"no file extension: rename it {stem}.csv (CSV text) or {stem}.xlsx (a workbook)"
    return None


def holds_table(folder: Path, table: str, tables: Iterable[str]) -> bool:
    """Whether ``folder`` has an entry named like ``table``'s file: in any letter case, almost
    (``patients.csv.csv``), an old ``.xls``, or not a regular file. Finding a study by this rather
    than by an exact ``patients.csv`` lets :func:`find_tables` then say what is wrong with it."""
    tables = list(tables)
    for e in folder_entries(folder):
        if (table_of_name(e.name, tables) or (None,))[0] == table or (near_miss(e.name, tables) or (None,))[0] == table:
            return True
    return False


def describe_folder(folder: Path, tables: Iterable[str], show: Callable[[str], str] = str) -> str:
    """``"the folder holds: a, b (hint), ..."`` (at most ``LISTED_FILES`` names), for a message
    saying that a table or a study was not found."""
    tables = list(tables)
    entries = folder_entries(folder)
    hints = {e.name: m[1] for e in entries if (m := near_miss(e.name, tables))}
    return _listing(entries, hints, show)


@dataclass
class FoundTables:
    """Which regular file holds each table (``files``), and what finding them noticed."""

    files: dict[str, Entry]
    notes: list[dict]
    problems: list[dict]


def _listing(entries: Sequence[Entry], hints: Mapping[str, str], show: Callable[[str], str]) -> str:
    if not entries:
        return "the folder is empty"
    names = []
    for e in entries[:LISTED_FILES]:
        shown = show(e.name)
        shown = repr(shown) if shown != shown.strip() else shown
        shown += "/" if e.kind == "folder" else ""
        names.append(shown + (f" ({hints[e.name]})" if e.name in hints else ""))
    more = len(entries) - LISTED_FILES
    return "the folder holds: " + ", ".join(names) + (f" and {more} more" if more > 0 else "")


def find_tables(folder: Path, tables: Sequence[str], required: Sequence[str],
                show: Callable[[str], str] = str) -> FoundTables:
    """Map each table to its one regular file in ``folder``; problems and notes for the rest.

    ``show`` renders a file name in messages (the caller masks identifier-like names).
    """
    entries = folder_entries(folder)
    exact: dict[str, list[Entry]] = {}
    near: dict[str, list[tuple[Entry, str]]] = {}
    hints: dict[str, str] = {}
    notes: list[dict] = []
    problems: list[dict] = []
    for e in entries:
        if e.name.startswith("~$"):  # Excel's lock file while a workbook is open
            continue
        match = table_of_name(e.name, tables)
        if match:
            exact.setdefault(match[0], []).append(e)
            continue
        miss = near_miss(e.name, tables)
        if miss:
            hints[e.name] = miss[1]
            if miss[0]:
                near.setdefault(miss[0], []).append((e, miss[1]))
        elif e.path.suffix.lower() in TABLE_SUFFIXES:
            notes.append(note(show(e.name), None, "ignored: not a contract table (the tables are: "
                              + ", ".join(tables) + ")"))
    found: dict[str, Entry] = {}
    for table in tables:
        candidates = exact.get(table, [])
        refused = False
        for e in candidates:
            if e.kind != "file":
                problems.append(problem(show(e.name), table, _KIND_RULES[e.kind].format(table=table)))
                refused = True
            elif e.path.suffix.lower() in OLD_EXCEL_SUFFIXES:
                problems.append(problem(show(e.name), table, (
                    f"old Excel format (.xls) is not read: save it as .xlsx or CSV UTF-8 "
                    f"({table}.xlsx or {table}.csv)")))
                refused = True
        if refused:
            continue
        if len(candidates) > 1:
            problems.append(problem(show(candidates[0].name), table, "more than one file for this table ("
                                    + ", ".join(show(e.name) for e in candidates) + "); keep one"))
            continue
        if candidates:
            found[table] = candidates[0]
            for e, _ in near.get(table, []):
                notes.append(note(show(e.name), table, f"ignored: {show(candidates[0].name)} is read for "
                                                       f"the table {table}"))
            continue
        if table in required:
            problems.append(problem(f"{table}.csv", table, (
                f"required table is missing: no {table}.csv or {table}.xlsx in the folder; "
                + _listing(entries, hints, show))))
        elif near.get(table):
            for e, hint in near[table]:
                problems.append(problem(show(e.name), table, f"looks like the file of the table {table} "
                                                             f"but is not read: {hint}"))
        else:
            notes.append(note(f"{table}.csv", table, "optional table absent (no .csv or .xlsx file)"))
    return FoundTables(found, notes, problems)


# --------------------------------------------------------------------------
# Bytes and text
# --------------------------------------------------------------------------

class NotReadable(Exception):
    """The file is not a regular file, or could not be opened (the message is the rule)."""


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing links, folders and pipes before and after opening it."""
    entry = examine(path)
    if entry.kind != "file":
        raise NotReadable(_KIND_RULES[entry.kind].format(table=path.stem.lower()))
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:  # a link swapped in after lstat gives ELOOP; the path itself is not echoed
        raise NotReadable(f"file could not be opened ({err.strerror or type(err).__name__})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise NotReadable("is not a regular file: it is not read")
        return handle.read()


def _utf16_without_bom(data: bytes) -> Optional[str]:
    """``'UTF-16 LE'`` / ``'UTF-16 BE'`` when the NUL bytes fall on every other byte, as in
    UTF-16 text of Latin letters (``s\\x00t\\x00`` is LE), else None."""
    sample = data[:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    nul_even, nul_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if nul_odd >= 0.4 and nul_even <= 0.1:
        return "UTF-16 LE"
    if nul_even >= 0.4 and nul_odd <= 0.1:
        return "UTF-16 BE"
    return None


def _column_at(line: str, offset: int, header: Sequence[str]) -> Optional[str]:
    """The header name of the CSV cell holding character ``offset`` of ``line``."""
    prefix = line[:offset]
    index = len(next(csv.reader([prefix]), [""])) - 1 if prefix else 0
    if 0 <= index < len(header) and header[index].strip():
        return header[index].replace("\ufeff", "").strip()
    return f"(unnamed column {index + 1})" if index >= 0 else None


def _located(source: str, table: str, problems: list, bad: list[tuple[int, str, Optional[int]]],
             header: Sequence[str], rule: Callable[[int, str], str], what: str) -> None:
    """One problem per bad line (line number, line text, offset in it), located by row and column."""
    for line_no, line, offset in bad[:LISTED_BAD_LINES]:
        column = _column_at(line, offset, header) if line_no > 1 and offset is not None else None
        problems.append(problem(source, table, rule(line_no, line), column=column,
                                row=line_no - 1 if line_no > 1 else None))
    if len(bad) > LISTED_BAD_LINES:
        problems.append(problem(source, table, f"and {len(bad) - LISTED_BAD_LINES} more lines with {what}"))


def decode_text(data: bytes, source: str, table: str, notes: list, problems: list) -> Optional[str]:
    """UTF-8 text of a CSV file, or None with the problems appended (encoding named, bytes located)."""
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            if encoding == "UTF-8":
                notes.append(note(source, table, "UTF-8 byte-order mark at the start (ignored)"))
                data = data[len(mark):]
                break
            problems.append(problem(source, table, (
                f"file is not UTF-8 text: it is {encoding} (with a byte-order mark), as spreadsheet programs "
                f"write \"Unicode text\"; {_SAVE_AS_UTF8}")))
            return None
    else:
        utf16 = _utf16_without_bom(data)
        if utf16:
            problems.append(problem(source, table, (
                f"file is not UTF-8 text: it is {utf16} without a byte-order mark (found by its pattern of "
                f"NUL bytes); {_SAVE_AS_UTF8}")))
            return None
    lines = data.split(b"\n")  # a newline byte never occurs inside a UTF-8 multi-byte character
    header = next(csv.reader([lines[0].decode("utf-8", "replace")]), [])
    bad = []
    for n, raw in enumerate(lines, start=1):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as err:
            bad.append((n, raw.decode("utf-8", "replace"), len(raw[:err.start].decode("utf-8")), raw[err.start]))
    if bad:
        byte_of = {n: b for n, _, _, b in bad}
        _located(source, table, problems, [b[:3] for b in bad], header,
                 lambda n, _: (f"file is not UTF-8 text: byte 0x{byte_of[n]:02X} on line {n}"
                               f"{' (the header)' if n == 1 else ''} cannot be decoded (the file was perhaps "
                               f"saved as Windows-1252 or Latin-1); {_SAVE_AS_UTF8}"),
                 "undecodable bytes")
        return None
    text = data.decode("utf-8")
    if "\x00" in text:
        nul = [(n, line, line.index("\x00")) for n, line in enumerate(text.split("\n"), start=1) if "\x00" in line]
        _located(source, table, problems, nul, header,
                 lambda n, _: (f"holds a NUL byte (character 0) on line {n}{' (the header)' if n == 1 else ''}, "
                               "which is not text: the file is damaged or not a CSV table"), "NUL bytes")
        return None
    return text


# --------------------------------------------------------------------------
# CSV syntax
# --------------------------------------------------------------------------

def _unclosed_quote(text: str, start: int) -> Optional[tuple[int, int]]:
    """``(offset, cell index)`` of a quote opened in the record beginning at ``start`` that is
    never closed (the default CSV dialect: ``,`` and ``"``, doubled quotes inside), else None."""
    i, cell, at_cell_start = start, 0, True
    while i < len(text):
        ch = text[i]
        if at_cell_start and ch == '"':
            opened, i = i, i + 1
            while True:
                close = text.find('"', i)
                if close < 0:
                    return opened, cell
                if text.startswith('""', close):
                    i = close + 2
                    continue
                i, at_cell_start = close + 1, False
                break
            continue
        if ch == ",":
            cell, at_cell_start = cell + 1, True
        elif ch in "\r\n":
            return None
        else:
            at_cell_start = False
        i += 1
    return None


def parse_csv(text: str, source: str, table: str, problems: list) -> Optional[tuple[list[list[str]], list[int]]]:
    """CSV records and the line each starts on, or None with the problem located by row."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    if '"' not in text:  # no quoted cell, so every line is one record: read them all at once
        try:
            records = list(reader)
            return records, list(range(1, len(records) + 1))
        except csv.Error:  # located by the record-by-record reading below
            reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records = []
    starts: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return records, starts
        except csv.Error as err:
            row = len(records) if records else None  # records[0] is the header
            where = f"row starting on line {start}" if row else "header (line 1)"
            header = records[0] if records else []
            # Character offset of the start of each line, with the csv module's notion of a line end.
            offsets = [0] + [m.end() for m in _LINE_END.finditer(text)]
            opened = _unclosed_quote(text, offsets[min(start - 1, len(offsets) - 1)])
            message = str(err)
            if opened and ("end of data" in message or "field limit" in message):
                offset, cell = opened
                line = bisect.bisect_right(offsets, offset)
                column = header[cell].strip() if row and cell < len(header) and header[cell].strip() else None
                rule = (f"a quoted cell opens on line {line} and its closing quote is missing, so the rest of "
                        "the file would be read as one cell; close the quote, or double a quote that is part "
                        "of the text (\"\")")
                problems.append(problem(source, table, rule, column=column, row=row))
            elif "field limit" in message:
                problems.append(problem(source, table, (
                    f"a cell is longer than {csv.field_size_limit()} characters (the most one CSV cell may hold), "
                    f"in the {where}"), row=row))
            elif "expected after" in message:
                problems.append(problem(source, table, (
                    f"on line {reader.line_num} a character comes right after the closing quote of a quoted cell, "
                    "where only a comma or the end of the line may follow (as in \"NR\"x); quote the whole cell "
                    "and double the quotes inside it"), row=row))
            else:
                problems.append(problem(source, table, f"the {where} is not well-formed CSV ({message})", row=row))
            return None
        records.append(record)
        starts.append(start)


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and value != value)


def header_start(records: Sequence[Sequence[Any]], columns: Iterable[str]) -> Optional[int]:
    """Index of the record that seems to be the header when it is not the first one, else None.

    The first record is suspect when it has at most one filled cell or none of the contract's
    column names; a later record (within ``HEADER_SEARCH_ROWS``) holding two of them is the header.
    """
    names = {c.lower() for c in columns}

    def known(record):
        return [str(c).replace("\ufeff", "").strip() for c in record
                if not _blank(c) and str(c).replace("\ufeff", "").strip().lower() in names]

    if not records:
        return None
    first = records[0]
    if sum(not _blank(c) for c in first) > 1 and known(first):
        return None
    for i in range(1, min(len(records), HEADER_SEARCH_ROWS)):
        if len(known(records[i])) >= 2:
            return i
    return None


def _header_rule(records, index: int, columns: Iterable[str], unit: str, number: int) -> str:
    names = {c.lower() for c in columns}
    found = [str(c).strip() for c in records[index] if not _blank(c) and str(c).strip().lower() in names]
    shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
    above = number - 1
    return (f"the header seems to start on {unit} {number} (it holds the column names {shown}); delete the "
            f"{_plural(above, unit)} above it (a title, notes or merged cells) so that the column names are "
            f"on {unit} 1")


# --------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------

def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def formula_leader(value: Any) -> Optional[str]:
    """The leading ``=``, ``+``, ``-`` or ``@`` of a text cell a spreadsheet would run as a formula
    (leading whitespace ignored; ``-5`` and ``+1e6`` are numbers), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if len(text) > 1 and text[0] in FORMULA_LEADERS and not _is_number(text):
        return text[0]
    return None


def spreadsheet_error(value: Any) -> Optional[str]:
    if isinstance(value, str) and value.strip().upper() in SPREADSHEET_ERRORS:
        return value.strip().upper()
    return None


def check_cells(header: Sequence[Any], rows: Sequence[Sequence[Any]], source: str, table: str,
                notes: list, problems: list, missing_text: Iterable[str],
                where: Callable[[int, int], str] = lambda i, j: "") -> bool:
    """Refuse error values and formula-leading text in any cell; count missing-value markers.

    ``where(i, j)`` prefixes a rule with the cell's place (a workbook's sheet and cell); record
    ``i`` 0 is the header, record ``i`` is data row ``i``. Returns False when a cell was refused.
    """
    names = []
    for j, h in enumerate(header):
        text = "" if _blank(h) else str(h).replace("\ufeff", "").strip()
        names.append(text or f"(unnamed column {j + 1})")
    markers = {m for m in missing_text if m}
    seen: dict[str, None] = {}
    marked: list[tuple[int, str]] = []
    # Classify each distinct text once (C-speed set of all cells), then locate only the flagged ones.
    kinds = {}
    for value in set(chain.from_iterable([header, *rows])):
        if isinstance(value, str):
            kind = (spreadsheet_error(value), formula_leader(value), value.strip() in markers)
            if any(kind):
                kinds[value] = kind
    if not kinds:
        return True
    ok = True
    for i, record in enumerate([header, *rows]):
        for j, value in enumerate(record):
            if not isinstance(value, str) or value not in kinds:
                continue
            error, leader, marker = kinds[value]
            column = names[j] if i and j < len(names) else None
            row = i or None
            cell = "" if i else f"header cell {j + 1} "
            if error:
                problems.append(problem(source, table, (
                    f"{where(i, j)}{cell}holds the spreadsheet error {error}, which is not a value (a formula that "
                    "failed); write the value, or leave the cell empty for a missing value"), column=column, row=row))
                ok = False
            elif leader:
                problems.append(problem(source, table, (
                    f"{where(i, j)}{cell}begins with '{leader}' and is not a number: a spreadsheet runs such a cell "
                    f"as a formula (CSV injection), so it is refused; remove the leading '{leader}' or start the "
                    "text with a letter or digit"), column=column, row=row))
                ok = False
            elif i and marker:
                seen.setdefault(value.strip(), None)
                marked.append((i, names[j] if j < len(names) else f"(unnamed column {j + 1})"))
    if marked:
        columns = list(dict.fromkeys(c for _, c in marked))
        notes.append(note(source, table, (
            f"read {_plural(len(marked), 'cell')} written as a missing-value marker ({', '.join(seen)}) as missing: "
            f"{'column' if len(columns) == 1 else 'columns'} {', '.join(columns)}, "
            f"{rows_text(sorted({r for r, _ in marked}))}")))
    return ok


# --------------------------------------------------------------------------
# CSV tables
# --------------------------------------------------------------------------

def _read(path: Path, source: str, table: str, problems: list) -> Optional[bytes]:
    try:
        data = read_regular_file(path)
    except NotReadable as err:
        problems.append(problem(source, table, str(err)))
        return None
    if not data:
        problems.append(problem(source, table, "file is empty (0 bytes)"))
        return None
    return data


def read_csv_table(path: Path, table: str, notes: list, problems: list, *, columns: Iterable[str],
                   missing_text: Iterable[str] = (), source: Optional[str] = None,
                   ) -> Optional[tuple[list, list, list[int]]]:
    """``(header, data rows, rows not read)`` of a CSV table, or None when it cannot be read.

    ``columns`` are the contract's column names (to find a header below title lines);
    ``missing_text`` the cell texts the contract reads as missing (counted in a note).
    Ragged rows are reported and listed as not read (the caller skips them).
    """
    source = source or path.name
    columns = list(columns)
    data = _read(path, source, table, problems)
    text = decode_text(data, source, table, notes, problems) if data is not None else None
    parsed = parse_csv(text, source, table, problems) if text is not None else None
    if parsed is None:
        return None
    records, starts = parsed
    moved = header_start(records, columns)
    if moved is not None:
        problems.append(problem(source, table, _header_rule(records, moved, columns, "line", starts[moved])))
        return None
    if not records or not any(c.strip() for c in records[0]):
        problems.append(problem(source, table, "file has no header row"))
        return None
    header, rows = records[0], records[1:]
    if len(header) == 1:
        for sep, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if sep in header[0]:
                problems.append(problem(source, table, (
                    f"the file is separated by {word}, not commas; save it as comma-separated CSV")))
                return None
    ragged = []
    for n, r in enumerate(rows, start=1):
        if r and len(r) != len(header) and not (len(r) < len(header) and not any(c.strip() for c in r)):
            ragged.append(n)
            problems.append(problem(source, table, (
                f"row has {len(r)} cells but the header has {len(header)}; the row was not read"), row=n))
    if not check_cells(header, rows, source, table, notes, problems, missing_text):
        return None
    return header, rows, ragged


# --------------------------------------------------------------------------
# Excel workbooks
# --------------------------------------------------------------------------

def _not_a_workbook(data: bytes) -> Optional[str]:
    if data.startswith(b"PK"):
        return None
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return ("is not an .xlsx workbook: it is an old Excel (.xls) workbook or a password-protected one; "
                "save it as .xlsx without a password, or as CSV UTF-8")
    return ("is not an Excel workbook: an .xlsx file is a zip archive and this one is not (perhaps a CSV file "
            "renamed .xlsx); save it as .xlsx, or name a CSV file .csv")


def _sheet_choice(names: Sequence[str], table: str, source: str, notes: list, problems: list,
                  show: Callable[[str], str]) -> Optional[str]:
    named = [n for n in names if n.strip().lower() == table]
    if named:
        others = [show(n) for n in names if n != named[0]]
        if others:
            notes.append(note(source, table, f"read sheet '{show(named[0])}'; ignored the other sheets "
                                             f"({', '.join(others)})"))
        return named[0]
    if len(names) == 1:
        return names[0]
    problems.append(problem(source, table, (
        f"the workbook has {len(names)} sheets ({', '.join(show(n) for n in names)}) and none is named "
        f"'{table}': name the sheet that holds the table '{table}', or delete the other sheets")))
    return None


def _value(value: Any) -> Any:
    """A cell value as pandas' Excel reader gives it (a whole float is an int)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def read_xlsx_table(path: Path, table: str, notes: list, problems: list, *, columns: Iterable[str],
                    missing_text: Iterable[str] = (), source: Optional[str] = None,
                    show: Callable[[str], str] = str) -> Optional[tuple[list, list]]:
    """``(header, data rows)`` of a workbook's table sheet, or None when it cannot be read.

    The sheet is the one named after the table (any letter case), or the only one. Merged cells,
    hidden rows and columns, formulas without a saved value, error values and formula-leading
    text are refused with the sheet and cell; saved formula results are read and noted.
    """
    import openpyxl  # a workbook is rare: keep CSV reading free of the import
    from openpyxl.utils import column_index_from_string, get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    source = source or path.name
    columns = list(columns)
    data = _read(path, source, table, problems)
    if data is None:
        return None
    wrong = _not_a_workbook(data)
    if wrong:
        problems.append(problem(source, table, wrong))
        return None
    try:
        with warnings.catch_warnings():  # openpyxl warns about styles and extensions it ignores
            warnings.simplefilter("ignore")
            book = openpyxl.load_workbook(io.BytesIO(data), data_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable workbook is a problem to report
        problems.append(problem(source, table, f"workbook could not be read ({type(err).__name__}: {err})"))
        return None
    sheet = _sheet_choice(book.sheetnames, table, source, notes, problems, show)
    if sheet is None:
        return None
    ws = book[sheet]
    label = f"sheet '{show(sheet)}'"
    if not isinstance(ws, Worksheet):
        problems.append(problem(source, table, f"{label} is a chart sheet, not a table"))
        return None
    cells = [list(r) for r in ws.iter_rows()]
    formulas = [c for r in cells for c in r if c.data_type == "f"]
    values = [[c.value for c in r] for r in cells]
    if formulas:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            saved = openpyxl.load_workbook(io.BytesIO(data), data_only=True)[sheet]
        values = [[saved.cell(row=c.row, column=c.column).value for c in r] for r in cells]
    height = max((i + 1 for i, r in enumerate(values) if any(not _blank(v) for v in r)), default=0)
    width = max((j + 1 for r in values for j, v in enumerate(r) if not _blank(v)), default=0)
    grid = [[_value(v) for v in r[:width]] + [None] * (width - len(r)) for r in values[:height]]
    if not grid:
        problems.append(problem(source, table, f"workbook {label} has no header row"))
        return None
    header = grid[0]

    def name_of(col: int) -> Optional[str]:  # 1-based column -> its header name
        h = header[col - 1] if col <= width else None
        return f"(unnamed column {col})" if _blank(h) else str(h).strip()

    ok = True
    for rng in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col)):
        if rng.min_row > height or rng.min_col > width:
            continue
        first = f"{get_column_letter(rng.min_col)}{rng.min_row}"
        data_row = rng.min_row > 1
        problems.append(problem(source, table, (
            f"{label}, cells {rng.coord} are merged: only the first cell ({first}) holds the value and the others "
            "would be read as empty; unmerge the cells and fill every one"),
            column=name_of(rng.min_col) if data_row else None, row=rng.min_row - 1 if data_row else None))
        ok = False
    for r, dim in sorted(ws.row_dimensions.items()):
        if (dim.hidden or dim.ht == 0) and r <= height and any(not _blank(v) for v in grid[r - 1]):
            problems.append(problem(source, table, (
                f"{label}, row {r} is hidden: a hidden row is read and analysed like the others although it is "
                "not seen; unhide it, or delete it if it should not be analysed"), row=r - 1 if r > 1 else None))
            ok = False
    hidden_columns = set()
    for key, dim in ws.column_dimensions.items():
        if dim.hidden or dim.width == 0:
            low = dim.min or column_index_from_string(key)
            hidden_columns.update(range(low, (dim.max or low) + 1))
    for col in sorted(hidden_columns):
        if col <= width and any(not _blank(r[col - 1]) for r in grid):
            problems.append(problem(source, table, (
                f"{label}, column {get_column_letter(col)} is hidden: a hidden column is read like the others "
                "although it is not seen; unhide it, or delete it if it should not be read"), column=name_of(col)))
            ok = False
    unsaved, read = [], []
    for c in formulas:
        if c.row > height or c.column > width:
            continue
        (unsaved if _blank(grid[c.row - 1][c.column - 1]) else read).append(c)
    for c in unsaved:
        problems.append(problem(source, table, (
            f"{label}, cell {c.coordinate} holds a formula without a saved value (the workbook was written by a "
            "program that does not calculate formulas, so its value is unknown); open the workbook in Excel or "
            "LibreOffice and save it again, or replace the formula by its value"),
            column=name_of(c.column) if c.row > 1 else None, row=c.row - 1 if c.row > 1 else None))
        ok = False
    if read:
        refs = [c.coordinate for c in read]
        notes.append(note(source, table, (
            f"read the saved values of {_plural(len(read), 'formula cell')} ({label}, "
            f"{', '.join(refs[:10])}{' and more' if len(refs) > 10 else ''})")))
    moved = header_start(grid, columns)
    if moved is not None:
        problems.append(problem(source, table, f"{label}: " + _header_rule(grid, moved, columns, "row", moved + 1)))
        return None
    if not check_cells(header, grid[1:], source, table, notes, problems, missing_text,
                       where=lambda i, j: f"{label}, cell {get_column_letter(j + 1)}{i + 1}: ") or not ok:
        return None
    return header, grid[1:]


def cohort_folders(data_dir: Path) -> dict[str, Path]:
    """Study folders under ``data_dir`` (a folder holding patients.csv is one study itself)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"data_dir {data_dir} does not exist or is not a folder")
    from helpers.contract.spec import TABLES

    # a patients file in any letter case or almost so (patients.csv.csv) marks a study, so that
    # reading it can say what is wrong with the name instead of "no study found"
    if holds_table(data_dir, "patients", TABLES):
        return {data_dir.name: data_dir}
    return {p.name: p for p in sorted(data_dir.iterdir())
            if p.is_dir() and not p.is_symlink() and holds_table(p, "patients", TABLES)}
