"""The routing figure: quality vs cost of every policy with the Pareto frontier, and the small model's
reliability diagram (matplotlib Figure objects; saving and SVG embedding as bench.report.plots does)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from matplotlib.figure import Figure

from bench.cost.rows import THIS_MACHINE
from bench.route.replay import Point, Replay

if TYPE_CHECKING:
    from matplotlib.axes import Axes

STYLE = {  # policy -> (colour, marker, line style or None for single points)
    "threshold": ("#1f77b4", "o", "-"), "random": ("#8c8c8c", ".", "--"), "oracle-at-rate": ("#2ca02c", "^", ":"),
    "always-small": ("#ff7f0e", "s", None), "always-large": ("#d62728", "D", None), "oracle": ("#2ca02c", "*", None),
    "fixed-threshold": ("#9467bd", "X", None)}
ATTAINABLE = ("threshold", "fixed-threshold", "always-small", "always-large")
"""The policies a deployment can run: the Pareto frontier is drawn over these (random is dominated by design, the
oracle needs the answers' correctness)."""


def x_of(point: Point, by_cost: bool) -> float:
    """Cascade USD per 1000 tasks on this machine, or (no cost figure) the share of large-model calls in %."""
    usd = point.usd_per_1000_tasks.get(THIS_MACHINE, {}).get("cascade")
    return float(usd) if by_cost and usd is not None else 100 * point.outcome.share_large


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both (lower x, higher y), sorted by x."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or y > front[-1][1]:
            front.append((x, y))
    return front


def figure(result: Replay) -> Figure:
    """Two panels: quality vs cost (policies and the Pareto frontier) and the reliability diagram."""
    fig = Figure(figsize=(11, 4.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    _tradeoff(left, result)
    _reliability(right, result)
    fig.suptitle(f"{result.pair.task_id}: {result.pair.small.model_id} -> {result.pair.large.model_id} "
                 f"(signal {result.signal.name})", fontsize=12)
    return fig


def _tradeoff(ax: Axes, result: Replay) -> None:
    by_cost = all(p.usd_per_1000_tasks.get(THIS_MACHINE, {}).get("cascade") is not None for p in result.points)
    for policy, (colour, marker, line) in STYLE.items():
        chosen = [p for p in result.points if p.policy == policy]
        if not chosen:
            continue
        xy = sorted((x_of(p, by_cost), 100 * p.outcome.accuracy) for p in chosen)
        ax.plot([x for x, _ in xy], [y for _, y in xy], marker=marker, linestyle=line or "none", color=colour,
                label=policy, markersize=7 if line is None else 5)
    front = pareto([(x_of(p, by_cost), 100 * p.outcome.accuracy) for p in result.points if p.policy in ATTAINABLE])
    ax.step([x for x, _ in front], [y for _, y in front], where="post", color="black", linewidth=0.8,
            linestyle="-.", label="Pareto frontier")
    ax.set_xlabel("cascade $ per 1000 tasks (this machine)" if by_cost else "calls to the large model (%)")
    ax.set_ylabel(f"{result.pair.metric} (%)")
    ax.set_title("quality vs cost, thresholds cross-fitted (2-fold)", fontsize=11)
    ax.legend(fontsize=8)


def _reliability(ax: Axes, result: Replay) -> None:
    cal = result.calibration
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("small model's max option probability")
    ax.set_ylabel(f"mean {result.pair.metric}")
    if cal is None:
        ax.text(0.5, 0.5, "no option probabilities\n(generation task): no ECE", ha="center", va="center",
                color="0.4")
        ax.set_title("reliability diagram", fontsize=11)
        return
    width = 1 / cal["bins"]
    for low, count, conf, score in cal["rows"]:
        if count:
            ax.bar(low, score, width=width, align="edge", color="#1f77b4", alpha=0.55, edgecolor="white")
            ax.plot(conf, score, "o", color="#1f77b4", markersize=3)
    ax.set_title(f"reliability diagram: ECE {cal['ece']:.3f} ({cal['bins']} equal-width bins, n={cal['n']})",
                 fontsize=11)
