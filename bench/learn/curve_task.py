"""The task of a label-efficiency curve: a classification task's train pool, test items, label set and label
scorers, checked so that bad input is one clear SpecError line each (file, field, hint)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import Problem, SpecError
from bench.learn.active import Pool
from bench.learn.pool import train_pool, train_spec
from bench.suite.spec import LoadedSuite, TaskSpec
from bench.tasks.datasets import load_items
from bench.tasks.items import Item
from bench.tasks.scorers import Scorer, build_scorer

LABEL_SCORERS = ("accuracy", "macro_f1")
"""Scorers a classifier's label can be scored by (on the whole answer, or on a JSON task's label field)."""


@dataclass(frozen=True)
class LabelTask:
    """A classification task ready to learn: `field` is the JSON field holding the label (None: the answer is the
    label), `classes` the task's labels, `scorers` its label scorers, `where` the file a problem is reported in."""

    task: TaskSpec
    field: str | None
    classes: list[str]
    pool: Pool
    pool_ids: list[str]
    test: list[Item]
    scorers: list[Scorer]
    where: str

    def test_texts(self) -> list[str]:
        """The test items' input texts."""
        return [item.input for item in self.test]

    def prediction(self, label: str) -> Any:
        """A predicted label in the shape the task's scorers read (a {field: label} dict for a JSON task)."""
        return label if self.field is None else {self.field: label}


def _fail(file: Path | str, location: str, message: str, hint: str) -> SpecError:
    return SpecError([Problem(str(file), location, message, hint)])


def find_task(suite: LoadedSuite, task_id: str) -> tuple[int, TaskSpec]:
    """The task `task_id` and its index in the suite; SpecError naming the suite's task ids."""
    for index, task in enumerate(suite.spec.tasks):
        if task.id == task_id:
            return index, task
    ids = ", ".join(t.id for t in suite.spec.tasks)
    raise _fail(suite.path, "--task", f"unknown task '{task_id}'", f"tasks in this suite: {ids}")


def _label_field(task: TaskSpec) -> str | None:
    """The field a JSON task's accuracy/macro_f1 scorer reads, or None."""
    for ref in task.scorers:
        params = ref.model_dump()
        if ref.name in LABEL_SCORERS and isinstance(params.get("field"), str):
            return str(params["field"])
    return None


def task_classes(task: TaskSpec, index: int, file: Path) -> tuple[str | None, list[str]]:
    """(label field, labels) of a classification task: a choices task's choices (keys of a mapping), or the enum
    of a JSON task's label field; SpecError for any other task."""
    answer = task.answer
    if answer.mode == "choices" and answer.choices:
        return None, list(answer.choices)
    field = _label_field(task) if answer.mode == "json" else None
    enum = ((answer.json_schema or {}).get("properties", {}).get(field, {}).get("enum")) if field else None
    if field and isinstance(enum, list) and len(enum) >= 2:
        return field, [str(label) for label in enum]
    raise _fail(file, f"tasks[{index}].answer", f"task '{task.id}' is not a classification task (mode {answer.mode})",
                "learn-curve needs answer.mode: choices, or json with an accuracy/macro_f1 scorer whose field has an "
                "enum in json_schema")


def item_label(item: Item, field: str | None) -> str:
    """The label of an item: its expected answer, or that answer's `field`."""
    value = item.expected if field is None else (item.expected or {}).get(field)  # type: ignore[union-attr]
    return str(value)


def _check_labels(items: Sequence[Item], labels: list[str], classes: list[str], where: str) -> None:
    """SpecError for a label outside `classes` (first one, with its item id) or a class without examples."""
    for item, label in zip(items, labels, strict=True):
        if label not in classes:
            raise _fail(where, f"item '{item.id}'", f"label '{label}' is not one of the task's choices",
                        f"choices: {', '.join(classes)}; fix the label or add it to the task's answer")
    missing = [c for c in classes if c not in set(labels)]
    if missing:
        raise _fail(where, "labels", f"the train pool has no example of {', '.join(missing)}",
                    "a learn curve needs every class in the pool: add examples of them")


def _pool(task: TaskSpec, base_dir: Path, field: str | None, classes: list[str]) -> tuple[Pool, list[str], str]:
    spec = train_spec(task)
    where = str(base_dir / spec.path) if spec is not None and hasattr(spec, "path") else f"task '{task.id}'"
    try:
        items = train_pool(task, base_dir)
    except ValueError as exc:
        raise _fail(where, "train", str(exc), "add train: {path: ..., fields: ...} to the task") from None
    labels = [item_label(item, field) for item in items]
    _check_labels(items, labels, classes, where)
    return Pool([item.input for item in items], labels, classes), [item.id for item in items], where


def label_task(suite: LoadedSuite, task_id: str) -> LabelTask:
    """The task `task_id` of `suite`, its train pool and test items, checked; SpecError (one line) for an unknown
    task, a task that is not a classification, a train label outside the choices, a class absent from the pool or
    no label scorer."""
    index, task = find_task(suite, task_id)
    field, classes = task_classes(task, index, suite.path)
    pool, ids, where = _pool(task, suite.base_dir, field, classes)
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers if ref.name in LABEL_SCORERS
               and ref.model_dump().get("field") == field]
    if not scorers:
        raise _fail(suite.path, f"tasks[{index}].scorers", f"task '{task.id}' has no accuracy or macro_f1 scorer"
                    + (f" on its label field '{field}'" if field else ""), "add scorers: [accuracy, macro_f1]")
    test = load_items(task.dataset, suite.base_dir)
    return LabelTask(task, field, classes, pool, ids, test, scorers, where)


def text_sha256(text: str) -> str:
    """sha256 (hex) of a text's UTF-8 bytes: a record's prompt hash for a classifier (its input is the text)."""
    return hashlib.sha256(text.encode()).hexdigest()
