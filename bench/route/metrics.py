"""What a routing decision achieves, and the routing metrics of RouteLLM (docs/routing.md).

Sources:
- PGR, APGR and CPT: Ong et al. 2024, "RouteLLM: Learning to Route LLMs with Preference Data" (arXiv:2406.18665),
  section 5.1, as lm-sys/RouteLLM computes them in routellm/evals/evaluate.py (apgr_metric, pct_call_metric):
  PGR = (r(router) - r(weak)) / (r(strong) - r(weak)); APGR = (AUC(router) - AUC(weak)) / (AUC(strong) -
  AUC(weak)), areas by the trapezoid rule over the share of calls to the strong model (0-1); CPT(x%) = the share
  of strong calls at which the router first reaches PGR = x, interpolated linearly between sweep points.
- ECE: Guo et al. 2017, "On Calibration of Modern Neural Networks", eq. (3): sum over M equal-width bins of
  |B_m| / n * |acc(B_m) - conf(B_m)|.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench.metrics.stats import percentile, wilson_interval


@dataclass(frozen=True)
class Outcome:
    """A decision vector's quality and speed: mean score with its 95% Wilson interval (scores in [0, 1]: for
    non-binary scores a conservative interval), share of items sent to the large model, and p50/p95 latency (s)
    of the cascade (small on every item, plus large on escalated ones) and of the router (one model per item)."""

    accuracy: float
    ci_low: float
    ci_high: float
    share_large: float
    cascade_p50_s: float
    cascade_p95_s: float
    router_p50_s: float
    router_p95_s: float


def outcome(escalate: np.ndarray, small: np.ndarray, large: np.ndarray,
            latency: tuple[np.ndarray, np.ndarray]) -> Outcome:
    """Per-item score arrays `small`, `large` (same items) and (small, large) latencies (s) under `escalate`."""
    scores = np.where(escalate, large, small)
    n = scores.size
    low, high = wilson_interval(float(scores.sum()), n)
    s_lat, l_lat = latency
    cascade = s_lat + np.where(escalate, l_lat, 0.0)
    router = np.where(escalate, l_lat, s_lat)
    return Outcome(float(scores.mean()), low, high, float(escalate.mean()),
                   percentile(list(cascade), 50), percentile(list(cascade), 95),
                   percentile(list(router), 50), percentile(list(router), 95))


def cascade_usd(share_large: float, small_usd: float | None, large_usd: float | None) -> float | None:
    """USD per task of a cascade: the small model on every item plus the large one on the escalated share."""
    if small_usd is None or large_usd is None:
        return None
    return small_usd + share_large * large_usd


def router_usd(share_large: float, small_usd: float | None, large_usd: float | None) -> float | None:
    """USD per task of a router that calls one model per item."""
    if small_usd is None or large_usd is None:
        return None
    return (1 - share_large) * small_usd + share_large * large_usd


def pgr(score: float, weak: float, strong: float) -> float | None:
    """Performance gap recovered; None when the strong model is not better than the weak one."""
    return (score - weak) / (strong - weak) if strong > weak else None


def apgr(shares: Sequence[float], scores: Sequence[float], weak: float, strong: float) -> float | None:
    """Average PGR over a sweep (shares of strong calls 0-1, sorted by share): RouteLLM's apgr_metric (trapezoid
    areas under the router's curve and the weak and strong constant lines over the same shares)."""
    if strong <= weak or len(shares) < 2:
        return None
    order = np.argsort(np.asarray(shares, dtype=float), kind="stable")
    x, y = np.asarray(shares, dtype=float)[order], np.asarray(scores, dtype=float)[order]
    width = float(x[-1] - x[0])
    if width <= 0:
        return None
    area = float(np.trapezoid(y, x))
    return (area - weak * width) / ((strong - weak) * width)


def cpt(shares: Sequence[float], scores: Sequence[float], weak: float, strong: float,
        recovered: float) -> float | None:
    """Call-performance threshold CPT(recovered): the smallest share of strong calls (0-1) at which the sweep,
    linearly interpolated between points sorted by share, reaches weak + recovered * (strong - weak); None when
    the strong model is not better or the sweep never reaches it. (RouteLLM's pct_call_metric uses np.interp of
    share over score, which assumes the score rises with the share; this reads the first crossing instead.)"""
    if strong <= weak:
        return None
    target = weak + recovered * (strong - weak)
    order = np.argsort(np.asarray(shares, dtype=float), kind="stable")
    x, y = np.asarray(shares, dtype=float)[order], np.asarray(scores, dtype=float)[order]
    if y.size and y[0] >= target:
        return float(x[0])
    for i in range(1, y.size):
        if y[i] >= target > y[i - 1]:
            return float(x[i - 1] + (target - y[i - 1]) / (y[i] - y[i - 1]) * (x[i] - x[i - 1]))
    return None


@dataclass(frozen=True)
class Calibration:
    """ECE over `bins` equal-width bins of [0, 1] and the reliability diagram's bins (lower edge, count, mean
    confidence, mean score; empty bins have count 0 and None means)."""

    ece: float
    bins: int
    n: int
    rows: list[tuple[float, int, float | None, float | None]]


def calibration(confidence: np.ndarray, scores: np.ndarray, bins: int = 10) -> Calibration | None:
    """ECE of probabilities `confidence` (0-1, NaN = missing: left out) against per-item scores (1 right, 0
    wrong; fractional scores count as partly right). Bin m holds (m/M, (m+1)/M], the first also 0. None when no
    item has a confidence."""
    present = ~np.isnan(confidence)
    conf, score = confidence[present], scores[present]
    if conf.size == 0:
        return None
    index = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    rows: list[tuple[float, int, float | None, float | None]] = []
    ece = 0.0
    for m in range(bins):
        inside = index == m
        count = int(inside.sum())
        if count == 0:
            rows.append((m / bins, 0, None, None))
            continue
        mean_conf, mean_score = float(conf[inside].mean()), float(score[inside].mean())
        ece += count / conf.size * abs(mean_score - mean_conf)
        rows.append((m / bins, count, mean_conf, mean_score))
    return Calibration(ece, bins, int(conf.size), rows)
