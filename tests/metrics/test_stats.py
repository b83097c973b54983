"""Tests for bench.metrics.stats: Wilson intervals, seeded bootstrap CIs, percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.metrics.stats import bootstrap_interval, percentile, resample_interval, wilson_interval

Z95 = 1.959963984540054


def wilson_by_hand(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The textbook Wilson score interval."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


@pytest.mark.parametrize(("successes", "n"), [(8, 10), (1, 3), (50, 100), (3, 7), (0, 5), (5, 5)])
def test_wilson_matches_formula(successes: int, n: int) -> None:
    low, high = wilson_interval(successes, n)
    want_low, want_high = wilson_by_hand(successes, n)
    assert low == pytest.approx(want_low, abs=1e-9)
    assert high == pytest.approx(want_high, abs=1e-9)


def test_wilson_known_published_values() -> None:
    # 8/10 at 95%: the classic worked example gives about (0.490, 0.943).
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_extremes_stay_inside_unit_interval() -> None:
    low0, high0 = wilson_interval(0, 10)
    assert low0 == pytest.approx(0.0, abs=1e-12)
    assert high0 == pytest.approx(0.2775, abs=1e-4)
    low1, high1 = wilson_interval(10, 10)
    assert low1 == pytest.approx(0.7225, abs=1e-4)
    assert high1 == pytest.approx(1.0, abs=1e-12)


def test_wilson_wider_at_higher_confidence_and_narrower_with_more_data() -> None:
    l90, h90 = wilson_interval(30, 60, confidence=0.90)
    l99, h99 = wilson_interval(30, 60, confidence=0.99)
    assert h99 - l99 > h90 - l90
    small = wilson_interval(5, 10)
    large = wilson_interval(500, 1000)
    assert large[1] - large[0] < small[1] - small[0]


def test_wilson_empty_sample_is_degenerate_not_an_error() -> None:
    assert wilson_interval(0, 0) == (0.0, 0.0)


def test_bootstrap_is_deterministic_for_the_same_input() -> None:
    values = [0.12, 0.5, 0.33, 0.9, 0.41, 0.27, 0.66, 0.8]
    first = bootstrap_interval(values)
    second = bootstrap_interval(list(values))
    assert first == second
    assert bootstrap_interval(values, statistic=np.mean) == bootstrap_interval(values, statistic=np.mean)


def test_bootstrap_interval_brackets_the_statistic() -> None:
    values = [float(v) for v in range(1, 21)]
    low, high = bootstrap_interval(values)
    assert low <= float(np.median(values)) <= high
    assert min(values) <= low < high <= max(values)
    mean_low, mean_high = bootstrap_interval(values, statistic=np.mean)
    assert mean_low < 10.5 < mean_high


def test_bootstrap_wider_at_higher_confidence() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.55, 0.6, 0.15, 0.7]
    l80, h80 = bootstrap_interval(values, confidence=0.80)
    l99, h99 = bootstrap_interval(values, confidence=0.99)
    assert l99 <= l80 and h99 >= h80
    assert h99 - l99 > h80 - l80


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], (0.0, 0.0)), ([3.5], (3.5, 3.5)), ([2.0, 2.0, 2.0], (2.0, 2.0))],
)
def test_bootstrap_degenerate_inputs(values: list[float], expected: tuple[float, float]) -> None:
    assert bootstrap_interval(values) == expected


def test_resample_interval_deterministic_and_degenerate() -> None:
    items = [(1, 1), (0, 1), (1, 0), (1, 1), (0, 0), (1, 1)]

    def share_equal(sample: list[tuple[int, int]]) -> float:
        return sum(a == b for a, b in sample) / len(sample)

    first = resample_interval(items, share_equal)
    assert first == resample_interval(list(items), share_equal)
    assert first[0] <= share_equal(items) <= first[1]
    assert first[0] < first[1]
    assert resample_interval(items[:1], share_equal) == (1.0, 1.0)


def test_percentile_linear_interpolation() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))
