"""The site as a reader meets it, read from the built HTML: code behind toggles, no papermill
parameters cell, and every table download saying where its numbers come from.

The cell convention is :mod:`helpers.site.cell_tags`; the download mark is
:mod:`helpers.plots.tables` (the ``data_origin`` column). The unit tests at the end need no build.
"""

import csv
import io

import nbformat
import pytest
from bs4 import BeautifulSoup

from helpers.paths import BUILD_DIR
from helpers.plots import tables
from helpers.site import build
from helpers.site.cell_tags import reproduces_a_seed_study, seed_section_cells, site_notebook, split_at_headings

HTML = BUILD_DIR / "html"
# The chapters that analyse data (the data dictionary and the ledger page are reference pages).
ANALYSIS_CHAPTERS = ("baselines", "case-reports", "cytokines", "expansion", "response", "survival", "toxicity")
DOWNLOADS = HTML / "_static" / "downloads"


def page(name: str) -> BeautifulSoup:
    return BeautifulSoup((HTML / "book" / f"{name}.html").read_text(encoding="utf-8"), "html.parser")


def visible_code_lines(soup: BeautifulSoup) -> int:
    """Lines of code a reader sees without opening anything: code inputs outside a collapsed
    ``<details>`` toggle."""
    return sum(len(cell.get_text().rstrip("\n").splitlines()) for cell in soup.select("div.cell_input")
               if cell.find_parent("details") is None)


@pytest.mark.build
@pytest.mark.parametrize("name", build.chapters())
def test_no_page_shows_papermills_injected_parameters(built, name):
    soup = page(name)
    assert not soup.select(".tag_injected-parameters"), "papermill's injected-parameters cell is on the page"
    assert "# Parameters" not in soup.get_text()


@pytest.mark.build
@pytest.mark.parametrize("name", ANALYSIS_CHAPTERS)
def test_analysis_chapters_show_no_code_unless_asked(built, name):
    soup = page(name)
    assert visible_code_lines(soup) == 0
    assert soup.select(".chapter-banner"), "the banner (data folder, seed) replaces the parameters cell"


@pytest.mark.build
@pytest.mark.parametrize("name", build.chapters())
def test_every_hidden_input_has_its_toggle(built, name):
    soup = page(name)
    for cell in soup.select("div.cell.tag_hide-input"):
        details = cell.find("details")
        assert details is not None and details.find("summary") is not None, cell.get_text()[:200]
        assert details.find("div", class_="cell_input") is not None
        assert "open" not in details.attrs, "a hidden input must start collapsed"


def download_links() -> list[tuple[str, str, str]]:
    """(page, caption, CSV path) of every table download linked from a chapter page."""
    found = []
    for name in build.chapters():
        for wrap in page(name).select("div.book-table-wrap"):
            link = wrap.select_one("p.book-table-download a")
            if link is None:
                continue
            caption = wrap.select_one("p.book-table-caption")
            found.append((name, caption.get_text() if caption else "", link["href"]))
    return found


