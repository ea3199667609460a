"""Tables for the book: Table 1 (via tableone) and plain result tables.

Tables render as static HTML (no JavaScript), so they read the same in the
browser, in print and in a re-executed notebook.
"""

from __future__ import annotations

import html
from typing import Optional, Sequence

import pandas as pd
from tableone import TableOne


class TableHTML:
    """A DataFrame rendered as a captioned HTML table."""

    def __init__(self, frame: pd.DataFrame, caption: Optional[str] = None, index: bool = False,
                 note: Optional[str] = None):
        self.frame, self.caption, self.index, self.note = frame, caption, index, note

    def _repr_html_(self) -> str:
        body = self.frame.to_html(index=self.index, escape=True, na_rep="", border=0,
                                  classes="book-table table")
        caption = f"<p class='book-table-caption'><strong>{html.escape(self.caption)}</strong></p>" \
            if self.caption else ""
        note = f"<p class='book-table-note'>{html.escape(self.note)}</p>" if self.note else ""
        return f"<div class='book-table-wrap'>{caption}{body}{note}</div>"

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
