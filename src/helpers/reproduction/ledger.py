"""The reproduction ledger: each published number next to what the book gets.

A chapter creates one :class:`Ledger` and calls :meth:`Ledger.record` with a
``register_id`` and the value it computed. The published value is looked up
in the register (a chapter never types one), the status is decided here by
one rule for the whole book, and the rows are written to
``<ledger_dir>/<chapter>.csv``. The build merges all chapters into
``_build/reproduction-ledger.csv``; register rows that no chapter computes
appear there too, marked ``not-reproducible`` with the reason.

Statuses
--------
``exact``            the book's value, rounded as the paper printed it, is the
                     published number (for "< 0.001": it is below 0.001).
``within-tolerance`` not exact, but inside the tolerance the chapter states.
``differs``          outside the tolerance.
``not-reproducible`` cannot be computed from what is published; the note says why.

Basis (provenance of the book's value)
--------------------------------------
``recomputed``  from published counts alone (exact arithmetic, same for any cohort);
``synthetic``   from the synthetic cohort (agreement is by construction or calibration);
``transcribed`` the fact itself, as shown in the book's own tables.

Evidence (what an agreement means; decided by the merge, never by a chapter)
----------------------------------------------------------------------------
``transcribed``  a fact shown as published: nothing was computed;
``recomputed``   computed from the published counts alone;
``constructed``  computed from the synthetic cohort, but the generator was calibrated to this
                 very number (its ``provenance.csv`` names the register id), so agreement is by design;
``emergent``     computed from the synthetic cohort and not a calibration target: the only kind
                 of agreement that says something about the synthetic data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Optional

import pandas as pd

from helpers.paths import REGISTER_CSV
from helpers.reproduction import register as reg
from helpers.reproduction.published import rounds_to

STATUSES = ("exact", "within-tolerance", "differs", "not-reproducible")
BASES = ("recomputed", "synthetic", "transcribed")
EVIDENCE = ("transcribed", "recomputed", "constructed", "emergent")
CHAPTER_COLUMNS = (
    "study", "chapter", "register_id", "quantity", "group", "location", "published",
    "reproduced", "status", "basis", "tolerance", "note",
)
LEDGER_COLUMNS = (*CHAPTER_COLUMNS[:10], "evidence", *CHAPTER_COLUMNS[10:])


@dataclass(frozen=True)
class Tolerance:
    """How far a non-exact value may be from the published one.

    ``absolute``: in the published unit (e.g. 2.0 percentage points);
    ``relative``: a fraction of the published value (0.15 = 15 %);
    ``factor``: a ratio either way (1.5 = within ×/÷ 1.5), for P values.
    """

    absolute: Optional[float] = None
    relative: Optional[float] = None
    factor: Optional[float] = None

    def allows(self, published: float, reproduced: float) -> bool:
        if self.absolute is not None and abs(reproduced - published) <= self.absolute:
            return True
        if self.relative is not None and abs(reproduced - published) <= self.relative * abs(published):
            return True
        if self.factor is not None and published > 0 and reproduced > 0:
            return max(reproduced / published, published / reproduced) <= self.factor
        return False

    def describe(self) -> str:
        parts = []
        if self.absolute is not None:
            parts.append(f"±{self.absolute:g}")
        if self.relative is not None:
            parts.append(f"±{self.relative:.0%}")
        if self.factor is not None:
            parts.append(f"×/÷{self.factor:g}")
        return " or ".join(parts)


def decimals_of(text: str) -> int:
    """Decimals printed in a published number, e.g. '46.2%' -> 1, '1.000' -> 3."""
    digits = "".join(ch for ch in str(text) if ch.isdigit() or ch == ".")
    if "." not in digits:
        return 0
    return len(digits.split(".", 1)[1])


def format_like(published_text: str, kind: str, value: float) -> str:
    """The book's value printed with the paper's precision (P values: 2 more digits)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if kind == "p_value":
        return f"{value:.{max(decimals_of(published_text), 1) + 1}f}" if value >= 1e-4 else f"{value:.2e}"
    places = decimals_of(published_text)
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    suffix = "%" if str(published_text).strip().endswith("%") else ""
    return f"{rounded}{suffix}"


