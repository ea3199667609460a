"""Tables for the book: Table 1 (via tableone) and plain result tables.

Tables render as static HTML (no JavaScript), so they read the same in the
browser, in print and in a re-executed notebook. Every value is escaped (cells and headers by
pandas, caption, note and link by :func:`helpers.plots.escape.escape_html`); the CSV download
has its formula-leading cells neutralised (:func:`helpers.plots.escape.frame_to_csv`).
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
                 note: Optional[str] = None):
        self.frame, self.caption, self.index, self.note = frame, caption, index, note
        self.download = self._write_csv()

    def _write_csv(self) -> Optional[str]:
        folder, href = _DOWNLOADS["folder"], _DOWNLOADS["href"]
        if folder is None:
            return None
        name = slug(self.caption or "table")
        path, number = folder / f"{name}.csv", 2
        while path.exists():
            path, number = folder / f"{name}-{number}.csv", number + 1
        # A reader opens this in a spreadsheet: no cell may start a formula (OWASP CSV injection).
        path.write_text(frame_to_csv(self.frame, index=self.index), encoding="utf-8", newline="")
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
               note: Optional[str] = None) -> TableHTML:
    """Display a result table in a chapter (the last expression of a cell)."""
    return TableHTML(frame, caption, index, note)


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
