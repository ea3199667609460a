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
* a **record number**: a value of six or more digits only in a column of a
  downloadable CSV that names a patient (``patient_id``, ``subject``, ``MRN``,
  ``hospital number``...). Numbers are judged by their column's meaning: a
  *count* column (``patients``, ``n``, ``count``, ``number of patients``,
  ``events``, ``total``, ``at risk``...) holds counts, not record numbers, so a
  registry of 100,000 patients passes;
* an **absolute path** (``/home/...``, ``/Users/...``, ``C:\\...``, ``\\\\server``,
  ``file://``, the folder this repository sits in, or a path two or more folders
  deep under ``/tmp``, ``/var``, ``/mnt``, ``/data``...): it names the folders
  around the data, often after a person. A bare ``/tmp/name`` (a scratch file in a
  command the book prints) names nothing but itself and passes;
* a **title and a name** (``Dr Smith``, ``Dr. Jane Smith``, ``Prof. X``,
  ``Mrs Jones``, ``dr smith``, ``Dr_Smith`` in a file or folder name). Reference
  lists write authors as ``Cox DR.`` (surname, initials): capital ``DR`` is an
  author's initials, not a title, and is not taken for one;
* an **obfuscated e-mail address** (``name(at)example.org``,
  ``name [at] example [dot] org``, ``name at example dot org``);
* **initials and a date** (``J.S. 12/03/1961``, ``JS 12.03.61``) and a calendar
  date with a two-digit year (``30/03/21``).

The names of the site's files and folders are scanned too (line 0 of a finding
means the file's name), so a download folder named after a person is caught.

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
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import pandas as pd

from helpers.contract import validate as contract
from helpers.paths import REGISTER_CSV, REPO_ROOT

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

# Absolute paths. A home folder (/home/x, /Users/x, C:\Users\x) names its owner; any deeper path
# names the folders around the data (often after a person or a hospital). A Windows drive path
# is matched with one or two backslashes (a notebook's JSON doubles them).
_HOME_ROOTS = ("home", "Users", "root", "export/home")
_SCRATCH_ROOTS = ("tmp", "var", "private", "mnt", "media", "opt", "srv", "data", "work", "scratch",
                  "Volumes", "net", "nfs", "gpfs", "lustre", "storage", "project", "projects",
                  "shared", "usr", "etc", "run", "dev", "proc", "sys", "builds", "workspace")
_PATH_PART = r"[^\s\"'<>()\[\]{}|,;:*?\\/`]+"
_ABSOLUTE_PATH_RES = (
    re.compile(r"\bfile:/{2,3}[^\s\"'<>`]+", re.I),
    re.compile(rf"(?<![\w.:/~%-])/(?:{'|'.join(_HOME_ROOTS)})/{_PATH_PART}(?:/{_PATH_PART})*"),
    re.compile(rf"(?<![\w.:/~%-])/(?:{'|'.join(_SCRATCH_ROOTS)})(?:/{_PATH_PART}){{2,}}"),
    re.compile(r"(?<![A-Za-z0-9\\])[A-Za-z]:(?:\\{1,2}|/)(?=[A-Za-z0-9._$~-])[^\s\"'<>`|]+"),
)
# A Windows share (\\server\share\...), not a JSON unicode escape (\\u003c) nor LaTeX (_unc_path).
_UNC_RE = re.compile(r"(?<![\w\\])\\{2,4}(?!u[0-9a-fA-F]{4})([A-Za-z0-9][A-Za-z0-9._-]*)\\{1,2}"
                     r"(?!u[0-9a-fA-F]{4})([A-Za-z0-9$][A-Za-z0-9._$-]*)(?:\\{1,2}[^\s\\\"'<>`|]+)*")
