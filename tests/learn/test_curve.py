"""bench.learn.curve: a measured curve rises on average and `all` is 100% of optimum; intervals; labels to reach."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from bench.errors import SpecError
from bench.learn.classifiers import make_classifier
from bench.learn.curve import ALL, CurveConfig, Fit, Point, check_config, labels_to_reach, points, run_curve, t_interval
from bench.learn.curve_task import label_task
from bench.suite.load import load_suite

SUITES = Path(__file__).resolve().parents[2] / "suites"


def test_ticket_triage_curve_rises_on_average_and_all_is_100() -> None:
    task = label_task(load_suite(SUITES / "ticket-triage.yaml"), "ticket-triage")
    config = CurveConfig("tfidf_logreg", (8, 32, 128), seeds=3)
    fits = list(run_curve(task, config, lambda seed: make_classifier("tfidf_logreg", seed)))
    assert len(fits) == 3 * (1 + 2 * 3)
    for metric in ("accuracy", "macro_f1"):
        curve = points(fits, metric)
        full = [p for p in curve if p.strategy == ALL]
        assert len(full) == 1 and full[0].labels == 350
        assert full[0].pct_mean == 100.0 and (full[0].pct_low, full[0].pct_high) == (100.0, 100.0)
        by_labels = [np.mean([p.pct_mean for p in curve if p.labels == n]) for n in (8, 32, 128, 350)]
        assert by_labels == sorted(by_labels), by_labels  # monotone on average over strategies
        assert by_labels[0] < 80.0  # 8 labels are far from the optimum here: the curve measures something


def test_every_strategy_starts_from_the_same_cold_start() -> None:
    task = label_task(load_suite(SUITES / "ticket-triage.yaml"), "ticket-triage")
    fits = list(run_curve(task, CurveConfig("tfidf_logreg", (8, 16), seeds=1),
                          lambda seed: make_classifier("tfidf_logreg", seed)))
    first = {f.strategy: f for f in fits if f.labels == 8}
    assert first["random"].train_ids == first["uncertainty"].train_ids
    assert len(set(first["random"].train_ids)) == 8


def test_t_interval_matches_the_formula() -> None:
    mean, low, high = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert low is not None and high is not None
    assert math.isclose(high - mean, 4.302652729911275 / math.sqrt(3), rel_tol=1e-9)  # t(0.975, 2) * s / sqrt(n)
    assert t_interval([0.5]) == (0.5, None, None)


def fit(strategy: str, labels: int, seed: int, accuracy: float) -> Fit:
    return Fit(strategy, labels, seed, {"accuracy": accuracy}, [], [], 0.0, 0.0)


def test_percent_of_optimum_is_per_seed() -> None:
    fits = [fit(ALL, 100, 0, 0.8), fit(ALL, 100, 1, 0.5), fit("random", 8, 0, 0.4), fit("random", 8, 1, 0.5)]
    point = next(p for p in points(fits, "accuracy") if p.strategy == "random")
    assert point.pct_mean == pytest.approx(75.0)  # (50% + 100%) / 2
    assert point.mean == pytest.approx(0.45)


def test_intervals_are_clipped_to_the_metric_range() -> None:
    # 2 seeds: t(0.975, 1) = 12.7, so the raw intervals reach below 0 (and above 1): accuracy -0.007..0.447 in the
    # tester's run. Scores are clipped to [0, 1], % of optimum to >= 0 (it may exceed 100).
    fits = [fit(ALL, 36, 0, 0.98), fit(ALL, 36, 1, 1.0), fit("random", 3, 0, 0.2), fit("random", 3, 1, 0.24),
            fit("uncertainty", 3, 0, 0.98), fit("uncertainty", 3, 1, 1.0)]
    low = next(p for p in points(fits, "accuracy") if p.strategy == "random")
    assert (low.ci_low, low.pct_low) == (0.0, 0.0)
    raw_low = t_interval([0.2, 0.24])[1]
    assert raw_low is not None and raw_low < 0  # the unclipped end
    assert low.ci_high == pytest.approx(0.22 + 12.706204736 * 0.02 * math.sqrt(2) / math.sqrt(2), rel=1e-6)
    high = next(p for p in points(fits, "accuracy") if p.strategy == "uncertainty")
    assert high.ci_high == 1.0 and high.pct_high == pytest.approx(100.0)
    assert high.ci_low is not None and high.ci_low < 0.98  # only the end past the range moves


def point(strategy: str, labels: int, pct: float) -> Point:
    return Point(strategy, labels, "accuracy", 0.0, None, None, pct, None, None, 1)


def test_labels_to_reach() -> None:
    curve = [point("random", 8, 50.0), point("random", 16, 85.0), point("uncertainty", 8, 91.0), point(ALL, 300, 100.0)]
    assert labels_to_reach(curve, "random", 80.0) == 16
    assert labels_to_reach(curve, "random", 90.0) == 300
    assert labels_to_reach(curve, "uncertainty", 90.0) == 8
    assert labels_to_reach([point("random", 8, 50.0)], "random", 80.0) is None


@pytest.mark.parametrize(("config", "message"), [
    (CurveConfig("tfidf_logreg", (8, 400)), "--labels: 400 labels is more than the 350 items of the train pool"),
    (CurveConfig("tfidf_logreg", (1, 8)), "--labels: 1 labels cannot train a classifier"),
    (CurveConfig("tfidf_logreg", (8,), strategies=("random", "greedy")), "--strategy: unknown strategy 'greedy'"),
    (CurveConfig("tfidf_logreg", (8,), query="entropy"), "--query: unknown query 'entropy'"),
    (CurveConfig("tfidf_logreg", (2, 8)), "--labels: 2 labels is fewer than the 7 classes of task 'tickets': some "
     "class would have no example (use at least 7 labels, or 'all')"),
    (CurveConfig("tfidf_logreg", (8,), strategies=()), "--strategy: no strategy given"),
])
def test_bad_configs(config: CurveConfig, message: str) -> None:
    with pytest.raises(SpecError) as exc:
        check_config(config, 350, "suites/data/ticket_triage/train_pool.jsonl", ("tickets", 7))
    assert message in str(exc.value) and "\n" not in str(exc.value)
