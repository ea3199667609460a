"""Code specific to the reproduction-ledger page."""

from __future__ import annotations

import pandas as pd

from helpers.plots.figures import composition_bars
from helpers.reproduction.ledger import STATUSES

# The source-trace and ledger tables have up to 12 columns, twice as many as the text column
# holds: on the page they are stacked into five (plots.tables.stacked); the CSV keeps all 12.
SOURCE_TRACE_LAYOUT = {
    "published number": ("register_id", "quantity", "group"),
    "published": ("published", "location"),
    "this book": ("reproduced", "from_data"),
    "status": ("status", "basis", "evidence", "tolerance"),
    "note": ("note",),
}


def status_figure(frame: pd.DataFrame):
    """Stacked bars of ledger statuses per evidence class (an exact transcription is not an emergent result)."""
    frame = frame[frame["status"].isin(STATUSES)]  # published numbers; the claims have their own table
    counts = frame.assign(evidence=frame["evidence"].replace("", "not computed")).groupby(
        ["evidence", "status"]).size().rename("n").reset_index()
    totals = counts.groupby("evidence")["n"].sum()
    counts["evidence"] = [f"{e} (n = {totals[e]})" for e in counts["evidence"]]  # each bar says how many it shares out
    return composition_bars(counts, group="evidence", category="status", category_order=STATUSES,
                            title="Reproduction status of the published numbers, by evidence class",
                            x_title="Published numbers (%)")


def cross_check_note(ledger_dir) -> str:
    """What the build's cross-check against the independent R oracle found (its JSON beside the
    merged ledger), or that it did not run."""
    import json

    from helpers.reproduction.ledger import merged_path

    path = merged_path(ledger_dir).parent / "ledger-crosscheck.json"
    if not path.is_file():
        return ("This ledger was not cross-checked against the independent R oracle (no seed studies in the "
                "data, or R not installed and the data differ from the committed oracle's).")
    found = json.loads(path.read_text())
    gaps = "; ".join(f"{rid} ({why})" for rid, why in found["not_covered"].items())
    return (f"Cross-checked by the build: all {found['rows_checked']} rows computed from the seed cohorts agree, "
            f"at print rounding, with R recomputing them from the cohort CSVs alone ({found['source']})."
            + (f" Not recomputed in R: {gaps}." if gaps else ""))
