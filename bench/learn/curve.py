"""Label-efficiency curves: a task's scores versus the number of labels a classifier was trained on, for random
sampling and uncertainty-based active learning (bench.learn.active), over several seeds.

Each seed runs one active-learning sequence per strategy through the label budgets (the same stratified cold
start for every strategy), plus one fit on the whole pool (`all`, the optimum of that seed). A point is the mean
over seeds with a 95% Student-t interval (mean ± t(0.975, n-1)·s/√n), for every label scorer of the task, and
as "% of optimum" = 100 · score / (the same seed's score with all labels): exactly 100 at `all`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.errors import Problem, SpecError
from bench.learn.active import QUERIES, STRATEGIES, Round, query_strategy, rounds
from bench.learn.classifiers import TextClassifier
from bench.learn.curve_task import LabelTask

ALL = "all"
TARGETS = (80.0, 90.0, 95.0)
"""% of optimum whose label counts are reported."""


@dataclass(frozen=True)
class CurveConfig:
    """What to measure: classifier `kind` (+ params), label budgets (ints ascending; `all` is always added), the
    strategies, the number of seeds (seeds 0..seeds-1) and the uncertainty query (least-confidence or margin)."""

    kind: str
    budgets: tuple[int, ...]
    strategies: tuple[str, ...] = STRATEGIES
    seeds: int = 5
    query: str = "margin"
    params: dict[str, Any] = field(default_factory=dict)


def _bad(location: str, message: str, hint: str) -> SpecError:
    return SpecError([Problem("bench learn-curve", location, message, hint)])


def check_config(config: CurveConfig, pool_size: int, pool_file: str, task: tuple[str, int]) -> None:
    """SpecError (one line) for no strategy, an unknown strategy or query, or a label budget below 2, below the
    number of classes of `task` (its id, its class count; as the `trained` backend refuses) or above the pool."""
    if not config.strategies:
        raise _bad("--strategy", "no strategy given", f"use one or more of {', '.join(STRATEGIES)}, comma-separated")
    for strategy in config.strategies:
        if strategy not in STRATEGIES:
            raise _bad("--strategy", f"unknown strategy '{strategy}'", f"use {', '.join(STRATEGIES)}")
    if config.query not in QUERIES:
        raise _bad("--query", f"unknown query '{config.query}'", f"use {', '.join(QUERIES)}")
    for budget in config.budgets:
        if budget < 2:
            raise _bad("--labels", f"{budget} labels cannot train a classifier", "use at least 2 labels")
        if budget < task[1]:
            raise _bad("--labels", f"{budget} labels is fewer than the {task[1]} classes of task '{task[0]}': some "
                       "class would have no example", f"use at least {task[1]} labels, or 'all'")
        if budget > pool_size:
            raise SpecError([Problem(pool_file, "--labels", f"{budget} labels is more than the {pool_size} items "
                                     "of the train pool", f"use at most {pool_size}, or 'all'")])


@dataclass(frozen=True)
class Fit:
    """One trained model: strategy (or `all`), labels it saw, seed, its scores on the test split, the predicted
    labels (test order), the pool ids it was trained on, fit time in seconds and test prediction time in seconds."""

    strategy: str
    labels: int
    seed: int
    scores: dict[str, float]
    predictions: list[str]
    train_ids: list[str]
    fit_s: float
    predict_s: float


def score(task: LabelTask, predicted: Sequence[str]) -> dict[str, float]:
    """Every label scorer's metrics over the test split: item scores averaged, corpus metrics (macro-F1) as is."""
    predictions = [task.prediction(label) for label in predicted]
    references = [item.expected for item in task.test]
    out: dict[str, float] = {}
    for scorer in task.scorers:
        items = [scorer.item(p, r) for p, r in zip(predictions, references, strict=True)]
        for name in items[0] if items else {}:
            out[name] = float(np.mean([s[name] for s in items]))
        out.update(scorer.corpus(predictions, references))
    return out


def evaluate(task: LabelTask, model: TextClassifier, indices: Sequence[int], run: tuple[str, int, float]) -> Fit:
    """A Fit of `model` (trained on pool `indices`; `run` = strategy, seed, fit seconds) scored on the test split."""
    start = time.perf_counter()
    proba = model.predict_proba(task.test_texts())
    predicted = [model.classes_[i] for i in np.asarray(proba).argmax(axis=1)]
    predict_s = time.perf_counter() - start
    ids = [task.pool_ids[i] for i in indices]
    return Fit(run[0], len(ids), run[1], score(task, predicted), predicted, ids, run[2], predict_s)


