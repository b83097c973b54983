"""Offline replay of routing policies over a Pair of records (docs/routing.md), with thresholds fitted honestly.

Threshold curve: for each target share of large-model calls (0, 10%, ..., 100%, RouteLLM's 10 equal bins), the
items are split in two seeded halves; the cut that escalates that share of one half (the least confident items) is
applied to the other half, and the other way round (2-fold cross-fitting). Each item's decision therefore comes
from a cut fitted on items it is not one of, and the curve is reported on every item. The headline cut (the
largest share the small model keeps at <= `max_loss` accuracy loss vs always-large) is fitted the same way.
Random (same number of escalated items, averaged over seeded draws) and the oracle capped at the same number are
evaluated at each point's realised share.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bench.cost.rows import THIS_MACHINE
from bench.errors import RunError
from bench.route import policies
from bench.route.metrics import Outcome, apgr, calibration, cascade_usd, cpt, outcome, router_usd
from bench.route.pairs import Pair
from bench.route.signals import Signal, pick_signal, values_of, within_options

SHARES = tuple(i / 10 for i in range(11))


@dataclass(frozen=True)
class RouteOptions:
    """signal: a signals.SIGNALS name (None: the default present); thresholds: fixed cuts in the signal's units,
    evaluated on all items; seed: the 2-fold split and the random draws; max_loss: accuracy loss (0-1) allowed
    for the headline; bins: ECE bins; draws: random decisions averaged per point."""

    signal: str | None = None
    thresholds: tuple[float, ...] = ()
    seed: int = 0
    max_loss: float = 0.01
    bins: int = 10
    draws: int = 200


@dataclass
class Point:
    """One policy at one operating point, with USD per 1000 tasks per cost option: {"cascade", "router"}."""

    policy: str
    outcome: Outcome
    target_share: float | None = None
    cuts: list[float] = field(default_factory=list)
    """The threshold(s) in the signal's units: one for a fixed threshold, one per fold for a fitted one."""
    usd_per_1000_tasks: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON: the outcome's fields inline."""
        return {"policy": self.policy, "target_share": self.target_share, "cuts": self.cuts,
                **asdict(self.outcome), "usd_per_1000_tasks": self.usd_per_1000_tasks}


@dataclass
class Replay:
    """Everything `bench route` reports for one task."""

    pair: Pair
    signal: Signal
    coverage: float
    points: list[Point]
    headline: dict[str, Any]
    routellm: dict[str, Any]
    calibration: dict[str, Any] | None
    options: RouteOptions
    cost_bases: dict[str, str]