class Ledger:
    """Collects one chapter's ledger rows and writes them for the build."""

    def __init__(self, chapter: str, ledger_dir: Optional[str | Path] = None,
                 register_csv: str | Path = REGISTER_CSV):
        self.chapter = chapter
        self.ledger_dir = Path(ledger_dir) if ledger_dir else None
        self.register_csv = register_csv
        self.rows: list[dict] = []

    def _published(self, register_id: str) -> pd.Series:
        return reg.entry(register_id, self.register_csv)

    def record(self, register_id: str, reproduced: float, *, basis: str,
               tolerance: Optional[Tolerance] = None, note: str = "") -> dict:
        """Compare the book's value with the published number and keep the row."""
        row = self._published(register_id)
        published_text = str(row["value_text"])
        if rounds_to(published_text, reproduced):
            status = "exact"
        elif tolerance is not None and tolerance.allows(float(row["value"]), float(reproduced)):
            status = "within-tolerance"
        else:
            status = "differs"
        return self._keep(row, format_like(published_text, row["kind"], reproduced), status, basis,
                          tolerance.describe() if tolerance else "", note)

    def record_proportion(self, register_id: str, k: int, n: int, *, basis: str, note: str = "") -> dict:
        """A published k/n (%): exact only when k and n are the published counts and the
        percentage rounds to the printed one."""
        row = self._published(register_id)
        published_text = str(row["value_text"])
        pct = 100 * k / n if n else float("nan")
        counts_agree = (not pd.isna(row["numerator"]) and int(row["numerator"]) == k
                        and not pd.isna(row["denominator"]) and int(row["denominator"]) == n)
        status = "exact" if counts_agree and rounds_to(published_text, pct) else "differs"
        published = published_text
        if not pd.isna(row["numerator"]) and not pd.isna(row["denominator"]):
            published = f"{int(row['numerator'])}/{int(row['denominator'])} ({published_text})"
        return self._keep(row, f"{k}/{n} ({format_like(published_text, row['kind'], pct)})", status,
                          basis, "", note, published=published)

    def record_text(self, register_id: str, shown: str, *, basis: str = "transcribed",
                    note: str = "") -> dict:
        """A published fact that is not a number (a date such as "January 2019", a grade
        such as "II"): exact when the book shows the same text, ignoring case and spacing."""
        row = self._published(register_id)
        same = " ".join(str(shown).split()).casefold() == " ".join(str(row["value_text"]).split()).casefold()
        return self._keep(row, str(shown), "exact" if same else "differs", basis, "", note)

    def not_reproducible(self, register_id: str, note: str, basis: str = "synthetic") -> dict:
        """A published number the book cannot compute; the note must say why."""
        if not note.strip():
            raise ValueError(f"{register_id}: a not-reproducible row needs a note saying why")
        return self._keep(self._published(register_id), "", "not-reproducible", basis, "", note)

    def _keep(self, row, reproduced_text, status, basis, tolerance, note,
              published: Optional[str] = None) -> dict:
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        kept = {
            "study": row["study"], "chapter": self.chapter, "register_id": row["register_id"],
            "quantity": row["quantity"], "group": row["group"], "location": row["location"],
            "published": row["value_text"] if published is None else published,
            "reproduced": reproduced_text, "status": status,
            "basis": basis, "tolerance": tolerance, "note": note,
        }
        self.rows = [r for r in self.rows if r["register_id"] != kept["register_id"]] + [kept]
        self.save()
        return kept

    def table(self) -> pd.DataFrame:
        """This chapter's source-trace table: published value, where it stands, the book's value."""
        return pd.DataFrame(self.rows, columns=list(CHAPTER_COLUMNS))

    def save(self) -> None:
        if self.ledger_dir is None:
            return
        self.ledger_dir.mkdir(parents=True, exist_ok=True)
        self.table().to_csv(self.ledger_dir / f"{self.chapter}.csv", index=False, lineterminator="\n")


def calibration_targets(data_dir: Optional[str | Path]) -> set[str]:
    """Register ids the generator calibrated the cohorts to, from each study's ``provenance.csv``
    (rows whose provenance is ``calibrated``); none when the data carry no provenance."""
    targets: set[str] = set()
    for path in sorted(Path(data_dir).glob("*/provenance.csv")) if data_dir else []:
        provenance = pd.read_csv(path, dtype=str, keep_default_na=False)
        for ids in provenance.loc[provenance["provenance"] == "calibrated", "register_ids"]:
            targets.update(i.strip() for i in ids.split(";") if i.strip())
    return targets


def evidence_of(basis: pd.Series, register_id: pd.Series, calibrated: set[str]) -> pd.Series:
    """The evidence class of each row, from its basis and the generator's calibration targets."""
    synthetic = basis == "synthetic"
    evidence = basis.where(basis.isin(["transcribed", "recomputed"]), "")
    evidence[synthetic & register_id.isin(calibrated)] = "constructed"
    evidence[synthetic & ~register_id.isin(calibrated)] = "emergent"
    return evidence


