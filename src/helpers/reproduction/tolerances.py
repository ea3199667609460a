"""The one tolerance table: how far a value computed from the synthetic cohort may sit from the
published number and still count as ``within-tolerance``, by the register's kind of quantity.

Only values computed from the synthetic cohort (basis ``synthetic``) get a tolerance: a value
recomputed from published counts, or a fact transcribed, is exact or it differs. No chapter
chooses a tolerance; :func:`tolerance_for` is asked at the merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

TOL_RATE_PP = 2.0        # survival rates and cumulative incidences: percentage points
TOL_HR_RELATIVE = 0.15   # hazard ratios: relative
TOL_P_FACTOR = 1.5       # P values: within ×/÷ 1.5
TOL_MEDIAN_MONTHS = 1.0  # median times and follow-up: months


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


TOLERANCES = {
    "p_value": Tolerance(factor=TOL_P_FACTOR),
    "survival_rate": Tolerance(absolute=TOL_RATE_PP),
    "cumulative_incidence": Tolerance(absolute=TOL_RATE_PP),
    "hazard_ratio": Tolerance(relative=TOL_HR_RELATIVE),
    "median_time": Tolerance(absolute=TOL_MEDIAN_MONTHS),
    "time": Tolerance(absolute=TOL_MEDIAN_MONTHS),
}


def tolerance_for(kind: str, basis: str) -> Optional[Tolerance]:
    """The tolerance of a register kind for a value of this basis (None: exact or it differs)."""
    return TOLERANCES.get(kind) if basis == "synthetic" else None
