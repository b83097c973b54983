"""Policies replayed on hand-computed records: ordering at equal call rate, costs, honest 2-fold selection."""

from __future__ import annotations

import numpy as np
import pytest

from bench.cost.rows import THIS_MACHINE
from bench.errors import RunError
from bench.route.replay import RouteOptions, cross_fit, fit_max_loss, replay, split
from tests.route.routes import LARGE_USD, SMALL_USD, informative, pair


def test_oracle_beats_threshold_beats_random_at_equal_call_rate() -> None:
    result = replay(informative(), RouteOptions(draws=100))
    points = result.points
    compared = 0
    for i, point in enumerate(points):
        if point.policy != "threshold" or point.outcome.share_large in (0.0, 1.0):
            continue
        rand, best = points[i + 1], points[i + 2]
        assert (rand.policy, best.policy) == ("random", "oracle-at-rate")
        assert rand.outcome.share_large == pytest.approx(point.outcome.share_large)
        assert best.outcome.accuracy >= point.outcome.accuracy >= rand.outcome.accuracy
        compared += 1
    assert compared >= 5


def test_baselines_and_oracle_by_hand() -> None:
    by_policy = {p.policy: p for p in replay(informative(), RouteOptions()).points if p.target_share is None}
    assert by_policy["always-small"].outcome.accuracy == pytest.approx(7 / 12)
    assert by_policy["always-large"].outcome.accuracy == pytest.approx(10 / 12)
    # oracle: small's 7 right + the 4 items only the large model gets right = 11 / 12, 4 calls to the large model
    assert by_policy["oracle"].outcome.accuracy == pytest.approx(11 / 12)
    assert by_policy["oracle"].outcome.share_large == pytest.approx(4 / 12)


def test_cascade_cost_is_small_everywhere_plus_large_on_escalated() -> None:
    for point in replay(informative(), RouteOptions(draws=10)).points:
        share = point.outcome.share_large
        here = point.usd_per_1000_tasks[THIS_MACHINE]
        assert here["cascade"] == pytest.approx(1000 * (SMALL_USD + share * LARGE_USD))
        assert here["router"] == pytest.approx(1000 * ((1 - share) * SMALL_USD + share * LARGE_USD))
        api = point.usd_per_1000_tasks["api:hosted"]  # the small model here, the large one as a hosted API
        assert api["cascade"] == pytest.approx(1000 * (SMALL_USD + share * 0.02))


def test_split_is_seeded_disjoint_and_complete() -> None:
    a, b = split(11, seed=3)
    again = split(11, seed=3)
    assert (a == again[0]).all() and (b == again[1]).all()
    assert sorted([*a.tolist(), *b.tolist()]) == list(range(11)) and abs(len(a) - len(b)) <= 1
    assert not (split(11, seed=4)[0].tolist() == a.tolist() and split(11, seed=5)[0].tolist() == a.tolist())


def test_each_half_is_decided_by_the_cut_fitted_on_the_other() -> None:
    conf = np.array([0.1, 0.9, 0.4, 0.6, 0.8, 0.2, 0.7, 0.3])
    folds = split(conf.size, seed=0)
    seen: list[list[int]] = []

    def fit(positions: np.ndarray) -> float:
        seen.append(sorted(positions.tolist()))
        return float(conf[positions].mean())

    escalate, cuts = cross_fit(conf, folds, fit)
    a, b = folds
    assert seen == [sorted(a.tolist()), sorted(b.tolist())]
    assert cuts == [pytest.approx(conf[a].mean()), pytest.approx(conf[b].mean())]
    assert (escalate[b] == (conf[b] < conf[a].mean())).all()
    assert (escalate[a] == (conf[a] < conf[b].mean())).all()


def test_fit_max_loss_by_hand() -> None:
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    small, large = np.array([1, 1, 0, 0.0]), np.ones(4)
    assert fit_max_loss(conf, small, large, 0.0) == 0.8  # no loss: escalate the two the small model misses
    assert fit_max_loss(conf, small, large, 0.25) == 0.7  # a quarter point lost: escalate only the least sure
    assert fit_max_loss(conf, np.zeros(4), large, 0.0) == np.inf  # a useless small model: escalate all


def test_headline_is_cross_fitted_and_reports_savings() -> None:
    result = replay(informative(), RouteOptions(max_loss=0.01))
    head = result.headline
    assert len(head["cuts"]) == 2
    share_large = 1 - head["share_kept_small"]
    assert head["usd_saved_per_1000_tasks"]["cascade"] == pytest.approx(
        1000 * (LARGE_USD - (SMALL_USD + share_large * LARGE_USD)))
    assert head["loss"] == pytest.approx(head["always_large_accuracy"] - head["accuracy"])
    assert result.routellm["apgr"] is not None and result.calibration is not None
    assert result.calibration["bins"] == 10


def test_bad_inputs_are_run_errors() -> None:
    with pytest.raises(RunError, match="outside the range of signal 'max_prob'"):
        replay(informative(), RouteOptions(thresholds=(1.5,)))
    with pytest.raises(RunError, match=r"'token_logprob_mean'.*they carry max_prob, margin"):
        replay(informative(), RouteOptions(signal="token_logprob_mean"))
    with pytest.raises(RunError, match="not a signal"):
        replay(informative(), RouteOptions(signal="confidence"))
    with pytest.raises(RunError, match="no confidence signal"):
        replay(pair([1, 0, 1, 0], [1, 1, 1, 1], [None] * 4), RouteOptions())
    with pytest.raises(RunError, match="at least 4"):
        replay(pair([1, 0], [1, 1], [0.9, 0.5]), RouteOptions())


@pytest.mark.parametrize(("signal", "cut"), [("margin", 0.5), ("entropy", 0.25)])
def test_fixed_thresholds_in_the_signals_own_direction(signal: str, cut: float) -> None:
    result = replay(informative(), RouteOptions(signal=signal, thresholds=(cut,)))
    fixed = next(p for p in result.points if p.policy == "fixed-threshold")
    # margin = 2p - 1 >= 0.5 and entropy (here 1 - p) <= 0.25 both mean p >= 0.75: the 6 confident items stay small
    assert fixed.outcome.share_large == pytest.approx(6 / 12) and fixed.cuts == [cut]
    assert result.signal.name == signal


def test_pareto_frontier_keeps_only_undominated_points() -> None:
    from bench.route.plot import pareto

    points = [(1.0, 50.0), (2.0, 45.0), (2.0, 60.0), (3.0, 60.0), (4.0, 70.0), (0.5, 40.0)]
    assert pareto(points) == [(0.5, 40.0), (1.0, 50.0), (2.0, 60.0), (4.0, 70.0)]
