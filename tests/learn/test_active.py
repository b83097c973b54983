"""bench.learn.active: the stratified cold start, nested query rounds, random vs uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from bench.learn.active import Pool, cold_start, expand, query_strategy, rounds, seeded
from bench.learn.classifiers import make_classifier
from tests.learn_suite import rows


def pool() -> Pool:
    items = rows("p", 12, 0)
    return Pool([r["text"] for r in items], [r["label"] for r in items], ["billing", "shipping", "account"])


def test_cold_start_is_stratified_and_seeded() -> None:
    p = pool()
    first = cold_start(p, 6, seed=1)
    assert sorted(p.labels[i] for i in first) == ["account"] * 2 + ["billing"] * 2 + ["shipping"] * 2
    assert list(first) == list(cold_start(p, 6, seed=1))
    assert list(first) != list(cold_start(p, 6, seed=2))


def test_cold_start_below_the_number_of_classes_still_has_two_labels() -> None:
    p = pool()
    assert all(len({p.labels[i] for i in cold_start(p, 2, seed)}) == 2 for seed in range(5))


def test_seeded_restores_numpy_state() -> None:
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    with seeded(3):
        np.random.rand()
    assert np.random.rand() == expected


@pytest.mark.parametrize("strategy", ["random", "uncertainty"])
def test_rounds_are_nested_and_reach_each_budget(strategy: str) -> None:
    p = pool()
    factory = lambda: make_classifier("tfidf_logreg", 0)  # noqa: E731
    got = list(rounds(p, [4, 10, 20], factory, query_strategy(strategy, "margin"), seed=0))
    assert [len(r.indices) for r in got] == [4, 10, 20]
    assert set(got[0].indices) < set(got[1].indices) < set(got[2].indices)
    assert len(set(got[2].indices)) == 20


def test_uncertainty_asks_for_other_items_than_random() -> None:
    p = pool()
    picks = {}
    for strategy in ("random", "uncertainty"):
        for query in ("margin", "least-confidence"):
            got = list(rounds(p, [3, 12], lambda: make_classifier("tfidf_logreg", 0),
                              query_strategy(strategy, query), seed=0))
            picks[strategy, query] = set(got[1].indices) - set(got[0].indices)
    assert picks["random", "margin"] == picks["random", "least-confidence"]
    assert picks["uncertainty", "margin"] != picks["random", "margin"]


def test_expand_widens_columns_to_all_classes() -> None:
    wide = expand(np.array([[0.25, 0.75]]), ["c", "a"], ["a", "b", "c"])
    assert wide.tolist() == [[0.75, 0.0, 0.25]]


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'greedy'"):
        query_strategy("greedy", "margin")
