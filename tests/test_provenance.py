"""Stamps and the execution report (helpers.site.provenance, issue 16): every page, CSV download and
figure copy says which commit, data and package versions made it; the execution report lists how
each chapter ran. Stamped files still parse as before (pandas, Pillow and an XML parser are the
independent readers)."""

from __future__ import annotations

import io
import json
import subprocess
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from PIL import Image

from helpers.paths import HTML_DIR, REPO_ROOT
from helpers.site import build, provenance

STAMP = "commit abc123 +local changes; data 0123456789ab; Python 3.11; pandas 2.3.3"


def test_a_stamped_csv_reads_as_before_plus_one_column():
    original = pd.DataFrame({"what": ['a "quoted", text', "line\nbreak", "é"], "n": [1, 2, 3], "p": [0.5, None, 1e-9]})
    data = original.to_csv(index=False, lineterminator="\n").encode()
    read = pd.read_csv(io.BytesIO(provenance.stamp_csv(data, STAMP)))
    pd.testing.assert_frame_equal(read.drop(columns="built_from"), original)
    assert list(read.columns)[-1] == "built_from" and (read["built_from"] == STAMP).all()


def test_a_stamped_svg_is_valid_xml_with_the_stamp_as_metadata():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>'
    hostile = STAMP + " <script>&"
    root = ET.fromstring(provenance.stamp_svg(svg, hostile))
    metadata = root.find("{http://www.w3.org/2000/svg}metadata")
    assert metadata is not None and metadata.text == hostile
    assert root.find("{http://www.w3.org/2000/svg}rect") is not None


def test_a_stamped_png_decodes_to_the_same_pixels_with_the_stamp_as_text():
    original = Image.new("RGB", (4, 3), (200, 10, 30))
    buffer = io.BytesIO()
    original.save(buffer, format="PNG")
    stamped = Image.open(io.BytesIO(provenance.stamp_png(buffer.getvalue(), STAMP)))
    stamped.load()  # Pillow checks every chunk's CRC while reading
    assert stamped.text["Comment"] == STAMP
    assert list(stamped.getdata()) == list(original.getdata())


def test_the_report_has_a_row_per_chapter_and_says_which_never_ran(tmp_path):
    (tmp_path / "a.run.json").write_text(provenance.run_record("executed", 3.21, 0.0, "f" * 64))
    report = pd.read_csv(io.BytesIO(provenance.execution_report(tmp_path, ["a", "b"])), dtype=str, keep_default_na=False)
    assert report.to_dict("records") == [
        {"chapter": "a", "status": "executed", "seconds": "3.2", "started_utc": "1970-01-01 00:00",
         "commit": provenance.source_commit(), "inputs": "f" * 12},
        {"chapter": "b", "status": "not run", "seconds": "", "started_utc": "", "commit": "", "inputs": ""}]


# --------------------------------------------------------------------------- the built site

@pytest.fixture(scope="module")
def stamp_line(built):
    return json.loads((build.SITE_SOURCE_DIR / "_static" / "build-stamp.json").read_text())["line"]


def test_the_stamp_names_the_commit_git_names(stamp_line):
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                          text=True).stdout.strip()
    assert stamp_line.startswith(f"commit {head}")
    assert f"pandas {pd.__version__}" in stamp_line


def test_every_page_csv_and_figure_copy_carries_the_stamp(stamp_line):
    from helpers.escape import escape_html

    pages = [HTML_DIR / f"{doc}.html" for doc in build.toc_files()]
    unstamped = [p.name for p in pages if escape_html(stamp_line) not in p.read_text(encoding="utf-8")]
    assert unstamped == []
    downloads = sorted((HTML_DIR / "_static" / "downloads").rglob("*.csv"))
    assert len(downloads) > 100
    for path in downloads:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        assert frame.columns[-1] == "built_from" and (frame["built_from"] == stamp_line).all(), path.name
    figures = sorted((HTML_DIR / "_static" / "figures").iterdir())
    assert figures
    for path in figures:
        if path.suffix == ".svg":
            assert f"<metadata>{escape_html(stamp_line)}</metadata>" in path.read_text(encoding="utf-8")
        else:
            assert Image.open(path).text["Comment"] == stamp_line.encode("latin-1", "replace").decode("latin-1")


def test_the_execution_report_lists_every_chapter_as_executed(built):
    import re

    page = (HTML_DIR / "book" / "execution-report.html").read_text(encoding="utf-8")
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", page, flags=re.S)]
    columns = len(provenance.REPORT_COLUMNS)
    start = cells.index(build.chapters()[0]) if build.chapters()[0] in cells else 0
    rows = [cells[i:i + columns] for i in range(start, len(cells), columns)]
    rows = [r for r in rows if len(r) == columns and r[0] in build.chapters()]
    assert sorted(r[0] for r in rows) == sorted(build.chapters())
    assert {r[1] for r in rows} == {"executed"}  # the session build is forced
    assert all(float(r[2]) > 0 for r in rows)


