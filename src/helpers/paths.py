"""Where things live. Every path the helpers use is derived here, once."""

from __future__ import annotations

import os
from pathlib import Path

# src/helpers/paths.py -> repository root is three levels up.
REPO_ROOT = Path(os.environ.get("CART_BOOK_ROOT", Path(__file__).resolve().parents[2]))
DATA_DIR = REPO_ROOT / "data"
REGISTER_CSV = DATA_DIR / "published_register.csv"
CLAIMS_CSV = DATA_DIR / "published_claims.csv"
# The R oracle of the ledger's cross-check (helpers.reproduction.crosscheck): its script, its
# committed output for the seed cohorts and the fingerprint of the data that output is for.
ORACLE_SCRIPT = REPO_ROOT / "tests" / "r" / "ledger_oracle.R"
ORACLE_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "r" / "ledger_oracle.csv"
ORACLE_FINGERPRINT = ORACLE_FIXTURE.with_suffix(".sha256")
SYNTHETIC_DIR = DATA_DIR / "synthetic"
def build_dir(output: Path | str) -> Path:
    """The build folder of a build whose output goes under ``output``."""
    return Path(output).resolve() / "_build"


# CART_BOOK_OUTPUT moves the whole build (executed notebooks, ledger, site) under another
# folder, e.g. so that two builds can run side by side; the site is then <folder>/_build/html.
BUILD_DIR = build_dir(os.environ.get("CART_BOOK_OUTPUT", REPO_ROOT))
LEDGER_CSV = BUILD_DIR / "reproduction-ledger.csv"
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"
# Set by the build for the chapters it runs: "1" when it will draw static SVG/PNG copies of
# the figures (Chromium present, a site being built), so that pages link only copies that exist.
FIGURE_COPIES_ENV = "CART_BOOK_FIGURE_COPIES"
# The data owner's switch for calendar dates (helpers.chapters.context.absolute_dates_enabled).
ABSOLUTE_DATES_ENV = "CART_BOOK_ABSOLUTE_DATES"

HELPERS_DIR = Path(__file__).resolve().parent
BOOK_DIR = REPO_ROOT / "book"
# The site's one shared plotly.js, a partial bundle of the trace types the book draws
# (scripts/plotly_bundle.py; helpers.plots.figures.SITE_TRACES).
PLOTLY_JS = BOOK_DIR / "_static" / "plotly.min.js"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
EXECUTED_DIR = BUILD_DIR / "executed"
# Validated cohorts kept between processes (helpers.contract.validate.keep_validation): the intake
# validates, its build reads them; a forced build does not validate the seed cohorts again.
COHORT_CACHE_SUBDIR = Path("cache") / "cohorts"
COHORT_CACHE_DIR = BUILD_DIR / COHORT_CACHE_SUBDIR
LEDGER_PARTS_DIR = BUILD_DIR / "ledger"
SITE_SOURCE_DIR = BUILD_DIR / "site"
HTML_DIR = BUILD_DIR / "html"
FIGURE_SPECS_DIR = BUILD_DIR / "figures" / "specs"  # written by chapters (helpers.plots.figures)
FIGURES_DRAWN_DIR = BUILD_DIR / "figures" / "drawn"  # SVG/PNG cache (helpers.site.export_figures)
# Committed with the data: a fresh clone whose generators and files match it skips regeneration.
GENERATED_STAMP = DATA_DIR / "generated.sha256"
