"""The train pool (train:, else the few-shot source) and the seeded, stratified draw of a label budget."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bench.learn.pool import draw_budget, train_pool
from bench.suite.spec import TaskSpec

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "trained"
FIELDS = {"input": "text", "expected": "label"}


def task(**extra: object) -> TaskSpec:
    return TaskSpec.model_validate({"id": "t", "dataset": {"path": "test.jsonl", "fields": FIELDS},
                                    "answer": {"mode": "choices", "choices": ["billing", "technical", "shipping"]},
                                    "scorers": ["accuracy"], **extra})


def test_the_pool_is_the_train_split_else_the_few_shot_source() -> None:
    assert len(train_pool(task(train={"path": "train.jsonl", "fields": FIELDS}), DATA)) == 30
    few_shot = {"k": 2, "dataset": {"path": "test.jsonl", "fields": FIELDS}}
    assert len(train_pool(task(few_shot=few_shot), DATA)) == 12
    assert len(train_pool(task(few_shot=few_shot, train={"path": "train.jsonl", "fields": FIELDS}), DATA)) == 30
    with pytest.raises(ValueError, match="task 't' has no train split: add train:"):
        train_pool(task(), DATA)


def test_a_budget_is_stratified_seeded_and_covers_every_label() -> None:
    labels = ["a"] * 20 + ["b"] * 5 + ["c"]
    for n, counts in ((3, {"a": 1, "b": 1, "c": 1}), (10, {"a": 7, "b": 2, "c": 1}), (25, {"a": 19, "b": 5, "c": 1})):
        drawn = draw_budget(labels, n, seed=0)
        assert len(drawn) == n == len(set(drawn)) and Counter(labels[i] for i in drawn) == counts
    assert draw_budget(labels, 5, 0) == draw_budget(labels, 5, 0) != draw_budget(labels, 5, 1)
    assert draw_budget(labels, 40, 0) == list(range(26))
    with pytest.raises(ValueError, match="at least 1"):
        draw_budget(labels, 0, 0)
