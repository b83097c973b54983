"""Report figures from loaded runs: cost/quality Pareto, throughput by hardware, latency CDF, accuracy heat map.

Every function returns a `matplotlib.figure.Figure` (no pyplot, so no global figure registry); `save` writes
PNG and SVG. Measured and projected figures are drawn differently and the legends say which is which.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.metrics.aggregate import e2e_s
from bench.report.naming import cell_name
from bench.results.schema import CostRow

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from bench.api import RunData

COST_LABEL = "$ per 1000 tasks (log scale)"
TPS_LABEL = "tasks/s (log scale)"
LATENCY_LABEL = "e2e latency (s)"
ACCURACY_LABEL = "accuracy (%)"
PANEL_W, PANEL_H = 5.0, 4.2


@dataclass(frozen=True)
class Series:
    """One model of one run: a colour in every figure."""

    run_id: str
    model_id: str
    label: str
    color: str


# --- shared helpers -------------------------------------------------------------------------------------------

def task_ids(runs: Sequence[RunData]) -> list[str]:
    """Every task of every run, in first-seen order."""
    seen: dict[str, None] = {}
    for run in runs:
        seen.update(dict.fromkeys(run.summary.primary_metrics))
    return list(seen)


def primary_metric(runs: Sequence[RunData], task_id: str) -> str:
    return next(r.summary.primary_metrics[task_id] for r in runs if task_id in r.summary.primary_metrics)


def cell_names(run: RunData) -> dict[str, str]:
    """cell id -> the name figures use: the model, plus the load mode when it is not one request at a time."""
    return {cell.cell_id: cell_name(cell) for cell in run.summary.cells}


def series(runs: Sequence[RunData]) -> list[Series]:
    """(run, model[@load]) pairs in order; labelled by that name alone when there is one run."""
    pairs = [(run.run_id, name) for run in runs for name in cell_names(run).values()]
    unique = list(dict.fromkeys(pairs))
    colors = [f"C{i % 10}" for i in range(len(unique))]
    return [Series(run_id, model, model if len(runs) == 1 else f"{model} [{run_id}]", color)
            for (run_id, model), color in zip(unique, colors, strict=True)]


def cost_rows(run: RunData) -> list[CostRow]:
    """The run's cost rows (one per cell x hardware profile)."""
    return run.summary.costs.rows


def _series_of(all_series: list[Series], run_id: str, model_id: str) -> Series:
    return next(s for s in all_series if s.run_id == run_id and s.model_id == model_id)


def quality_label(primary: str) -> str:
    return ACCURACY_LABEL if primary == "accuracy" else f"{ACCURACY_LABEL}: {primary}"


def _panels(n: int, width: float = PANEL_W, height: float = PANEL_H,
            sharey: bool = False) -> tuple[Figure, list[Axes]]:
    cols = max(1, min(n, 3))
    rows = max(1, math.ceil(n / cols))
    fig = Figure(figsize=(width * cols, height * rows + 1.2), layout="constrained")
    grid = fig.subplots(rows, cols, squeeze=False, sharey=sharey)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:max(n, 1)]


def _style(ax: Axes, title: str, xlabel: str, ylabel: str = "") -> None:
    ax.set_title(title, fontsize=12)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.tick_params(labelsize=9.5)


def tint(color: str, white: float = 0.6) -> tuple[float, float, float]:
    """The colour mixed with white: an opaque pale face, so hatching stays visible in PNG and SVG alike."""
    r, g, b = to_rgb(color)
    return (r + (1 - r) * white, g + (1 - g) * white, b + (1 - b) * white)


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="0.4", wrap=True)


def _log_x(ax: Axes, prefix: str = "") -> None:
    """Log x axis with plain-number ticks at 1, 2, 5 x 10^k (no overlapping minor labels)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{prefix}{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


# --- Pareto: quality vs cost ----------------------------------------------------------------------------------

def pareto_frontier(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points (cost, quality) not dominated by a cheaper-or-equal point of higher-or-equal quality.

    Lower cost and higher quality are better. Returned sorted by cost (quality rises along it); of exact
    duplicates one is kept.
    """
    frontier: list[tuple[float, float]] = []
    for cost, quality in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or quality > frontier[-1][1]:
            frontier.append((cost, quality))
    return frontier


@dataclass(frozen=True)
class CostPoint:
    cost: float
    quality: float
    measured: bool
    profile_id: str
    series: Series


