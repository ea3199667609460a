"""Every chapter survives every cohort the intake accepts (issue 17).

One build of four small studies made from the worked example (tests/edge_cohorts.py): two
cohorts of one patient each; one group only, with CAR-T kinetics sampled once a week; everyone
censored alive with no event of any kind, sampled once a month; and a third cohort of a single
patient, sampled daily over the first fortnight; and the pharmaverse ADaM example study
(CDISCPILOT01: ADSL, ADTTE, ADRS, ADAE as parquet) converted by helpers.intake with the mapping it
proposes, so that the ADaM path is built in the same build. The intake must
accept them, and the book must build: every chapter executes, every page exists, the privacy
check passes (no absolute path leaks through a library's warning, for instance), and each
degraded analysis says so on its page instead of failing.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys

import pytest

from edge_cohorts import write_edge_cohorts
from helpers.paths import REPO_ROOT
from helpers.site import build

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def edge_build(tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    studies = write_edge_cohorts(root / "data", adam=root / "adam", real=True)
    completed = subprocess.run([sys.executable, "-m", "helpers.site.intake", str(root / "data"), "--out", str(root / "out")],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800)
    return root, studies, completed


def test_the_intake_accepts_every_edge_cohort_and_the_book_builds(edge_build):
    root, studies, completed = edge_build
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    assert f"{len(studies)} valid studies" in completed.stdout
    html = root / "out" / "_build" / "html"
    for doc in build.toc_files():
        assert (html / f"{doc}.html").exists(), doc
    assert "privacy check: nothing that looks like a direct identifier" in completed.stdout


def test_degraded_analyses_are_said_on_the_page(edge_build):
    root, _, completed = edge_build
    assert completed.returncode == 0
    survival = (root / "out" / "_build" / "html" / "book" / "survival.html").read_text(encoding="utf-8")
    for study in ("edge-no-events", "edge-one-each", "edge-third-cohort"):
        assert study in survival
    expansion = (root / "out" / "_build" / "html" / "book" / "expansion.html").read_text(encoding="utf-8")
    for study in ("edge-one-group", "edge-no-events", "edge-third-cohort"):  # weekly, monthly, daily sampling
        assert study in expansion
    # sampled daily to day 14 only, no patient has an AUC0–28: the comparison says so (it crashed before)
    assert "Not computable: AUC0–28 of B vs A (no value in B, A)" in expansion
    assert "site-packages" not in survival + expansion


ADAM_STUDY = "CDISCPILOT01"


def test_the_converted_adam_study_is_built_on_its_pages(edge_build):
    """The pharmaverse ADaM study passes the intake and reaches the pages that read its tables:
    patients and survival (ADSL, ADTTE), response (ADRS) and toxicity (ADAE)."""
    root, studies, completed = edge_build
    assert ADAM_STUDY in studies
    assert completed.returncode == 0
    assert f"[{ADAM_STUDY}] Patients: ok - 254 patients in 3 cohort(s)" in completed.stdout
    html = root / "out" / "_build" / "html" / "book"
    for page in ("survival", "response", "toxicity", "baselines"):
        assert ADAM_STUDY in (html / f"{page}.html").read_text(encoding="utf-8"), page


def test_the_real_transplant_cohort_is_the_page_and_its_axes_count_from_the_transplant(edge_build):
    """Issue 15: a build without seed studies shows the reader's cohorts, not the papers'
    reproductions. The seed sections are gone (prose included), the introduction does not call
    the data synthetic once a user's rows are in them, and the survival axes of the transplant
    cohort count from its declared time zero."""
    root, studies, completed = edge_build
    assert completed.returncode == 0
    html = root / "out" / "_build" / "html"
    survival = (html / "book" / "survival.html").read_text(encoding="utf-8")
    assert "bmt-kmsurv" in survival and "Months since allo-HSCT" in survival
    assert "Fine–Gray model of relapse" in survival
    for seed_heading in ("Relapse, with death in remission as a competing risk", "Study 004: 1-year OS and RFS"):
        assert seed_heading not in survival, seed_heading
    intro = (html / "book" / "intro.html").read_text(encoding="utf-8")
    assert "This build runs on a centre" in intro and "The data in this book are synthetic" not in intro


def test_every_download_of_a_readers_build_says_where_its_rows_come_from(edge_build):
    """A table of a section on one study's rows carries their origin (tables.rows_from): the real
    transplant cohort's are "user", the invented edge cohorts' "synthetic", and none is written
    "not stated" (before, every table of these sections was)."""
    root, _, completed = edge_build
    assert completed.returncode == 0
    downloads = root / "out" / "_build" / "html" / "_static" / "downloads"
    origins = {}
    for path in downloads.glob("*/*.csv"):
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
        assert rows[0][0] == "data_origin", path.name
        origins[path.relative_to(downloads).as_posix()] = {row[0] for row in rows[1:]}
    assert [p for p, o in origins.items() if "not stated" in o] == []
    real = [o for p, o in origins.items() if "bmt-kmsurv" in p]
    invented = [o for p, o in origins.items() if "edge-" in p]
    assert real and all(o == {"user"} for o in real), real
    assert invented and all(o == {"synthetic"} for o in invented), invented
