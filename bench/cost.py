"""Pure cost arithmetic; every figure carries its basis."""

from __future__ import annotations

import math


def usd_per_1000_tasks(tasks_per_s: float, usd_per_hour: float) -> float:
    """Self-hosted: 1000 / throughput / 3600 * $/hour (ARCHITECTURE.md's definition)."""
    if tasks_per_s <= 0:
        return math.inf
    return 1000.0 / tasks_per_s / 3600.0 * usd_per_hour