def test_a_table_no_longer_shown_leaves_no_download(tmp_path):
    """A chapter run again writes its downloads afresh: a CSV of a table it no longer shows (a
    renamed caption, say) must not stay on the site with an old stamp."""
    from helpers.chapters import outputs

    folder = tmp_path / "downloads" / "chapter"
    folder.mkdir(parents=True)
    (folder / "renamed-long-ago.csv").write_text("a\n1\n")
    try:
        outputs.configure("chapter", tmp_path / "ledger")
        assert list(folder.glob("*.csv")) == []
    finally:
        outputs.configure("chapter", None)


def test_a_download_the_staged_site_no_longer_has_is_taken_off_the_built_site(tmp_path, monkeypatch):
    staged, built = tmp_path / "site", tmp_path / "html"
    monkeypatch.setattr(build, "SITE_SOURCE_DIR", staged)
    monkeypatch.setattr(build, "HTML_DIR", built)
    for root in (staged, built):
        (root / "_static" / "downloads" / "chapter").mkdir(parents=True)
        (root / "_static" / "downloads" / "chapter" / "kept.csv").write_text("a\n1\n")
    (built / "_static" / "downloads" / "chapter" / "renamed-long-ago.csv").write_text("a\n1\n")
    build.prune_stale_downloads()
    assert sorted(p.name for p in (built / "_static" / "downloads").rglob("*.csv")) == ["kept.csv"]


def test_the_data_origin_decides_what_the_introduction_says(built, tmp_path):
    """The book's own build calls its data synthetic; a folder with a user's rows is not called
    synthetic (the edge build checks its page, tests/test_edge_cohorts.py)."""
    intro = (HTML_DIR / "book" / "intro.html").read_text(encoding="utf-8")
    assert "The data in this book are synthetic" in intro and "This build runs on a centre" not in intro
    assert provenance.synthetic_only({"data_origins": ["published", "synthetic"]})
    assert not provenance.synthetic_only({"data_origins": ["synthetic", "user"]})
    assert not provenance.synthetic_only({"data_origins": []})
    assert provenance.synthetic_only({})  # no stamp: the book's own build
    study = tmp_path / "mine"
    study.mkdir()
    (study / "patients.csv").write_text("study_id,patient_id,origin\nmine,P1,user\nmine,P2, user\n")
    assert provenance.data_origins(study) == ["user"]


def test_the_stamp_is_written_into_pages_after_sphinx_not_into_its_options(tmp_path, monkeypatch):
    """Sphinx writes every page again when its theme options change: the footer it is given is
    the same for every stamp, and the stamp goes into the pages afterwards, escaped, touching only
    pages that show another one."""
    from types import SimpleNamespace

    from helpers.site import sphinx_site

    def options_for(line: str) -> dict:
        (tmp_path / "_static").mkdir(exist_ok=True)
        provenance.stamp_path(tmp_path).write_text(json.dumps({"line": line}))
        config = SimpleNamespace(html_theme_options={"extra_footer": "<p>synthetic</p>"})
        sphinx_site.add_build_stamp(SimpleNamespace(srcdir=tmp_path), config)
        return config.html_theme_options

    assert options_for("commit a") == options_for("commit a +local changes")
    assert provenance.PAGE_STAMP in options_for("commit a")["extra_footer"]
    site = tmp_path / "html"
    (site / "book").mkdir(parents=True)
    footer = f"<footer>{provenance.PAGE_STAMP}</footer>"
    for name in ("index.html", "book/a.html"):
        (site / name).write_text(f"<main>page</main>{footer}", encoding="utf-8")
    (site / "book" / "no-footer.html").write_text("<main>redirect</main>", encoding="utf-8")
    assert provenance.stamp_pages(site, "commit <b>a</b> +local changes") == 2
    page = (site / "book" / "a.html").read_text(encoding="utf-8")
    assert ('<span class="build-stamp-line">commit &lt;b&gt;a&lt;/b&gt; +local changes</span>; how each chapter'
            in page and page.startswith("<main>page</main><footer>"))
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*.html")}
    assert provenance.stamp_pages(site, "commit <b>a</b> +local changes") == 0
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*.html")} == before
    assert provenance.stamp_pages(site, "commit b") == 2
    assert "commit b</span>" in (site / "index.html").read_text(encoding="utf-8")
    # Sphinx's build-finished handler (the runner's and the preview's builds) writes the staged
    # stamp, and leaves the pages of a failed build alone
    app = SimpleNamespace(srcdir=tmp_path, outdir=site)
    options_for("commit c")
    sphinx_site.write_build_stamp(app, RuntimeError("build failed"))
    assert "commit b</span>" in (site / "index.html").read_text(encoding="utf-8")
    sphinx_site.write_build_stamp(app, None)
    assert "commit c</span>" in (site / "index.html").read_text(encoding="utf-8")
