"""What a page leaves on the site besides itself, when the build runs it.

The build passes every page a ``ledger_dir`` (inside ``_build/``); a page run by hand gets
``None``. With it, result tables shown through :mod:`helpers.plots.tables` are also written as CSV
downloads, and, when the build will draw static SVG/PNG copies of the figures
(:data:`FIGURE_COPIES_ENV`), figures shown through :mod:`helpers.plots.figures` write their specs
and link their copies. Kept apart from :mod:`helpers.chapters.context` so light pages
(the ledger) need not import the data contract.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from helpers.paths import FIGURE_COPIES_ENV
from helpers.plots import figures, tables


def configure(name: str, ledger_dir: Optional[str | Path]) -> None:
    """Turn the downloads and figure copies of page ``name`` on (run by the build) or off."""
    if ledger_dir:
        build_dir = Path(ledger_dir).parent
        downloads = build_dir / "downloads" / name
        for stale in downloads.glob("*.csv"):  # a table the page no longer shows leaves no download
            stale.unlink()
        tables.configure_downloads(downloads, f"../_static/downloads/{name}/")
        if os.environ.get(FIGURE_COPIES_ENV) == "1":
            figures.configure_exports(build_dir / "figures" / "specs" / name, "../_static/figures/")
        else:
            figures.configure_exports(None, None)
    else:
        tables.configure_downloads(None, None)
        figures.configure_exports(None, None)
