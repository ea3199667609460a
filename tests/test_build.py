"""The whole book: every chapter executed by papermill and the strict site build.

These tests run ``python -m helpers.site.build`` exactly as ``make book`` does.
"""

import json
import re

import pandas as pd
import pytest

from conftest import run_build
from helpers import reproduction
from helpers.paths import BUILD_DIR, REPO_ROOT
from helpers.site import build

pytestmark = pytest.mark.build
HTML = BUILD_DIR / "html"


def test_every_chapter_was_executed(built):
    for chapter in build.chapters():
        assert re.search(rf"\[build\] {re.escape(chapter)}\s+executed", built.stdout), built.stdout


def test_every_toc_page_is_in_the_site(built):
    assert (HTML / "index.html").exists()
    for doc in build.toc_files():
        page = HTML / f"{doc}.html"
        assert page.exists(), f"{doc} from _toc.yml has no page"
        assert page.stat().st_size > 2000


def test_no_cdn_and_one_shared_plotly(built):
    plotly_copies = list(HTML.rglob("plotly*.js"))
    assert [p.relative_to(HTML).as_posix() for p in plotly_copies] == ["_static/plotly.min.js"]
    external = re.compile(r"""<(?:script|link)[^>]+(?:src|href)=["'](?:https?:)?//""", re.I)
    for page in HTML.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not external.search(text), f"{page.name} loads something from the network"
        assert "plotly.min.js" in text or "Plotly.newPlot" not in text
        # plotly.js inlined would add ~4.8 MB to the page.
        assert page.stat().st_size < 1_500_000, f"{page.name} is {page.stat().st_size} bytes"


def test_figures_are_emitted_without_plotly_js(built):
    page = (HTML / "book" / "baselines.html").read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 1
    assert "_static/plotly.min.js" in page


def test_reproduction_ledger(built):
    ledger = pd.read_csv(BUILD_DIR / "reproduction-ledger.csv", dtype=str, keep_default_na=False)
    required = ["study", "chapter", "quantity", "group", "published", "reproduced", "status", "note"]
    assert set(required) <= set(ledger.columns)
    claims = ledger["register_id"].isin(reproduction.load_claims().index)
    assert set(ledger.loc[~claims, "status"]) <= {"exact", "within-tolerance", "differs", "not-reproducible"}
    assert set(ledger.loc[claims, "status"]) <= {"holds", "contradicted", "not-testable", "not-evaluated"}
    assert claims.sum() == len(reproduction.load_claims())
    register = pd.read_csv(REPO_ROOT / "data" / "published_register.csv", dtype=str)
    assert set(ledger.loc[~claims, "register_id"]) == set(register["register_id"]), "every published number is listed"
    assert not ledger.duplicated(["register_id", "chapter"]).any(), "one row per number per chapter"
    assert (ledger.loc[ledger["status"] == "not-reproducible", "note"].str.len() > 0).all()
    baseline_ids = [i for i in register["register_id"]
                    if re.match(r"000-(status|ablkd|n|hsct-n)-", i)]
    assert len(baseline_ids) >= 15
    rows = ledger.set_index("register_id").loc[baseline_ids]
    assert (rows["status"] == "exact").all(), rows[rows["status"] != "exact"][["published", "reproduced"]]
    assert (rows["chapter"] == "baselines").all()


def test_ledger_page_and_download(built):
    assert (HTML / "_static" / "downloads" / "reproduction-ledger.csv").exists()
    page = (HTML / "book" / "ledger.html").read_text(encoding="utf-8")
    assert "reproduction-ledger.csv" in page and "Study 000" in page


def test_data_dictionary_page_lists_every_contract_column(built):
    from helpers.contract import TABLES

    page = (HTML / "book" / "data-dictionary.html").read_text(encoding="utf-8")
    for table in TABLES.values():
        for column in table.column_names:
            # the first line of a cell (the dictionary stacks type, unit and rules beneath the name)
            assert re.search(f"<td>{re.escape(column)}(?:<br>|</td>)", page), f"{table.name}.{column} missing from the dictionary page"


def test_no_change_rebuild_executes_nothing(built):
    again = run_build()
    assert again.returncode == 0, again.stderr[-3000:]
    assert "(0 executed," in again.stdout, again.stdout
    assert "site sources unchanged" in again.stdout, again.stdout


