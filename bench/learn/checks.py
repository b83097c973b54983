"""Why a trained model (backend kind `trained`) cannot answer a task: what `bench validate` refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bench.backends.base import TaskRefusal
from bench.errors import SpecError
from bench.learn.labels import LabelField, Unanswerable, item_label, item_value, label_fields
from bench.learn.pool import train_pool
from bench.suite.spec import TaskSpec
from bench.tasks.items import Item

Budget = int | Literal["all"]


def trained_refusals(budget: Budget, task: TaskSpec, base_dir: Path) -> list[TaskRefusal]:
    """The refusals of a trained model with label budget `budget` on `task`: a task it cannot answer, no train
    split, train labels outside the task's labels, labels without a train example, a budget larger than the pool
    or smaller than the number of labels. A train file that cannot be read is left to the dataset checks."""
    try:
        fields = label_fields(task)
        pool = train_pool(task, base_dir)
    except Unanswerable as exc:
        return [TaskRefusal("task", "answer.mode", str(exc), exc.hint)]
    except SpecError:
        return []
    except ValueError as exc:
        return [TaskRefusal("task", "train", str(exc), "a trained model learns from the task's train split")]
    where = "train" if task.train is not None else "few_shot.dataset"
    refusals = [r for field in fields for r in _label_refusals(pool, field, task, where)]
    return refusals + _budget_refusals(budget, pool, fields, task)


def _label_refusals(pool: list[Item], field: LabelField, task: TaskSpec, where: str) -> list[TaskRefusal]:
    name = f" field {field.name}" if field.name else ""
    labels = [item_label(item, field, task) for item in pool]
    stray = sorted({str(item_value(item, field)) for item, label in zip(pool, labels, strict=True) if label is None})
    missing = [label for label in field.labels if label not in set(labels)]
    refusals = []
    if stray:
        refusals.append(TaskRefusal("task", where, f"train label(s){name} not among the task's labels: "
                                    f"{_few(stray)}", "fix the train file, or add them to the task's labels"))
    if missing:
        refusals.append(TaskRefusal("task", where, f"the train split has no example of label(s){name}: "
                                    f"{_few(missing)}", "add train examples of every label"))
    return refusals


def _budget_refusals(budget: Budget, pool: list[Item], fields: list[LabelField], task: TaskSpec) -> list[TaskRefusal]:
    if budget == "all":
        return []
    if budget > len(pool):
        return [TaskRefusal("model", "labels", f"label budget {budget} is larger than the train pool of task "
                            f"'{task.id}' ({len(pool)} items)", f"use labels: {len(pool)} or fewer, or labels: all")]
    most = max(len(field.labels) for field in fields)
    if budget < most:
        return [TaskRefusal("model", "labels", f"label budget {budget} is smaller than the {most} labels of task "
                            f"'{task.id}': some label would have no example", f"use labels: {most} or more")]
    return []


def _few(values: list[str], shown: int = 5) -> str:
    more = f" and {len(values) - shown} more" if len(values) > shown else ""
    return ", ".join(repr(v) for v in values[:shown]) + more

