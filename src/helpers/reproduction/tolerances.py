"""The one tolerance table: how far a synthetic result may sit from a published number, by kind."""

from __future__ import annotations

# --------------------------------------------------------------------------
# chapter helpers: ledger rows, endpoint definitions, transplant analyses
# --------------------------------------------------------------------------

TOL_RATE_PP = 2.0       # 2-year (1-year) survival / incidence: percentage points
TOL_HR_RELATIVE = 0.15  # hazard ratios: relative
TOL_P_FACTOR = 1.5      # P values: within x/÷ 1.5
TOL_MEDIAN_MONTHS = 1.0  # median times and follow-up range: months
