"""Tables for the book: Table 1 (via tableone) and plain result tables.

Tables render as static HTML (no JavaScript), so they read the same in the
browser, in print and in a re-executed notebook. Every value is escaped (cells and headers by
pandas, caption, note and link by :func:`helpers.escape.escape_html`); the CSV download
has its formula-leading cells neutralised (:func:`helpers.escape.frame_to_csv`).

Where a table's numbers come from
---------------------------------
Every table says where its numbers come from, in its caption and in its CSV download, so that
neither a screenshot nor a downloaded file can lose the fact that a number is synthetic. The
chapter states it with ``show_table(..., origin=...)``, one of :data:`ORIGINS` (a section on one
study's rows states it once for the tables inside it, :func:`rows_from`); a caption that
already says "synthetic" states it too (``origin`` is then ``"synthetic"`` unless given). A
table of ``origin="synthetic"`` or ``"mixed"`` whose caption does not say "synthetic" gets the
words of :data:`CAPTION_MARKS` appended to its caption.

The download carries the origin as its first column, ``data_origin``, the same value on every
row. A column, not a comment line: a ``# synthetic`` first line breaks ``pandas.read_csv``,
R's ``read.csv`` and spreadsheets' header detection unless the reader knows to skip it, while
a column survives every reader, filtering and copying rows elsewhere; a sidecar file would be
lost as soon as the CSV is downloaded alone. A table shown without an origin (a page that
does not say) is written with ``data_origin`` "not stated", which the site tests refuse.

Numbers and names
-----------------
A caption never types its number ("Table 3.2"): Sphinx numbers the tables and resolves
``{numref}`tbl-...``` references to them (:mod:`helpers.site.sphinx_site`). A chapter names each
table it shows, ``show_table(..., name="tbl-<chapter>-<what>")``; the name is written into the
table's HTML as ``data-label`` beside the marked caption (:func:`helpers.markup.split_table_html` reads them
back), and becomes the table's anchor on the page. A table shown without a name (by a helper
that has none to give) is still numbered, but cannot be referred to.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Mapping, Optional, Sequence

import pandas as pd

from helpers.escape import escape_html, frame_to_csv
from helpers.markup import CAPTION_CLOSE, TABLE_CAPTION_OPEN

# Where result tables are also written as CSV for readers to download. The build sets
# this per chapter (chapter.setup); a notebook run by hand writes no files.
_DOWNLOADS: dict = {"folder": None, "href": None}

#: The values of a download's ``data_origin`` column, and what each means.
ORIGINS = {
    "synthetic": "computed from the synthetic cohorts (generated patients, not patient data)",
    "mixed": "published numbers beside numbers computed from the synthetic cohorts (see the basis column)",
    "published": "transcribed from the papers",
    "recomputed": "computed from published counts only",
    "none": "no patient data (definitions, rules, the data contract)",
    "user": "computed from a centre's own patients (their rows say origin = user)",
}
NOT_STATED = "not stated"
#: Appended to a caption of a synthetic or mixed table that does not say "synthetic" itself.
CAPTION_MARKS = {"synthetic": "(synthetic cohort)", "mixed": "(published and synthetic numbers)"}
ORIGIN_COLUMN = "data_origin"
#: What a table's name looks like: it is also the id of its anchor, so nothing an id would change.
TABLE_NAME = re.compile(r"tbl-[a-z0-9]+(?:-[a-z0-9]+)*")


#: The origin of tables shown without one inside :func:`rows_from` (a section on one study's rows).
_SECTION_ORIGIN: dict = {"origin": None}


@contextlib.contextmanager
def rows_from(origin: Optional[str]):
    """Tables shown inside the block without an ``origin`` of their own take ``origin``: a
    section drawn from one study's rows (``helpers.chapters.own_data``) says once where they
    come from, for the helpers it calls that cannot know."""
    if origin is not None and origin not in ORIGINS:
        raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
    before = _SECTION_ORIGIN["origin"]
    _SECTION_ORIGIN["origin"] = origin
    try:
        yield
    finally:
        _SECTION_ORIGIN["origin"] = before


def table_origin(caption: Optional[str], origin: Optional[str]) -> str:
    """The origin a table declares: ``origin`` when given, else its section's (:func:`rows_from`),
    else "synthetic" when the caption says so, else :data:`NOT_STATED`."""
    origin = origin if origin is not None else _SECTION_ORIGIN["origin"]
    if origin is not None:
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, not {origin!r}")
        return origin
    return "synthetic" if caption and "synthetic" in caption.lower() else NOT_STATED


def marked_caption(caption: Optional[str], origin: str) -> Optional[str]:
    """``caption`` with the words of :data:`CAPTION_MARKS` when it hides a synthetic origin."""
    if origin not in CAPTION_MARKS or (caption and "synthetic" in caption.lower()):
        return caption
    return f"{caption} {CAPTION_MARKS[origin]}" if caption else CAPTION_MARKS[origin].strip("()").capitalize()


def with_origin(frame: pd.DataFrame, origin: str, index: bool = False) -> pd.DataFrame:
    """The frame as downloaded: ``data_origin`` first, then the table's columns (and its index,
    when the table shows it)."""
    out = frame.reset_index() if index else frame.copy()
    if isinstance(out.columns, pd.MultiIndex):
        out.columns = [" ".join(str(part) for part in col if str(part)).strip() for col in out.columns]
    out.insert(0, ORIGIN_COLUMN, origin, allow_duplicates=True)
    return out


def configure_downloads(folder: Optional[Path], href_prefix: Optional[str]) -> None:
    """Write every table shown from now on to ``folder`` and link it as ``href_prefix + file``."""
    _DOWNLOADS.update(folder=Path(folder) if folder else None, href=href_prefix)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        for stale in Path(folder).glob("*.csv"):
            stale.unlink()


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe version of a caption."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return (cleaned[:limit].rstrip("-") or "table")


# Lines of a stacked cell: pandas' HTML writer prints a newline as a literal "\n", so the lines
# are joined by U+2028 (LINE SEPARATOR), which it leaves alone and the page turns into <br>.
STACK_BREAK = "\u2028"


def stacked(frame: pd.DataFrame, layout: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """``frame`` with groups of columns stacked into one cell each, for a page whose column is
    too narrow for them side by side: ``layout`` maps a shown column to the columns it stacks,
    one per line (the first as its bare value, the others as "name: value", the group's title
    taken off a name that starts with it; empty values are
    left out). A group stands where its first column stood; columns no group names stay as they
    are, and a named column ``frame`` lacks is skipped. The CSV download keeps every column
    (:class:`TableHTML`)."""
    group_of = {column: title for title, columns in layout.items() for column in columns}
    shown: dict[str, pd.Series] = {}
    for column in frame.columns:
        title = group_of.get(column)
        if title is None:
            shown[column] = frame[column]
        elif title not in shown:
            present = [c for c in layout[title] if c in frame.columns]
            shown[title] = pd.Series([_stacked_cell(row, present, title) for _, row in frame[present].iterrows()],
                                     index=frame.index, dtype=object)
    return pd.DataFrame(shown, index=frame.index)


def _stacked_cell(row: pd.Series, columns: Sequence[str], title: str) -> str:
    parts = []
    for i, column in enumerate(columns):
        value = row[column]
        if value is None or (isinstance(value, float) and pd.isna(value)) or str(value) == "":
            continue
        name = column.removeprefix(f"{title}: ")  # "CML-LBC: 1–2" under "CML-LBC" reads "1–2"
        parts.append(str(value) if i == 0 else f"{name}: {value}")
    return STACK_BREAK.join(parts)


class TableHTML:
    """A DataFrame rendered as a captioned HTML table (with a CSV download in the built site)."""

    def __init__(self, frame: pd.DataFrame, caption: Optional[str] = None, index: bool = False,
                 note: Optional[str] = None, origin: Optional[str] = None, label: Optional[str] = None,
                 stack: Optional[Mapping[str, Sequence[str]]] = None):
        if label is not None and not TABLE_NAME.fullmatch(label):
            raise ValueError(f"a table's name is 'tbl-' and lower-case words joined by '-', not {label!r}")
        if label is not None and not caption:
            raise ValueError(f"table {label!r} has no caption: only a captioned table is numbered")
        self.label = label
        self.origin = table_origin(caption, origin)
        self.name = slug(caption or "table")  # the caption as written: a mark does not rename the file
        self.frame, self.caption, self.index, self.note = frame, marked_caption(caption, self.origin), index, note
        self.shown = stacked(frame, stack) if stack else frame  # the download keeps every column
        self.download = self._write_csv()

    def _write_csv(self) -> Optional[str]:
        folder, href = _DOWNLOADS["folder"], _DOWNLOADS["href"]
        if folder is None:
            return None
        name = self.name
        path, number = folder / f"{name}.csv", 2
        while path.exists():
            path, number = folder / f"{name}-{number}.csv", number + 1
        # A reader opens this in a spreadsheet: no cell may start a formula (OWASP CSV injection).
        path.write_text(frame_to_csv(with_origin(self.frame, self.origin, self.index)), encoding="utf-8", newline="")
        return f"{href}{path.name}"

    def _repr_html_(self) -> str:
        body = self.shown.to_html(index=self.index, escape=True, na_rep="", border=0,
                                  classes="book-table table" + (" book-table-stacked" if self.shown is not self.frame else ""))
        body = body.replace(STACK_BREAK, "<br>")  # after pandas escaped every cell: only our breaks become markup
        caption = f"{TABLE_CAPTION_OPEN}{escape_html(self.caption)}{CAPTION_CLOSE}" if self.caption else ""
        label = f" data-label='{escape_html(self.label)}'" if self.label else ""
        note = f"<p class='book-table-note'>{escape_html(self.note)}</p>" if self.note else ""
        link = (f"<p class='book-table-download'><a href='{escape_html(self.download)}' download>"
                f"Download this table (CSV)</a></p>") if self.download else ""
        return f"<div class='book-table-wrap'{label}>{caption}{body}{note}{link}</div>"

    def __repr__(self) -> str:
        return (self.caption + "\n" if self.caption else "") + self.frame.to_string(index=self.index)


def show_table(frame: pd.DataFrame, caption: Optional[str] = None, index: bool = False,
               note: Optional[str] = None, origin: Optional[str] = None,
               name: Optional[str] = None, stack: Optional[Mapping[str, Sequence[str]]] = None) -> TableHTML:
    """Display a result table in a chapter (the last expression of a cell); ``origin`` says
    where its numbers come from (one of :data:`ORIGINS`), ``name`` is what ``{numref}`` calls
    it (``tbl-<chapter>-<what>``; see the module text). The caption carries no number.
    ``stack`` shows groups of columns as one multi-line cell each (:func:`stacked`), for tables
    too wide for the text column; the download keeps every column."""
    return TableHTML(frame, caption, index, note, origin, label=name, stack=stack)


def table_one(patients: pd.DataFrame, *, columns: Sequence[str], categorical: Sequence[str],
              groupby: Optional[str] = None, nonnormal: Sequence[str] = (),
              labels: Optional[dict] = None, order: Optional[dict] = None,
              decimals: int = 1) -> pd.DataFrame:
    """Table 1 as a tidy DataFrame: n (%) for categories, median [Q1,Q3] for skewed
    measures, missing counts, P values with the test named, and standardized mean
    differences (SMD) when there are groups.

    A thin wrapper around the maintained ``tableone`` package; all choices of
    tests are tableone's (chi-square, or Fisher's exact when a 2×2 table has an
    expected count below 5; Kruskal–Wallis for nonnormal continuous measures).
    """
    from tableone import (
        TableOne,  # imported here: it costs every page that shows a table ~1 s
    )

    grouped = groupby is not None and patients[groupby].nunique() > 1
    # the levels in the order given, those not given after them; a level nobody has is left out
    order = {column: [v for v in levels if v in set(patients[column].dropna().astype(str))]
             for column, levels in (order or {}).items() if column in patients}
    table = TableOne(
        patients, columns=list(columns), categorical=list(categorical), groupby=groupby if grouped else None,
        nonnormal=list(nonnormal), rename=labels, order=order, pval=grouped, htest_name=grouped,
        smd=grouped, missing=True, overall=True, decimals=decimals, label_suffix=True,
    )
    frame = table.tableone.copy()
    frame.columns = [" ".join(str(c) for c in col if c and not str(c).startswith("Grouped by")).strip()
                     if isinstance(col, tuple) else str(col) for col in frame.columns]
    frame = frame.reset_index().rename(columns={"level_0": "Characteristic", "level_1": "Level"})
    frame["Level"] = frame["Level"].replace({"": ""})
    return clinical_layout(frame)


# Binary variables are shown on one row, as the count of their positive level.
POSITIVE_LEVELS = {"yes", "true", "1", "present", "positive"}
NEGATIVE_LEVELS = {"no", "false", "0", "absent", "negative"}
TEST_MARKS = "ᵃᵇᶜᵈᵉᶠᵍʰ"
# An em space puts levels under their variable's label; pandas strips leading whitespace from a
# cell, so a zero-width space (not whitespace to str.strip) comes first and keeps it.
INDENT = "\u200b\u2003"


def clinical_layout(tidy: pd.DataFrame) -> pd.DataFrame:
    """tableone's long output in the layout of a clinical Table 1 (gtsummary's): the group sizes
    in the column headers ("CML-LBC (N = 13)", with no-break spaces), one label row per variable with its levels
    indented beneath in the order given, a binary variable on one row (the count of its positive
    level), P values marked with a letter per test and the tests named in ``attrs["note"]``, the
    SMD on the label row, and the Missing column only when something is missing."""
    frame = tidy.copy()
    counts = frame[frame["Characteristic"] == "n"]
    frame = frame[frame["Characteristic"] != "n"]
    value_columns = [c for c in frame.columns if c not in ("Characteristic", "Level", "Missing", "P-Value", "Test")
                     and not c.startswith("SMD")]
    headers = {c: f"{c} (N\u00a0=\u00a0{counts[c].iloc[0]})" if len(counts) and str(counts[c].iloc[0]).strip() else c
               for c in value_columns}
    tests = [t for t in dict.fromkeys(frame.get("Test", pd.Series(dtype=str)).astype(str).str.strip()) if t]
    mark = {t: TEST_MARKS[i] for i, t in enumerate(tests)}
    smd = next((c for c in frame.columns if c.startswith("SMD")), None)
    rows = []
    for label, block in frame.groupby("Characteristic", sort=False):
        levels = [str(v) for v in block["Level"]]
        first = block.iloc[0]
        common = {"Missing": str(first.get("Missing", "")).strip()}
        if "P-Value" in block:
            p = str(first["P-Value"]).strip()
            test = str(first.get("Test", "")).strip()
            common["P"] = f"{p} {mark[test]}" if p and test else p
        if smd:
            common["SMD"] = str(first[smd]).strip()
        lowered = {v.strip().lower() for v in levels}
        if len(block) == 2 and lowered & POSITIVE_LEVELS and lowered & NEGATIVE_LEVELS:
            positive = block[[v.strip().lower() in POSITIVE_LEVELS for v in levels]].iloc[0]
            rows.append({"Characteristic": label, **{headers[c]: positive[c] for c in value_columns}, **common})
        elif levels == [""]:
            rows.append({"Characteristic": label, **{headers[c]: first[c] for c in value_columns}, **common})
        else:
            rows.append({"Characteristic": label, **{headers[c]: "" for c in value_columns}, **common})
            rows += [{"Characteristic": INDENT + str(row["Level"]), **{headers[c]: row[c] for c in value_columns}}
                     for _, row in block.iterrows()]
    out = pd.DataFrame(rows).fillna("")
    if "Missing" in out and not any(v not in ("", "0") for v in out["Missing"]):
        out = out.drop(columns="Missing")
    names = {"chi-squared": "Pearson's chi-square test", "fisher's exact": "Fisher's exact test",
             "kruskal-wallis": "Kruskal–Wallis test", "chi-squared (warning: expected count < 5)":
             "Pearson's chi-square test (an expected count below 5)", "two sample t-test": "Welch's t-test"}
    out.attrs["note"] = "; ".join(f"{mark[t]} {names.get(t.lower(), t)}" for t in tests)
    return out
