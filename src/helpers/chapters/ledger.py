"""Code specific to the reproduction-ledger page."""

from __future__ import annotations

import pandas as pd

from helpers.plots.figures import composition_bars
from helpers.reproduction.ledger import STATUSES


def status_figure(frame: pd.DataFrame):
    """Stacked bars of ledger statuses per evidence class (an exact transcription is not an emergent result)."""
    frame = frame[frame["status"].isin(STATUSES)]  # published numbers; the claims have their own table
    counts = frame.assign(evidence=frame["evidence"].replace("", "not computed")).groupby(
        ["evidence", "status"]).size().rename("n").reset_index()
    return composition_bars(counts, group="evidence", category="status", category_order=STATUSES,
                            title="Reproduction status of the published numbers, by evidence class")
