"""A chapter that records a published value instead of computing it fails the build.

The fake is made exactly as a chapter would make it: ``Ledger.record`` with the register's own
value (``register.value``) in place of the book's. The merge then shows it as ``exact`` — the
status rule cannot tell — and the build's cross-check against the independent R oracle
(:func:`helpers.site.build.cross_check_ledger`) must refuse it, naming the row. Rows faked are
ones where the book's honest value differs from the paper's, so the fake changes something.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from helpers.paths import BUILD_DIR, LEDGER_PARTS_DIR, SYNTHETIC_DIR
from helpers.reproduction import Ledger, merge_ledger
from helpers.reproduction import register as reg
from helpers.site import build

FAKED = (("survival", "000-cox-lbc-hr"), ("survival", "000-os2y-phall"))

pytestmark = pytest.mark.usefixtures("built")


def parts_with_fake(tmp_path, chapter: str, register_id: str):
    """The build's chapter parts, with one row replaced by what a faking chapter records."""
    parts = tmp_path / "parts"
    shutil.copytree(LEDGER_PARTS_DIR, parts)
    scratch = Ledger(chapter, tmp_path / "scratch")
    scratch.record(register_id, reg.value(register_id), basis="synthetic")   # no computation behind it
    faked_row = pd.read_csv(tmp_path / "scratch" / f"{chapter}.csv", dtype=str, keep_default_na=False)
    part = pd.read_csv(parts / f"{chapter}.csv", dtype=str, keep_default_na=False)
    assert register_id in set(part["register_id"]), f"{chapter} does not record {register_id}"
    part = pd.concat([part[part["register_id"] != register_id], faked_row], ignore_index=True)
    part.to_csv(parts / f"{chapter}.csv", index=False, lineterminator="\n")
    return parts


def merged(parts, tmp_path):
    chapters = sorted(p.stem for p in parts.glob("*.csv"))
    return merge_ledger(parts, tmp_path / "reproduction-ledger.csv", chapters=chapters, data_dir=SYNTHETIC_DIR)


def test_the_honest_ledger_passes_the_cross_check(tmp_path):
    parts = tmp_path / "parts"
    shutil.copytree(LEDGER_PARTS_DIR, parts)
    merged(parts, tmp_path)
    assert build.cross_check_ledger(tmp_path / "reproduction-ledger.csv", SYNTHETIC_DIR) == 0


@pytest.mark.parametrize("chapter, register_id", FAKED)
def test_a_published_value_recorded_without_computing_fails_the_build(tmp_path, capsys, chapter, register_id):
    honest = pd.read_csv(BUILD_DIR / "reproduction-ledger.csv", dtype=str, keep_default_na=False).set_index("register_id")
    assert honest.loc[register_id, "status"] != "exact"                 # the fake changes something
    ledger = merged(parts_with_fake(tmp_path, chapter, register_id), tmp_path).set_index("register_id")
    assert ledger.loc[register_id, "status"] == "exact"                 # the status rule alone is fooled
    assert build.cross_check_ledger(tmp_path / "reproduction-ledger.csv", SYNTHETIC_DIR) == 1
    err = capsys.readouterr().err
    assert f"{register_id}: ledger {ledger.loc[register_id, 'reproduced']}" in err
    others = [line for line in err.splitlines() if line.startswith("  ") and not line.startswith(f"  {register_id}:")]
    assert others == []                                                  # nothing else is blamed


def test_a_row_no_chapter_computed_is_reported_not_refused_but_a_changed_basis_is_refused(tmp_path, capsys):
    """A book built without a chapter leaves its rows 'not computed': nothing to cross-check.
    A computed number declared 'transcribed' (so that no one compares it) is refused."""
    ledger = pd.read_csv(BUILD_DIR / "reproduction-ledger.csv", dtype=str, keep_default_na=False)
    target = ledger["register_id"] == "000-cox-lbc-hr"
    dropped = ledger.copy()
    dropped.loc[target, ["chapter", "reproduced", "basis", "evidence"]] = ""
    dropped.loc[target, "status"] = "not-reproducible"
    dropped.to_csv(tmp_path / "dropped.csv", index=False)
    assert build.cross_check_ledger(tmp_path / "dropped.csv", SYNTHETIC_DIR) == 0
    disguised = ledger.copy()
    disguised.loc[target, ["basis", "evidence"]] = "transcribed"
    disguised.to_csv(tmp_path / "disguised.csv", index=False)
    assert build.cross_check_ledger(tmp_path / "disguised.csv", SYNTHETIC_DIR) == 1
    assert "000-cox-lbc-hr" in capsys.readouterr().err
