"""The train pool of a task: the items a trained model may learn from (the task's `train:` split, else the
few-shot source)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.suite.spec import DatasetSpec, TaskSpec
from bench.tasks.datasets import load_items
from bench.tasks.items import Item


def train_spec(task: TaskSpec) -> DatasetSpec | None:
    """The dataset a trained model learns from: `train:`, else `few_shot.dataset`, else None (no train split)."""
    if task.train is not None:
        return task.train
    return task.few_shot.dataset if task.few_shot is not None else None


def train_pool(task: TaskSpec, base_dir: Path) -> list[Item]:
    """Every item of the task's train split, in file order (paths relative to `base_dir`, the suite's folder).

    Raises ValueError when the task has neither `train:` nor `few_shot:`; dataset errors as load_items raises
    them (SpecError naming the file and line)."""
    spec = train_spec(task)
    if spec is None:
        raise ValueError(f"task '{task.id}' has no train split: add train: {{path: ..., fields: ...}} to it")
    return load_items(spec, base_dir)


def pool_labels(items: list[Item]) -> list[str]:
    """Each item's label (its expected answer as a string; a dict answer is not a label: ValueError)."""
    labels = []
    for item in items:
        if not isinstance(item.expected, str):
            raise ValueError(f"train item '{item.id}' has a structured expected answer, not a label")
        labels.append(item.expected)
    return labels


def draw_budget(labels: Sequence[str], n: int, seed: int) -> list[int]:
    """Indices (sorted) of `n` items drawn from a pool with these `labels`, seeded and stratified: every label
    gets at least one item when n >= the number of labels, the rest shared in proportion to the pool (largest
    remainder). n >= len(labels): every index. ValueError for n < 1."""
    if n < 1:
        raise ValueError(f"a label budget must be at least 1, got {n}")
    if n >= len(labels):
        return list(range(len(labels)))
    import numpy as np  # here, not at the top: validating a suite (bench.learn.checks) stays free of numpy

    rng = np.random.default_rng(seed)
    groups = {label: [int(i) for i in rng.permutation([i for i, x in enumerate(labels) if x == label])]
              for label in sorted(set(labels))}
    quota = _quotas({label: len(group) for label, group in groups.items()}, n)
    return sorted(i for label, group in groups.items() for i in group[: quota[label]])


def _quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """How many of `n` each group gets: one each first (while n allows), the rest by largest remainder of its
    share of the pool, never more than the group has."""
    floor = 1 if n >= len(sizes) else 0
    quota = {label: min(floor, size) for label, size in sizes.items()}
    left, total = n - sum(quota.values()), sum(sizes.values())
    wanted = {label: left * size / total for label, size in sizes.items()}
    for label in quota:
        quota[label] = min(sizes[label], quota[label] + int(wanted[label]))
    for label in sorted(sizes, key=lambda x: (-(wanted[x] - int(wanted[x])), x)):
        if sum(quota.values()) >= n:
            break
        if quota[label] < sizes[label]:
            quota[label] += 1
    while sum(quota.values()) < n:  # a capped group left room: fill from the others
        label = max((x for x in sizes if quota[x] < sizes[x]), key=lambda x: sizes[x] - quota[x])
        quota[label] += 1
    return quota
