"""Tests for bench.tasks.sampling.balanced_sample: determinism and label balance."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.tasks.items import Item
from bench.tasks.sampling import balanced_sample


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
