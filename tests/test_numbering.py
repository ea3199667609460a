"""Tables and figures are numbered and cross-referenced by Sphinx, never typed (issue 16).

The unit tests build a small Sphinx project of two notebooks whose outputs are book tables
(:mod:`helpers.plots.tables`) and figures (:mod:`helpers.plots.figures`) and check what :mod:`helpers.site.sphinx_site` makes of them. The
site tests read the built book: every caption's number is Sphinx's, every table name is unique,
every ``{numref}`` link lands on an anchor of its target page. The text test reads ``book/*.md``.
"""

from __future__ import annotations

import ast
import functools
import io
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import nbformat
import pandas as pd
import plotly.graph_objects as go
import pytest
from bs4 import BeautifulSoup

from helpers import markup
from helpers.paths import BOOK_DIR, HTML_DIR
from helpers.plots import figures, tables
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


def figure_output(title: str, name: str | None = None, caption: str | None = None):
    """A display_data output as a chapter's ``display(plots.show(figure, name=...))`` writes it."""
    figure = figures.style(go.Figure(go.Scatter(x=[1, 2], y=[3, 4])), title)
    shown = figures.show(figure, name=name, caption=caption)
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
    """The parsed page, parsed once while the file is unchanged (a 400 KB page takes a second to
    parse, and the name checks look a page up once per name). Callers only read it."""
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _parsed(path: Path, mtime_ns: int, size: int) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def caption_of(table) -> str:
    return table.select_one("p.book-table-caption").get_text()


def figure_caption_of(figure) -> str:
    return figure.select_one("p.book-figure-caption").get_text()


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    first = chapter("First", table_output("Counts <by> group", "tbl-first-counts"),
                    figure_output("Survival <by> arm", "fig-first-survival"),
                    table_output("A table nobody names"), figure_output("An untitled plot", caption="Drawn anyway"),
                    figure_output("A figure shown as before"))
    second = chapter("Second", table_output("Rates & more", "tbl-second-rates"),
                     figure_output("Rates & more, drawn", "fig-second-rates"),
                     "As {numref}`tbl-first-counts` and {numref}`tbl-second-rates` show.",
                     "See {numref}`fig-first-survival` and {numref}`fig-second-rates`.")
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


def test_sphinx_numbers_book_figures_by_chapter_apart_from_tables(small_project):
    html, _ = small_project
    first, second = soup_of(html / "first.html"), soup_of(html / "second.html")
    assert [figure_caption_of(f) for f in first.select("div.book-figure-numbered")] == [
        "Figure 1.1 Survival <by> arm", "Figure 1.2 Drawn anyway"]
    assert [figure_caption_of(f) for f in second.select("div.book-figure-numbered")] == ["Figure 2.1 Rates & more, drawn"]
    numbered = first.select_one("#fig-first-survival")
    assert "book-figure-numbered" in numbered["class"]
    assert numbered.select_one("div.book-figure-wrap")["data-label"] == "fig-first-survival"
    assert numbered.select_one("div.plotly-graph-div") is not None
    # The title moved into the caption: the plot drawn on the page has none, so nothing is said twice.
    assert "Survival" not in numbered.select_one("script").get_text()
    # A figure shown without a name or caption is left as it was: its title stays in the plot.
    assert len(first.select("div.plotly-graph-div")) == 3 and "A figure shown as before" in str(first)


def test_numref_links_to_the_figure_with_its_number(small_project):
    html, _ = small_project
    links = [(a.get_text(), a["href"]) for a in soup_of(html / "second.html").select("a.reference")
             if "#fig-" in a.get("href", "")]
    assert links == [("Figure 1.1", "first.html#fig-first-survival"), ("Figure 2.1", "#fig-second-rates")]


def test_a_figure_name_used_twice_is_a_warning(tmp_path):
    pages = {"first": chapter("First", figure_output("One", "fig-same")),
             "second": chapter("Second", figure_output("Two", "fig-same"), "See {numref}`fig-same`.")}
    _, warnings = build_project(tmp_path, pages)
    assert "duplicate label fig-same" in warnings


