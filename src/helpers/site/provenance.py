"""What made this site: the build stamp and the execution report.

The **stamp** names the git commit of the sources (with ``+local changes`` when tracked files
differ from it), a fingerprint of the data the chapters read, and the versions of the packages
the numbers depend on. Every page shows it in its footer (:func:`stamp_pages`, in the place
:mod:`helpers.site.sphinx_site` leaves for it), every CSV download carries it in a ``built_from`` column, and
every SVG and PNG copy of a figure in its metadata (SVG ``<metadata>``, PNG ``tEXt``).

The **execution report** (page ``book/execution-report``) lists each chapter with the outcome
and the seconds of the run that made its page, when that run started and at which commit. A
chapter whose inputs did not change since is not executed again, so its row names the earlier
commit: that is the cache at work, visible. The rows come from the run records the runner writes
beside each executed notebook (``_build/executed/<chapter>.run.json``). The report holds no
build time of its own, so a rebuild with nothing changed gives the same page.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
import struct
import subprocess
import zlib
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from helpers.paths import REPO_ROOT

PACKAGES = ("pandas", "numpy", "scipy", "statsmodels", "lifelines", "plotly", "papermill", "jupyter-book")
REPORT_COLUMNS = ("chapter", "status", "seconds", "started_utc", "commit", "inputs")


@functools.lru_cache(maxsize=1)
def source_commit() -> str:
    """The commit of the sources, ``+local changes`` when tracked files differ; ``unknown``
    outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=20)
        if head.returncode:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + (" +local changes" if dirty else "")


def data_fingerprint(data_dir: Path) -> str:
    """sha256 (first 12 hex digits) over the relative path and bytes of every file under ``data_dir``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(data_dir).rglob("*") if p.is_file() and not p.is_symlink()):
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "absent"
    return found


def build_stamp(data_dir: Path) -> dict:
    import platform

    return {"commit": source_commit(), "data": data_fingerprint(data_dir),
            "python": platform.python_version(), "packages": package_versions(),
            "all_seed_studies": holds_every_seed_study(data_dir), "data_origins": data_origins(data_dir)}


def data_origins(data_dir: Path) -> list[str]:
    """The ``origin`` values of the patients in the data folder (published, synthetic, user), read
    from each study's patients table: the site says "synthetic" only when no row is a user's."""
    import pandas as pd  # here, not at the top: Sphinx imports this module for the stamp (0.5 s)

    from helpers.contract.files import cohort_folders

    try:
        studies = cohort_folders(Path(data_dir))
    except FileNotFoundError:
        return []
    found: set[str] = set()
    for folder in studies.values():
        csv, workbook = folder / "patients.csv", folder / "patients.xlsx"
        try:
            if csv.exists():
                frame = pd.read_csv(csv, usecols=["origin"], dtype=str, keep_default_na=False)
            elif workbook.exists():
                frame = pd.read_excel(workbook, usecols=["origin"], dtype=str)
            else:
                continue
        except ValueError:  # no origin column: the contract will refuse the table
            continue
        found |= {str(v).strip() for v in frame["origin"] if str(v).strip()}
    return sorted(found)


def synthetic_only(stamp: dict) -> bool:
    """Whether a build's data are the book's own (synthetic or published rows only); a build
    without a stamp is the book's."""
    origins = set(stamp.get("data_origins", ["synthetic"]))
    return bool(origins) and origins <= {"synthetic", "published"}


def _seed_studies(data_dir: Path) -> tuple[set, set]:
    """(the studies the book reproduces, the studies the data folder holds)."""
    # the contract's reading of both, not the chapters': importing helpers.chapters took 1.4 s
    # of every rebuild, most of a rebuild with nothing to do
    from helpers.contract.files import cohort_folders
    from helpers.contract.plausibility import reproduced_studies
    from helpers.paths import REGISTER_CSV

    try:
        present = set(cohort_folders(Path(data_dir)))
    except FileNotFoundError:
        present = set()
    return set(reproduced_studies(REGISTER_CSV)), present


def holds_every_seed_study(data_dir: Path) -> bool:
    """Whether the data folder holds every study the book reproduces: only then must every
    table the text refers to exist (a reader's own cohort lacks the seed studies' tables)."""
    seeds, present = _seed_studies(data_dir)
    return bool(seeds) and seeds <= present


def holds_a_seed_study(data_dir: Path) -> bool:
    """Whether the data folder holds at least one study the book reproduces; without one the site
    drops the chapters' seed sections (:func:`helpers.site.cell_tags.site_notebook`)."""
    seeds, present = _seed_studies(data_dir)
    return bool(seeds & present)


def stamp_path(site_source: Path) -> Path:
    """Where the staged site keeps the build stamp (as JSON, with its one-line form as ``line``)."""
    return Path(site_source) / "_static" / "build-stamp.json"


