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


@pytest.fixture(scope="module")
def live_r(request):
    """R's live output for the requesting test module's ``ORACLE`` (an ``r_oracle.Oracle``),
    read exactly as its committed fixtures are; the test is skipped without Rscript."""
    return request.module.ORACLE.live()
