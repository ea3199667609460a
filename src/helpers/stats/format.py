"""How P values and estimates with CIs are printed (one convention for every table)."""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------
# formatting
# --------------------------------------------------------------------------

def format_p(p: float) -> str:
    """P as a clinical reader expects: 0.0076, 0.031, < 0.001 never hides a real 0.0004."""
    if p is None or not np.isfinite(p):
        return "–"
    if p < 0.0001:
        return "< 0.0001"
    if p < 0.01:
        return f"{p:.2g}"
    return f"{p:.3f}"


def format_estimate(est: float, lower: float, upper: float, *, percent: bool = True, digits: int = 1) -> str:
    """'49.5% (95% CI 24.1–70.2)'; NR where not reached / not estimable."""
    def f(v):
        if v is None or not np.isfinite(v):
            return "NR"
        return f"{100 * v:.{digits}f}" if percent else f"{v:.{digits}f}"
    unit = "%" if percent else ""
    if est is None or not np.isfinite(est):
        return "not reached" if not percent else "not estimable"
    return f"{f(est)}{unit} ({f(lower)}–{f(upper)})"
