"""What a classifier can answer in a task: the label fields (the task's choices, or the enum / boolean fields of
a JSON answer) and each item's label in them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.suite.spec import TaskSpec
from bench.tasks.items import Item
from bench.tasks.normalize import normalize_label
from bench.tasks.prompts import choice_texts, expected_label


class Unanswerable(ValueError):
    """A task a classifier cannot answer; `hint` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class LabelField:
    """One thing to classify: the task's choices (`name` None) or a JSON field; its labels in answer order
    (choices: the task's order; a boolean field: false, true)."""

    name: str | None
    labels: tuple[str, ...]
    boolean: bool = False

    def value(self, label: str) -> Any:
        """The answer value of a label: the label itself, or a JSON boolean for a boolean field."""
        return label == "true" if self.boolean else label


def label_fields(task: TaskSpec) -> list[LabelField]:
    """The label fields of `task`: its choices, or every property of a JSON schema whose properties are all
    string enums or booleans. Unanswerable for text tasks and JSON with a free-form field."""
    answer = task.answer
    if answer.mode == "choices":
        return [LabelField(None, tuple(choice_texts(answer)))]
    if answer.mode == "text":
        raise Unanswerable(f"task '{task.id}' asks for generated text (answer.mode: text), which a trained model "
                           "(a classifier) cannot produce", "run trained models in a suite of choices tasks and "
                           "JSON tasks whose fields are all labels; keep text tasks for language models")
    return _json_fields(task)


def _json_fields(task: TaskSpec) -> list[LabelField]:
    properties = (task.answer.json_schema or {}).get("properties") or {}
    fields, free = [], []
    for name, schema in properties.items():
        if not isinstance(schema, dict):
            free.append(name)
        elif schema.get("type") == "boolean":
            fields.append(LabelField(name, ("false", "true"), boolean=True))
        elif isinstance(schema.get("enum"), list) and all(isinstance(v, str) for v in schema["enum"]):
            fields.append(LabelField(name, tuple(schema["enum"])))
        else:
            free.append(name)
    if free or not fields:
        raise Unanswerable(f"task '{task.id}' has JSON field(s) that are not labels: {', '.join(free) or 'none'}",
                           "a classifier answers JSON only when every property is a string enum or a boolean")
    return fields


def item_value(item: Item, field: LabelField) -> object:
    """The item's expected value for `field` (the whole expected answer for choices)."""
    if field.name is None:
        return item.expected
    return item.expected.get(field.name) if isinstance(item.expected, dict) else None


def item_label(item: Item, field: LabelField, task: TaskSpec) -> str | None:
    """The item's label in `field` as the scorers compare labels (normalized), or None when it is none of them."""
    value = item_value(item, field)
    if field.name is None:
        return expected_label(value, task.answer)
    if field.boolean:
        return {True: "true", False: "false"}.get(value) if isinstance(value, bool) else \
            {"true": "true", "false": "false"}.get(normalize_label(value))
    wanted = normalize_label(value)
    return next((label for label in field.labels if normalize_label(label) == wanted), None)