def test_executed_copies_stay_in_the_build_folder(built):
    for chapter in build.chapters():
        executed = json.loads((BUILD_DIR / "executed" / f"{chapter}.ipynb").read_text())
        assert any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code")
        twin = json.loads((REPO_ROOT / "notebooks" / f"{chapter}.ipynb").read_text())
        assert not any(c.get("outputs") for c in twin["cells"] if c["cell_type"] == "code")


BROKEN = {
    "cells": [
        {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "data_dir = None",
         "outputs": [], "execution_count": None, "id": "a"},
        {"cell_type": "code", "metadata": {}, "source": "raise RuntimeError('deliberately broken cell')",
         "outputs": [], "execution_count": None, "id": "b"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def test_a_failing_cell_stops_the_chapter_with_its_traceback(tmp_path, monkeypatch):
    notebooks, executed = tmp_path / "notebooks", tmp_path / "executed"
    notebooks.mkdir()
    (notebooks / "broken.ipynb").write_text(json.dumps(BROKEN))
    executed.mkdir()
    (executed / "broken.ipynb").write_text("stale output from an earlier run")
    monkeypatch.setattr(build, "NOTEBOOKS_DIR", notebooks)
    monkeypatch.setattr(build, "EXECUTED_DIR", executed)
    result = build.execute_chapter("broken", build.Parameters().as_dict())
    assert result.status == "failed"
    assert "deliberately broken cell" in result.error and "RuntimeError" in result.error
    assert not (executed / "broken.ipynb").exists(), "a stale executed copy must not survive a failure"


def test_kernel_noise_is_dropped_and_everything_else_passed_on(capfd):
    import subprocess
    import sys

    script = ("import sys; print('[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.', file=sys.stderr); "
              "print('a real warning from a chapter', file=sys.stderr)")
    with build.kernel_noise_filtered():  # a kernel is a child process writing to the inherited stderr
        subprocess.run([sys.executable, "-c", script], check=True)
    err = capfd.readouterr().err
    assert "a real warning from a chapter" in err
    assert "KeyboardInterrupt" not in err


def test_the_ledger_is_merged_and_checked_again_whenever_what_it_reads_or_wrote_changed(built, tmp_path, monkeypatch):
    import shutil

    from helpers.paths import ORACLE_FIXTURE, SYNTHETIC_DIR
    from helpers.reproduction import crosscheck, ledger

    parts = tmp_path / "ledger"
    shutil.copytree(BUILD_DIR / "ledger", parts)
    monkeypatch.setattr(build, "BUILD_DIR", tmp_path)
    monkeypatch.setattr(build, "LEDGER_PARTS_DIR", parts)
    monkeypatch.setattr(build, "LEDGER_STAMP", tmp_path / "ledger-inputs.sha256")
    merges = []
    real_merge = ledger.merge_ledger
    monkeypatch.setattr(ledger, "merge_ledger", lambda *a, **k: merges.append(1) or real_merge(*a, **k))
    first = [n for n in build.chapters() if n not in build.LAST_CHAPTERS]

    assert build.merge_and_cross_check(first, SYNTHETIC_DIR) and len(merges) == 1
    assert build.merge_and_cross_check(first, SYNTHETIC_DIR) and len(merges) == 1  # nothing changed: skipped

    oracle = crosscheck.read_oracle(ORACLE_FIXTURE)
    checked = set(oracle.loc[oracle["value"] != "", "register_id"]) - set(crosscheck.uncovered(oracle))
    part = parts / "survival.csv"
    original = part.read_bytes()
    rows = pd.read_csv(part, dtype=str, keep_default_na=False)
    faked = rows["register_id"].isin(checked).idxmax()
    rows.loc[faked, "reproduced"] = "999"  # a chapter part faking a computed value
    rows.to_csv(part, index=False)
    assert not build.merge_and_cross_check(first, SYNTHETIC_DIR) and len(merges) == 2

    part.write_bytes(original)
    assert build.merge_and_cross_check(first, SYNTHETIC_DIR) and len(merges) == 3
    claims = parts / "claims" / "survival.csv"  # a claim part: in a folder of its own
    claims.write_bytes(claims.read_bytes() + b"\n")
    assert build.merge_and_cross_check(first, SYNTHETIC_DIR) and len(merges) == 4
    merged = tmp_path / "reproduction-ledger.csv"
    as_merged = merged.read_bytes()
    merged.write_text(merged.read_text().replace(",contradicted,", ",holds,", 1))  # a status faked in the merged ledger
    assert merged.read_bytes() != as_merged
    assert build.merge_and_cross_check(first, SYNTHETIC_DIR) and len(merges) == 5
    assert merged.read_bytes() == as_merged
