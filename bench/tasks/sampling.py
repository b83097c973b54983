"""Deterministic item selection: a seeded, label-balanced sample."""

from __future__ import annotations

import json
import random
from collections import defaultdict

from bench.tasks.items import Item


def balanced_sample(items: list[Item], k: int, seed: int | str) -> list[Item]:
    """k items taken round-robin over expected labels (each label's items shuffled with the seed)."""
    rng = random.Random(str(seed))
    by_label: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_label[json.dumps(item.expected, sort_keys=True)].append(item)
    groups = [rng.sample(group, len(group)) for _, group in sorted(by_label.items())]
    picked: list[Item] = []
    while len(picked) < min(k, len(items)):
        for group in groups:
            if group and len(picked) < k:
                picked.append(group.pop(0))
    return picked
