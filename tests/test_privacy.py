"""The privacy guard: direct identifiers are refused on the way in (contract) and caught on the way out
(a check over the built site that fails the build), and calendar dates stay off unless switched on."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from helpers import chapters, contract
from helpers.paths import ABSOLUTE_DATES_ENV
from helpers.site import build, privacy
from helpers.synthetic import registry

TODAY = dt.date(2026, 11, 21)
ALLOWED = privacy.published_months()


def kinds(text: str, path: str = "book/page.html") -> list[str]:
    return [f.kind.split(" (")[0] for f in privacy.scan_text(text, path, allowed_months=ALLOWED, today=TODAY)]


# --------------------------------------------------------------------------- what is caught

@pytest.mark.parametrize("text, kind", [
    ("contact jane.doe@example.org", "e-mail address"),
    ("call +44 20 7946 0958 today", "phone number"),
    ("tel. (555) 123-4567", "phone number"),
    ("555-123-4567", "phone number"),
    ("ward 020 7946 0958", "phone number"),
    ("born 1987", "date of birth"),
    ("DOB: 14/03/1987", "date of birth"),
    ("date of birth 1987-03-14", "date of birth"),
])
def test_identifiers_in_text_are_found(text, kind):
    assert kind in kinds(text)


@pytest.mark.parametrize("text", ["infused 2021-06-03", "3/6/2021", "14 March 2011", "March 14, 2011",
                                  '{"x": ["2012-05-01T00:00:00"]}'])
def test_a_patient_calendar_date_is_found(text):
    assert kinds(text) == ["calendar date"]


def test_identifier_named_table_columns_are_found_in_pages_and_csv():
    page = "<table><tr><th>Patient name</th><th>MRN</th><th>Drug name</th><th>patient_id</th></tr></table>"
    assert sorted(kinds(page)) == ["table column named like a direct identifier"] * 2
    findings = privacy.scan_csv("patient_id,Date of birth\n12345678,x\nMC-01,y\n", "_static/downloads/a.csv")
    assert [(f.line, f.kind.split(" (")[0]) for f in findings] == [
        (1, "table column named like a direct identifier"),
        (2, "record number")]


def test_findings_never_repeat_the_value():
    finding = privacy.scan_text("write to jane.doe@example.org", "p.html", allowed_months=ALLOWED,
                                today=TODAY)[0]
    assert "jane" not in str(finding) and finding.masked == "xxxx.xxx@xxxxxxx.xxx"


# --------------------------------------------------------------------------- what is not

@pytest.mark.parametrize("text", [
    "0.30000000000000004 0.123456789 1.5e+10 [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]",  # figure data
    "ChiCTR1800019622 NCT01234567 10 000 patients, 12,345 samples",  # trial ids, counts
    "P = 0.0361; 95% CI 0.12-0.55; 2019-2023; 28/30; 13/134",
    "001-p1-bcrabl-2019-11-15 drawn on 2019-11-15 and 15 Nov 2019",  # a published date (register)
    "July 2019 (month only), March 2020",  # months are not full dates
    "Last updated on Nov 21, 2026. 2026-11-21T00:35:27",  # the build's own date
    "<th>Study</th><th>Cohort</th><th>Term</th><th>Agent</th><th>Drug name</th>",
    "the contract refuses names, birth dates, addresses",  # the rule in words
])
def test_ordinary_book_content_is_not_flagged(text):
    assert kinds(text) == []


def test_published_months_come_from_the_register_with_a_window():
    months = privacy.published_months()
    assert (2019 * 12 + 6) in months  # July 2019 is printed (case report of study 001)
    assert (2019 * 12 + 8) in months  # September 2019: within three months of it
    assert (1987 * 12 + 2) not in months and (2021 * 12 + 5) not in months


# --------------------------------------------------------------------------- the site and the build

def test_check_site_reads_pages_downloads_and_sources_but_not_vendor_files(tmp_path):
    site = tmp_path / "html"
    (site / "book").mkdir(parents=True)
    (site / "_static" / "downloads" / "x").mkdir(parents=True)
    (site / "_static" / "scripts").mkdir(parents=True)
    (site / "_sources" / "book").mkdir(parents=True)
    (site / "book" / "a.html").write_text("<p>fine</p>\n<p>call +44 20 7946 0958</p>")
    (site / "_static" / "downloads" / "x" / "t.csv").write_text("patient_id,value\n1234567,3\n")
    (site / "_sources" / "book" / "a.ipynb").write_text(json.dumps({"cells": [{"source": "born 1987"}]}))
    (site / "_static" / "scripts" / "vendor.js").write_text("// mail me at someone@example.org")
    findings = privacy.check_site(site, today=TODAY)
    assert [(f.path, f.line, f.kind.split(" (")[0]) for f in sorted(findings, key=lambda f: f.path)] == [
        ("_sources/book/a.ipynb", 1, "date of birth"),
        ("_static/downloads/x/t.csv", 2, "record number"),
        ("book/a.html", 2, "phone number")]
    assert "FAILED: 3 finding(s) in 3 file(s)" in privacy.report(findings)
    assert privacy.main([str(site)]) == 1


def test_a_clean_site_passes(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "a.html").write_text("<p>Study 000, 13 CML-LBC patients, day 28.</p>")
    assert privacy.check_site(tmp_path, today=TODAY) == []
    assert privacy.main([str(tmp_path)]) == 0


def test_the_build_fails_and_removes_the_site_when_the_check_finds_something(tmp_path, monkeypatch):
    html = tmp_path / "_build" / "html"
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path / "_build")
    monkeypatch.setattr(build, "HTML_DIR", html)
    monkeypatch.setattr(build, "LEDGER_PARTS_DIR", tmp_path / "_build" / "ledger")
    monkeypatch.setattr(build, "chapters", lambda: [])
    monkeypatch.setattr(build, "pairing_problems", lambda names: [])
    monkeypatch.setattr(build, "stage_site", lambda names, data_dir=None: None)
    monkeypatch.setattr(build.FigureExport, "start", lambda self: None)
    monkeypatch.setattr(build.FigureExport, "finish", lambda self, names, meanwhile=None: 0)

    def leaking_site(strict=True, meanwhile=None):
        (html / "book").mkdir(parents=True)
        (html / "book" / "x.html").write_text("<td>jane.doe@example.org</td>")
        return 0
    monkeypatch.setattr(build, "build_site", leaking_site)
    assert build.main(["--no-regenerate"]) == 1
    assert not html.exists(), "a site that fails the privacy check must not be left to publish"

    def clean_site(strict=True, meanwhile=None):
        (html / "book").mkdir(parents=True)
        (html / "book" / "x.html").write_text("<td>13 patients</td>")
        return 0
    monkeypatch.setattr(build, "build_site", clean_site)
    assert build.main(["--no-regenerate"]) == 0 and html.exists()


# --------------------------------------------------------------------------- calendar dates: off by default

@pytest.fixture
def example(tmp_path) -> Path:
    return registry.single_centre(tmp_path)


def test_calendar_dates_are_off_unless_switched_on(example, monkeypatch):
    monkeypatch.delenv(ABSOLUTE_DATES_ENV, raising=False)
    book = chapters.setup("t", example)
    assert book.absolute_dates is False and book.infusion_months("single-centre") is None
    monkeypatch.setenv(ABSOLUTE_DATES_ENV, "1")
    months = book.infusion_months("single-centre")
    assert list(months.columns) == ["study_id", "patient_id", "infusion_month"]
    assert months["infusion_month"].str.fullmatch(r"20\d\d-\d\d").all()  # months only, never a day
    assert len(months) == len(book.cohort("single-centre")["patients"])


def test_infusion_dates_file_problems_are_named(example):
    path = example / "infusion_dates.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[1, "infusion_date"] = "03/04/2021"
    frame.loc[2, "patient_id"] = "SC-999"
    frame.to_csv(path, index=False)
    patients = pd.read_csv(example / "patients.csv", dtype=str)
    with pytest.raises(contract.ContractError) as info:
        chapters.read_infusion_months(path, patients)
    text = str(info.value)
    assert "infusion_dates.csv: table 'infusion_dates', column 'infusion_date', row 2: must be a date written YYYY-MM-DD" in text
    assert "column 'patient_id', row 3: patient is not in patients.csv" in text
    assert "03/04/2021" not in text


def test_the_build_fingerprint_follows_the_calendar_switch(monkeypatch):
    monkeypatch.delenv(ABSOLUTE_DATES_ENV, raising=False)
    off = build.chapter_inputs_digest("baselines", build.Parameters())
    monkeypatch.setenv(ABSOLUTE_DATES_ENV, "1")
    assert build.chapter_inputs_digest("baselines", build.Parameters()) != off


def test_the_passed_cache_skips_only_unchanged_files_under_unchanged_rules(tmp_path):
    site, cache = tmp_path / "site", tmp_path / "passed.json"
    (site / "book").mkdir(parents=True)
    page = site / "book" / "a.html"
    page.write_text("<p>13 patients</p>")
    register = tmp_path / "register.csv"
    register.write_text("register_id,statement\nx,published in Mar 2021\n")
    assert privacy.check_site(site, today=TODAY, register_csv=register, passed_cache=cache) == []
    # The cache is keyed by content: changed bytes are scanned again.
    page.write_text("<td>jane.doe@example.org</td>")
    found = privacy.check_site(site, today=TODAY, register_csv=register, passed_cache=cache)
    assert [f.kind for f in found] == ["e-mail address"], "changed bytes must be scanned again"
    found = privacy.check_site(site, today=TODAY, register_csv=register, passed_cache=cache)
    assert len(found) == 1, "a file that failed is never remembered as passed"
    # A date allowed by the register passes; when the register changes, it is judged again.
    page.write_text("<p>seen on 2021-03-15</p>")
    assert privacy.check_site(site, today=TODAY, register_csv=register, passed_cache=cache) == []
    register.write_text("register_id,statement\nx,published in Mar 2019\n")
    found = privacy.check_site(site, today=TODAY, register_csv=register, passed_cache=cache)
    assert [f.kind.split(" (")[0] for f in found] == ["calendar date"]


def test_the_passed_cache_is_keyed_by_content_and_kind_not_by_place(tmp_path, monkeypatch):
    staged, site, cache = tmp_path / "staged", tmp_path / "site", tmp_path / "passed.json"
    for folder in (staged, site):
        (folder / "book").mkdir(parents=True)
        (folder / "book" / "chapter.ipynb").write_text('{"cells": ["13 patients"]}')
    assert privacy.check_site(staged, today=TODAY, passed_cache=cache) == []
    scanned = []
    real_scan = privacy.scan_text
    monkeypatch.setattr(privacy, "scan_text", lambda text, path, **kw: scanned.append(path) or real_scan(text, path, **kw))
    assert privacy.check_site(site, today=TODAY, passed_cache=cache) == []
    assert scanned == [], "the site's byte-identical copy of a staged source is not read again"
    (site / "book" / "chapter.html").write_text('{"cells": ["13 patients"]}')  # same bytes, a page
    privacy.check_site(site, today=TODAY, passed_cache=cache)
    assert scanned == ["book/chapter.html"], "a page is judged as a page even with known bytes"


def test_a_new_build_stamp_alone_does_not_make_the_site_be_read_again(tmp_path, monkeypatch):
    """Every page, CSV and figure copy carries the build stamp, which changes with the checkout:
    files that differ only by it are not scanned again, the stamp itself always is, and a change
    anywhere else is scanned as before."""
    from helpers.site import provenance

    site, cache = tmp_path / "site", tmp_path / "passed.json"
    (site / "book").mkdir(parents=True)
    old, new = "commit 0123456789ab; data aaaaaaaaaaaa", "commit 0123456789ab +local changes; data aaaaaaaaaaaa"
    page, table, figure = site / "book" / "a.html", site / "book" / "t.csv", site / "book" / "f.svg"
    drawn = b'<svg xmlns="http://www.w3.org/2000/svg"><text>13 patients</text></svg>'

    def stamp_all(line: str) -> None:
        page.write_text(f'<p>13 patients</p><span class="build-stamp-line">{line}</span>')
        table.write_bytes(provenance.stamp_csv(b"group,patients\nA,13\n", line))
        figure.write_bytes(provenance.stamp_svg(drawn, line))

    stamp_all(old)
    assert privacy.check_site(site, today=TODAY, passed_cache=cache, stamp=old) == []
    scanned = []
    real_scan = privacy.scan_text
    monkeypatch.setattr(privacy, "scan_text", lambda text, path, **kw: scanned.append(path) or real_scan(text, path, **kw))
    stamp_all(new)
    assert privacy.check_site(site, today=TODAY, passed_cache=cache, stamp=new) == []
    assert scanned == ["the build stamp"]
    # without the stamp to take out, the same files are new bytes
    scanned.clear()
    privacy.check_site(site, today=TODAY, passed_cache=cache)
    assert sorted(scanned) == ["book/a.html", "book/f.svg", "book/t.csv"]
    # a figure copy as drawn (unstamped) and as published (stamped) are the same file to the cache
    scanned.clear()
    figure.write_bytes(drawn)
    privacy.check_site(site, today=TODAY, passed_cache=cache, stamp=new, files=[figure])
    assert scanned == ["the build stamp"]
    # a change beside the stamp is read; a stamp that holds an identifier is reported
    page.write_text(f'<p>jane.doe@example.org</p><span class="build-stamp-line">{new}</span>')
    found = privacy.check_site(site, today=TODAY, passed_cache=cache, stamp=new)
    assert [(f.path, f.kind) for f in found] == [("book/a.html", "e-mail address")]
    stamp_all("commit by jane.doe@example.org")
    found = privacy.check_site(site, today=TODAY, passed_cache=cache, stamp="commit by jane.doe@example.org")
    assert [(f.path, f.kind) for f in found] == [("the build stamp", "e-mail address")]