# LaTeX commands in a notebook's JSON look like \\server\share: "$u = \\beta_1\\sqrt a$".
_LATEX_WORDS = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "iota",
                "kappa", "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
                "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Psi", "Omega",
                "frac", "dfrac", "tfrac", "sqrt", "sum", "prod", "int", "log", "exp", "ln", "left", "right",
                "cdot", "times", "mathrm", "mathbf", "mathcal", "mathit", "boldsymbol", "text", "textrm",
                "hat", "bar", "tilde", "vec", "le", "ge", "leq", "geq", "neq", "approx", "quad", "qquad",
                "infty", "partial", "nabla", "operatorname", "dots", "ldots", "cdots", "mid", "in", "to",
                "over", "binom", "min", "max", "lim", "sim", "pm", "mp", "begin", "end", "Pr", "rm", "bf",
                "big", "Big", "bigl", "bigr", "displaystyle", "overline", "underline", "prime", "ne",
                "equiv", "propto", "mathbb", "hline", "label", "tag", "hspace", "vspace", "newline"}


def _unc_path(match: re.Match) -> bool:
    return not any(re.sub(r"[_^0-9].*$", "", part) in _LATEX_WORDS for part in match.groups())


# A title and a capitalised name ("Dr Smith", "Dr. Jane Smith", "Prof. X", "Mrs O'Neil",
# "Dr_Smith" in a file name). Case matters: "DR." after a surname is an author's initials in a
# reference list ("Cox DR. Regression models..."); lower-case "dr"/"prof" (an abbreviation, not
# an English word) is taken with any following word ("seen by dr smith").
_WORD = r"[A-Z][A-Za-zà-ÿ]*(?:['’-][A-Za-zà-ÿ]+)*"  # Smith, SMITH, O'Neil, Smith-Jones
_NAME = rf"(?:[A-Z]\.\s?){{0,3}}{_WORD}(?:[ \t]+{_WORD})?"
_TITLE_NAME_RES = (
    re.compile(rf"(?<![A-Za-z0-9])(?:Dr|Prof|Mrs|Mr|Ms|Mx|Mme|Mlle|Doctor|Professor|Miss|Herr|Frau)"
               rf"(?:\.\s*|[ \t]+|[_-]+|(?=[A-Z][a-z]))(?:{_NAME})(?![A-Za-z])"),
    re.compile(r"(?<![A-Za-z0-9])(?:dr|prof)(?:\.\s*|[ \t]+|[_-]+)[A-Za-z][A-Za-z'’-]+(?![A-Za-z0-9])"),
)

# Obfuscated e-mail addresses: "name(at)example.org", "name [at] example [dot] org",
# "name at example dot org", "name@example dot org". The spelt-out forms need a top-level domain
# from the list (so that "cells at baseline dot plot" is prose, not an address).
_TLDS = ("com|org|net|edu|gov|mil|int|info|biz|io|co|uk|de|fr|it|es|nl|be|ch|at|se|no|dk|fi|pl|cz|"
         "ru|cn|jp|kr|in|au|nz|ca|us|br|mx|ar|za|il|tr|gr|pt|ie|hu|ro|eu|ac|nhs|me")
_LOCAL = r"[A-Za-z0-9][A-Za-z0-9._%+'-]*"
_LABEL = r"[A-Za-z0-9][A-Za-z0-9-]*"
_AT_BRACKETED = r"\s*[(\[{<]\s*(?:at|AT|At|@)\s*[)\]}>]\s*"
_DOT_BRACKETED = r"\s*[(\[{<]\s*(?:dot|DOT|Dot|\.)\s*[)\]}>]\s*"
_DOT_WORD = r"\s+(?:dot|DOT)\s+"
_OBFUSCATED_EMAIL_RES = (
    re.compile(rf"(?<![\w.+-]){_LOCAL}{_AT_BRACKETED}{_LABEL}(?:(?:{_DOT_BRACKETED}|{_DOT_WORD}|\.){_LABEL})*"
               rf"(?:{_DOT_BRACKETED}|{_DOT_WORD}|\.)[A-Za-z]{{2,}}\b"),
    re.compile(rf"(?<![\w.+-]){_LOCAL}(?:\s+(?:at|AT)\s+|@){_LABEL}(?:(?:{_DOT_BRACKETED}|{_DOT_WORD}){_LABEL})*"
               rf"(?:{_DOT_BRACKETED}|{_DOT_WORD})(?:{_TLDS})\b", re.I),
)

