"""Deterministic item selection for `--limit`: seeded random, label-balanced or label-proportional samples."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Literal

from bench.suite.spec import TaskSpec
from bench.tasks.dataset_kinds import kind_of
from bench.tasks.items import Item
from bench.tasks.normalize import normalize_label

SampleKind = Literal["random", "balanced", "natural"]
"""random: a simple seeded random sample (text and json answers); balanced: round-robin over the labels;
natural: the data's own label mix (proportional to each label's share, largest remainder)."""


def sample_kind(task: TaskSpec) -> SampleKind:
    """How `limit` draws this task's items: `task.sample` for choices answers, a random sample otherwise."""
    return task.sample if task.answer.mode == "choices" else "random"


def sample_description(task: TaskSpec, limit: int | None) -> str:
    """How a cell's items are chosen, for the manifest and the report: "all" without a limit, "first" for an
    lm-eval task (lm-eval's --limit), else the SampleKind ("random", "balanced" or "natural")."""
    if not limit:
        return "all"
    return "first" if kind_of(task.dataset).limit == "first" else sample_kind(task)


def draw_sample(items: list[Item], k: int, seed: int | str, kind: SampleKind) -> list[Item]:
    """k items (all of them when k >= len(items)) drawn as `kind` says, the same for the same seed and items."""
    if kind == "balanced":
        return balanced_sample(items, k, seed)
    if kind == "natural":
        return natural_sample(items, k, seed)
    return random_sample(items, k, seed)


def random_sample(items: list[Item], k: int, seed: int | str) -> list[Item]:
    """A simple seeded random sample of k items, independent of the answers (ordered by item id first, so the
    same items in another file order give the same sample)."""
    ordered = sorted(items, key=lambda item: item.id)
    return random.Random(str(seed)).sample(ordered, min(max(k, 0), len(ordered)))


def balanced_sample(items: list[Item], k: int, seed: int | str) -> list[Item]:
    """k items taken round-robin over expected labels (each label's items shuffled with the seed)."""
    rng = random.Random(str(seed))
    groups = [rng.sample(group, len(group)) for _, group in sorted(_by_label(items).items())]
    picked: list[Item] = []
    while len(picked) < min(k, len(items)):
        for group in groups:
            if group and len(picked) < k:
                picked.append(group.pop(0))
    return picked


def natural_sample(items: list[Item], k: int, seed: int | str) -> list[Item]:
    """k items whose label counts follow the data's label shares (Hamilton's largest-remainder rounding, ties
    to the larger label), each label's items drawn at random with the seed, then shuffled together."""
    rng = random.Random(str(seed))
    groups = sorted(_by_label(items).items())
    quotas = _largest_remainder([len(group) for _, group in groups], min(max(k, 0), len(items)))
    picked = [item for (_, group), quota in zip(groups, quotas, strict=True) for item in rng.sample(group, quota)]
    return rng.sample(picked, len(picked))


def _largest_remainder(sizes: list[int], k: int) -> list[int]:
    total = sum(sizes)
    exact = [size * k / total for size in sizes] if total else [0.0] * len(sizes)
    quotas = [int(share) for share in exact]
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - quotas[i]), -sizes[i], i))
    for i in order[: k - sum(quotas)]:
        quotas[i] += 1
    return quotas


def _by_label(items: list[Item]) -> dict[str, list[Item]]:
    """Items grouped by expected value; labels as the scorer compares them (normalize_label)."""
    by_label: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        key = (normalize_label(item.expected) if isinstance(item.expected, str)
               else json.dumps(item.expected, sort_keys=True))
        by_label[key].append(item)
    return by_label
