"""Script planted in the data must not run on a page, checked in a real headless Chromium.

A page is made by our own renderers: a chapter banner on a data folder and a study folder with
hostile names, computed sentences, notes, a patient flow, a result table and two plotly figures
shown through ``plots.show``. Every field gets a payload that records its field's name in
``window.__ran`` (and the ``<script>`` payloads also call ``alert``). The page is wrapped the way
the site wraps a page: the Content-Security-Policy from ``_config.yml`` first in ``<head>``, and
the site's one shared plotly.js. The test fails if any payload runs.

The detector is shown to work. In the ``raw`` cases our escaping function is replaced by one that
returns its input, and the payloads run: every field we escape runs when we do not. With the
policy on, only the ``<script>`` elements run: the policy refuses every event handler but allows
inline scripts, because the figures need them. That limit is stated in ``_config.yml``.

Chromium is Debian's (``/usr/bin/chromium``), driven by Playwright; no browser is downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import require_chromium
from helpers import chapters
from helpers.chapters import context
from helpers.paths import BUILD_DIR, PLOTLY_JS, REPO_ROOT
from helpers.plots import figures, tables
from helpers.site.export_figures import CHROMIUM_ARGS

CHROMIUM = require_chromium()

from playwright.sync_api import sync_playwright  # noqa: E402

EXAMPLE = REPO_ROOT / "data" / "examples" / "single-centre"
NOTHING_BLOCKED = "document.addEventListener('securitypolicyviolation', e => " \
                  "(window.__blocked = window.__blocked || []).push(e.violatedDirective));"


def site_policy() -> str:
    """The Content-Security-Policy every page of the site carries (set once, in _config.yml)."""
    config = yaml.safe_load((REPO_ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["sphinx"]["config"]["myst_html_meta"]["http-equiv=Content-Security-Policy"]


def policy_meta(policy: str) -> str:
    """The policy as Sphinx writes it into a page's <head>."""
    return f'<meta content="{html.escape(policy, quote=False)}" http-equiv="Content-Security-Policy" />'  # Sphinx leaves quotes as they are


# ------------------------------------------------------------------------ payloads --

def _record(field: str) -> str:
    return f"(window.__ran=window.__ran||[]).push(`{field}`)"


def handler(field: str) -> str:
    return f'<img src=x onerror="{_record(field)}">'


def svg_handler(field: str) -> str:
    return f'<svg onload="{_record(field)}">'


def breakout(field: str) -> str:  # leaves a double-quoted attribute, then an element
    return f'"><img src=x onerror="{_record(field)}">'


def single_breakout(field: str) -> str:  # leaves a single-quoted attribute, as in aria-label='...'
    return f"'><img src=x onerror=\"{_record(field)}\">"


def script(field: str) -> str:
    return f"<script>{_record(field)}; alert(`{field}`)</script>"


# Folder names cannot hold "/", so the folders get event-handler payloads only.
DATA_FOLDER, STUDY_FOLDER = svg_handler("data-folder"), handler("study-folder")
# The fields our escaping function covers, and whether each payload is a <script> element.
ESCAPED_BY_US = {
    "data-folder": False, "study-folder": False, "say": True, "notice-title": False, "notice-text": False,
    "no-data-analysis": True, "no-data-reason": False, "flow-title": False, "flow-start": False,
    "flow-reason": False, "table-caption": True, "table-note": False,
}
# Fields escaped by pandas (table cells and headers) and by plotly.js, which draws figure text
# as SVG text and never as HTML. They must not run even when our escaping is bypassed.
ESCAPED_BY_OTHERS = ["table-cell", "table-column", "table-index", "figure-title", "figure-group",
                     "figure-category", "figure-annotation", "figure-x", "figure-colour"]


