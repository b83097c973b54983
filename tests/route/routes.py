"""Hand-computed pairs of records for the routing tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bench.cost.rows import THIS_MACHINE
from bench.results.schema import Confidence
from bench.route.pairs import Pair, Side

SMALL_USD, LARGE_USD = 0.001, 0.01
"""USD per task on this machine."""


def side(model_id: str, scores: Sequence[float], latency: Sequence[float], probs: Sequence[float | None],
         usd: float) -> Side:
    confidence = [None if p is None else Confidence(max_prob=p, margin=2 * p - 1, entropy=1 - p) for p in probs]
    return Side(model_id, "run", f"{model_id}-cell", np.array(scores, dtype=float), np.array(latency, dtype=float),
                confidence, {THIS_MACHINE: usd, "gpu-x": usd / 2}, {THIS_MACHINE: "measured", "gpu-x": "projected"})


def pair(small: Sequence[float], large: Sequence[float], probs: Sequence[float | None]) -> Pair:
    n = len(small)
    return Pair("triage", "1", "accuracy", [f"i{k}" for k in range(n)],
                side("small", small, [0.1] * n, probs, SMALL_USD),
                side("large", large, [1.0] * n, [None] * n, LARGE_USD),
                {"hosted": 0.02})


def informative() -> Pair:
    """12 items; the small model is right where it is confident (and on one unsure item), the large on 10."""
    small = [1, 1, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0]
    large = [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1]
    probs = [0.99, 0.97, 0.95, 0.93, 0.91, 0.9, 0.6, 0.58, 0.55, 0.5, 0.45, 0.4]
    return pair(small, large, probs)
