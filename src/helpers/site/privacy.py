"""Privacy guard: nothing on the built site may look like a direct identifier.

The data contract already refuses direct identifiers on the way *in*
(:mod:`helpers.contract`: identifier-like column names, e-mail addresses, phone
numbers, calendar dates and record numbers in cells). This module checks the
way *out*: after the site is built, :func:`check_site` reads every page,
downloadable table, notebook source and static figure of it and reports
anything that looks like

* an **e-mail address** or a **phone number**;
* a **date of birth**: a date or a year next to words such as *born*, *birth*,
  *DOB*;
* a **calendar date** (day precision). The book counts days from the infusion
  and shows no calendar date of a patient. The only full dates allowed are the
  published ones: those within three months of a date printed in the published
  register (the case reports' own dates, transcribed from the papers), and the
  day of the build itself (page footers and execution stamps). A data owner who
  switches calendar dates on (``--absolute-dates``) gets months, never days, so
  this rule stays on;
* a **table column named like a direct identifier** (``Patient name``,
  ``MRN``, ``Date of birth``...) in a page or a downloadable CSV;
* a **record number**: a value of six or more digits only in a patient column of
  a downloadable CSV.

The build (``python -m helpers.site.build``) runs the check after Jupyter Book and
fails, removing the site, when anything is found. Findings never repeat the
value: it is masked (letters -> x, digits -> 9), as in the contract's messages.

Command line (exit status 1 when something is found)::

    python -m helpers.site.privacy _build/html
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import html as html_lib
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from helpers.contract import validate as contract
from helpers.paths import REGISTER_CSV

#: Files of the site that are read (vendor scripts, styles, fonts and images are not).
SCANNED_SUFFIXES = (".html", ".csv", ".ipynb", ".md", ".txt", ".svg", ".json")
#: Folders of the site that hold only third-party assets.
VENDOR_PARTS = ("_static/scripts", "_static/styles", "_static/vendor", "_static/locales",
                "_static/images", "_sphinx_design_static")
PUBLISHED_WINDOW_MONTHS = 3

_MONTH_NAMES = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_MONTH_YEAR_RE = re.compile(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,? "
                            r"(?:\d{1,2}(?:st|nd|rd|th)?,? )?((?:19|20)\d\d)\b", re.I)
_DAY_MONTH_YEAR_RE = re.compile(r"\b\d{1,2}(?:st|nd|rd|th)?[ -]?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
                                r"[a-z]*\.?[ ,-]*((?:19|20)\d\d)\b", re.I)
_ISO_RE = re.compile(r"(?<!\d)((?:18|19|20)\d\d)[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])(?!\d)")
_DMY_RE = re.compile(r"(?<!\d)(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.]((?:18|19|20)\d\d)(?!\d)")
_BIRTH_RE = re.compile(r"\b(born|birth|birthday|dob|d\.o\.b\.?|date of birth|geb(?:oren)?|née?)\b"
                       r"[^<>{}\n]{0,24}?(?:(?:18|19|20)\d\d|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})", re.I)
_PHONE_RES = (
    re.compile(r"(?<![\w.+-])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,4}){2,4}(?![\w.])"),
    re.compile(r"(?<![\w.])\(\d{2,4}\) ?\d{3,4}[ .-]\d{3,4}(?![\w.])"),
    re.compile(r"(?<![\w.-])\d{3}-\d{3}-\d{4}(?![\w.-])"),
    re.compile(r"(?<![\w.])0\d{2,4} \d{3,4} \d{3,4}(?![\w.])"),
)
_TH_RE = re.compile(r"<th[^>]*>(.*?)</th>", re.I | re.S)
_TAG_RE = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Finding:
    """One thing on the site that looks like a direct identifier."""

    path: str  # relative to the site folder
    line: int
    kind: str
    masked: str  # the value with letters -> x and digits -> 9

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind} ({self.masked})"


def mask(text: str) -> str:
    return re.sub(r"[0-9]", "9", re.sub(r"[^\W\d_]", "x", text))


# --------------------------------------------------------------------------
# Which dates are published
# --------------------------------------------------------------------------

def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def published_months(register_csv: Path | str = REGISTER_CSV) -> set[int]:
    """Months (as year*12 + month-1) printed anywhere in the published register, each
    widened by :data:`PUBLISHED_WINDOW_MONTHS` on both sides (dates the case-report
    timelines derive from published months, such as "one month later")."""
    path = Path(register_csv)
    if not path.exists():
        return set()
    text = path.read_text(encoding="utf-8")
    months = set()
    for match in _MONTH_YEAR_RE.finditer(text):
        months.add(_month_index(int(match.group(2)), _MONTH_NAMES[match.group(1)[:3].lower()]))
    for match in _DAY_MONTH_YEAR_RE.finditer(text):
        months.add(_month_index(int(match.group(2)), _MONTH_NAMES[match.group(1)[:3].lower()]))
    for match in _ISO_RE.finditer(text):
        months.add(_month_index(int(match.group(1)), int(match.group(2))))
    widened = set()
    for m in months:
        widened.update(range(m - PUBLISHED_WINDOW_MONTHS, m + PUBLISHED_WINDOW_MONTHS + 1))
    return widened


def _dates_in(text: str) -> Iterable[tuple[int, str, Optional[dt.date]]]:
    """(offset, matched text, date or None) for every full calendar date in ``text``."""
    for match in _ISO_RE.finditer(text):
        yield match.start(), match.group(0), _safe_date(int(match.group(1)), int(match.group(2)),
                                                         int(match.group(3)))
    for match in _DMY_RE.finditer(text):
        yield match.start(), match.group(0), _safe_date(int(match.group(3)), int(match.group(2)),
                                                         int(match.group(1)))
    for match in _DAY_MONTH_YEAR_RE.finditer(text):
        day = int(re.match(r"\d+", match.group(0)).group(0))
        yield match.start(), match.group(0), _safe_date(int(match.group(2)),
                                                         _MONTH_NAMES[match.group(1)[:3].lower()], day)
    for match in re.finditer(r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? "
                             r"(\d{1,2})(?:st|nd|rd|th)?, ((?:19|20)\d\d)\b", text, re.I):
        yield match.start(), match.group(0), _safe_date(int(match.group(3)),
                                                         _MONTH_NAMES[match.group(1)[:3].lower()],
                                                         int(match.group(2)))


def _safe_date(year: int, month: int, day: int) -> Optional[dt.date]:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# --------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------

def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def scan_text(text: str, path: str, *, allowed_months: set[int], today: dt.date) -> list[Finding]:
    """Every finding in one text (a page, a CSV, a notebook source)."""
    found: list[Finding] = []

    def add(offset: int, kind: str, value: str) -> None:
        found.append(Finding(path, _line_of(text, offset), kind, mask(value)))

    for match in contract._EMAIL_RE.finditer(text):
        add(match.start(), "e-mail address", match.group(0))
    for pattern in _PHONE_RES:
        for match in pattern.finditer(text):
            digits = sum(c.isdigit() for c in match.group(0))
            if digits >= 9:
                add(match.start(), "phone number", match.group(0))
    for match in _BIRTH_RE.finditer(text):
        add(match.start(), "date of birth (a date or year next to a word for birth)", match.group(0))
    for offset, value, date in _dates_in(text):
        if date is None:
            continue
        if abs((date - today).days) <= 1:
            continue  # the build's own date (footer, execution stamps)
        if _month_index(date.year, date.month) in allowed_months:
            continue  # a published date (or derived from one) of the reproduced studies
        add(offset, "calendar date (the book shows days from infusion; a patient's date is identifying)",
            value)
    if path.endswith(".html"):
        for match in _TH_RE.finditer(text):
            header = html_lib.unescape(_TAG_RE.sub("", match.group(1))).strip()
            word = contract.identifier_column_word(header) if header else None
            if word and not _harmless_header(header):
                add(match.start(), f"table column named like a direct identifier ({word})", header)
    return found


def _harmless_header(header: str) -> bool:
    """Column headers that contain an identifier word but name no person (e.g. 'Drug name')."""
    tokens = contract._name_tokens(header)
    return bool(tokens) and tokens[-1] == "name" and tokens[0] in (
        "drug", "test", "analyte", "agent", "column", "table", "file", "chapter", "study", "cohort",
        "variable", "parameter", "model", "term", "trial", "gene", "display")


def scan_csv(text: str, path: str) -> list[Finding]:
    """Identifier-named columns and record numbers in a downloadable table."""
    found = []
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        return found
    if not rows:
        return found
    header = rows[0]
    for name in header:
        word = contract.identifier_column_word(name)
        if word and not _harmless_header(name):
            found.append(Finding(path, 1, f"table column named like a direct identifier ({word})", mask(name)))
    patient_columns = [i for i, name in enumerate(header) if "patient" in name.lower()]
    for line, row in enumerate(rows[1:], start=2):
        for i in patient_columns:
            if i < len(row) and re.fullmatch(r"\d{6,}", row[i].strip()):
                found.append(Finding(path, line, "record number (6 or more digits only) in a patient column",
                                     mask(row[i])))
    return found


def site_files(html_dir: Path) -> list[Path]:
    files = []
    for path in sorted(Path(html_dir).rglob("*")):
        if not path.is_file() or path.suffix.lower() not in SCANNED_SUFFIXES:
            continue
        relative = path.relative_to(html_dir).as_posix()
        if any(relative.startswith(part + "/") for part in VENDOR_PARTS):
            continue
        files.append(path)
    return files


def check_site(html_dir: Path | str, *, register_csv: Path | str = REGISTER_CSV,
               today: Optional[dt.date] = None, files: Optional[Iterable[Path]] = None,
               passed_cache: Optional[Path] = None) -> list[Finding]:
    """Every finding on the built site under ``html_dir`` (empty list: nothing found).

    ``files`` limits the scan to some of the site's files (default: all of
    :func:`site_files`). With ``passed_cache`` (a JSON file), a file whose exact bytes
    (and kind: page, table, other) passed an earlier scan under the same rules (this
    module, the register, the date) is not read again, wherever it was: the build scans
    the staged sources while Sphinx runs, so their copies on the site are not scanned twice.
    Files that pass are added to the cache; a file with a finding never is.
    """
    html_dir = Path(html_dir)
    if not html_dir.is_dir():
        raise FileNotFoundError(f"no built site at {html_dir}")
    register_csv = Path(register_csv)
    allowed = published_months(register_csv)
    today = today or dt.date.today()
    rules = hashlib.sha256(Path(__file__).read_bytes() + (register_csv.read_bytes() if register_csv.exists()
                           else b"") + today.isoformat().encode()).hexdigest()
    passed = _read_cache(passed_cache, rules)
    found: list[Finding] = []
    for path in (site_files(html_dir) if files is None else files):
        relative = path.relative_to(html_dir).as_posix()
        data = path.read_bytes()
        # The scan depends on the bytes and on whether the file is a page or a table.
        key = f"{path.suffix.lower()}:{hashlib.sha256(data).hexdigest()}"
        if key in passed:
            continue
        text = data.decode("utf-8", errors="replace")
        findings = scan_text(text, relative, allowed_months=allowed, today=today)
        if path.suffix.lower() == ".csv":
            findings += scan_csv(text, relative)
        found += findings
        if not findings:
            passed.add(key)
    if passed_cache is not None:
        passed_cache.write_text(json.dumps({"rules": rules, "passed": sorted(passed)}))
    return found


def _read_cache(path: Optional[Path], rules: str) -> set[str]:
    if path is None or not path.exists():
        return set()
    try:
        stored = json.loads(path.read_text())
    except ValueError:
        return set()
    return set(stored.get("passed", [])) if stored.get("rules") == rules else set()


def report(findings: list[Finding], limit: int = 40) -> str:
    if not findings:
        return "privacy check: nothing that looks like a direct identifier or a date of birth"
    frame = pd.DataFrame([f.__dict__ for f in findings])
    lines = [f"privacy check FAILED: {len(findings)} finding(s) in {frame['path'].nunique()} file(s) "
             "(values masked):"]
    lines += [f"  {f}" for f in findings[:limit]]
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.site.privacy", description=__doc__.split("\n")[0])
    parser.add_argument("html_dir", help="the built site (e.g. _build/html)")
    args = parser.parse_args(argv)
    findings = check_site(args.html_dir)
    print(report(findings))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