def read_stamp(site_source: Path) -> dict:
    """The build stamp the staging wrote, or ``{}`` before any staging."""
    path = stamp_path(site_source)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def stamp_text(stamp: dict) -> str:
    """The stamp in one line, as pages, CSVs and figure copies carry it."""
    versions = ", ".join(f"{k} {v}" for k, v in stamp["packages"].items())
    return f"commit {stamp['commit']}; data {stamp['data']}; Python {stamp['python']}; {versions}"


def stamp_table(stamp: dict) -> bytes:
    """The stamp as a two-column CSV (what, value) for the execution report page."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["what", "value"])
    writer.writerow(["commit of the sources", stamp["commit"]])
    writer.writerow(["data fingerprint (sha256, first 12)", stamp["data"]])
    writer.writerow(["Python", stamp["python"]])
    writer.writerows([name, version] for name, version in stamp["packages"].items())
    return out.getvalue().encode()


# --------------------------------------------------------------- run records --

def run_record(status: str, seconds: float, started: float, inputs_digest: str) -> str:
    return json.dumps({"status": status, "seconds": round(seconds, 1),
                       "started_utc": datetime.fromtimestamp(started, timezone.utc).strftime("%Y-%m-%d %H:%M"),
                       "commit": source_commit(), "inputs": inputs_digest[:12]}, sort_keys=True)


def execution_report(executed_dir: Path, names: list[str]) -> bytes:
    """The report's CSV: one row per chapter, from its run record (``not run`` without one)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for name in names:
        path = executed_dir / f"{name}.run.json"
        record = json.loads(path.read_text()) if path.exists() else {"status": "not run"}
        writer.writerow([name, *(record.get(c, "") for c in REPORT_COLUMNS[1:])])
    return out.getvalue().encode()


# --------------------------------------------------------------- stamping files --

def stamp_csv(data: bytes, text: str) -> bytes:
    """A CSV with a last column ``built_from`` holding ``text`` on every row (a column, not a
    comment line, so that every reader parses the download as before)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    if not rows:
        return data
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*rows[0], "built_from"])
    writer.writerows([*row, text] for row in rows[1:])
    return out.getvalue().encode("utf-8")


def stamp_svg(data: bytes, text: str) -> bytes:
    at = data.find(b">", data.find(b"<svg")) + 1
    return data[:at] + _svg_metadata(text) + data[at:]


def _svg_metadata(text: str) -> bytes:
    from helpers.escape import escape_html

    return f"<metadata>{escape_html(text)}</metadata>".encode()


def stamp_forms(text: str) -> tuple[bytes, ...]:
    """The bytes the stamping functions put into the site's files for the stamp ``text``,
    longest first: an SVG copy's ``<metadata>`` element (:func:`stamp_svg`), a page's footer
    text, escaped (:func:`stamp_pages`), and a CSV cell, as written (:func:`stamp_csv`)."""
    from helpers.escape import escape_html

    forms = {_svg_metadata(text), escape_html(text).encode(), text.encode()}
    return tuple(sorted(forms, key=len, reverse=True))


def stamp_png(data: bytes, text: str) -> bytes:
    """A ``tEXt`` chunk (keyword ``Comment``) before ``IEND``."""
    body = b"Comment\0" + text.encode("latin-1", "replace")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    end = data.rfind(b"IEND") - 4
    return data[:end] + chunk + data[end:]


#: The footer's sentence, with the place of the stamp (filled by :func:`stamp_pages`).
PAGE_STAMP = ('<p class="build-stamp">Built from <span class="build-stamp-line">the sources named on the '
              'execution report page</span>; how each chapter ran is on the execution report page.</p>')
_PAGE_STAMP_LINE = re.compile(r'(<span class="build-stamp-line">)(.*?)(</span>)', re.S)


def stamp_pages(html_dir: Path, text: str) -> int:
    """Write the stamp ``text`` into the footer of every page under ``html_dir`` that shows
    another; returns how many pages were written. Pages already showing it keep their bytes (and
    so their privacy check, which goes by bytes)."""
    from helpers.escape import escape_html

    shown = escape_html(text)
    written = 0
    for page in sorted(Path(html_dir).rglob("*.html")):
        markup = page.read_text(encoding="utf-8")
        new = _PAGE_STAMP_LINE.sub(lambda m: m.group(1) + shown + m.group(3), markup, count=1)
        if new != markup:
            page.write_text(new, encoding="utf-8")
            written += 1
    return written


def stamped(path: Path, data: bytes, text: str) -> bytes:
    return {".csv": stamp_csv, ".svg": stamp_svg, ".png": stamp_png}.get(path.suffix, lambda d, t: d)(data, text)