def cost_points(runs: Sequence[RunData], task_id: str, all_series: list[Series]) -> tuple[list[CostPoint], int]:
    """Priced cost rows of a task as points, and how many rows had no positive price or no quality."""
    points, skipped = [], 0
    for run in runs:
        for row in cost_rows(run):
            if row.task_id != task_id:
                continue
            if row.usd_per_1000_tasks is None or not _positive(row.usd_per_1000_tasks) or row.quality is None:
                skipped += 1
                continue
            points.append(CostPoint(row.usd_per_1000_tasks, row.quality * 100, row.basis == "measured",
                                    row.profile_id, _series_of(all_series, run.run_id, cell_name(row))))
    return points, skipped


def _draw_points(ax: Axes, points: list[CostPoint]) -> None:
    for p in points:
        face = p.series.color if p.measured else "none"
        ax.scatter([p.cost], [p.quality], s=80 if p.measured else 45, facecolors=face, edgecolors=p.series.color,
                   linewidths=1.4, marker="o", zorder=3 if p.measured else 2)


def _draw_frontier(ax: Axes, points: list[CostPoint]) -> None:
    frontier = pareto_frontier([(p.cost, p.quality) for p in points])
    if not frontier:
        return
    xs, ys = [c for c, _ in frontier], [q for _, q in frontier]
    ax.step([*xs, max(p.cost for p in points) * 1.5], [*ys, ys[-1]], where="post", color="0.15",
            linewidth=1.3, linestyle="--", zorder=1)
    for cost, quality in frontier:
        best = next(p for p in points if p.cost == cost and p.quality == quality)
        ax.annotate(f"{best.series.model_id} @ {best.profile_id}", (cost, quality), xytext=(4, 6),
                    textcoords="offset points", fontsize=7, color="0.15")


def _pareto_panel(ax: Axes, runs: Sequence[RunData], task_id: str, all_series: list[Series]) -> None:
    points, skipped = cost_points(runs, task_id, all_series)
    _style(ax, task_id, COST_LABEL, quality_label(primary_metric(runs, task_id)))
    ax.grid(True, which="major", alpha=0.3)
    if skipped:
        ax.text(0.01, 0.01, f"{skipped} rows without a price or quality not shown", transform=ax.transAxes,
                fontsize=7, color="0.4")
    if not points:
        _empty(ax, "no priced cost rows")
        return
    _log_x(ax, "$")
    _draw_points(ax, points)
    _draw_frontier(ax, points)
    ax.set_ylim(0, min(max(p.quality for p in points) * 1.15 + 5, 105))


def _series_handles(all_series: list[Series]) -> list[Any]:
    return [Line2D([], [], marker="o", linestyle="", color=s.color, markersize=8, label=s.label)
            for s in all_series]


def pareto_figure(runs: Sequence[RunData]) -> Figure:
    """Per task: primary metric (%) vs $ per 1000 tasks for every (model, hardware) cost row, with the frontier."""
    tasks, all_series = task_ids(runs), series(runs)
    fig, axes = _panels(len(tasks))
    for ax, task_id in zip(axes, tasks, strict=False):
        _pareto_panel(ax, runs, task_id, all_series)
    kinds = [Line2D([], [], marker="o", linestyle="", color="0.3", markersize=8, label="measured (filled)"),
             Line2D([], [], marker="o", linestyle="", markerfacecolor="none", color="0.3", markersize=7,
                    label="projected (hollow)"),
             Line2D([], [], linestyle="--", color="0.15", label="Pareto frontier (better: up and left)")]
    fig.legend(handles=_series_handles(all_series) + kinds, loc="outside lower center", ncols=4, fontsize=10)
    fig.suptitle("Quality vs cost per 1000 tasks, by model and hardware", fontsize=13)
    return fig


# --- throughput by hardware -----------------------------------------------------------------------------------

def _throughput_rows(runs: Sequence[RunData], task_id: str) -> list[tuple[str, str, str, float, bool]]:
    """(run_id, model_id, profile_id, tasks/s, measured) for rows with a positive throughput."""
    return [(run.run_id, cell_name(row), row.profile_id, row.tasks_per_s, row.basis == "measured")
            for run in runs for row in cost_rows(run)
            if row.task_id == task_id and row.tasks_per_s is not None and _positive(row.tasks_per_s)]