# Initials followed by a date ("J.S. 12/03/1961", "J. S., 12-03-61", "JS 12.03.1961"), and a date
# with a two-digit year ("30/03/21", "03/30/21"), which the four-digit date rules do not see.
_ANY_DATE = r"(?:\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})(?![\d/.-]?\d)"
_INITIALS_DATE_RES = (
    re.compile(rf"(?<![\w.])(?:[A-Z]\.\s?){{2,3}}[\s,;:(-]{{0,3}}"
               rf"(?:(?i:born|dob|d\.o\.b\.?)\s*:?\s*)?{_ANY_DATE}"),
    re.compile(rf"(?<![\w.])[A-Z]{{2,3}}[\s,;:(-]{{1,3}}(?:(?i:born|dob|d\.o\.b\.?)\s*:?\s*)?{_ANY_DATE}"),
)
# Matched loosely, then judged in _short_year_date (a single regular expression with every
# day-month alternative is several times slower over a site's figure data).
_SHORT_YEAR_DATE_RE = re.compile(r"(\d{1,2})([/.])(\d{1,2})\2\d\d(?![\w/.])")
# Cheap tests for whether a rule can match at all (most pages hold none of these characters).
_OBFUSCATED_AT_HINT = re.compile(r"[(\[{<]\s*(?:at|AT|At|@)\s*[)\]}>]")
_OBFUSCATED_DOT_HINT = re.compile(r"\s(?:dot|DOT)\s|[(\[{<]\s*(?:dot|DOT|Dot|\.)\s*[)\]}>]")


# Clinical abbreviations of two or three capitals that a date may follow in the book's own text
# ("CR 2019-11-15"); initials without dots are not taken for a person's before those.
_NOT_INITIALS = {"CR", "PR", "SD", "PD", "NR", "MR", "MRD", "CRS", "AE", "SAE", "OS", "EFS", "LFS",
                 "RFS", "PFS", "DFS", "HSCT", "BM", "PB", "CSF", "CRI", "ALL", "CML", "LBC", "MBP",
                 "ICU", "ICANS", "TKI", "CAR", "CT", "MRI", "PET", "ECG", "IL", "CRP", "DOI", "NCT",
                 "DOB", "DOD", "DX", "TX", "RX"}

# Headers of a count column (patients, n, events, at risk ...): its numbers are counts. Judged
# on the header's tokens (contract._name_tokens), so "n_patients", "Number of patients",
# "Patients (n)" and "at_risk" are counts and "patient_id", "Patient", "MRN" are not.
_COUNT_TOKENS = {"n", "count", "counts", "total", "totals", "sum", "events", "event", "deaths",
                 "relapses", "responders", "patients", "subjects", "cases", "participants", "people",
                 "persons", "individuals", "freq", "frequency", "nb", "nevents", "nrisk", "npatients",
                 "size", "denominator", "numerator", "censored"}
# Tokens that make a column name a patient (who), so a long run of digits in it is a record number.
_PATIENT_TOKENS = {"patient", "subject", "case", "participant", "person", "pt", "pid", "pseudonym"}
_RECORD_WORDS = ("mrn", "medicalrecord", "recordnumber", "hospitalnumber", "chartnumber", "nhsnumber",
                 "ssn", "socialsecurity", "nationalid", "insurance", "passport", "idcard")


def column_meaning(header: str) -> Optional[str]:
    """What a downloadable table's column holds, judged by its header: ``'record'`` (a
    record number: MRN, hospital number, patient number), ``'count'`` (patients, n, events,
    total, at risk...), ``'patient'`` (a patient code: patient_id, subject) or None."""
    tokens = contract._name_tokens(header)
    if not tokens:
        return None
    joined = "".join(tokens)
    if any(word in joined for word in _RECORD_WORDS) or "record" in tokens:
        return "record"
    # "patient number" / "case no" name a patient by a number; "number of patients" counts them.
    for before, after in zip(tokens, tokens[1:]):
        if before in _PATIENT_TOKENS | {"hospital", "chart", "nhs"} and after in ("number", "no", "nr", "num"):
            return "record"
    if (tokens[0] in ("number", "no", "num", "nr") and (len(tokens) == 1 or tokens[1] == "of")) or \
            "risk" in tokens or any(t in _COUNT_TOKENS for t in tokens):
        return "count"
    if any(t in _PATIENT_TOKENS for t in tokens) or tokens in (["id"], ["code"], ["identifier"]):
        return "patient"
    return None


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