def page_fragments(data_dir: Path, downloads: Path) -> list[str]:
    """The renderers' HTML for one page, with a payload in every field."""
    with warnings.catch_warnings():  # the example's plausibility warnings are not what is tested
        warnings.simplefilter("ignore")
        book = chapters.setup("baselines", data_dir)
    flow = context.PatientFlow(handler("flow-start"), 64, title=single_breakout("flow-title"))
    flow.exclude({svg_handler("flow-reason"): 4}, "Evaluable")
    frame = pd.DataFrame({single_breakout("table-column"): [breakout("table-cell"), "plain"]},
                         index=pd.Index([svg_handler("table-index"), "b"], name="row"))
    counts = pd.DataFrame({"cohort": [breakout("figure-group"), "B"] * 2,  # two statuses: a legend is drawn
                           "status": [svg_handler("figure-category")] * 2 + ["other"] * 2, "n": [3, 4, 1, 1]})
    bars = figures.composition_bars(counts, group="cohort", category="status", title=handler("figure-title"))
    figures.label_synthetic(bars, text=script("figure-annotation"))
    rates = pd.DataFrame({"what": [handler("figure-x")], "cohort": [single_breakout("figure-colour")],
                          "k": [1], "n": [2], "lower": [0.1], "upper": [0.9]})
    shares = figures.proportion_bars(rates, x="what", color="cohort", title="Shares")
    try:
        tables.configure_downloads(downloads, "../_static/downloads/chapter/")
        table = tables.show_table(frame, caption=script("table-caption"), note=handler("table-note"), index=True)
        fragments = [book.banner().markup, context.say(script("say")).markup,
                     book.notice(handler("notice-text"), title=breakout("notice-title")).markup,
                     context.no_data_note(script("no-data-analysis"), [handler("no-data-reason")]).markup,
                     flow._repr_html_(), table._repr_html_()]
    finally:
        tables.configure_downloads(None, None)
    return fragments + [figures.show(bars)._repr_html_(), figures.show(shares)._repr_html_()]


def write_page(root: Path, fragments: list[str], policy: str | None) -> Path:
    """The fragments wrapped as the site wraps a chapter: policy first, shared plotly.js."""
    (root / "_static").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PLOTLY_JS, root / "_static" / "plotly.min.js")
    page = root / "book" / "page.html"
    page.parent.mkdir(exist_ok=True)
    page.write_text(
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8' />"
        + (policy_meta(policy) if policy else "")
        + "<title>hostile</title><script src='../_static/plotly.min.js'></script></head>"
        "<body><main>" + "\n".join(fragments) + "</main></body></html>", encoding="utf-8")
    return page


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def visit(browser, page_path: Path, figures_expected: int) -> dict:
    """Load a page from disk (network refused), hover every figure, and report what ran."""
    context_ = browser.new_context()
    page = context_.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.add_init_script(NOTHING_BLOCKED)
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
    try:
        page.goto(page_path.as_uri(), wait_until="load")
        if figures_expected:
            page.wait_for_function(f"document.querySelectorAll('.plotly-graph-div svg.main-svg').length"
                                   f" >= {3 * figures_expected}", timeout=15000)
        for bar in page.locator(".plotly-graph-div g.point").all():  # hover labels carry labels too
            bar.hover(force=True)
        page.wait_for_timeout(300)  # broken images fire onerror after load
        return {"ran": page.evaluate("window.__ran || []"), "dialogs": dialogs, "errors": errors,
                "blocked": page.evaluate("window.__blocked || []"),
                "text": page.evaluate("document.body.innerText"),
                "figure_text": page.evaluate("Array.from(document.querySelectorAll('.plotly-graph-div text'))"
                                             ".map(t => t.textContent).join('\\n')"),
                "drawn": page.evaluate("document.querySelectorAll('.plotly-graph-div g.trace').length")}
    finally:
        context_.close()


@pytest.fixture(scope="module")
def hostile_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("cohorts") / DATA_FOLDER
    shutil.copytree(EXAMPLE, data / STUDY_FOLDER)
    return data


def _identity_labels(values):
    return list(values)


@pytest.mark.parametrize("rendering, with_policy", [("escaped", True), ("escaped", False),
                                                     ("raw", False), ("raw", True)])
