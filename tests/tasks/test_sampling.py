"""Tests for bench.tasks.sampling: seeded random, label-balanced and natural-mix samples."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from bench.suite.spec import TaskSpec
from bench.tasks.items import Item
from bench.tasks.sampling import (
    balanced_sample,
    draw_sample,
    natural_sample,
    random_sample,
    sample_description,
    sample_kind,
)


def items_with(labels: dict[str, int]) -> list[Item]:
    return [Item(id=f"{label}-{i}", input=f"{label} {i}", expected=label)
            for label, n in labels.items() for i in range(n)]


def ids(items: list[Item]) -> list[str]:
    return [i.id for i in items]


def test_same_seed_same_sample() -> None:
    pool = items_with({"a": 20, "b": 20, "c": 20})
    assert ids(balanced_sample(pool, 9, 42)) == ids(balanced_sample(pool, 9, 42))


def test_int_and_str_seed_are_equivalent() -> None:
    pool = items_with({"a": 10, "b": 10})
    assert ids(balanced_sample(pool, 6, 5)) == ids(balanced_sample(pool, 6, "5"))


def test_different_seeds_give_different_samples() -> None:
    pool = items_with({"a": 20, "b": 20})
    samples = {tuple(ids(balanced_sample(pool, 6, seed))) for seed in range(5)}
    assert len(samples) > 1


def test_sample_does_not_depend_on_input_order_of_labels() -> None:
    pool = items_with({"a": 5, "b": 5})
    shuffled = [i for i in pool if i.expected == "b"] + [i for i in pool if i.expected == "a"]
    assert ids(balanced_sample(pool, 4, 1)) == ids(balanced_sample(shuffled, 4, 1))


@pytest.mark.parametrize(("k", "expected"), [(6, {"a": 2, "b": 2, "c": 2}), (7, {"a": 3, "b": 2, "c": 2}),
                                             (3, {"a": 1, "b": 1, "c": 1})])
def test_balanced_over_labels(k: int, expected: dict[str, int]) -> None:
    pool = items_with({"c": 30, "a": 10, "b": 10})
    assert Counter(str(i.expected) for i in balanced_sample(pool, k, 0)) == expected


def test_round_robin_order_over_sorted_labels() -> None:
    pool = items_with({"b": 3, "a": 3})
    assert [i.expected for i in balanced_sample(pool, 4, 0)] == ["a", "b", "a", "b"]


def test_exhausted_label_leaves_room_for_the_others() -> None:
    pool = items_with({"rare": 1, "common": 10})
    picked = balanced_sample(pool, 5, 0)
    assert Counter(str(i.expected) for i in picked) == {"rare": 1, "common": 4}
    assert len(set(ids(picked))) == 5


def test_k_larger_than_pool_returns_everything_once() -> None:
    pool = items_with({"a": 2, "b": 3})
    assert sorted(ids(balanced_sample(pool, 100, 0))) == sorted(ids(pool))


def test_empty_and_zero() -> None:
    assert balanced_sample([], 5, 0) == []
    assert balanced_sample(items_with({"a": 3}), 0, 0) == []


def test_dict_labels_are_balanced_by_their_content() -> None:
    def make(i: int, expected: dict[str, Any]) -> Item:
        return Item(id=str(i), input="x", expected=expected)

    pool = [make(i, {"dept": "hr", "urgent": False}) for i in range(6)]
    pool += [make(10 + i, {"urgent": True, "dept": "it"}) for i in range(2)]
    picked = balanced_sample(pool, 4, 0)
    assert Counter(i.expected["dept"] for i in picked if isinstance(i.expected, dict)) == {"hr": 2, "it": 2}


def test_labels_are_grouped_as_the_scorer_compares_them() -> None:
    pool = [Item(id=f"h{i}", input=f"h{i}", expected=label) for i, label in enumerate(["ham", "Ham", "ham "])]
    pool += [Item(id=f"s{i}", input=f"s{i}", expected="spam") for i in range(3)]
    assert Counter(str(i.expected).strip().lower() for i in balanced_sample(pool, 4, 0)) == {"ham": 2, "spam": 2}


# ----------------------------------------------------------------- text and json answers: a random sample


def answers_by_length(n: int) -> list[Item]:
    """Receipt-like items whose answers sort by length ("a", "aa", ...): sorting them picks the shortest."""
    return [Item(id=f"r{i:03d}", input=f"receipt {i}", expected={"address": "x" * (i + 1)}) for i in range(n)]


def test_limit_on_json_answers_is_not_the_first_k_in_sorted_order() -> None:
    pool = answers_by_length(60)
    picked = draw_sample(pool, 15, "receipts", "random")
    shortest = sorted(pool, key=lambda i: json.dumps(i.expected, sort_keys=True))[:15]
    assert len(picked) == 15 and len(set(ids(picked))) == 15
    assert set(ids(picked)) != set(ids(shortest))
    lengths = sorted(len(i.expected["address"]) for i in picked if isinstance(i.expected, dict))
    assert lengths[-1] > 15  # the 15 shortest would all be <= 15 characters


def test_random_sample_is_uniform_over_items() -> None:
    """Every item is drawn with probability k/n: over 300 seeds each of 30 items is picked about 100 times
    (binomial sd 8.2; the bounds are 6 sd away), whatever its answer."""
    pool = answers_by_length(30)
    counts = Counter(i.id for seed in range(300) for i in random_sample(pool, 10, seed))
    assert set(counts) == set(ids(pool))
    assert all(50 <= count <= 150 for count in counts.values()), counts


def test_random_sample_is_seeded_and_ignores_file_order() -> None:
    pool = answers_by_length(40)
    assert ids(random_sample(pool, 8, 3)) == ids(random_sample(list(reversed(pool)), 8, 3))
    assert ids(random_sample(pool, 8, 3)) != ids(random_sample(pool, 8, 4))
    assert sorted(ids(random_sample(pool, 100, 3))) == sorted(ids(pool))
    assert random_sample(pool, 0, 3) == [] and random_sample([], 5, 3) == []


# ------------------------------------------------------------------------- choices: the natural label mix


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_natural_sample_keeps_the_datas_label_mix(seed: int) -> None:
    pool = items_with({"ham": 90, "spam": 10})
    assert Counter(str(i.expected) for i in natural_sample(pool, 20, seed)) == {"ham": 18, "spam": 2}
    assert Counter(str(i.expected) for i in balanced_sample(pool, 20, seed)) == {"ham": 10, "spam": 10}


def test_natural_sample_rounds_by_largest_remainder() -> None:
    pool = items_with({"a": 5, "b": 3, "c": 2})
    assert Counter(str(i.expected) for i in natural_sample(pool, 4, 0)) == {"a": 2, "b": 1, "c": 1}
    assert Counter(str(i.expected) for i in natural_sample(pool, 10, 0)) == {"a": 5, "b": 3, "c": 2}


def test_natural_sample_is_seeded_and_mixed() -> None:
    pool = items_with({"ham": 30, "spam": 30})
    first = ids(natural_sample(pool, 10, 5))
    assert first == ids(natural_sample(pool, 10, 5))
    assert first != ids(natural_sample(pool, 10, 6))
    assert len(set(first)) == 10
    labels = [i.expected for i in natural_sample(pool, 10, 5)]
    assert labels != sorted(labels)  # shuffled together, not one label after the other


def task(mode: str, **extra: Any) -> TaskSpec:
    answer: dict[str, Any] = {"mode": mode}
    if mode == "choices":
        answer["choices"] = ["a", "b"]
    return TaskSpec.model_validate({"id": "t", "dataset": {"path": "x.jsonl"}, "answer": answer,
                                    "scorers": ["accuracy"], **extra})


def test_sample_kind_per_answer_mode() -> None:
    assert sample_kind(task("choices")) == "balanced"
    assert sample_kind(task("choices", sample="natural")) == "natural"
    assert sample_kind(task("text")) == "random"
    assert sample_kind(task("json", sample="balanced")) == "random"


def test_sample_description_for_the_manifest() -> None:
    assert sample_description(task("choices", sample="natural"), None) == "all"
    assert sample_description(task("choices", sample="natural"), 5) == "natural"
    assert sample_description(task("text"), 5) == "random"
    lm_eval = TaskSpec.model_validate({"id": "t", "dataset": {"kind": "lm_eval", "task": "x"},
                                       "answer": {"mode": "choices"}, "scorers": ["lm_eval"]})
    assert sample_description(lm_eval, 5) == "first"
