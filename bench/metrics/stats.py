"""Statistics for small samples: Wilson intervals, seeded bootstrap CIs, percentiles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np
from scipy import stats

T = TypeVar("T")
BOOTSTRAP_RESAMPLES = 2000
SEED = 20260101


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion (good at small n and near 0 or 1)."""
    if n == 0:
        return (0.0, 0.0)
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def bootstrap_interval(values: Sequence[float], statistic: Callable[..., Any] = np.median,
                       confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of a numpy reduction such as np.median or np.mean (seeded, so the same
    records give the same interval). All resamples are reduced in one vectorized call."""
    data = np.asarray(values, dtype=float)
    if data.size < 2 or np.all(data == data[0]):
        value = float(statistic(data)) if data.size else 0.0
        return (value, value)
    rng = np.random.default_rng(SEED)
    samples = rng.choice(data, size=(BOOTSTRAP_RESAMPLES, data.size), replace=True)
    estimates = statistic(samples, axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return (float(low), float(high))


def resample_interval(items: Sequence[T], statistic: Callable[[list[T]], float],
                      confidence: float = 0.95) -> tuple[float, float]:
    """Bootstrap CI for a corpus-level statistic (e.g. macro-F1) by resampling items."""
    if len(items) < 2:
        value = statistic(list(items))
        return (value, value)
    rng = np.random.default_rng(SEED)
    indices = rng.integers(0, len(items), size=(BOOTSTRAP_RESAMPLES // 2, len(items)))
    estimates = [statistic([items[i] for i in row]) for row in indices]
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return (float(low), float(high))


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default, like vLLM's benchmarks)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else float("nan")