def test_a_numref_to_no_figure_is_a_warning(tmp_path):
    _, warnings = build_project(tmp_path, {"first": chapter("First", figure_output("One", "fig-one")),
                                           "second": chapter("Second", "See {numref}`fig-none`.")})
    assert "undefined label: 'fig-none'" in warnings


def test_a_figure_name_is_checked():
    figure = go.Figure(go.Scatter(x=[1], y=[1]))
    with pytest.raises(ValueError, match="name"):
        figures.show(figure, name="Figure 3.1")
    with pytest.raises(ValueError, match="neither a title nor a caption"):
        figures.show(figure, name="fig-untitled")
    shown = figures.show(figures.style(figure, "a < b"), name="fig-counts")
    parts = markup.split_figure_html(shown._repr_html_())
    assert (parts.label, parts.caption, parts.caption_html) == ("fig-counts", "a < b", "a &lt; b")
    assert markup.split_figure_html(tables.show_table(pd.DataFrame({"x": [1]}), caption="c")._repr_html_()) is None


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
    parts = markup.split_table_html(tables.show_table(frame, caption="a < b", name="tbl-counts")._repr_html_())
    assert (parts.label, parts.caption, parts.caption_html) == ("tbl-counts", "a < b", "a &lt; b")
    assert markup.split_table_html("<div class='other'>x</div>") is None


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


def unnamed_calls(path: Path, is_shown) -> list[int]:
    """Line numbers (within their cell) of the calls of ``path`` that ``is_shown`` picks and
    that pass no name."""
    missing = []
    for source in code_cells(path):
        body = "\n".join(line for line in source.splitlines() if not line.startswith(":"))
        for node in ast.walk(ast.parse(body)):
            if (isinstance(node, ast.Call) and is_shown(node.func)
                    and not any(keyword.arg == "name" for keyword in node.keywords)):
                missing.append(node.lineno)
    return missing


def is_show_table(func) -> bool:
    return getattr(func, "attr", getattr(func, "id", "")) == "show_table"


def is_show_figure(func) -> bool:
    return isinstance(func, ast.Attribute) and func.attr == "show" and getattr(func.value, "id", "") == "plots"


def unnamed_tables(path: Path) -> list[int]:
    """Line numbers (within their cell) of the show_table calls of ``path`` that pass no name."""
    return unnamed_calls(path, is_show_table)


@pytest.mark.parametrize("path", [p for p in chapter_sources() if "show_table" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.name)
def test_every_table_a_chapter_shows_has_a_name(path):
    assert unnamed_tables(path) == [], f"{path.name}: show_table(..., name='tbl-...') for every table"


# The response and baselines chapters are another author's this session; their figures are still
# numbered (each has a title), only not yet named for {numref}.
NOT_YET_NAMED: set = set()


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.xfail(reason="figure names to add", strict=False)) if p.name in NOT_YET_NAMED
    else p for p in chapter_sources() if "plots.show(" in p.read_text(encoding="utf-8")], ids=lambda p: p.name)
def test_every_figure_a_chapter_shows_has_a_name(path):
    assert unnamed_calls(path, is_show_figure) == [], f"{path.name}: plots.show(figure, name='fig-...') for every figure"


# ------------------------------------------------------------------ the built site --

def site_pages() -> list[Path]:
    return sorted((HTML_DIR / "book").glob("*.html"))


def book_tables(soup: BeautifulSoup):
    return soup.select("div.book-table-wrap")


def book_figures(soup: BeautifulSoup):
    return soup.select("div.book-figure-wrap")


