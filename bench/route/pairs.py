"""Two models' records paired item by item, per task: scores, latencies, confidence and cost per task.

Input checks (RunError, exit 2, one line each): a model id in none of the runs, or in several runs for the same
task; tasks with different versions; items that differ between the two models (counts missing on each side).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from bench.api import RunData
from bench.cost.rows import THIS_MACHINE
from bench.errors import RunError
from bench.metrics.aggregate import e2e_s
from bench.metrics.records import ItemRecord
from bench.results.schema import Confidence, ManifestCell


@dataclass(frozen=True)
class Side:
    """One model on one task, items in the pair's order: `scores` (the task's primary metric per item, 0 for an
    item that failed), `latency_s` (end to end), `confidence` (None where missing), `usd_per_task` (cost option
    -> USD per task, None where the option has no figure: THIS_MACHINE, a hardware profile id)."""

    model_id: str
    run_id: str
    cell_id: str
    scores: np.ndarray
    latency_s: np.ndarray
    confidence: list[Confidence | None]
    usd_per_task: dict[str, float | None]
    bases: dict[str, str] = field(default_factory=dict)
    """Cost option -> measured | projected."""


@dataclass(frozen=True)
class Pair:
    """The small and the large model on the same items of one task; `api_usd_per_task`: hosted model -> its USD per
    task on this task (the large side priced as an API, bench.cost.rows.api_rows)."""

    task_id: str
    task_version: str
    metric: str
    item_ids: list[str]
    small: Side
    large: Side
    api_usd_per_task: dict[str, float | None]

    @property
    def n(self) -> int:
        """Paired items."""
        return len(self.item_ids)


def pair_runs(runs: Sequence[RunData], small: str, large: str, task: str | None = None) -> list[Pair]:
    """One Pair per task both models ran (or only `task`); RunError for the bad inputs listed in the module."""
    if small == large:
        raise RunError(f"--small and --large are both '{small}': name two different models")
    small_cells, large_cells = _cells(runs, small), _cells(runs, large)
    common = [t for t in small_cells if t in large_cells]
    if task is not None:
        if task not in common:
            raise RunError(f"--task '{task}': not run by both '{small}' and '{large}' "
                           f"(tasks both ran: {', '.join(common) or 'none'})")
        common = [task]
    if not common:
        raise RunError(f"'{small}' and '{large}' ran no task in common (tasks: {', '.join(small_cells)} vs "
                       f"{', '.join(large_cells)})")
    return [_pair(small_cells[t], large_cells[t]) for t in common]


CellRef = tuple[RunData, ManifestCell]


def _cells(runs: Sequence[RunData], model_id: str) -> dict[str, CellRef]:
    """Task id -> the model's cell (its latency-mode cell when there are several load modes)."""
    found: dict[str, list[CellRef]] = {}
    for run in runs:
        for cell in run.manifest.cells:
            if cell.model_id == model_id:
                found.setdefault(cell.task_id, []).append((run, cell))
    if not found:
        known = sorted({c.model_id for run in runs for c in run.manifest.cells})
        raise RunError(f"model '{model_id}' is in none of the runs (models: {', '.join(known)})")
    return {task: _one_cell(model_id, task, refs) for task, refs in found.items()}


def _one_cell(model_id: str, task: str, refs: list[CellRef]) -> CellRef:
    if len({run.run_id for run, _ in refs}) > 1:
        raise RunError(f"model '{model_id}' ran task '{task}' in several runs "
                       f"({', '.join(run.run_id for run, _ in refs)}): pass only one of them")
    latency = [ref for ref in refs if ref[1].load == "latency"]
    return (latency or refs)[0]


def _pair(small: CellRef, large: CellRef) -> Pair:
    (s_run, s_cell), (l_run, l_cell) = small, large
    if s_cell.task_version != l_cell.task_version:
        raise RunError(f"task '{s_cell.task_id}' has version {s_cell.task_version} in run {s_run.run_id} but "
                       f"{l_cell.task_version} in run {l_run.run_id}: replay runs of the same task version")
    s_records, l_records = _records(s_run, s_cell), _records(l_run, l_cell)
    _same_items(s_cell, set(s_records), l_cell, set(l_records))
    items = sorted(s_records)
    metric = s_run.summary.primary_metrics.get(s_cell.task_id, "accuracy")
    metric = _item_metric(metric, [*s_records.values(), *l_records.values()], s_cell.task_id)
    return Pair(s_cell.task_id, s_cell.task_version, metric, items,
                _side(s_run, s_cell, [s_records[i] for i in items], metric),
                _side(l_run, l_cell, [l_records[i] for i in items], metric),
                _api_costs(l_run, l_cell.task_id))


def _records(run: RunData, cell: ManifestCell) -> dict[str, ItemRecord]:
    """Item id -> its first repetition's record (quality uses the first, as the summary does)."""
    return {r.item_id: r for r in run.records if r.cell_id == cell.cell_id and r.repetition == 0}


def _same_items(s_cell: ManifestCell, small: set[str], l_cell: ManifestCell, large: set[str]) -> None:
    if not small:
        raise RunError(f"cell {s_cell.cell_id} ('{s_cell.model_id}' on '{s_cell.task_id}') has no records")
    if small != large:
        only_s, only_l = sorted(small - large), sorted(large - small)
        raise RunError(f"task '{s_cell.task_id}': the two models did not answer the same items "
                       f"({len(only_s)} only for '{s_cell.model_id}', e.g. {only_s[:3]}; {len(only_l)} only for "
                       f"'{l_cell.model_id}', e.g. {only_l[:3]}): run both on the same items (same --limit and seed)")


def _item_metric(metric: str, records: list[ItemRecord], task_id: str) -> str:
    """The primary metric when the records score it per item, else accuracy; RunError when neither is."""
    for name in (metric, "accuracy"):
        if all(name in r.scores for r in records if r.status == "ok") and any(name in r.scores for r in records):
            return name
    raise RunError(f"task '{task_id}': the records have no per-item score '{metric}' or 'accuracy' to route on")


def _side(run: RunData, cell: ManifestCell, records: list[ItemRecord], metric: str) -> Side:
    scores = np.array([r.scores.get(metric, 0.0) if r.status == "ok" else 0.0 for r in records], dtype=float)
    latency = np.array([e2e_s(r) for r in records], dtype=float)
    usd, bases = _costs(run, cell.cell_id)
    return Side(cell.model_id, run.run_id, cell.cell_id, scores, latency, [r.confidence for r in records], usd,
                bases)


def _costs(run: RunData, cell_id: str) -> tuple[dict[str, float | None], dict[str, str]]:
    """Cost option -> USD per task from the summary's cost rows (measured here, projected elsewhere)."""
    usd: dict[str, float | None] = {}
    bases: dict[str, str] = {}
    for row in run.summary.costs.rows:
        if row.cell_id == cell_id:
            usd[row.profile_id] = None if row.usd_per_1000_tasks is None else row.usd_per_1000_tasks / 1000
            bases[row.profile_id] = row.basis
    usd.setdefault(THIS_MACHINE, None)
    return usd, bases


def _api_costs(run: RunData, task_id: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for row in run.summary.costs.api:
        if row.get("task_id") == task_id:
            value = row.get("usd_per_1000_tasks")
            out[str(row.get("api_model"))] = None if value is None else float(value) / 1000
    return out
