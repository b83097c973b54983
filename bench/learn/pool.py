"""The train pool of a task: the items a trained model may learn from (the task's `train:` split, else the
few-shot source)."""

from __future__ import annotations

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