KIND_EMAIL = "e-mail address"
KIND_OBFUSCATED_EMAIL = "obfuscated e-mail address (an address with 'at'/'dot' spelt out)"
KIND_PHONE = "phone number"
KIND_BIRTH = "date of birth (a date or year next to a word for birth)"
KIND_DATE = "calendar date (the book shows days from infusion; a patient's date is identifying)"
KIND_SHORT_DATE = "calendar date with a two-digit year (a possible date of birth)"
KIND_PATH = ("absolute path (it names the folders around the data, often after a person; print a "
             "folder by its own name only)")
KIND_TITLE_NAME = "title and name (looks like a person's name: Dr, Prof, Mr, Mrs, Ms + a name)"
KIND_INITIALS_DATE = "initials and a date (looks like a person's initials and date of birth)"


def _machine_path_res() -> tuple[tuple[re.Pattern, str], ...]:
    """This machine's own folders (the one the repository sits in, the home folder), wherever
    they are: a path under them on a page is an absolute path even outside the usual roots."""
    prefixes = set()
    for folder in (REPO_ROOT.parent, Path.home()):
        text = folder.as_posix().rstrip("/")
        if text.count("/") >= 1 and len(text) > 1:
            prefixes.add(text)
    return tuple((re.compile(rf"(?<![\w.:/~%-]){re.escape(p)}(?:/{_PATH_PART})+"), p) for p in sorted(prefixes))


_MACHINE_PATH_RES = _machine_path_res()


def identifier_spans(text: str, *, allowed_months: Optional[set[int]] = None,
                     today: Optional[dt.date] = None) -> list[tuple[int, int, str]]:
    """(start, end, kind) of everything in ``text`` that looks like a direct identifier, first
    to last. Where two rules match the same characters the more specific one is kept (initials
    and a date, not also a calendar date). ``allowed_months`` (see :func:`published_months`) and
    ``today`` exempt the published dates and the build's own date; without them every full
    calendar date counts (as for a user's data)."""
    allowed_months = allowed_months or set()
    candidates: list[tuple[int, int, str]] = []

    def take(patterns, kind, keep=lambda m: True):
        for pattern in patterns:
            for match in pattern.finditer(text):
                if keep(match):
                    candidates.append((match.start(), match.end(), kind))

    take([contract._EMAIL_RE], KIND_EMAIL)
    if _OBFUSCATED_AT_HINT.search(text):
        take(_OBFUSCATED_EMAIL_RES[:1], KIND_OBFUSCATED_EMAIL)
    if _OBFUSCATED_DOT_HINT.search(text):
        take(_OBFUSCATED_EMAIL_RES[1:], KIND_OBFUSCATED_EMAIL)
    take([p for p, hints in zip(_ABSOLUTE_PATH_RES, _PATH_HINTS) if any(h in text for h in hints)]
         + [p for p, prefix in _MACHINE_PATH_RES if prefix + "/" in text], KIND_PATH)
    if "\\\\" in text:
        take([_UNC_RE], KIND_PATH, _unc_path)
    take(_INITIALS_DATE_RES, KIND_INITIALS_DATE, lambda m: _person_initials(m, allowed_months))
    take([_BIRTH_RE], KIND_BIRTH)
    take(_TITLE_NAME_RES, KIND_TITLE_NAME)
    take(_PHONE_RES, KIND_PHONE, lambda m: sum(c.isdigit() for c in m.group(0)) >= 9)
    for offset, value, date in _dates_in(text):
        if date is None:
            continue
        if today is not None and abs((date - today).days) <= 1:
            continue  # the build's own date (footer, execution stamps)
        if _month_index(date.year, date.month) in allowed_months:
            continue  # a published date (or derived from one) of the reproduced studies
        candidates.append((offset, offset + len(value), KIND_DATE))
    take([_SHORT_YEAR_DATE_RE], KIND_SHORT_DATE, lambda m: _short_year_date(m, text))
    spans: list[tuple[int, int, str]] = []
    for start, end, kind in candidates:  # in order of priority
        if not any(start < e and s < end for s, e, _ in spans):
            spans.append((start, end, kind))
    return sorted(spans)


