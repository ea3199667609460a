"""Shared fixtures: one forced build of the whole book per test session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.paths import REPO_ROOT


def run_build(*args):
    return subprocess.run([sys.executable, "-m", "helpers.site.build", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=1800)


@pytest.fixture(scope="session")
def built():
    """A clean, forced build (every chapter executed) and its output."""
    completed = run_build("--force")
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]
    return completed


def require_chromium() -> str:
    """Debian's Chromium for the browser tests: on CI its absence is an error; elsewhere the
    calling test module is skipped (``make test`` installs it)."""
    chromium = os.environ.get("CART_BOOK_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        if os.environ.get("CI") == "true":
            raise RuntimeError(f"{chromium} is missing: CI requires the browser tests")
        pytest.skip(f"{chromium} not installed (make test installs it)", allow_module_level=True)
    return chromium


#: Measures taken on every page of the session build in one browser pass, by name: test modules
#: add theirs when imported (:func:`measure_site`); loading 16 pages at two widths once instead of
#: once per module saves about 45 s of the suite.
SITE_MEASURES: dict[str, str] = {}
#: JavaScript conditions that must hold on a page before it is measured.
SITE_READY: list[str] = []


def measure_site(name: str, script: str, *, ready: str | None = None) -> str:
    """Register ``script`` (a JavaScript function) to be evaluated on every page of the session
    build, after ``ready`` holds; its results are ``site_measures[(width, page stem)][name]``."""
    SITE_MEASURES[name] = script
    if ready and ready not in SITE_READY:
        SITE_READY.append(ready)
    return name


@pytest.fixture(scope="session")
def site_measures(built):
    from helpers.paths import HTML_DIR
    from helpers.site import build

    return measure_pages([HTML_DIR / f"{doc}.html" for doc in build.toc_files()], SITE_MEASURES, ready=SITE_READY)


def measure_pages(pages, scripts: dict[str, str], *, ready=(), widths=(1400, 390)) -> dict:
    """Each of ``scripts`` (JavaScript functions, by name) evaluated on each of ``pages`` (built
    HTML files) in Debian's Chromium at each viewport width, once every condition of ``ready``
    holds. Returns {(width, page stem): {name: result}}."""
    from playwright.sync_api import sync_playwright

    from helpers.site.export_figures import CHROMIUM_ARGS

    chromium_path = require_chromium()
    found = {}
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        for width in widths:
            page = chromium.new_page(viewport={"width": width, "height": 900})
            for path in pages:
                page.goto(path.as_uri(), wait_until="load")
                for condition in ready:
                    page.wait_for_function(condition, timeout=20000)
                found[(width, path.stem)] = {name: page.evaluate(script) for name, script in scripts.items()}
            page.close()
        chromium.close()
    return found


@pytest.fixture(scope="module")
def live_r(request):
    """R's live output for the requesting test module's ``ORACLE`` (an ``r_oracle.Oracle``),
    read exactly as its committed fixtures are; the test is skipped without Rscript."""
    return request.module.ORACLE.live()
