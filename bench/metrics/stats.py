"""Statistics that hold at any n and in any order: Wilson intervals, exact order-statistic CIs for medians,
seeded bootstrap CIs (only from MIN_N_BOOTSTRAP items on), percentiles.

Order: every resampling function sorts its input by a stable key first (numbers by value; items by the key the
caller gives), so the same records in another file order (a concurrency cell, a resume) give the same interval.
Minimum n: below the stated minimum an interval is not reported (None), never a zero-width one (docs/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from scipy import stats

T = TypeVar("T")
BOOTSTRAP_RESAMPLES = 2000
SEED = 20260101
MIN_N_BOOTSTRAP = 10
"""Fewer items than this: no bootstrap interval and no bootstrap test (the percentile bootstrap under-covers
badly at tiny n); exact methods (Wilson, order statistics, exact permutation tests) are used instead."""
MIN_N_MEDIAN_CI = 6
"""The distribution-free 95% CI of a median needs n >= 6 (the widest one, [min, max], covers 1 - 2 * 0.5**n)."""

Interval = tuple[float, float]


def wilson_interval(successes: float, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a proportion successes / n (good at small n and near 0 or 1); (0, 0) at n = 0.

    successes may be fractional: for a mean of scores bounded in [0, 1] the variance is at most p(1 - p), so the
    Wilson interval of the mean over n items is a conservative interval for it (used where a bootstrap would
    collapse). Source: Wilson (1927); Brown, Cai & DasGupta (2001).
    """
    if n <= 0:
        return (0.0, 0.0)
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    p = min(max(successes / n, 0.0), 1.0)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(centre - half, 0.0), min(centre + half, 1.0))


WINDOW_SDS = 10
"""_order_statistic_rank evaluates the binomial CDF within this many standard deviations of n/2 (outside, it is
below 1e-20 or above 1 - 1e-20, so each such i is known to count or not)."""


def _order_statistic_rank(n: int, tail: float) -> int:
    """The number of i in [0, n) with P(Binomial(n, 1/2) <= i) <= tail, from the CDF of a window around n/2 (the
    CDF is non-decreasing in i, so every i below the window counts and none above it does); the whole range
    when the window's edges do not bracket tail."""
    half = WINDOW_SDS * math.sqrt(n) / 2
    low, high = max(int(n / 2 - half), 0), min(int(n / 2 + half) + 1, n)
    edges = stats.binom.cdf([low - 1, high], n, 0.5) if low > 0 and high < n else None
    if edges is None or not (edges[0] <= tail < edges[1]):
        return int(np.sum(stats.binom.cdf(np.arange(n), n, 0.5) <= tail))
    return low + int(np.sum(stats.binom.cdf(np.arange(low, high), n, 0.5) <= tail))


def median_interval(values: Sequence[float], confidence: float = 0.95) -> Interval | None:
    """Exact, distribution-free CI of the median from order statistics [x(k), x(n-k+1)], with k the largest
    count such that P(Binomial(n, 1/2) <= k - 1) <= (1 - confidence) / 2. None below MIN_N_MEDIAN_CI values.
    Order-invariant by construction. Source: Conover, Practical Nonparametric Statistics, 3.2."""
    data = np.sort(np.asarray(values, dtype=float))
    n = data.size
    if n == 0:
        return None
    k = _order_statistic_rank(n, (1 - confidence) / 2)
    if k < 1:
        return None
    return (float(data[k - 1]), float(data[n - k]))


def bootstrap_interval(values: Sequence[float], statistic: Callable[..., Any] = np.mean,
                       confidence: float = 0.95) -> Interval | None:
    """Percentile bootstrap CI of a numpy reduction such as np.mean (seeded; values sorted first, so the order
    they came in does not matter). None below MIN_N_BOOTSTRAP values."""
    data = np.sort(np.asarray(values, dtype=float))
    if data.size < MIN_N_BOOTSTRAP:
        return None
    rng = np.random.default_rng(SEED)
    if statistic is np.mean:
        return _percentiles(bootstrap_means(rng, data, BOOTSTRAP_RESAMPLES), confidence)
    estimates = [statistic(rng.choice(data, size=(rows, data.size), replace=True), axis=1)
                 for rows in row_chunks(BOOTSTRAP_RESAMPLES, data.size)]
    return _percentiles(np.concatenate(estimates), confidence)


COUNTS_FROM_N = 5_000
"""From this many items on, a bootstrap of a statistic of few distinct values (a mean of scores, a difference of
scores, macro-F1 from its confusion counts) draws each resample's counts of the distinct values with
rng.multinomial instead of drawing n indices: the same bootstrap distribution (Efron & Tibshirani 1993, 6.2: a
resample is a multinomial draw of the observed values), at a cost of resamples x distinct values instead of
resamples x n. Below it, the index draws as before, so every interval of a run below this size is unchanged."""
MAX_DISTINCT_SHARE = 0.25
"""The counts form is used only when the distinct values are at most this share of n (otherwise it saves nothing)."""