def replay(pair: Pair, options: RouteOptions) -> Replay:
    """All policies on `pair`; RunError (exit 2) for a missing signal or a threshold outside its range."""
    signal = pick_signal(pair.small.confidence, options.signal, pair.small.model_id)
    signal = within_options(signal, [len(c.option_probs) for c in pair.small.confidence
                                     if c is not None and c.option_probs])
    for cut in options.thresholds:
        signal.check_threshold(cut)
    conf = signal.oriented(values_of(pair.small.confidence, signal.name))
    folds = split(pair.n, options.seed)
    points = baseline_points(pair) + curve(pair, conf, folds, options) + fixed(pair, conf, signal, options)
    costs = cost_options(pair)
    for point in points:
        point.usd_per_1000_tasks = usd_per_1000(point.outcome.share_large, costs)
    curve_points = [p for p in points if p.policy == "threshold"]
    return Replay(pair, signal, float(np.mean(~np.isnan(conf))), points,
                  headline(pair, conf, folds, options, signal), routellm(pair, curve_points),
                  calibration_of(pair, options.bins), options, {**pair.large.bases, **pair.small.bases})


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of the item positions (a seeded permutation); RunError below 4 items."""
    if n < 4:
        raise RunError(f"{n} paired items: routing needs at least 4 to fit thresholds on one half and report on "
                       "the other")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2:])


def cross_fit(conf: np.ndarray, folds: tuple[np.ndarray, np.ndarray],
              fit: Any) -> tuple[np.ndarray, list[float]]:
    """Decisions with the cut `fit(positions)` fitted on one half applied to the other, both ways; and the cuts."""
    escalate = np.zeros(conf.size, dtype=bool)
    cuts = []
    for fit_on, apply_to in (folds, folds[::-1]):
        cut = float(fit(fit_on))
        escalate[apply_to] = policies.threshold(conf[apply_to], cut)
        cuts.append(cut)
    return escalate, cuts


def baseline_points(pair: Pair) -> list[Point]:
    """always-small, always-large and the (uncapped) oracle."""
    n = pair.n
    return [_point(pair, "always-small", policies.always_small(n)),
            _point(pair, "always-large", policies.always_large(n)),
            _point(pair, "oracle", policies.oracle(pair.small.scores, pair.large.scores))]


def curve(pair: Pair, conf: np.ndarray, folds: tuple[np.ndarray, np.ndarray], options: RouteOptions) -> list[Point]:
    """The cross-fitted threshold sweep, each point with random and the capped oracle at its realised share."""
    out = []
    for share in SHARES:
        escalate, cuts = cross_fit(conf, folds, lambda pos, s=share: policies.cut_for_share(conf[pos], s))
        point = _point(pair, "threshold", escalate)
        point.target_share, point.cuts = share, cuts
        out += [point, *_equal_rate(pair, escalate, options, share)]
    return out


def fixed(pair: Pair, conf: np.ndarray, signal: Signal, options: RouteOptions) -> list[Point]:
    """Each --threshold on every item (a cut chosen before looking is not tuned), with random and oracle."""
    out = []
    for cut in options.thresholds:
        escalate = policies.threshold(conf, signal.oriented(np.array([cut]))[0])
        point = _point(pair, "fixed-threshold", escalate)
        point.cuts = [cut]
        out += [point, *_equal_rate(pair, escalate, options, None)]
    return out


def _equal_rate(pair: Pair, escalate: np.ndarray, options: RouteOptions, share: float | None) -> list[Point]:
    k = int(escalate.sum())
    rand = _point_random(pair, k, options)
    best = _point(pair, "oracle-at-rate", capped_oracle(pair.small.scores, pair.large.scores, k))
    rand.target_share = best.target_share = share
    return [rand, best]


def capped_oracle(small: np.ndarray, large: np.ndarray, k: int) -> np.ndarray:
    """At most `k` escalations, to the items the large model improves most (RouteLLM's optimal curve)."""
    gain = large - small
    order = np.argsort(-gain, kind="stable")[:k]
    escalate = np.zeros(small.size, dtype=bool)
    escalate[order[gain[order] > 0]] = True
    return escalate


def _point(pair: Pair, policy: str, escalate: np.ndarray) -> Point:
    return Point(policy, outcome(escalate, pair.small.scores, pair.large.scores,
                                 (pair.small.latency_s, pair.large.latency_s)))


def _point_random(pair: Pair, k: int, options: RouteOptions) -> Point:
    """Random routing escalating exactly k items: each figure averaged over `options.draws` seeded draws (its CI
    the averaged Wilson bounds)."""
    draws = policies.random_draws(pair.n, k, options.seed, options.draws)
    outcomes = [outcome(row, pair.small.scores, pair.large.scores, (pair.small.latency_s, pair.large.latency_s))
                for row in draws]
    mean = {name: float(np.mean([getattr(o, name) for o in outcomes])) for name in Outcome.__dataclass_fields__}
    return Point("random", Outcome(**mean))


CostOptions = dict[str, tuple[float | None, float | None]]


def cost_options(pair: Pair) -> CostOptions:
    """Cost option -> (small, large) USD per task: this machine and every hardware profile both models were priced
    on; and each hosted API as the large side ("api:MODEL") with the small model on this machine."""
    options: CostOptions = {}
    keys = set(pair.small.usd_per_task) | set(pair.large.usd_per_task)
    for key in sorted(keys, key=lambda k: (k != THIS_MACHINE, k)):
        options[key] = (pair.small.usd_per_task.get(key), pair.large.usd_per_task.get(key))
    for model, usd in sorted(pair.api_usd_per_task.items()):
        options[f"api:{model}"] = (pair.small.usd_per_task.get(THIS_MACHINE), usd)
    return options


def usd_per_1000(share: float, costs: CostOptions) -> dict[str, dict[str, float | None]]:
    """Cost option -> {"cascade", "router"} USD per 1000 tasks at this share of large-model calls."""
    return {key: {"cascade": _per_1000(cascade_usd(share, s, big)), "router": _per_1000(router_usd(share, s, big))}
            for key, (s, big) in costs.items()}


def _per_1000(usd: float | None) -> float | None:
    return None if usd is None else usd * 1000


def headline(pair: Pair, conf: np.ndarray, folds: tuple[np.ndarray, np.ndarray], options: RouteOptions,
             signal: Signal) -> dict[str, Any]:
    """The largest share the small model keeps at <= max_loss accuracy loss vs always-large (cut fitted on one
    half, reported on the other, both ways), and the USD saved per 1000 tasks there on this machine."""
    small, large = pair.small.scores, pair.large.scores
    escalate, cuts = cross_fit(conf, folds, lambda pos: fit_max_loss(conf[pos], small[pos], large[pos],
                                                                     options.max_loss))
    got = outcome(escalate, small, large, (pair.small.latency_s, pair.large.latency_s))
    s_usd, l_usd = pair.small.usd_per_task.get(THIS_MACHINE), pair.large.usd_per_task.get(THIS_MACHINE)
    large_acc = float(large.mean())
    return {"max_loss": options.max_loss, "share_kept_small": 1 - got.share_large, "cuts": _in_units(cuts, signal),
            "accuracy": got.accuracy, "ci_low": got.ci_low, "ci_high": got.ci_high,
            "always_large_accuracy": large_acc, "loss": large_acc - got.accuracy,
            "within_max_loss": large_acc - got.accuracy <= options.max_loss + 1e-12,
            "usd_saved_per_1000_tasks": saved_per_1000(got.share_large, s_usd, l_usd),
            "cascade_p95_s": got.cascade_p95_s}


def saved_per_1000(share: float, small_usd: float | None, large_usd: float | None) -> dict[str, float | None]:
    """USD per 1000 tasks saved vs always-large by the cascade and by the router (negative: it costs more)."""
    out: dict[str, float | None] = {}
    for kind, cost in (("cascade", cascade_usd), ("router", router_usd)):
        usd = cost(share, small_usd, large_usd)
        out[kind] = None if usd is None or large_usd is None else (large_usd - usd) * 1000
    return out


def _in_units(cuts: list[float], signal: Signal) -> list[float]:
    """Oriented cuts back in the signal's own units (entropy: negated back)."""
    return [c if signal.higher_is_confident else -c for c in cuts]


def fit_max_loss(conf: np.ndarray, small: np.ndarray, large: np.ndarray, max_loss: float) -> float:
    """The cut escalating the fewest of these items while their hybrid accuracy stays >= always-large - max_loss
    (ties: the more accurate); +inf (all escalated) always qualifies."""
    floor = float(large.mean()) - max_loss - 1e-12
    candidates = [-math.inf, *np.unique(conf[~np.isnan(conf)]).tolist(), math.inf]
    best: tuple[float, float, float] | None = None
    for cut in candidates:
        escalate = policies.threshold(conf, cut)
        acc = float(np.where(escalate, large, small).mean())
        if acc >= floor and (best is None or (escalate.mean(), -acc) < (best[0], best[1])):
            best = (float(escalate.mean()), -acc, cut)
    assert best is not None
    return best[2]


def routellm(pair: Pair, curve_points: list[Point]) -> dict[str, Any]:
    """APGR and CPT(50%), CPT(80%) of the cross-fitted threshold curve (weak = always-small, strong = always-large);
    None with a note when the large model is not better than the small one."""
    weak, strong = float(pair.small.scores.mean()), float(pair.large.scores.mean())
    shares = [p.outcome.share_large for p in curve_points]
    scores = [p.outcome.accuracy for p in curve_points]
    out: dict[str, Any] = {"weak": weak, "strong": strong, "apgr": apgr(shares, scores, weak, strong),
                           "cpt_50": cpt(shares, scores, weak, strong, 0.5),
                           "cpt_80": cpt(shares, scores, weak, strong, 0.8)}
    if strong <= weak:
        out["note"] = (f"the large model is not better than the small one here ({strong:.3f} vs {weak:.3f}): "
                       "no gap to recover")
    return out


def calibration_of(pair: Pair, bins: int) -> dict[str, Any] | None:
    """ECE and reliability bins of the small model's max option probability; None without option probabilities."""
    found = calibration(values_of(pair.small.confidence, "max_prob"), pair.small.scores, bins)
    return None if found is None else asdict(found)
