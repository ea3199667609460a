"""Code specific to the reproduction-ledger page."""

from __future__ import annotations

import pandas as pd

from helpers.plots.figures import composition_bars
from helpers.reproduction.ledger import STATUSES


def status_figure(frame: pd.DataFrame):
    """Stacked bars of ledger statuses per study."""
    counts = frame.groupby(["study", "status"]).size().rename("n").reset_index()
    counts["study"] = "Study " + counts["study"]
    return composition_bars(counts, group="study", category="status", category_order=STATUSES,
                            title="Reproduction status of the published numbers")