def _profile_order(rows: list[tuple[str, str, str, float, bool]]) -> list[str]:
    """Measured profiles first (top of the chart), then projected ones by name."""
    measured = sorted({r[2] for r in rows if r[4]})
    return measured + sorted({r[2] for r in rows} - set(measured))


def _throughput_panel(ax: Axes, runs: Sequence[RunData], task_id: str, all_series: list[Series]) -> None:
    rows = _throughput_rows(runs, task_id)
    _style(ax, task_id, TPS_LABEL)
    if not rows:
        _empty(ax, "no throughput figures")
        return
    profiles = _profile_order(rows)
    height = 0.8 / len(all_series)
    for run_id, model_id, profile_id, tps, measured in rows:
        s = _series_of(all_series, run_id, model_id)
        y = profiles.index(profile_id) + (all_series.index(s) - (len(all_series) - 1) / 2) * height
        ax.barh(y, tps, height=height, color=s.color if measured else tint(s.color),
                hatch=None if measured else "///", edgecolor=s.color, linewidth=0.8)
    ax.set_yticks(range(len(profiles)), labels=profiles, fontsize=9)
    ax.set_ylim(len(profiles) - 0.5, -0.5)
    _log_x(ax)
    ax.grid(True, axis="x", which="major", alpha=0.3)


def throughput_figure(runs: Sequence[RunData]) -> Figure:
    """Per task: tasks/s on each hardware profile, one bar per model; measured solid, projected hatched."""
    tasks, all_series = task_ids(runs), series(runs)
    n_profiles = max([len({r[2] for r in _throughput_rows(runs, t)}) for t in tasks] or [1])
    fig, axes = _panels(len(tasks), height=max(3.0, 0.22 * n_profiles * max(len(all_series), 2) + 1.0))
    for ax, task_id in zip(axes, tasks, strict=False):
        _throughput_panel(ax, runs, task_id, all_series)
    kinds = [Patch(facecolor="0.3", edgecolor="0.3", label="measured on this machine"),
             Patch(facecolor=tint("0.3"), hatch="///", edgecolor="0.3", label="projected (roofline estimate)")]
    handles = [Patch(color=s.color, label=s.label) for s in all_series] + kinds
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=10)
    fig.suptitle("Throughput (tasks/s) by hardware profile", fontsize=13)
    return fig


# --- latency CDF ----------------------------------------------------------------------------------------------

def empirical_cdf(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Sorted values and the fraction of values at or below each."""
    xs = sorted(values)
    return xs, [(i + 1) / len(xs) for i in range(len(xs))]


def _latencies(run: RunData, task_id: str, model_id: str) -> list[float]:
    names = cell_names(run)
    return [e2e_s(r) for r in run.records
            if r.task_id == task_id and names.get(r.cell_id) == model_id and r.status == "ok"]


def _latency_panel(ax: Axes, runs: Sequence[RunData], task_id: str, all_series: list[Series]) -> None:
    _style(ax, f"{task_id} (ok items)", LATENCY_LABEL, "fraction of items ≤ latency")
    drawn = []
    for s in all_series:
        run = next(r for r in runs if r.run_id == s.run_id)
        values = _latencies(run, task_id, s.model_id)
        if values:
            xs, ys = empirical_cdf(values)
            ax.step(xs, ys, where="post", color=s.color, linewidth=1.8, label=f"{s.label} (n={len(xs)})")
            drawn += xs
    if not drawn:
        _empty(ax, "no ok items")
        return
    if min(drawn) > 0 and max(drawn) / min(drawn) > 30:
        ax.set_xscale("log")
        ax.set_xlabel(f"{LATENCY_LABEL}, log scale", fontsize=11)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")


def latency_cdf_figure(runs: Sequence[RunData]) -> Figure:
    """Per task: the empirical CDF of end-to-end latency of every model's ok items (measured here)."""
    tasks, all_series = task_ids(runs), series(runs)
    fig, axes = _panels(len(tasks))
    for ax, task_id in zip(axes, tasks, strict=False):
        _latency_panel(ax, runs, task_id, all_series)
    fig.suptitle("End-to-end latency per item (empirical CDF), measured on this machine", fontsize=13)
    return fig


# --- accuracy heat map ----------------------------------------------------------------------------------------

def accuracy_matrix(runs: Sequence[RunData], all_series: list[Series]) -> tuple[list[str], list[list[float]]]:
    """Task ids and, per task, the primary metric in % per series (NaN where the cell is missing)."""
    tasks = task_ids(runs)
    matrix = [[math.nan] * len(all_series) for _ in tasks]
    for run in runs:
        primaries = run.summary.primary_metrics
        for row in run.summary.metrics:
            if row.metric == primaries.get(row.task_id) and row.value is not None:
                column = all_series.index(_series_of(all_series, run.run_id, cell_names(run)[row.cell_id]))
                matrix[tasks.index(row.task_id)][column] = row.value * 100
    return tasks, matrix


def _annotate_cells(ax: Axes, matrix: list[list[float]]) -> None:
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            text = "–" if math.isnan(value) else f"{value:.1f}%"
            color = "white" if not math.isnan(value) and value < 55 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=11, color=color, fontweight="bold")