@pytest.mark.build
def test_every_caption_number_is_sphinxs(built):
    typed, unnumbered = [], []
    for path in site_pages():
        soup = soup_of(path)
        for caption in soup.select("p.book-table-caption, p.book-figure-caption, figcaption, table > caption"):
            number = caption.select_one("span.caption-number")
            text = caption.get_text()[len(number.get_text()) if number else 0:]
            if TYPED_NUMBER.search(text) or re.match(r"\s*(Table|Figure) \d", text):
                typed.append((path.name, text[:60]))
        unnumbered += [(path.name, caption_of(t)[:60]) for t in book_tables(soup)
                       if t.select_one("p.book-table-caption") and not t.select_one("span.caption-number")]
        unnumbered += [(path.name, figure_caption_of(f)[:60]) for f in book_figures(soup)
                       if not f.select_one("span.caption-number")]
    assert typed == [], f"captions that type their own number: {typed[:10]}"
    assert unnumbered == [], f"captioned tables and figures Sphinx did not number: {unnumbered[:10]}"


# What each kind of numbered output is called, how to find it and its caption on a page, and
# how many the chapters show at least.
KINDS = {"table": (book_tables, caption_of, "book-table-numbered", 100),
         "figure": (book_figures, figure_caption_of, "book-figure-numbered", 40)}


@pytest.mark.build
@pytest.mark.parametrize("kind", KINDS)
def test_every_name_is_unique_on_the_site(built, kind):
    find, _, numbered_class, at_least = KINDS[kind]
    names = [(path.name, t["data-label"]) for path in site_pages() for t in find(soup_of(path))
             if t.has_attr("data-label")]
    assert len(names) > at_least, f"the chapters' {kind}s carry no names"
    uses = Counter(name for _, name in names)
    assert [name for name, count in uses.items() if count > 1] == []
    for page, name in names:
        anchor = soup_of(HTML_DIR / "book" / page).find(id=name)
        assert anchor is not None and numbered_class in anchor["class"], (page, name)


@pytest.mark.build
@pytest.mark.parametrize("kind", KINDS)
def test_no_number_is_used_twice_on_the_site(built, kind):
    """The numbered chapters number "Table 3.1"..., the other pages share one sequence ("Table 1"...):
    a number, typed or Sphinx's, that two tables (or two figures) carry is a mistake."""
    find, caption, _, at_least = KINDS[kind]
    word = kind.capitalize()
    numbers = []
    for path in site_pages():
        for shown in find(soup_of(path)):
            if shown.select_one("p.book-table-caption, p.book-figure-caption") is None:
                continue  # an uncaptioned table: not numbered, not referable
            found = re.match(rf"\s*{word} (\d+(?:\.\d+)?[a-z]?)\b", caption(shown))
            numbers.append((found[1] if found else None, path.name))
    assert len(numbers) > at_least
    assert [page for number, page in numbers if number is None] == []
    uses = Counter(number for number, _ in numbers)
    assert sorted((number, page) for number, page in numbers if uses[number] > 1) == []


@pytest.mark.build
def test_every_numref_lands_on_an_anchor(built):
    checked, dangling = Counter(), []
    ids_of: dict[Path, set[str]] = {}
    for path in site_pages():
        for link in soup_of(path).select("a.reference.internal"):
            href = link.get("href", "")
            target, fragment = urlsplit(href).path, urlsplit(href).fragment
            word = {"tbl-": "Table", "fig-": "Figure"}.get(fragment[:4])
            if word is None:
                continue
            page = (path.parent / target).resolve() if target else path
            if page not in ids_of:
                ids_of[page] = {tag["id"] for tag in soup_of(page).select("[id]")} if page.exists() else set()
            checked[word] += 1
            if fragment not in ids_of[page] or not re.fullmatch(rf"{word} \d+(\.\d+)?", link.get_text()):
                dangling.append((path.name, href, link.get_text()))
    assert checked["Table"] >= 30, f"only {checked['Table']} table references on the site"
    assert checked["Figure"] >= 8, f"only {checked['Figure']} figure references on the site"
    assert dangling == []


@pytest.mark.build
def test_the_site_is_built_from_every_chapter(built):
    assert {p.stem for p in site_pages()} >= set(build.chapters())