def test_no_planted_script_runs(browser, hostile_data, tmp_path, monkeypatch, rendering, with_policy):
    if rendering == "raw":  # our escaping bypassed on purpose: the detector must then fire
        for module in (context, tables, figures):
            monkeypatch.setattr(module, "escape_html", str)
        monkeypatch.setattr(figures, "escape_labels", _identity_labels)
    fragments = page_fragments(hostile_data, tmp_path / "downloads")
    page = write_page(tmp_path / "site", fragments, site_policy() if with_policy else None)
    seen = visit(browser, page, figures_expected=2)
    assert seen["drawn"] >= 2 and seen["errors"] == [], seen["errors"]
    ran = sorted(set(seen["ran"]))
    if rendering == "escaped":
        assert ran == [] and seen["dialogs"] == [], f"planted script ran in: {ran} {seen['dialogs']}"
        assert seen["blocked"] == [], "nothing should even have tried to run"
        for shown in (DATA_FOLDER, STUDY_FOLDER, script("say"), single_breakout("flow-title"),
                      breakout("table-cell"), script("table-caption")):
            assert shown in seen["text"], f"{shown!r} is not shown as written"
        # A long label is broken into lines at its spaces to fit a phone (plots.figures.fit_to_phone):
        # every other character must still show, in order.
        drawn = "".join(seen["figure_text"].split())
        for label in (breakout("figure-group"), svg_handler("figure-category"), handler("figure-title")):
            assert "".join(label.split()) in drawn, f"figure label {label!r} is not shown as written"
    elif not with_policy:  # escaping bypassed, no policy: every field we escape runs
        assert ran == sorted(ESCAPED_BY_US), ran
        assert sorted(seen["dialogs"]) == sorted(f for f, is_script in ESCAPED_BY_US.items() if is_script)
    else:  # escaping bypassed, policy on: event handlers are refused, <script> elements still run
        assert ran == sorted(f for f, is_script in ESCAPED_BY_US.items() if is_script), ran
        assert "script-src-attr" in seen["blocked"], seen["blocked"]
    assert not set(ran) & set(ESCAPED_BY_OTHERS), ran


# ------------------------------------------------------------ the policy on built pages --

HANDLER = re.compile(r"\son[a-z]+=\"([^\"]*)\"")
BUILT_CHAPTER = BUILD_DIR / "html" / "book" / "survival.html"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def copy_of_built_page(target: Path, planted: str = "") -> Path:
    """A built chapter with the site's policy put where Sphinx puts it. It replaces any policy
    the build wrote, so a build older than the policy is tested too. ``planted`` is markup added
    at the top of the article."""
    shutil.copytree(BUILD_DIR / "html" / "_static", target / "_static",
                    ignore=shutil.ignore_patterns("downloads", "figures"))
    text = BUILT_CHAPTER.read_text(encoding="utf-8")
    text = re.sub(r'<meta content="[^"]*" http-equiv="Content-Security-Policy" />', "", text)
    text = text.replace('<meta charset="utf-8" />', '<meta charset="utf-8" />' + policy_meta(site_policy()), 1)
    text = text.replace('<article class="bd-article">', '<article class="bd-article">' + planted, 1)
    page = target / "book" / BUILT_CHAPTER.name
    page.parent.mkdir(parents=True)
    page.write_text(text, encoding="utf-8")
    return page


@pytest.mark.build
def test_every_event_handler_of_the_site_is_allowed_by_hash(built):
    """The theme's own handlers (print, full screen) must keep working under the policy."""
    policy = site_policy()
    handlers = {h for page in (BUILD_DIR / "html").rglob("*.html")
                for h in HANDLER.findall(page.read_text(encoding="utf-8"))}
    assert handlers, "the theme's buttons were expected"
    assert [h for h in sorted(handlers) if _sha256(h) not in policy] == []
    assert "'unsafe-inline'" not in policy.split("script-src-attr", 1)[1].split(";", 1)[0]


@pytest.mark.build
def test_a_built_chapter_works_under_the_policy_and_refuses_a_planted_handler(built, browser, tmp_path):
    planted = handler("planted-in-a-built-page")
    page = copy_of_built_page(tmp_path / "html", planted=planted)
    figures_on_page = page.read_text(encoding="utf-8").count('class="plotly-graph-div"')
    context_ = browser.new_context()
    tab = context_.new_page()
    tab.add_init_script(NOTHING_BLOCKED)
    try:
        tab.goto(page.as_uri(), wait_until="load")
        tab.wait_for_function(f"document.querySelectorAll('.plotly-graph-div g.trace').length >= {figures_on_page}",
                              timeout=15000)
        tab.locator("button[onclick='toggleFullScreen()']").first.click()  # a theme handler, allowed
        tab.wait_for_timeout(300)
        assert tab.evaluate("window.__ran || []") == []
        assert tab.evaluate("window.__blocked || []") == ["script-src-attr"], "only the planted handler is refused"
    finally:
        context_.close()


@pytest.mark.build
def test_every_built_page_from_the_book_carries_the_policy(built):
    policy_tag = policy_meta(site_policy())
    pages = sorted((BUILD_DIR / "html" / "book").glob("*.html"))
    assert pages and [p.name for p in pages if policy_tag not in p.read_text(encoding="utf-8")] == []
