"""Routing policies as decisions: one bool per item, True = the item goes to the large model (escalated).

All take per-item arrays of the same length. `confidence` is oriented (higher = more confident, see
signals.Signal.oriented) with NaN where the small model gave no signal: such an item is always escalated.
"""

from __future__ import annotations

import math

import numpy as np


def threshold(confidence: np.ndarray, cut: float) -> np.ndarray:
    """Escalate the items whose confidence is below `cut` (or missing): the small model keeps confidence >= cut.
    cut = -inf keeps every item that has a signal; +inf escalates all."""
    keep = np.zeros(confidence.shape, dtype=bool)
    present = ~np.isnan(confidence)
    keep[present] = confidence[present] >= cut
    return np.asarray(~keep)


def always_small(n: int) -> np.ndarray:
    """No item escalated."""
    return np.zeros(n, dtype=bool)


def always_large(n: int) -> np.ndarray:
    """Every item escalated."""
    return np.ones(n, dtype=bool)


def oracle(small_scores: np.ndarray, large_scores: np.ndarray) -> np.ndarray:
    """Escalate exactly the items the large model scores higher on (for right/wrong: small whenever small is right,
    and never for an item both get wrong): the upper bound of any router at its call rate."""
    return np.asarray(large_scores > small_scores)


def random_draws(n: int, escalated: int, seed: int, draws: int) -> np.ndarray:
    """`draws` random decisions (rows), each escalating exactly `escalated` of the `n` items, seeded."""
    rng = np.random.default_rng(seed)
    out = np.zeros((draws, n), dtype=bool)
    for row in out:
        row[rng.choice(n, size=escalated, replace=False)] = True
    return out


def cut_for_share(confidence: np.ndarray, share: float) -> float:
    """The cut at which `threshold` escalates a `share` (0-1) of these items: the round(share * n) least
    confident (missing signals count as least confident) are below it; ties at the cut are kept, so fewer may be
    escalated. -inf for share 0 (escalate only missing signals), +inf when every item is escalated."""
    ranked = np.sort(np.where(np.isnan(confidence), -np.inf, confidence))
    k = round(share * ranked.size)
    if k <= 0:
        return -math.inf
    if k >= ranked.size:
        return math.inf
    return float(ranked[k])