# What each of _ABSOLUTE_PATH_RES needs in a text to match at all (a substring test is far
# cheaper than a regular expression with a look-behind at every character).
_PATH_HINTS = (("file:", "FILE:", "File:"), tuple(f"/{r}/" for r in _HOME_ROOTS),
               tuple(f"/{r}/" for r in _SCRATCH_ROOTS), (":\\", ":/"))


def _short_year_date(match: re.Match, text: str) -> bool:
    """A day and month (either order with ``/``; day first, two digits each, with ``.``) and a
    two-digit year, not part of a longer run (``1/2/345``, ``10.2.15.3``, a version number)."""
    if match.start() and (text[match.start() - 1].isalnum() or text[match.start() - 1] in "_/.-"):
        return False
    first, sep, second = match.group(1), match.group(2), match.group(3)
    a, b = int(first), int(second)
    if sep == ".":
        return len(first) == len(second) == 2 and 1 <= a <= 31 and 1 <= b <= 12
    return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 13 <= b <= 31)


def _person_initials(match: re.Match, allowed_months: set[int]) -> bool:
    """Initials before a date, unless they are a clinical abbreviation (``CR 2019-11-15``) or,
    without dots, stand before a published date."""
    initials = re.match(r"[A-Z. ]+", match.group(0)).group(0)
    letters = initials.replace(".", "").replace(" ", "")
    if "." in initials:
        return True
    if letters in _NOT_INITIALS:
        return False
    for _, _, date in _dates_in(match.group(0)):
        if date is not None and _month_index(date.year, date.month) in allowed_months:
            return False
    return True


def mask_identifiers(text: str) -> str:
    """``text`` with everything that looks like a direct identifier replaced by its mask and
    kind (``[masked e-mail address: xxxx@xxxxxxx.xxx]``); any calendar date counts. For what a
    report echoes from a user's data."""
    if not isinstance(text, str) or not text:
        return text
    out, last = [], 0
    for start, end, kind in identifier_spans(text):
        out += [text[last:start], f"[masked {kind.split(' (')[0]}: {mask(text[start:end])}]"]
        last = end
    return "".join(out + [text[last:]])


# Words that make a label a description rather than a person's name ("Single Centre", "Adult
# Cohort"): a label of two or three capitalised words without any of them may be a name.
_LABEL_WORDS = {"cohort", "centre", "center", "study", "group", "arm", "trial", "registry", "site",
                "hospital", "clinic", "adult", "adults", "paediatric", "pediatric", "children", "young",
                "elderly", "phase", "pilot", "part", "stage", "first", "second", "third", "high", "low",
                "risk", "standard", "dose", "level", "early", "late", "new", "old", "north", "south",
                "east", "west", "central", "city", "general", "university", "national", "regional",
                "control", "treatment", "relapsed", "refractory", "remission", "primary", "secondary",
                "leukaemia", "leukemia", "lymphoma", "myeloma", "data", "patients", "export", "copy"}
_NAME_WORD = r"(?:[A-Z][a-zà-ÿ'’]+(?:-[A-Z][a-zà-ÿ'’]+)?|[A-Z]\.)"
_NAME_SHAPED_RES = (
    re.compile(rf"{_NAME_WORD}(?:[ _.-]+{_NAME_WORD}){{1,2}}"),  # Jane Smith, Jane_Smith, J. Smith
    re.compile(rf"[A-Z][a-zà-ÿ'’]+,\s*{_NAME_WORD}(?:\s+{_NAME_WORD})?"),  # Smith, Jane
    re.compile(r"[A-Z][a-zà-ÿ'’]+[A-Z][a-zà-ÿ'’]+"),  # JaneSmith
)


