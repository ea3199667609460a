"""The competing-risks lesson shows a gap (issue 16): with transplant as the competing event,
1 − Kaplan–Meier and the Aalen–Johansen cumulative incidence of relapse differ.

The expected values are worked by hand on four responders (below), not taken from the code.
"""

import numpy as np
import pandas as pd
import pytest

from helpers.chapters import survival as here
from helpers.plots import survival as plots_survival

# A relapses at 2 untransplanted; B is transplanted at 1 and relapses at 3; C is transplanted at 2
# and is censored at 5; D is censored untransplanted at 4; E dies in remission at 6.
RESPONDERS = pd.DataFrame({"cohort": ["X"] * 5, "lfs_time": [2.0, 3.0, 5.0, 4.0, 6.0],
                           "cr_status": [1, 1, 0, 0, 2], "hsct_time": [np.nan, 1.0, 2.0, np.nan, np.nan]})


def test_the_first_event_is_the_transplant_when_it_comes_before_the_end_of_remission():
    first = here.relapse_before_transplant(RESPONDERS)
    assert first["first_time"].tolist() == [2.0, 1.0, 2.0, 4.0, 6.0]
    assert first["first_event"].tolist() == [1, 2, 2, 0, 3]


def test_transplants_open_a_gap_between_the_two_estimates():
    """By hand, at month 3. Aalen–Johansen: at t=1 five at risk, B competes (S = 4/5); at t=2
    four at risk, A relapses and C competes: CIF = 4/5 · 1/4 = 0.20. 1 − Kaplan–Meier (B and C
    censored): at t=2 four at risk (A, C, D, E; events before censorings), one relapse: 1 − 3/4 = 0.25."""
    first = here.relapse_before_transplant(RESPONDERS)
    table = plots_survival.naive_vs_aalen_johansen(first, "first_time", "first_event", "cohort", [3],
                                                   competing="transplants and deaths")
    row = table.iloc[0]
    assert row["Cumulative incidence (Aalen–Johansen), %"] == pytest.approx(20.0)
    assert row["1 − Kaplan–Meier (transplants and deaths censored), %"] == pytest.approx(25.0)
    assert row["Competing transplants and deaths so far"] == 2


def test_an_unknown_remission_status_is_refused():
    with pytest.raises(ValueError, match="cr_status"):
        here.relapse_before_transplant(RESPONDERS.assign(cr_status=[1, 1, 0, 0, 7]))