def data_origin(path) -> set[str] | None:
    """The values of a CSV's ``data_origin`` first column, or None without that column."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    if not rows or rows[0][:1] != [tables.ORIGIN_COLUMN]:
        return None
    return {row[0] for row in rows[1:]}


@pytest.mark.build
def test_every_table_download_says_where_its_numbers_come_from(built):
    chapter_csvs = sorted(p for p in DOWNLOADS.glob("*/*.csv"))
    assert chapter_csvs, "no table downloads on the site"
    unmarked = [p.relative_to(DOWNLOADS).as_posix() for p in chapter_csvs
                if not (data_origin(p) or set()) <= set(tables.ORIGINS) or not data_origin(p)]
    assert unmarked == [], f"{len(unmarked)} of {len(chapter_csvs)} downloads have no data_origin: {unmarked[:10]}"


@pytest.mark.build
def test_a_synthetic_download_has_a_caption_that_says_so(built):
    links = download_links()
    assert len(links) > 50
    for name, caption, href in links:
        origin = data_origin((HTML / "book" / href).resolve())
        if origin & {"synthetic", "mixed"}:
            assert "synthetic" in caption.lower(), f"{name}: {caption!r} hides that its numbers are synthetic"
        else:
            assert "synthetic cohort)" not in caption, f"{name}: {caption!r} is marked but is {origin}"


@pytest.mark.build
@pytest.mark.parametrize("page_name, table_name", [
    ("response", "tbl-response-odds-ratios-response"),
    ("response", "tbl-response-odds-ratios-mrd"),
    ("cytokines", "tbl-cytokines-variance-components"),
    ("expansion", "tbl-expansion-model-fits"),
    ("expansion", "tbl-expansion-fitted-expansion"),
])
def test_the_tables_readers_named_are_marked_synthetic(built, page_name, table_name):
    hits = page(page_name).select(f"div.book-table-wrap[data-label='{table_name}']")
    assert len(hits) == 1, hits
    caption = hits[0].select_one("p.book-table-caption").get_text()
    href = hits[0].select_one("p.book-table-download a")["href"]
    assert "synthetic" in caption.lower()
    assert data_origin((HTML / "book" / href).resolve()) & {"synthetic", "mixed"}


# ------------------------------------------------------------------ without a build --

def notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


def code(source, tags=(), outputs=()):
    cell = nbformat.v4.new_code_cell(source)
    if tags:
        cell.metadata["tags"] = list(tags)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": o}) for o in outputs]
    return cell


def test_cell_tags_follow_the_convention():
    nb = notebook(
        nbformat.v4.new_markdown_cell("# Title"),
        code('data_dir = "../data/synthetic"', tags=["parameters"]),
        code('# Parameters\ndata_dir = "x"\n', tags=["injected-parameters"]),
        code('from helpers import chapters\nbook = chapters.setup("c", data_dir)\nbook.banner()', outputs=["banner"]),
        code('if has_000:\n    book.ledger.record("000-n", 3, basis="synthetic")'),
        code('here.record_rates(book.ledger, rates, ids)'),
        code('reproduction.comparison_table(ids, register_csv, ledger=book.ledger);'),
        code('book.ledger.record("x", 1)\nplots.show_table(t)', outputs=["table"]),
        code('nca = stats.nca_table(k)'),
        code('plots.show(figure)', outputs=["figure"]),
        code('worked_example()', tags=["show-input"], outputs=["42"]),
        code('secret()', tags=["remove-input"], outputs=["x"]),
        code('%matplotlib inline', outputs=[]),
    )
    shown = site_notebook(nb)
    tags = [cell.metadata.get("tags", []) for cell in shown.cells]
    assert tags == [
        [], ["parameters", "remove-cell"], ["injected-parameters", "remove-cell"], ["remove-input"],
        ["remove-cell"], ["remove-cell"], ["remove-cell"], ["hide-input"], ["hide-input"], ["hide-input"],
        ["show-input"], ["remove-input"], ["hide-input"]]
    assert all("tags" not in cell.metadata for cell in nb.cells[3:10]), "the input notebook was changed"


def test_cell_tags_on_bytes_return_bytes_and_leave_nothing_else_changed():
    nb = notebook(code("x = 1", outputs=["1"]), nbformat.v4.new_markdown_cell("text"))
    data = (nbformat.writes(nb) + "\n").encode()
    shown = site_notebook(data)
    assert isinstance(shown, bytes)
    back = nbformat.reads(shown.decode(), as_version=4)
    assert back.cells[0].metadata["tags"] == ["hide-input"]
    back.cells[0].metadata.pop("tags")
    assert nbformat.writes(back) == nbformat.writes(nb)
    empty = notebook(nbformat.v4.new_markdown_cell("only text"))
    assert site_notebook(nbformat.writes(empty).encode()) == nbformat.writes(empty).encode()


def test_a_download_carries_its_origin_as_a_parseable_first_column(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"cohort": ["A", "B"], "n": [3, 4]})
    try:
        tables.configure_downloads(tmp_path, "../_static/downloads/c/")
        synthetic = tables.show_table(frame, caption="Counts by cohort", origin="synthetic")
        published = tables.show_table(frame, caption="Published counts", origin="published")
        said = tables.show_table(frame, caption="Counts (synthetic)")
        unsaid = tables.show_table(frame, caption="Counts")
    finally:
        tables.configure_downloads(None, None)
    read = pd.read_csv(tmp_path / "counts-by-cohort.csv")
    assert list(read.columns) == ["data_origin", "cohort", "n"]
    assert read["data_origin"].tolist() == ["synthetic", "synthetic"] and read["n"].tolist() == [3, 4]
    assert "synthetic" in synthetic._repr_html_().split("</strong>")[0]
    assert synthetic.caption == "Counts by cohort (synthetic cohort)"
    assert published.caption == "Published counts"
    assert pd.read_csv(tmp_path / "published-counts.csv")["data_origin"].tolist() == ["published"] * 2
    assert said.origin == "synthetic" and said.caption == "Counts (synthetic)"
    assert unsaid.origin == tables.NOT_STATED
    with pytest.raises(ValueError):
        tables.show_table(frame, origin="made up")


def test_a_section_on_one_studys_rows_says_their_origin_for_every_table_inside_it(tmp_path):
    """own_data's sections call helpers that show tables without knowing the rows' origin:
    the section states it once (tables.rows_from), a table's own origin still wins, and the
    default ends with the block (before, such tables were written "not stated")."""
    import pandas as pd

    from helpers.chapters import own_data

    frame = pd.DataFrame({"n": [1]})
    assert own_data.rows_origin(pd.DataFrame({"origin": ["user", "user"]})) == "user"
    assert own_data.rows_origin(pd.DataFrame({"origin": ["user", "synthetic"]})) == "synthetic"
    assert own_data.rows_origin(pd.DataFrame({"origin": ["published"]})) == "published"
    with tables.rows_from("user"):
        assert tables.show_table(frame, caption="Counts").origin == "user"
        assert tables.show_table(frame, caption="Rules", origin="none").origin == "none"
        with tables.rows_from("synthetic"):
            marked = tables.show_table(frame, caption="Counts")
        assert tables.show_table(frame, caption="Counts").origin == "user"
    assert marked.origin == "synthetic" and marked.caption == "Counts (synthetic cohort)"
    assert tables.show_table(frame, caption="Counts").origin == tables.NOT_STATED
    with pytest.raises(ValueError):
        with tables.rows_from("invented"):
            pass

def test_seed_sections_vanish_from_a_build_without_seed_studies():
    """Issue 15: on a centre's own cohort the chapters' reproductions of the papers are not the
    page's spine. A section whose code only reproduces a seed study is dropped, prose included;
    a section with any other code stays, and so does everything when a seed study is present."""
    md = nbformat.v4.new_markdown_cell
    nb = notebook(
        md("# Survival"),                                                              # 0 kept: setup code
        code('book = chapters.setup("survival", data_dir)'),
        md("## Study 000: the letter's curves\nThe letter reports..."),                # 2-5 seed section
        code('has_000 = book.require("000", ["responses"], analysis="Study 000: survival")'),
        code('if has_000:\n    display(curves)'),
        md("### Why 1 − KM overstates\nprose"),                                         # 5-6 seed subsection
        code('if has_000 and book.require("004"):\n    display(naive)'),
        md("## A simulation anyone can run"),                                          # 7-8 not seed
        code('sim = stats.immortal_time_simulation(book.rng())'),
        md("## Mixed\nprose"),                                                          # 9 kept (has plain code)
        md("### Seed part"),                                                            # 10-11 seed subsection
        code('if has_003:\n    show(x)'),
        code('own_data.survival_section(book, study)'),                                 # 12 under "Seed part"? no:
        md("## Assumptions\nonly prose"),                                               # 13 kept: no code
    )
    dropped = seed_section_cells(nb.cells)
    # cell 12 belongs to "### Seed part" (cells 10-12), which therefore holds plain code and stays
    assert dropped == {2, 3, 4, 5, 6}
    shown = site_notebook(nb, seed_studies=False)
    assert [cell.source.split("\n")[0] for cell in shown.cells if cell.cell_type == "markdown"] == [
        "# Survival", "## A simulation anyone can run", "## Mixed", "### Seed part", "## Assumptions"]
    assert len(site_notebook(nb).cells) == len(nb.cells)  # seed studies present: nothing dropped
    assert reproduces_a_seed_study('has_004 = book.require("004")\nif has_004:\n    x()')
    assert not reproduces_a_seed_study('if has_004:\n    x()\ny = 1')
    assert not reproduces_a_seed_study('if transplanted:\n    x()')
    assert not reproduces_a_seed_study('%matplotlib inline')


def test_a_heading_inside_a_text_cell_opens_its_own_section():
    """jupytext joins the text between two code cells into one cell, headings included: the
    seed section after such a heading still goes, and the text before it stays."""
    md = nbformat.v4.new_markdown_cell
    nb = notebook(
        md("# T"), code('book = chapters.setup("t", data_dir)'),
        md("Prose of the general part.\n\n```{note}\n# not a heading inside a fence\n```\n\n## Study 004: rates\nText."),
        code('if has_004:\n    show(rates)'),
    )
    cells = split_at_headings(nb.cells)
    assert [c.source.split("\n")[0] for c in cells if c.cell_type == "markdown"] == [
        "# T", "Prose of the general part.", "## Study 004: rates"]
    shown = site_notebook(nb, seed_studies=False)
    assert [c.source.split("\n")[0] for c in shown.cells] == ["# T", 'book = chapters.setup("t", data_dir)',
                                                              "Prose of the general part."]