def name_shaped(label: str) -> bool:
    """Whether a short label (a folder, file or cohort name) has the shape of a person's name:
    two or three capitalised words (``Jane Smith``, ``Smith, Jane``, ``J. Smith``, ``JaneSmith``)
    none of which is a word for a group or a place (``Single Centre``). A shape, not proof: the
    intake warns, it does not refuse."""
    text = str(label).strip()
    stem = re.sub(r"\.(csv|xlsx|xls|txt|md)$", "", text, flags=re.I)
    if not any(pattern.fullmatch(stem) for pattern in _NAME_SHAPED_RES):
        return False
    words = re.findall(r"[A-Z][a-zà-ÿ'’]+", stem)
    return not any(w.lower() in _LABEL_WORDS for w in words)


def scan_text(text: str, path: str, *, allowed_months: set[int], today: dt.date) -> list[Finding]:
    """Every finding in one text (a page, a CSV, a notebook source)."""
    found = [Finding(path, _line_of(text, start), kind, mask(text[start:end]))
             for start, end, kind in identifier_spans(text, allowed_months=allowed_months, today=today)]
    if path.endswith(".html"):
        found += _link_findings(text, path)
        for match in _TH_RE.finditer(text):
            header = html_lib.unescape(_TAG_RE.sub("", match.group(1))).strip()
            word = contract.identifier_column_word(header) if header else None
            if word and not _harmless_header(header):
                found.append(Finding(path, _line_of(text, match.start()),
                                     f"table column named like a direct identifier ({word})", mask(header)))
    return found


