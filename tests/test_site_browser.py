"""The site as a reader meets it: every page in a real headless Chromium, network off.

Chromium is Debian's (``/usr/bin/chromium``, installed by ``make test``'s set-up),
driven by Playwright with ``executable_path``; no browser is downloaded.
"""

import shutil
from pathlib import Path

import pytest

from conftest import require_chromium
from helpers.paths import BUILD_DIR
from helpers.site import build
from helpers.site.export_figures import CHROMIUM_ARGS

pytestmark = pytest.mark.build
CHROMIUM = require_chromium()
HTML = BUILD_DIR / "html"

from playwright.sync_api import sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser(built):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def open_page(browser, path: Path):
    """Load one page from disk with every network request refused; collect what went wrong."""
    context = browser.new_context()
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))

    def refuse_network(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            problems.append(f"network request: {route.request.url}")
            route.abort()

    page.route("**/*", refuse_network)
    page.goto(path.as_uri(), wait_until="load")
    return context, page, problems


def figure_problems(page) -> list[str]:
    """Every plotly figure on the page must have drawn an SVG with at least one trace."""
    page.wait_for_timeout(150)
    report = page.evaluate("""() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => ({
        id: div.id, svg: div.querySelectorAll('svg.main-svg').length,
        traces: (div.data || []).length,
        // Cartesian traces draw g.trace; Sankey diagrams g.sankey; pies g.slice.
        drawn: div.querySelectorAll('g.trace, g.sankey, g.slice').length}))""")
    problems = []
    for figure in report:
        if figure["svg"] == 0 or figure["traces"] == 0 or figure["drawn"] == 0:
            problems.append(f"figure {figure['id']} did not render ({figure})")
    return problems


def plotly_divs_in_html(path: Path) -> int:
    return path.read_text(encoding="utf-8").count('class="plotly-graph-div"')


PAGES = [HTML / f"{doc}.html" for doc in build.toc_files()]
CHAPTER_PAGES = set(build.chapters())


@pytest.mark.parametrize("page_path", PAGES, ids=[p.stem for p in PAGES])
def test_page_loads_offline_without_errors_and_figures_render(browser, page_path):
    context, page, problems = open_page(browser, page_path)
    try:
        expected = plotly_divs_in_html(page_path)
        if expected:
            page.wait_for_function(
                f"document.querySelectorAll('.plotly-graph-div svg.main-svg').length >= {expected}",
                timeout=15000)
        problems += figure_problems(page)
        assert page.title(), "page has no title"
        assert problems == []
        if page_path.stem in CHAPTER_PAGES:  # on the page already loaded: a second load cost 4 s a chapter
            assert page.locator("table").count() >= 1, f"{page_path.stem}: a chapter without a table"
    finally:
        context.close()


def test_every_chapter_page_is_loaded_above():
    assert CHAPTER_PAGES and CHAPTER_PAGES <= {p.stem for p in PAGES}


def test_navigation_reaches_the_next_page(browser):
    context, page, _ = open_page(browser, HTML / "book" / "intro.html")
    try:
        page.locator("a.right-next").first.click()
        page.wait_for_load_state("load")
        first_after_root = build.toc_files()[1]
        assert page.url.endswith(f"{first_after_root}.html")
    finally:
        context.close()


def test_search_finds_a_chapter(browser):
    context, page, problems = open_page(browser, HTML / "search.html")
    try:
        page.goto((HTML / "search.html").as_uri() + "?q=kinase", wait_until="load")
        page.wait_for_selector("#search-results li", timeout=15000)
        results = page.locator("#search-results li").all_inner_texts()
        assert any("Baseline" in r for r in results), results
    finally:
        context.close()


def test_a_broken_figure_is_caught(browser, tmp_path):
    """Prove the check can fail: a copy of the site without the shared plotly.js."""
    broken = tmp_path / "html"
    shutil.copytree(HTML, broken)
    (broken / "_static" / "plotly.min.js").unlink()
    context, page, problems = open_page(browser, broken / "book" / "baselines.html")
    try:
        problems += figure_problems(page)
        assert any("did not render" in p for p in problems)
        assert any("failed request" in p or "Plotly is not defined" in p for p in problems)
    finally:
        context.close()


def test_every_figure_has_its_static_copies(built):
    """Each figure's SVG and PNG links resolve to real images drawn from that very figure."""
    import re

    linked = set()
    for page in HTML.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        ids = re.findall(r'id="(fig-[0-9a-f]{12})" class="plotly-graph-div"', text)
        for fid in ids:
            for suffix in ("svg", "png"):
                assert f"_static/figures/{fid}.{suffix}" in text, f"{page.name}: {fid} has no {suffix} link"
        linked.update(ids)
    copies = HTML / "_static" / "figures"
    assert linked and {p.stem for p in copies.iterdir()} == linked, "one copy per figure shown, no other"
    for fid in linked:
        svg = (copies / f"{fid}.svg").read_text(encoding="utf-8")
        assert svg.startswith("<svg") and "class=\"main-svg\"" in svg
        png = (copies / f"{fid}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width >= 1200 and height >= 300, f"{fid}.png is {width}x{height}: not the 2x print size"



def test_a_survival_curve_s_hover_prints_its_ci_and_counts_as_the_tables_do(browser):
    """The hover data are numbers (their format is the template's ``:.1f``): at time 0 a curve
    reads 100.0% with its CI 100.0–100.0 and everyone at risk; later points print one decimal."""
    context, page, problems = open_page(browser, HTML / "book" / "survival.html")
    try:
        hovered = []
        for point in (0, 3):  # one hover at a time: plotly throttles hovers within a few ms
            page.wait_for_timeout(100)
            hovered.append(page.evaluate("""(i) => {
                const gd = document.querySelectorAll('.plotly-graph-div')[0];
                const k = gd.data.findIndex(t => t.name && t.name.includes('(n = '));
                Plotly.Fx.hover(gd, [{curveNumber: k, pointNumber: i}]);
                return [gd.data[k].customdata[i], gd.querySelector('.hoverlayer').textContent];
            }""", point))
    finally:
        context.close()
    (start, start_text), (later, later_text) = hovered
    assert "100.0% (95% CI 100.0–100.0)" in start_text and f"at risk {start[2]}/{start[2]};" in start_text
    low, high, at_risk, events = later
    assert f"(95% CI {low:.1f}–{high:.1f})" in later_text, later_text
    assert f"at risk {at_risk}/" in later_text and f"events so far {events}" in later_text
    assert not problems, problems
