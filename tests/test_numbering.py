"""Tables are numbered and cross-referenced by Sphinx, never typed (issue 16).

The unit tests build a small Sphinx project of two notebooks whose outputs are book tables
(:mod:`helpers.plots.tables`) and check what :mod:`helpers.site.sphinx_site` makes of them. The
site tests read the built book: every caption's number is Sphinx's, every table name is unique,
every ``{numref}`` link lands on an anchor of its target page. The text test reads ``book/*.md``.
"""

from __future__ import annotations

import ast
import io
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from helpers.paths import BOOK_DIR, HTML_DIR
from helpers.plots import tables
from helpers.site import build

TYPED_NUMBER = re.compile(r"\b(?:Tables?|Figures?) \d+\.\d+")

# ------------------------------------------------------------------ a small project --

CONF = """
extensions = ["myst_nb", "helpers.site.sphinx_site"]
numfig = True
nb_execution_mode = "off"
myst_enable_extensions = ["colon_fence"]
exclude_patterns = ["_build"]
"""
INDEX = """# Project

```{toctree}
:numbered:

first
second
```
"""


def table_output(caption: str, name: str | None = None):
    """A display_data output as a chapter's ``display(plots.show_table(...))`` writes it."""
    shown = tables.show_table(pd.DataFrame({"x": [1, 2]}), caption=caption, origin="none", name=name)
    return nbformat.v4.new_output("display_data", data={"text/html": shown._repr_html_(),
                                                        "text/plain": repr(shown)})


def chapter(title: str, *cells) -> str:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {title}")]
    for cell in cells:
        if isinstance(cell, str):
            nb.cells.append(nbformat.v4.new_markdown_cell(cell))
        else:
            code = nbformat.v4.new_code_cell("show()")
            code.outputs = [cell]
            nb.cells.append(code)
    return nbformat.writes(nb)


def build_project(folder: Path, pages: dict[str, str]) -> tuple[Path, str]:
    """Build ``pages`` (name: notebook text) with the book's extension; the HTML folder and
    Sphinx's warnings."""
    from sphinx.application import Sphinx

    source = folder / "source"
    source.mkdir()
    (source / "conf.py").write_text(CONF, encoding="utf-8")
    (source / "index.md").write_text(INDEX, encoding="utf-8")
    for name, text in pages.items():
        (source / f"{name}.ipynb").write_text(text, encoding="utf-8")
    warnings = io.StringIO()
    app = Sphinx(str(source), str(source), str(folder / "html"), str(folder / "doctrees"), "html",
                 status=None, warning=warnings, freshenv=True)
    app.build()
    return folder / "html", warnings.getvalue()


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def caption_of(table) -> str:
    return table.select_one("p.book-table-caption").get_text()


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    first = chapter("First", table_output("Counts <by> group", "tbl-first-counts"),
                    table_output("A table nobody names"))
    second = chapter("Second", table_output("Rates & more", "tbl-second-rates"),
                     "As {numref}`tbl-first-counts` and {numref}`tbl-second-rates` show.")
    return build_project(tmp_path_factory.mktemp("numbering"), {"first": first, "second": second})


def test_sphinx_numbers_book_tables_by_chapter(small_project):
    html, warnings = small_project
    # Only the pages' own warnings: a second Sphinx app in one process warns about re-registered nodes.
    assert [line for line in warnings.splitlines() if "source" in line and "WARNING" in line] == []
    first, second = soup_of(html / "first.html"), soup_of(html / "second.html")
    assert [caption_of(t) for t in first.select("div.book-table-numbered")] == [
        "Table 1.1 Counts <by> group", "Table 1.2 A table nobody names"]
    assert [caption_of(t) for t in second.select("div.book-table-numbered")] == ["Table 2.1 Rates & more"]
    numbered = first.select_one("#tbl-first-counts")
    assert "book-table-numbered" in numbered["class"]
    assert numbered.select_one("span.caption-number").get_text() == "Table 1.1 "
    # The table's own HTML is inside, as show_table wrote it (name, table, classes).
    wrap = numbered.select_one("div.book-table-wrap")
    assert wrap["data-label"] == "tbl-first-counts" and wrap.select_one("table.book-table")


def test_numref_links_to_the_table_with_its_number(small_project):
    html, _ = small_project
    links = [(a.get_text(), a["href"]) for a in soup_of(html / "second.html").select("a.reference")
             if "#tbl-" in a.get("href", "")]
    assert links == [("Table 1.1", "first.html#tbl-first-counts"), ("Table 2.1", "#tbl-second-rates")]


def test_a_table_name_used_twice_is_a_warning(tmp_path):
    pages = {"first": chapter("First", table_output("One", "tbl-same")),
             "second": chapter("Second", table_output("Two", "tbl-same"), "See {numref}`tbl-same`.")}
    _, warnings = build_project(tmp_path, pages)
    assert "duplicate label tbl-same" in warnings


def test_a_numref_to_no_table_is_a_warning(tmp_path):
    _, warnings = build_project(tmp_path, {"first": chapter("First", table_output("One", "tbl-one")),
                                           "second": chapter("Second", "See {numref}`tbl-none`.")})
    assert "undefined label: 'tbl-none'" in warnings