_LINK_RE = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*%[0-9A-Fa-f]{2}[^"']*)["']""", re.I)


def _link_findings(text: str, path: str) -> list[Finding]:
    """A link whose target is percent-encoded (``Dr%20Smith/table.csv``) is read decoded too."""
    found = []
    for match in _LINK_RE.finditer(text):
        target = urllib.parse.unquote(match.group(1))
        raw = {kind for _, _, kind in identifier_spans(match.group(1))}  # found undecoded already
        for start, end, kind in identifier_spans(target):
            if kind in (KIND_TITLE_NAME, KIND_EMAIL, KIND_OBFUSCATED_EMAIL, KIND_PATH) and kind not in raw:
                found.append(Finding(path, _line_of(text, match.start()), _located(kind, "in a link"),
                                     mask(target[start:end])))
    return found


def _located(kind: str, where: str) -> str:
    """``kind`` with where it was found after its name, before its explanation."""
    head, _, tail = kind.partition(" (")
    return f"{head} {where}" + (f" ({tail}" if tail else "")


def _name_spans(part: str) -> list[tuple[int, int, str]]:
    """Identifier spans in one file or folder name; ``_`` stands for a space (``Dr_Smith``,
    ``J_S_12-03-61``), so the name is also read with spaces (same length, same offsets)."""
    for text in dict.fromkeys((part, part.replace("_", " "))):
        spans = identifier_spans(text)
        if spans:
            return spans
    return []


def shown_path(relative: str) -> str:
    """A site file's path as a finding shows it: the parts of its name that look like an
    identifier are masked too (the folder ``Dr_Smith`` is shown as ``xx_xxxxx``)."""
    parts = []
    for part in relative.split("/"):
        for start, end, _ in reversed(_name_spans(part)):
            part = part[:start] + mask(part[start:end]) + part[end:]
        parts.append(part)
    return "/".join(parts)


def scan_name(relative: str) -> list[Finding]:
    """Findings in a site file's own name and its folders' names (reported at line 0, the path
    shown masked): a download folder named after a person is on every link to it."""
    found = []
    for part in relative.split("/"):
        found += [Finding(relative, 0, _located(kind, "in a file or folder name"), mask(part[s:e]))
                  for s, e, kind in _name_spans(part)]
    if found:
        shown = shown_path(relative)
        found = [Finding(shown, f.line, f.kind, f.masked) for f in found]
    return found


def _harmless_header(header: str) -> bool:
    """Column headers that contain an identifier word but name no person (e.g. 'Drug name')."""
    tokens = contract._name_tokens(header)
    return bool(tokens) and tokens[-1] == "name" and tokens[0] in (
        "drug", "test", "analyte", "agent", "column", "table", "file", "chapter", "study", "cohort",
        "variable", "parameter", "model", "term", "trial", "gene", "display")


KIND_RECORD = "record number (6 or more digits only) in a column that names a patient"


def scan_csv(text: str, path: str) -> list[Finding]:
    """Identifier-named columns and record numbers in a downloadable table.

    A run of six or more digits is a record number in a column that names a patient or a
    record (:func:`column_meaning`: ``patient_id``, ``Patient``, ``MRN``, ``hospital number``),
    never in a count column (``patients``, ``n``, ``events``, ``at risk``): a registry of
    100,000 patients is a count, not a record number."""
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
    who_columns = [i for i, name in enumerate(header) if column_meaning(name) in ("patient", "record")]
    for line, row in enumerate(rows[1:], start=2):
        for i in who_columns:
            if i < len(row) and re.fullmatch(r"\d{6,}", row[i].strip()):
                found.append(Finding(path, line, f"{KIND_RECORD} ({mask_identifiers(header[i])!r})",
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
               passed_cache: Optional[Path] = None, stamp: Optional[str] = None) -> list[Finding]:
    """Every finding on the built site under ``html_dir`` (empty list: nothing found).

    ``files`` limits the scan to some of the site's files (default: all of
    :func:`site_files`). With ``passed_cache`` (a JSON file), a file whose exact bytes
    (and kind: page, table, other) passed an earlier scan under the same rules (this
    module, the register, the date) is not read again, wherever it was: the build scans
    the staged sources while Sphinx runs, so their copies on the site are not scanned twice.
    Files that pass are added to the cache; a file with a finding never is. The names of the
    files and their folders are scanned every time (:func:`scan_name`); a finding shows its
    file's path with those parts masked (:func:`shown_path`).

    ``stamp`` is the build stamp's line, which every page, CSV and figure copy carries and which
    changes with the checkout (the first edit after a commit adds "+local changes"). With it, a
    file is remembered by its bytes with the stamp taken out (:func:`without_stamp`), and the
    stamp is scanned once on its own: a new stamp then does not make every file of the site be
    read again. The stamp is always a whole element or field (a footer ``<span>``, an SVG
    ``<metadata>``, a CSV cell), so no finding can reach across its edges.
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
    from helpers.site.provenance import stamp_forms

    forms = stamp_forms(stamp) if stamp else ()
    if forms:
        found += scan_text(stamp, "the build stamp", allowed_months=allowed, today=today)
    for path in (site_files(html_dir) if files is None else files):
        relative = path.relative_to(html_dir).as_posix()
        named = scan_name(relative)  # a name is not in the bytes the cache is keyed by
        shown = named[0].path if named else relative
        found += named
        data = path.read_bytes()
        # The scan depends on the bytes and on whether the file is a page or a table.
        key = f"{path.suffix.lower()}:{hashlib.sha256(without_stamp(data, forms)).hexdigest()}"
        if key in passed:
            continue
        text = data.decode("utf-8", errors="replace")
        findings = scan_text(text, shown, allowed_months=allowed, today=today)
        if path.suffix.lower() == ".csv":
            findings += scan_csv(text, shown)
        found += findings
        if not findings:
            passed.add(key)
    if passed_cache is not None:
        passed_cache.write_text(json.dumps({"rules": rules, "passed": sorted(passed)}))
    return found


def without_stamp(data: bytes, forms: tuple[bytes, ...]) -> bytes:
    """``data`` with every copy of the stamp (in any of its ``forms``) taken out: a figure copy
    stamped for the site is then the copy as drawn, which the build scans while it is drawn."""
    for form in forms:
        data = data.replace(form, b"")
    return data


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