def accuracy_heatmap_figure(runs: Sequence[RunData]) -> Figure:
    """Task x model grid of each task's primary metric (%), values written in the cells."""
    all_series = series(runs)
    tasks, matrix = accuracy_matrix(runs, all_series)
    fig = Figure(figsize=(max(5.0, 1.6 * len(all_series) + 3.5), max(2.8, 0.8 * len(tasks) + 2.0)),
                 layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    _annotate_cells(ax, matrix)
    ax.set_xticks(range(len(all_series)), labels=[s.label for s in all_series], rotation=20, ha="right")
    ax.set_yticks(range(len(tasks)), labels=[f"{t}\n({primary_metric(runs, t)})" for t in tasks])
    ax.set_xlabel("model")
    ax.set_ylabel("task (primary metric)")
    ax.set_title("Quality per task and model: primary metric, %")
    fig.colorbar(image, ax=ax, label=ACCURACY_LABEL)
    return fig


# --- rate sweep -----------------------------------------------------------------------------------------------

def sweep_figure(runs: Sequence[RunData]) -> Figure | None:
    """Latency (p50 and p95, from arrival) against achieved throughput for each rate sweep; None without one."""
    curves = [c for run in runs for c in run.summary.sweeps]
    if not curves:
        return None
    fig, axes = _panels(len(curves))
    for ax, curve in zip(axes, curves, strict=False):
        points = [p for p in curve["points"] if p["achieved_tasks_per_s"] and p["e2e_p95_s"]]
        xs = [p["achieved_tasks_per_s"] for p in points]
        _style(ax, f"{curve['model_id']} × {curve['task_id']}", "achieved throughput (tasks/s)", LATENCY_LABEL)
        ax.plot(xs, [p["e2e_p50_s"] for p in points], "o-", label="p50")
        ax.plot(xs, [p["e2e_p95_s"] for p in points], "s--", label="p95")
        for p in points:
            ax.annotate(f"{p['offered_rps']:g}/s", (p["achieved_tasks_per_s"], p["e2e_p95_s"]), fontsize=8,
                        textcoords="offset points", xytext=(4, 4))
        if curve["p95_limit_s"]:
            ax.axhline(curve["p95_limit_s"], color="grey", linestyle=":", label="p95 objective")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle("Rate sweep: latency from arrival vs achieved throughput (labels: offered requests/s)",
                 fontsize=13)
    return fig


# --- files ----------------------------------------------------------------------------------------------------

FIGURES: dict[str, Callable[[Sequence[Any]], Figure]] = {
    "pareto": pareto_figure,
    "throughput": throughput_figure,
    "latency_cdf": latency_cdf_figure,
    "accuracy_heatmap": accuracy_heatmap_figure,
}


def save(fig: Figure, out_dir: str | Path, name: str) -> list[Path]:
    """Write `name`.png and `name`.svg under out_dir (created if needed); return both paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    fig.savefig(png, format="png", dpi=120)
    svg.write_bytes(svg_bytes(fig))
    return [png, svg]


def svg_bytes(fig: Figure) -> bytes:
    """The figure as SVG, byte-for-byte reproducible: no date, fixed ids (a salt instead of random ones)."""
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "bench-report"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def write_all(runs: Sequence[RunData], out_dir: str | Path) -> dict[str, list[Path]]:
    written = {name: save(make(runs), out_dir, name) for name, make in FIGURES.items()}
    sweep = sweep_figure(runs)
    if sweep is not None:
        written["rate_sweep"] = save(sweep, out_dir, "rate_sweep")
    return written
