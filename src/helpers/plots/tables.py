"""Tables for the book: Table 1 (via tableone) and plain result tables.

Tables render as static HTML (no JavaScript), so they read the same in the
browser, in print and in a re-executed notebook. Every value is escaped (cells and headers by
pandas, caption, note and link by :func:`helpers.plots.escape.escape_html`); the CSV download
has its formula-leading cells neutralised (:func:`helpers.plots.escape.frame_to_csv`).

Where a table's numbers come from
---------------------------------
Every table says where its numbers come from, in its caption and in its CSV download, so that
neither a screenshot nor a downloaded file can lose the fact that a number is synthetic. The
chapter states it with ``show_table(..., origin=...)``, one of :data:`ORIGINS`; a caption that
already says "synthetic" states it too (``origin`` is then ``"synthetic"`` unless given). A
table of ``origin="synthetic"`` or ``"mixed"`` whose caption does not say "synthetic" gets the
words of :data:`CAPTION_MARKS` appended to its caption.

The download carries the origin as its first column, ``data_origin``, the same value on every
row. A column, not a comment line: a ``# synthetic`` first line breaks ``pandas.read_csv``,
R's ``read.csv`` and spreadsheets' header detection unless the reader knows to skip it, while
a column survives every reader, filtering and copying rows elsewhere; a sidecar file would be
lost as soon as the CSV is downloaded alone. A table shown without an origin (a page that
does not say) is written with ``data_origin`` "not stated", which the site tests refuse.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from helpers.plots.escape import escape_html, frame_to_csv

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
}
NOT_STATED = "not stated"
#: Appended to a caption of a synthetic or mixed table that does not say "synthetic" itself.
CAPTION_MARKS = {"synthetic": "(synthetic cohort)", "mixed": "(published and synthetic numbers)"}
ORIGIN_COLUMN = "data_origin"


def table_origin(caption: Optional[str], origin: Optional[str]) -> str:
    """The origin a table declares: ``origin`` when given, else "synthetic" when the caption
    says so, else :data:`NOT_STATED`."""
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


class TableHTML:
    """A DataFrame rendered as a captioned HTML table (with a CSV download in the built site)."""

    def __init__(self, frame: pd.DataFrame, caption: Optional[str] = None, index: bool = False,
                 note: Optional[str] = None, origin: Optional[str] = None):
        self.origin = table_origin(caption, origin)
        self.name = slug(caption or "table")  # the caption as written: a mark does not rename the file
        self.frame, self.caption, self.index, self.note = frame, marked_caption(caption, self.origin), index, note
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
        body = self.frame.to_html(index=self.index, escape=True, na_rep="", border=0,
                                  classes="book-table table")
        caption = f"<p class='book-table-caption'><strong>{escape_html(self.caption)}</strong></p>" \
            if self.caption else ""
        note = f"<p class='book-table-note'>{escape_html(self.note)}</p>" if self.note else ""
        link = (f"<p class='book-table-download'><a href='{escape_html(self.download)}' download>"
                f"Download this table (CSV)</a></p>") if self.download else ""
        return f"<div class='book-table-wrap'>{caption}{body}{note}{link}</div>"

    def __repr__(self) -> str:
        return (self.caption + "\n" if self.caption else "") + self.frame.to_string(index=self.index)


def show_table(frame: pd.DataFrame, caption: Optional[str] = None, index: bool = False,
               note: Optional[str] = None, origin: Optional[str] = None) -> TableHTML:
    """Display a result table in a chapter (the last expression of a cell); ``origin`` says
    where its numbers come from (one of :data:`ORIGINS`, see the module text)."""
    return TableHTML(frame, caption, index, note, origin)


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
    return frame