def merge_ledger(parts_dir: Path, out_csv: Path, chapters: Optional[list[str]] = None,
                 register_csv: str | Path = REGISTER_CSV, data_dir: Optional[str | Path] = None) -> pd.DataFrame:
    """Merge chapter ledgers, and list every register row no chapter computed.

    Only the parts of the given ``chapters`` are read, so a chapter removed
    from the book cannot leave stale rows behind. Each row's ``evidence`` is decided here
    from its basis and the calibration targets the data folder's provenance names; a
    chapter part cannot set it, and a register id recorded by two chapters is refused.
    """
    parts_dir = Path(parts_dir)
    files = sorted(parts_dir.glob("*.csv")) if parts_dir.exists() else []
    if chapters is not None:
        files = [f for f in files if f.stem in chapters]
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    recorded = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CHAPTER_COLUMNS)
    recorded = recorded[list(CHAPTER_COLUMNS)]  # anything else a part carries (an "evidence") is not taken
    twice = recorded.loc[recorded["register_id"].duplicated(keep=False)]
    if not twice.empty:
        raise ValueError("register ids recorded by more than one chapter: " + "; ".join(
            f"{rid} ({', '.join(part['chapter'])})" for rid, part in twice.groupby("register_id")))
    register = reg.load_register(register_csv)
    missing = register.loc[~register["register_id"].isin(recorded["register_id"])]
    pending = pd.DataFrame({
        "study": missing["study"], "chapter": "", "register_id": missing["register_id"],
        "quantity": missing["quantity"], "group": missing["group"], "location": missing["location"],
        "published": missing["value_text"], "reproduced": "", "status": "not-reproducible",
        "basis": "", "tolerance": "",
        "note": "not computed by any chapter of this edition yet",
    })
    merged = pd.concat([recorded, pending], ignore_index=True)
    merged["evidence"] = evidence_of(merged["basis"], merged["register_id"], calibration_targets(data_dir))
    merged = merged[list(LEDGER_COLUMNS)]
    order = {rid: i for i, rid in enumerate(register["register_id"])}
    merged = merged.assign(_order=merged["register_id"].map(order)).sort_values(
        ["study", "_order"], kind="stable").drop(columns="_order")
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    merged.to_csv(out_csv, index=False, lineterminator="\n")
    return merged


# ------------------------------------------------------- the ledger page --

def merged_path(ledger_dir: Optional[str | Path]) -> Path:
    """The build writes the merged ledger beside the chapters' ledger folder."""
    from helpers.paths import LEDGER_CSV

    return Path(ledger_dir).parent / "reproduction-ledger.csv" if ledger_dir else LEDGER_CSV


def load_merged(ledger_dir: Optional[str | Path] = None,
                register_csv: str | Path = REGISTER_CSV) -> pd.DataFrame:
    """The merged ledger the build wrote; merged afresh when it does not exist yet."""
    path = merged_path(ledger_dir)
    if path.exists():
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    parts = Path(ledger_dir) if ledger_dir else path.parent / "ledger"
    return merge_ledger(parts, path, register_csv=register_csv)


def status_summary(frame: pd.DataFrame, by: str = "study") -> pd.DataFrame:
    """Counts of published numbers by ``by`` (study, or evidence) and status (all four statuses shown)."""
    rows = frame[by].replace("", "(none: not computed)")
    if by == "evidence":  # in the order of what an agreement is worth, not alphabetical
        rows = pd.Categorical(rows, categories=[*EVIDENCE, "(none: not computed)"])
    table = pd.crosstab(rows, pd.Categorical(frame["status"], categories=STATUSES), dropna=False)
    table.index.name = by
    table.columns = [str(c) for c in table.columns]
    table["total"] = table.sum(axis=1)
    return table.reset_index()


class _Link:
    def __init__(self, href: str, text: str):
        self.href, self.text = href, text

    def _repr_html_(self) -> str:
        return f"<p><a class='download-link' href='{self.href}' download>{self.text}</a></p>"

    def __repr__(self) -> str:
        return f"{self.text}: {self.href}"


def download_link() -> _Link:
    """Link to the ledger CSV that the build places among the site's static files."""
    return _Link("../_static/downloads/reproduction-ledger.csv",
                 "Download the reproduction ledger (CSV)")