def bootstrap_means(rng: np.random.Generator, data: np.ndarray, resamples: int) -> np.ndarray:
    """Means of `resamples` bootstrap resamples of data (sorted): index draws in blocks below COUNTS_FROM_N (or
    with many distinct values), multinomial counts of the distinct values from it on."""
    values, counts = np.unique(data, return_counts=True)
    if data.size >= COUNTS_FROM_N and values.size <= MAX_DISTINCT_SHARE * data.size:
        drawn = multinomial_counts(rng, counts, resamples)
        return np.asarray(drawn @ values / data.size)
    return np.concatenate([rng.choice(data, size=(rows, data.size), replace=True).mean(axis=1)
                           for rows in row_chunks(resamples, data.size)])


def bootstrap_medians(rng: np.random.Generator, data: np.ndarray, resamples: int) -> np.ndarray:
    """np.median of `resamples` bootstrap resamples of data (sorted): index draws in blocks, or from
    COUNTS_FROM_N items with few distinct values, the median read off each resample's cumulative counts of the
    sorted distinct values (the mean of the two middle order statistics when n is even, as np.median)."""
    values, counts = np.unique(data, return_counts=True)
    n = data.size
    if not use_counts(n, values.size):
        return np.concatenate([np.median(rng.choice(data, size=(rows, n), replace=True), axis=1)
                               for rows in row_chunks(resamples, n)])
    cumulative = np.cumsum(multinomial_counts(rng, counts, resamples), axis=1)
    low = np.array([np.searchsorted(row, (n + 1) // 2) for row in cumulative])
    high = np.array([np.searchsorted(row, n // 2 + 1) for row in cumulative])
    return np.asarray((values[low] + values[high]) / 2)


def use_counts(n: int, distinct: int) -> bool:
    """Whether a bootstrap over n items of `distinct` categories draws counts (see COUNTS_FROM_N)."""
    return n >= COUNTS_FROM_N and distinct <= MAX_DISTINCT_SHARE * n


def multinomial_counts(rng: np.random.Generator, observed: np.ndarray, resamples: int) -> np.ndarray:
    """(resamples, categories) counts: each row a bootstrap resample of sum(observed) items drawn from the
    observed category counts."""
    n = int(observed.sum())
    return np.asarray(rng.multinomial(n, observed / n, size=resamples))


DRAW_BUDGET = 4_000_000
"""Most random indices drawn at once by a bootstrap: resamples are drawn in blocks of rows, so memory stays bounded
at any n. The generator's stream is the same whichever the block size, so the interval does not depend on it."""


def row_chunks(total: int, n: int) -> list[int]:
    """Row counts adding up to `total`, each block of rows holding at most DRAW_BUDGET draws of n indices."""
    step = max(1, DRAW_BUDGET // max(n, 1))
    return [min(step, total - start) for start in range(0, total, step)]


def resample_interval(items: Sequence[T], statistic: Callable[[list[T]], float], key: Callable[[T], Any],
                      confidence: float = 0.95) -> Interval | None:
    """Bootstrap CI for a corpus-level statistic (e.g. macro-F1) by resampling items, after sorting them by key
    (e.g. item id and repetition). None below MIN_N_BOOTSTRAP items, or when every resample gives the same
    value (see `with_spread`)."""
    if len(items) < MIN_N_BOOTSTRAP:
        return None
    ordered = sorted(items, key=key)
    rng = np.random.default_rng(SEED)
    indices = rng.integers(0, len(ordered), size=(BOOTSTRAP_RESAMPLES // 2, len(ordered)))
    estimates = np.array([statistic([ordered[i] for i in row]) for row in indices])
    return with_spread(_percentiles(estimates, confidence))


def with_spread(interval: Interval | None) -> Interval | None:
    """The interval, or None when it has no width: a bootstrap whose every resample gives the same value (every
    answer right, say) saw no spread in the sample, which is not certainty about the population ("100% [100-100]"
    would claim it); the figure is then reported without an interval."""
    return interval if interval is not None and interval[0] < interval[1] else None


def percentile_interval(estimates: np.ndarray, confidence: float) -> Interval:
    """The central `confidence` share of bootstrap estimates (percentile method)."""
    return _percentiles(estimates, confidence)


def _percentiles(estimates: np.ndarray, confidence: float) -> Interval:
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return (float(low), float(high))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default, like vLLM's benchmarks)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")