Factory = Callable[[int], TextClassifier]
"""seed -> a fresh, unfitted classifier."""


def _timed(source: Iterator[Round]) -> Iterator[tuple[Round, float]]:
    """Each round with the seconds spent producing it (query + fit)."""
    while True:
        start = time.perf_counter()
        try:
            item = next(source)
        except StopIteration:
            return
        yield item, time.perf_counter() - start


def seed_fits(task: LabelTask, config: CurveConfig, factory: Factory, seed: int) -> Iterator[Fit]:
    """The fits of one seed: `all` first, then each strategy's budgets in order."""
    start = time.perf_counter()
    model = factory(seed).fit(task.pool.texts, task.pool.labels)
    yield evaluate(task, model, range(len(task.pool.texts)), (ALL, seed, time.perf_counter() - start))
    for strategy in config.strategies if config.budgets else ():  # `--labels all` alone: the optimum only
        source = rounds(task.pool, config.budgets, lambda: factory(seed), query_strategy(strategy, config.query), seed)
        for point, seconds in _timed(source):
            yield evaluate(task, point.model, [int(i) for i in point.indices], (strategy, seed, seconds))


def run_curve(task: LabelTask, config: CurveConfig, factory: Factory) -> Iterator[Fit]:
    """Every fit of the curve, seed by seed (seeds 0..config.seeds-1)."""
    for seed in range(config.seeds):
        yield from seed_fits(task, config, factory, seed)


# --- aggregation (pure) ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """One curve point: strategy, labels, metric, mean over seeds with its 95% t-interval, the same for % of
    optimum, and n (seeds). Intervals are None with a single seed; they are clipped to the metric's range (scores
    to [0, 1], % of optimum to ≥ 0)."""

    strategy: str
    labels: int
    metric: str
    mean: float
    ci_low: float | None
    ci_high: float | None
    pct_mean: float
    pct_low: float | None
    pct_high: float | None
    n: int


def t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float | None, float | None]:
    """(mean, low, high): Student-t interval of the mean, mean ± t((1+c)/2, n-1)·s/√n; no interval for n < 2."""
    from scipy import stats

    data = np.asarray(values, dtype=np.float64)
    mean = float(data.mean())
    if len(data) < 2:
        return mean, None, None
    half = float(stats.t.ppf((1 + confidence) / 2, len(data) - 1) * data.std(ddof=1) / math.sqrt(len(data)))
    return mean, mean - half, mean + half


def _clipped(interval: tuple[float, float | None, float | None], low: float, high: float = math.inf
             ) -> tuple[float, float | None, float | None]:
    """(mean, low, high) with the interval's ends clipped to the metric's range [low, high] (a t-interval of a
    proportion can reach below 0 or above 1 with few seeds)."""
    mean, lo, hi = interval
    return (mean, None if lo is None else min(max(lo, low), high), None if hi is None else min(max(hi, low), high))


def _pct(value: float, optimum: float) -> float:
    return 100.0 * (value / optimum) if optimum > 0 else (100.0 if value >= optimum else 0.0)


def points(fits: Sequence[Fit], metric: str) -> list[Point]:
    """Curve points of `metric` for every (strategy, labels), the `all` point listed under strategy `all`."""
    optimum = {f.seed: f.scores[metric] for f in fits if f.strategy == ALL}
    keys = sorted({(f.strategy, f.labels) for f in fits}, key=lambda k: (k[0] == ALL, k[0], k[1]))
    out = []
    for strategy, labels in keys:
        group = [f for f in fits if (f.strategy, f.labels) == (strategy, labels)]
        mean, low, high = _clipped(t_interval([f.scores[metric] for f in group]), 0.0, 1.0)  # label scores: 0-1
        pct = _clipped(t_interval([_pct(f.scores[metric], optimum[f.seed]) for f in group]), 0.0)
        out.append(Point(strategy, labels, metric, mean, low, high, *pct, len(group)))
    return out


def labels_to_reach(curve: Sequence[Point], strategy: str, target: float) -> int | None:
    """The fewest labels whose mean % of optimum reaches `target` for `strategy` (the `all` point counts for every
    strategy), or None (not reached)."""
    for point in sorted(curve, key=lambda p: p.labels):
        if point.strategy in (strategy, ALL) and point.pct_mean >= target - 1e-9:
            return point.labels
    return None
