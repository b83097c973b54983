"""Routing decisions on hand-made arrays."""

from __future__ import annotations

import math

import numpy as np

from bench.route import policies


def test_threshold_escalates_below_the_cut_and_missing_signals() -> None:
    conf = np.array([0.9, 0.5, np.nan, 0.7])
    assert policies.threshold(conf, 0.7).tolist() == [False, True, True, False]
    assert policies.threshold(conf, -math.inf).tolist() == [False, False, True, False]
    assert policies.threshold(conf, math.inf).all()


def test_oracle_escalates_only_where_the_large_model_is_better() -> None:
    small, large = np.array([1, 0, 0, 1.0]), np.array([1, 1, 0, 0.0])
    assert policies.oracle(small, large).tolist() == [False, True, False, False]


def test_random_draws_escalate_exactly_k_and_are_seeded() -> None:
    draws = policies.random_draws(10, 3, seed=1, draws=50)
    assert (draws.sum(axis=1) == 3).all()
    assert (draws == policies.random_draws(10, 3, seed=1, draws=50)).all()


def test_cut_for_share() -> None:
    conf = np.array([0.1, 0.9, 0.5, 0.3, np.nan])
    assert policies.cut_for_share(conf, 0.0) == -math.inf
    assert policies.cut_for_share(conf, 1.0) == math.inf
    cut = policies.cut_for_share(conf, 0.4)  # the 2 least confident: the missing one and 0.1
    assert policies.threshold(conf, cut).tolist() == [True, False, False, False, True]
