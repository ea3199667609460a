"""Build the site's one shared plotly.js: a partial bundle of the trace types the book draws.

plotly.py's full plotly.min.js (4.56 MB, every trace type) took about 0.8 s of the survival page's
time to draw its figures in headless Chromium; this bundle of the trace types in
``helpers.plots.figures.SITE_TRACES`` is 1.25 MB. On one built site (2-core VM, five loads per
round, three rounds) the page drew in 1.57-1.61 s with the full bundle and 0.93-0.96 s with this
one (benchmarks/build_times.py, (e), measures the same thing). It is plotly.js's own source, at
the version plotly.py bundles, with its own ``lib/<trace>`` modules registered as plotly.js's
partial bundles do (its CUSTOM_BUNDLE.md); esbuild bundles it instead of plotly.js's webpack
set-up, which needs its whole development tree.
The dependency versions are pinned by ``scripts/plotly-bundle/package-lock.json`` (npm ci).

Run ``make plotly-bundle`` (needs node and npm) after changing SITE_TRACES or upgrading plotly;
the result is committed as ``book/_static/plotly.min.js``. tests/test_plotly_bundle.py checks its
version and trace types, and draws every figure of the built site with it and with plotly.py's
full bundle: the SVGs must be the same.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from helpers.paths import PLOTLY_JS  # noqa: E402
from helpers.plots.figures import SITE_TRACES  # noqa: E402

ESBUILD = "esbuild@0.24.0"
LOCK = ROOT / "scripts" / "plotly-bundle" / "package-lock.json"


def full_bundle_version() -> str:
    """The plotly.js version of plotly.py's own full bundle (the figures are written for it)."""
    import plotly

    head = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()[:200]
    return re.search(r"plotly\.js v(\d+\.\d+\.\d+)", head).group(1)


def header(version: str) -> str:
    return (f"/**\n* plotly.js v{version} (partial bundle of the CAR-T outcomes book: traces "
            f"{', '.join(SITE_TRACES)}; built by scripts/plotly_bundle.py with {ESBUILD})\n"
            "* Copyright 2012-2024, Plotly, Inc.\n* All rights reserved.\n"
            "* Licensed under the MIT license\n*/\n")


def entry() -> str:
    """plotly.js's lib/index.js with only the book's trace types (scatter is in its core)."""
    traces = "".join(f"    require('./{trace}'),\n" for trace in SITE_TRACES if trace != "scatter")
    return ("'use strict';\n\nvar Plotly = require('./core');\n\nPlotly.register([\n" + traces
            + "]);\n\nmodule.exports = Plotly;\n")


def run(command: list[str], cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    version = full_bundle_version()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        run(["npm", "pack", "--silent", f"plotly.js@{version}"], work)
        with tarfile.open(work / f"plotly.js-{version}.tgz") as archive:
            archive.extractall(work, filter="data")
        source = work / "package"
        if LOCK.exists():
            shutil.copy(LOCK, source / "package-lock.json")
            run(["npm", "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], source)
        else:
            run(["npm", "install", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"], source)
            LOCK.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(source / "package-lock.json", LOCK)
        run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(work / "tool"), ESBUILD], work)
        (source / "lib" / "index-book.js").write_text(entry())
        bundled = work / "plotly.min.js"
        # The map traces' stylesheet is the only CSS plotly.js imports; no book trace uses it.
        run([str(work / "tool" / "node_modules" / ".bin" / "esbuild"), "lib/index-book.js", "--bundle", "--minify",
             "--format=iife", "--global-name=Plotly", "--target=es2017", "--define:global=window",
             "--loader:.css=empty", "--legal-comments=eof", "--log-level=warning", f"--outfile={bundled}"], source)
        PLOTLY_JS.write_text(header(version) + bundled.read_text(encoding="utf-8"), encoding="utf-8")
    print(f"{PLOTLY_JS.relative_to(ROOT)}: plotly.js {version}, traces {', '.join(SITE_TRACES)}, "
          f"{PLOTLY_JS.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
