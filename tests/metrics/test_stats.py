"""Tests for bench.metrics.stats: Wilson intervals, seeded bootstrap CIs, percentiles."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as scipy_stats

from bench.metrics.stats import (
    MIN_N_BOOTSTRAP,
    bootstrap_interval,
    median_interval,
    percentile,
    resample_interval,
    wilson_interval,
)

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


def test_bootstrap_is_deterministic_and_ignores_the_order_of_values() -> None:
    values = [0.12, 0.5, 0.33, 0.9, 0.41, 0.27, 0.66, 0.8, 0.05, 0.71, 0.44]
    first = bootstrap_interval(values)
    assert first is not None and first == bootstrap_interval(list(values))
    shuffled = list(values)
    random.Random(7).shuffle(shuffled)
    assert shuffled != values and bootstrap_interval(shuffled) == first
    assert bootstrap_interval(values, statistic=np.median) == bootstrap_interval(shuffled[::-1], statistic=np.median)


def test_bootstrap_interval_brackets_the_statistic() -> None:
    values = [float(v) for v in range(1, 21)]
    ci = bootstrap_interval(values, statistic=np.median)
    assert ci is not None
    low, high = ci
    assert low <= float(np.median(values)) <= high
    assert min(values) <= low < high <= max(values)
    mean_ci = bootstrap_interval(values, statistic=np.mean)
    assert mean_ci is not None and mean_ci[0] < 10.5 < mean_ci[1]


def test_bootstrap_wider_at_higher_confidence() -> None:
    values = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.55, 0.6, 0.15, 0.7]
    ci80, ci99 = bootstrap_interval(values, confidence=0.80), bootstrap_interval(values, confidence=0.99)
    assert ci80 is not None and ci99 is not None
    assert ci99[0] <= ci80[0] and ci99[1] >= ci80[1]
    assert ci99[1] - ci99[0] > ci80[1] - ci80[0]


@pytest.mark.parametrize("n", [0, 1, 3, MIN_N_BOOTSTRAP - 1])
def test_bootstrap_below_its_minimum_n_reports_no_interval(n: int) -> None:
    assert bootstrap_interval([0.1 * k for k in range(n)]) is None
    assert bootstrap_interval([0.1 * k for k in range(MIN_N_BOOTSTRAP)]) is not None


def test_resample_interval_sorts_items_by_key_and_needs_min_n() -> None:
    items = [(f"i{k:02d}", k % 3 == 0, k % 2 == 0) for k in range(24)]

    def share_equal(sample: list[tuple[str, bool, bool]]) -> float:
        return sum(a == b for _, a, b in sample) / len(sample)

    first = resample_interval(items, share_equal, key=lambda t: t[0])
    assert first is not None and first[0] <= share_equal(items) <= first[1] and first[0] < first[1]
    shuffled = list(items)
    random.Random(3).shuffle(shuffled)
    assert resample_interval(shuffled, share_equal, key=lambda t: t[0]) == first
    assert resample_interval(items[:MIN_N_BOOTSTRAP - 1], share_equal, key=lambda t: t[0]) is None


@pytest.mark.parametrize(("n", "k"), [(6, 1), (7, 1), (8, 1), (9, 2), (10, 2), (20, 6), (100, 40)])
def test_median_interval_is_the_exact_order_statistic_interval(n: int, k: int) -> None:
    """k from the binomial table (two-sided 95%): the CI is [x(k), x(n-k+1)] (Conover 3.2)."""
    values = [float(v) for v in range(1, n + 1)]
    random.Random(n).shuffle(values)
    assert median_interval(values) == (float(k), float(n - k + 1))
    coverage = 1 - 2 * scipy_stats.binom.cdf(k - 1, n, 0.5)
    assert coverage >= 0.95 and 1 - 2 * scipy_stats.binom.cdf(k, n, 0.5) < 0.95  # the narrowest that covers


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_median_interval_below_six_values_is_not_reported(n: int) -> None:
    assert median_interval([1.0] * n) is None


def test_fractional_wilson_is_the_formula() -> None:
    assert wilson_interval(1.5, 3) == pytest.approx(_wilson_p(0.5, 3))


def _wilson_p(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre - half, centre + half


def test_percentile_linear_interpolation() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_nan() -> None:
    assert math.isnan(percentile([], 50))


# --- bootstraps at scale: blocks of draws, and counts of distinct values from COUNTS_FROM_N items ------------------

def test_drawing_in_blocks_gives_the_same_interval_as_drawing_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.metrics import stats

    values = np.random.default_rng(5).gamma(2.0, size=500)
    whole = stats.bootstrap_interval(values)
    monkeypatch.setattr(stats, "DRAW_BUDGET", 777)  # blocks of 1 row and odd sizes
    assert stats.bootstrap_interval(values) == whole
    assert stats.bootstrap_interval(values, statistic=np.median) is not None


def test_counts_bootstrap_of_a_mean_agrees_with_index_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same bootstrap distribution, other random draws: the intervals agree to Monte Carlo precision."""
    from bench.metrics import stats

    values = np.random.default_rng(1).choice([0.0, 0.5, 2 / 3, 1.0], p=[0.3, 0.2, 0.1, 0.4], size=30_000)
    counted = stats.bootstrap_interval(values)
    monkeypatch.setattr(stats, "COUNTS_FROM_N", 10**9)
    drawn = stats.bootstrap_interval(values)
    assert counted is not None and drawn is not None and counted != drawn
    half = (drawn[1] - drawn[0]) / 2
    assert counted[0] == pytest.approx(drawn[0], abs=0.1 * half)
    assert counted[1] == pytest.approx(drawn[1], abs=0.1 * half)


