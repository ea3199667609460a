"""Tables fit the page (issue 16): at 1400 px no table is wider than the text column; at 390 px a
table may scroll inside its own box but the page never scrolls sideways. Wide tables are shown
with groups of columns stacked into one cell (plots.tables.stacked) while their CSV download
keeps every column. Measured in Debian's Chromium on every page of the session build."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import measure_site
from helpers.plots import tables

MEASURE = """() => {
  const column = document.querySelector('article.bd-article');
  const right = column.getBoundingClientRect().right;
  const wide = [...document.querySelectorAll('article.bd-article table')].map(t => {
    const box = t.getBoundingClientRect();
    const heads = [...t.querySelectorAll('thead th')].map(h => h.textContent.trim()).slice(0, 4).join(' | ');
    return {over: Math.round(box.left + t.scrollWidth - right), heads};
  }).filter(t => t.over > 1);
  // A table outside a scroll box must stay inside the box that holds it (a banner, a dropdown).
  const unboxed = [...document.querySelectorAll('article.bd-article table')]
    .filter(t => !t.closest('.book-table-wrap, .book-figure-scroll, .pst-scrollable-table-container'))
    .map(t => {
      const holder = t.parentElement, box = holder.getBoundingClientRect();
      const inner = box.left + holder.clientLeft + holder.clientWidth
        - parseFloat(getComputedStyle(holder).paddingRight);
      return {over: Math.round(t.getBoundingClientRect().left + t.scrollWidth - inner),
              heads: [...t.querySelectorAll('th')].map(h => h.textContent.trim()).slice(0, 4).join(' | ')};
    }).filter(t => t.over > 1);
  return {wide, unboxed, page: document.documentElement.scrollWidth, viewport: window.innerWidth};
}"""


def test_stacked_columns_read_one_per_line_and_the_rest_stay():
    frame = pd.DataFrame({"id": ["a", "b"], "x": [1, None], "y": ["p", "q"], "z": ["", "r"], "keep": [7, 8]})
    shown = tables.stacked(frame, {"what": ["id", "x"], "more": ["y", "z", "absent"]})
    assert list(shown.columns) == ["what", "more", "keep"]
    br = tables.STACK_BREAK
    assert shown["what"].tolist() == [f"a{br}x: 1.0", "b"]
    assert shown["more"].tolist() == ["p", f"q{br}z: r"]
    assert shown["keep"].tolist() == [7, 8]


def test_a_group_title_is_taken_off_its_members_names():
    frame = pd.DataFrame({"A: any": ["3 (23%)"], "A: 1–2": ["2 (15%)"]})
    assert tables.stacked(frame, {"A": ["A: any", "A: 1–2"]})["A"].tolist() == [f"3 (23%){tables.STACK_BREAK}1–2: 2 (15%)"]


def test_a_stacked_table_shows_the_stack_and_downloads_every_column(tmp_path):
    tables.configure_downloads(tmp_path, "downloads/")
    try:
        frame = pd.DataFrame({"id": ["a<b>"], "x": [1], "note": ["n"]})
        shown = tables.show_table(frame, caption="A table", origin="none", stack={"what": ["id", "x"]})
        markup = shown._repr_html_()
        assert "book-table-stacked" in markup and "<th>what</th>" in markup and "<th>x</th>" not in markup
        assert "<td>a&lt;b&gt;<br>x: 1</td>" in markup  # one line each, the data still escaped
        download = pd.read_csv(tmp_path / "a-table.csv")
        assert {"id", "x", "note"} <= set(download.columns)
    finally:
        tables.configure_downloads(None, None)


TABLES = measure_site("tables", MEASURE)


@pytest.fixture(scope="module")
def measured(site_measures):
    return {key: found[TABLES] for key, found in site_measures.items()}


@pytest.mark.build
def test_no_table_is_wider_than_the_text_column_on_a_wide_screen(measured):
    wide = {page: r["wide"] for (width, page), r in measured.items() if width == 1400 and r["wide"]}
    assert wide == {}


@pytest.mark.build
def test_a_table_outside_a_scroll_box_stays_inside_what_holds_it_at_either_width(measured):
    # The chapter banner's parameter tables ran 10 and 34 px past the banner at 390 px (stop 24).
    unboxed = {(width, page): r["unboxed"] for (width, page), r in measured.items() if r["unboxed"]}
    assert unboxed == {}


@pytest.mark.build
def test_no_page_scrolls_sideways_on_a_phone(measured):
    sideways = {page: (r["page"], r["viewport"]) for (width, page), r in measured.items()
                if width == 390 and r["page"] > r["viewport"] + 1}
    assert sideways == {}


# --------------------------------------------------------------------------- Table 1's clinical layout

def test_table_one_is_laid_out_as_a_clinical_table_one():
    """Eight patients counted by hand: group A has 3 (2 female, 1 male; 2 with the flag), B has 5
    (1 female, 4 male; 0 with it). Levels follow the order given, not the alphabet."""
    patients = pd.DataFrame({"group": ["A"] * 3 + ["B"] * 5,
                             "sex": ["female", "female", "male", "female", "male", "male", "male", "male"],
                             "flag": ["yes", "yes", "no", "no", "no", "no", "no", "no"],
                             "stage": ["late", "early", "early", "late", "late", "mid", "early", "late"]})
    table = tables.table_one(patients, columns=["sex", "flag", "stage"], categorical=["sex", "flag", "stage"],
                             groupby="group", labels={"flag": "Flag"}, order={"stage": ["early", "mid", "late", "never"]})
    table.columns = [c.replace("\u00a0", " ") for c in table.columns]
    assert list(table.columns[:4]) == ["Characteristic", "Overall (N = 8)", "A (N = 3)", "B (N = 5)"]
    rows = table.set_index("Characteristic")
    assert rows.loc["Flag, n (%)", "A (N = 3)"] == "2 (66.7)" and rows.loc["Flag, n (%)", "B (N = 5)"] == "0 (0.0)"
    assert tables.INDENT + "yes" not in rows.index and tables.INDENT + "no" not in rows.index  # a binary variable is one row
    assert rows.loc[tables.INDENT + "female", "A (N = 3)"] == "2 (66.7)" and rows.loc[tables.INDENT + "male", "B (N = 5)"] == "4 (80.0)"
    stage = [r for r in table["Characteristic"] if r.startswith(tables.INDENT)]
    assert [r.removeprefix(tables.INDENT) for r in stage if r.removeprefix(tables.INDENT) in ("early", "mid", "late")] == ["early", "mid", "late"]
    assert rows.loc["sex, n (%)", "A (N = 3)"] == ""  # the label row carries the test, not counts
    mark = rows.loc["Flag, n (%)", "P"].split()[-1]
    assert mark in tables.TEST_MARKS and f"{mark} Fisher's exact test" in table.attrs["note"]
    assert "Missing" not in table.columns and "Test" not in table.columns
    markup = tables.show_table(table, caption="Table 1", origin="none")._repr_html_()
    assert f"<td>{tables.INDENT}female</td>" in markup  # the indent survives pandas' HTML writer
