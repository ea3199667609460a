"""Statistics rewritten for registry scale give exactly what the small-sample code gives.

The Hodges–Lehmann shift of two registry cohorts is the median of hundreds of millions of
pairwise differences; it is now selected without forming them. Oracles: the differences
formed and sorted by numpy (brute force), and a case whose median is known in closed form.
"""

import tracemalloc

import numpy as np
import pytest

from helpers.stats import rank


@pytest.mark.parametrize("seed", range(12))
def test_selected_pairwise_differences_equal_the_sorted_differences(seed, monkeypatch):
    monkeypatch.setattr(rank, "FORM_CANDIDATES", 7)  # force the selection loop on small samples
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 300, 2)
    digits = int(rng.integers(0, 3))  # 0 digits: heavy ties
    x, y = np.round(rng.normal(0, 1, n), digits), np.round(rng.lognormal(0, 1, m), digits)
    ordered = np.sort(np.subtract.outer(x, y).ravel())
    ranks = sorted({0, ordered.size - 1, ordered.size // 2, (ordered.size - 1) // 2, int(rng.integers(ordered.size))})
    assert rank.pairwise_difference_ranks(x, y, ranks) == [float(ordered[k]) for k in ranks]
    monkeypatch.setattr(rank, "PAIRS_IN_MEMORY", 0)
    assert rank.hodges_lehmann(x, y) == float(np.median(np.subtract.outer(x, y)))


def test_hodges_lehmann_of_large_samples_is_exact_and_never_forms_the_pairs():
    # {i - j : i < 3000, j < 2001} is symmetric about (2999 - 2000) / 2, so that is its median
    x, y = np.arange(3000.0), np.arange(2001.0)
    tracemalloc.start()
    try:
        shift = rank.hodges_lehmann(x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert shift == (2999 - 2000) / 2
    assert peak < 20e6  # the 6 million differences alone weigh 48 MB