def test_below_counts_from_n_the_index_draws_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.metrics import stats

    values = np.random.default_rng(2).choice([0.0, 0.5, 1.0], size=stats.COUNTS_FROM_N - 1)
    rng = np.random.default_rng(stats.SEED)
    expected = rng.choice(np.sort(values), size=(stats.BOOTSTRAP_RESAMPLES, values.size)).mean(axis=1)
    assert stats.bootstrap_interval(values) == stats.percentile_interval(expected, 0.95)


@pytest.mark.parametrize("n", [20_000, 20_001])
def test_median_from_counts_is_the_median_of_the_resample(n: int) -> None:
    from bench.metrics import stats

    values = np.array([0.1, 0.4, 0.45, 2.0, 3.5])
    rng = np.random.default_rng(n)
    for _ in range(200):
        counts = rng.multinomial(n, [0.3, 0.2, 0.0, 0.3, 0.2])
        counts[1] += n // 2 - counts[:2].sum() if rng.random() < 0.3 else 0  # sometimes a split at a boundary
        counts[-1] = n - counts[:-1].sum()
        if counts[-1] < 0:
            continue
        cumulative = np.cumsum(counts)
        low = np.searchsorted(cumulative, (n + 1) // 2)
        high = np.searchsorted(cumulative, n // 2 + 1)
        assert (values[low] + values[high]) / 2 == np.median(np.repeat(values, counts))
    data = np.repeat(values, [n // 5] * 4 + [n - 4 * (n // 5)])
    assert stats.bootstrap_medians(np.random.default_rng(0), data, 50).shape == (50,)


@pytest.mark.parametrize("n", [*range(1, 120), 4_999, 100_003])
def test_median_rank_from_a_window_equals_the_count_over_every_order_statistic(n: int) -> None:
    from bench.metrics.stats import _order_statistic_rank

    cdf = scipy_stats.binom.cdf(np.arange(n), n, 0.5)
    for tail in (0.005, 0.025, 0.05):
        assert _order_statistic_rank(n, tail) == int(np.sum(cdf <= tail))