def test_a_table_name_is_checked():
    frame = pd.DataFrame({"x": [1]})
    with pytest.raises(ValueError, match="name"):
        tables.show_table(frame, caption="Counts", name="Table 3.1")
    with pytest.raises(ValueError, match="no caption"):
        tables.show_table(frame, name="tbl-counts")
    parts = tables.split_table_html(tables.show_table(frame, caption="a < b", name="tbl-counts")._repr_html_())
    assert (parts.label, parts.caption, parts.caption_html) == ("tbl-counts", "a < b", "a &lt; b")
    assert tables.split_table_html("<div class='other'>x</div>") is None


# ------------------------------------------------------------------ the book's text --

def chapter_sources() -> list[Path]:
    return sorted(BOOK_DIR.glob("*.md"))


@pytest.mark.parametrize("path", chapter_sources(), ids=lambda p: p.name)
def test_no_chapter_types_a_table_or_figure_number(path):
    typed = [(number, line.strip()[:80]) for line in path.read_text(encoding="utf-8").splitlines()
             for number in TYPED_NUMBER.findall(line)]
    assert typed == [], f"{path.name}: write {{numref}}`tbl-...` (or a figure's title), not {typed}"


def code_cells(path: Path) -> list[str]:
    return re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


def unnamed_tables(path: Path) -> list[int]:
    """Line numbers (within their cell) of the show_table calls of ``path`` that pass no name."""
    missing = []
    for source in code_cells(path):
        body = "\n".join(line for line in source.splitlines() if not line.startswith(":"))
        for node in ast.walk(ast.parse(body)):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "show_table"
                    and not any(keyword.arg == "name" for keyword in node.keywords)):
                missing.append(node.lineno)
    return missing


@pytest.mark.parametrize("path", [p for p in chapter_sources() if "show_table" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.name)
def test_every_table_a_chapter_shows_has_a_name(path):
    assert unnamed_tables(path) == [], f"{path.name}: show_table(..., name='tbl-...') for every table"


# ------------------------------------------------------------------ the built site --

def site_pages() -> list[Path]:
    return sorted((HTML_DIR / "book").glob("*.html"))


def book_tables(soup: BeautifulSoup):
    return soup.select("div.book-table-wrap")


@pytest.mark.build
def test_every_caption_number_is_sphinxs(built):
    typed, unnumbered = [], []
    for path in site_pages():
        soup = soup_of(path)
        for caption in soup.select("p.book-table-caption, figcaption, table > caption"):
            number = caption.select_one("span.caption-number")
            text = caption.get_text()[len(number.get_text()) if number else 0:]
            if TYPED_NUMBER.search(text) or re.match(r"\s*(Table|Figure) \d", text):
                typed.append((path.name, text[:60]))
        unnumbered += [(path.name, caption_of(t)[:60]) for t in book_tables(soup)
                       if t.select_one("p.book-table-caption") and not t.select_one("span.caption-number")]
    assert typed == [], f"captions that type their own number: {typed[:10]}"
    assert unnumbered == [], f"captioned tables Sphinx did not number: {unnumbered[:10]}"


@pytest.mark.build
def test_every_table_name_is_unique_on_the_site(built):
    names = [(path.name, t["data-label"]) for path in site_pages() for t in book_tables(soup_of(path))
             if t.has_attr("data-label")]
    assert len(names) > 100, "the chapters' tables carry no names"
    uses = Counter(name for _, name in names)
    assert [name for name, count in uses.items() if count > 1] == []
    for page, name in names:
        anchor = soup_of(HTML_DIR / "book" / page).find(id=name)
        assert anchor is not None and "book-table-numbered" in anchor["class"], (page, name)


@pytest.mark.build
def test_no_table_number_is_used_twice_on_the_site(built):
    """The numbered chapters number "Table 3.1"..., the other pages share one sequence ("Table 1"...):
    a number, typed or Sphinx's, that two tables carry is a mistake."""
    numbers = []
    for path in site_pages():
        for table in book_tables(soup_of(path)):
            if table.select_one("p.book-table-caption") is not None:
                found = re.match(r"\s*Table (\d+(?:\.\d+)?[a-z]?)\b", caption_of(table))
                numbers.append((found[1] if found else None, path.name))
    assert len(numbers) > 100
    assert [page for number, page in numbers if number is None] == []
    uses = Counter(number for number, _ in numbers)
    assert sorted((number, page) for number, page in numbers if uses[number] > 1) == []


@pytest.mark.build
def test_every_numref_lands_on_an_anchor(built):
    checked, dangling = 0, []
    ids_of: dict[Path, set[str]] = {}
    for path in site_pages():
        for link in soup_of(path).select("a.reference.internal"):
            href = link.get("href", "")
            target, fragment = urlsplit(href).path, urlsplit(href).fragment
            if not fragment.startswith("tbl-"):
                continue
            page = (path.parent / target).resolve() if target else path
            if page not in ids_of:
                ids_of[page] = {tag["id"] for tag in soup_of(page).select("[id]")} if page.exists() else set()
            checked += 1
            if fragment not in ids_of[page] or not re.fullmatch(r"Table \d+(\.\d+)?", link.get_text()):
                dangling.append((path.name, href, link.get_text()))
    assert checked >= 30, f"only {checked} table references on the site"
    assert dangling == []


@pytest.mark.build
def test_the_site_is_built_from_every_chapter(built):
    assert {p.stem for p in site_pages()} >= set(build.chapters())
