"""Significance helpers at scale: the distinct (gap, ok) pairs of the throughput bootstrap."""

from __future__ import annotations

import numpy as np
import pytest

from bench.compare.significance import _distinct_rows


@pytest.mark.parametrize("n", [1, 2, 7, 5_000])
def test_distinct_rows_equal_numpys_unique_sorted_or_not(n: int) -> None:
    rng = np.random.default_rng(n)
    pairs = np.column_stack([rng.integers(0, 40, n) / 7, rng.integers(0, 2, n).astype(float)])
    expected = np.unique(pairs, axis=0, return_counts=True)
    for rows in (pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))], pairs, pairs[::-1]):
        distinct, counts = _distinct_rows(rows)
        assert np.array_equal(distinct, expected[0]) and np.array_equal(counts, expected[1])
