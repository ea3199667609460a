"""Where things live. Every path the helpers use is derived here, once."""

from __future__ import annotations

import os
from pathlib import Path

# src/helpers/paths.py -> repository root is three levels up.
REPO_ROOT = Path(os.environ.get("CART_BOOK_ROOT", Path(__file__).resolve().parents[2]))
DATA_DIR = REPO_ROOT / "data"
REGISTER_CSV = DATA_DIR / "published_register.csv"
SYNTHETIC_DIR = DATA_DIR / "synthetic"
# CART_BOOK_OUTPUT moves the whole build (executed notebooks, ledger, site) under another
# folder, e.g. so that two builds can run side by side; the site is then <folder>/_build/html.
BUILD_DIR = Path(os.environ.get("CART_BOOK_OUTPUT", REPO_ROOT)).resolve() / "_build"
LEDGER_CSV = BUILD_DIR / "reproduction-ledger.csv"
SEEDS_DIR = REPO_ROOT.parent / "shared" / "seeds"
# Set by the build for the chapters it runs: "1" when it will draw static SVG/PNG copies of
# the figures (Chromium present, a site being built), so that pages link only copies that exist.
FIGURE_COPIES_ENV = "CART_BOOK_FIGURE_COPIES"
