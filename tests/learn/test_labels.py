"""What a classifier can answer: the task's choices, or JSON whose properties are all labels."""

from __future__ import annotations

from typing import Any

import pytest

from bench.learn.labels import LabelField, Unanswerable, item_label, label_fields
from bench.suite.spec import TaskSpec
from bench.tasks.items import Item


def task(answer: dict[str, Any]) -> TaskSpec:
    return TaskSpec.model_validate({"id": "t", "dataset": {"path": "x.jsonl"}, "answer": answer,
                                    "scorers": ["accuracy"]})


def test_choices_are_one_field_in_the_task_order_and_labels_are_normalized() -> None:
    t = task({"mode": "choices", "choices": {"billing": "Billing", "tech": "technical problem"}})
    (field,) = label_fields(t)
    assert field == LabelField(None, ("billing", "tech"))
    assert item_label(Item("1", "x", " Billing."), field, t) == "billing"
    assert item_label(Item("2", "x", "refund"), field, t) is None


def test_json_fields_that_are_enums_or_booleans_are_each_a_field() -> None:
    schema = {"type": "object", "properties": {"dept": {"type": "string", "enum": ["hr", "it"]},
                                               "urgent": {"type": "boolean"}}}
    t = task({"mode": "json", "json_schema": schema})
    dept, urgent = label_fields(t)
    assert (dept.labels, urgent.labels, urgent.boolean) == (("hr", "it"), ("false", "true"), True)
    item = Item("1", "x", {"dept": "IT", "urgent": True})
    assert (item_label(item, dept, t), item_label(item, urgent, t)) == ("it", "true")
    assert urgent.value("true") is True and dept.value("hr") == "hr"


def test_free_text_and_free_json_fields_cannot_be_answered() -> None:
    with pytest.raises(Unanswerable, match="asks for generated text"):
        label_fields(task({"mode": "text"}))
    schema = {"type": "object", "properties": {"dept": {"enum": ["hr"]}, "note": {"type": "string"}}}
    with pytest.raises(Unanswerable, match="not labels: note") as caught:
        label_fields(task({"mode": "json", "json_schema": schema}))
    assert "string enum or a boolean" in caught.value.hint
