"""Recompute a run's summary from its records (never from in-memory state); bench.report writes and renders it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.cost.section import CostOptions, cost_section
from bench.errors import RunError
from bench.metrics.aggregate import MetricRow
from bench.metrics.aggregate_columns import summarize_cell_columns
from bench.metrics.baselines import (
    baseline_of_texts,
    beats_baseline,
    model_items_columns,
    needs_inputs,
    references_of,
)
from bench.metrics.columns import EMPTY, RecordColumns, load_columns
from bench.metrics.contention import cell_contention
from bench.metrics.flags import count_flags, flag_labels, flags_by_cell, unfinished_flag
from bench.metrics.records import FAILURE_KINDS
from bench.metrics.sweep import sweep_curves
from bench.results.schema import CostSection, Manifest, Summary
from bench.results.store import RunStore
from bench.suite.load import NoChecks, parse_suite
from bench.suite.spec import LoadedSuite, TaskSpec

SUITE_COPY = "suite.yaml"


def load_run_suite(store: RunStore, manifest: Manifest) -> LoadedSuite:
    """The suite as it was when the run started (the copy), resolved against its original folder."""
    text = (store.path / SUITE_COPY).read_text(encoding="utf-8")
    return parse_suite(text, Path(manifest.suite.path), NoChecks())


@dataclass
class CellFigures:
    """A run's per-cell figures before its baselines and costs: metric rows, flags, contention, each task's
    primary metric and the cost inputs (what `bench compare` needs of a summary, named as in Summary)."""

    cells: list[dict[str, Any]]
    metrics: list[MetricRow] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)
    contention: list[dict[str, Any]] = field(default_factory=list)
    primary_metrics: dict[str, str] = field(default_factory=dict)
    cost_inputs: list[Any] = field(default_factory=list)


def cell_figures(store: RunStore, manifest: Manifest, suite: LoadedSuite,
                 by_cell: dict[str, RecordColumns]) -> CellFigures:
    """Each manifest cell's metric rows (bench.metrics.aggregate_columns), flags and contention."""
    tasks = {task.id: task for task in suite.spec.tasks}
    segments = [s for s in store.segments() if s.error is None]
    found = CellFigures([cell.model_dump() for cell in manifest.cells],
                        primary_metrics={t.id: primary_metric(t) for t in suite.spec.tasks})
    primaries = found.primary_metrics
    for cell in found.cells:
        task = _task(tasks, cell["task_id"])
        cell_segments = [s for s in segments if s.cell_id == cell["cell_id"]]
        records = by_cell.get(cell["cell_id"]) or EMPTY
        cell_rows = summarize_cell_columns(cell["cell_id"], task, records, cell_segments, manifest.cost,
                                           suite.spec.slo)
        found.metrics += cell_rows
        values: dict[str, float | None] = {r.metric: r.value for r in cell_rows}
        primaries[task.id] = primaries[task.id] or primary_metric(task, cell_rows)
        values["quality"] = values.get(primaries[task.id])
        found.cost_inputs.append((cell, records, cell_segments, values))
        found.flags += [{**_ident(cell), **flag} for flag in
                        count_flags(len(records), int(records.ok.sum()), cell_segments)
                        + unfinished_flag(cell["cell_id"], manifest.unfinished)]
        measured = cell_contention(cell_segments)
        found.contention += [{**_ident(cell), **measured.as_dict()}] if measured else []
    return found


def summarize_run(store: RunStore, cost_options: CostOptions | None = None,
                  columns: RecordColumns | None = None) -> Summary:
    """Metric rows for every cell of the run, derived from records.jsonl (or its `columns`, already read) and the
    segments, and the costs. RunError when a file of the run is damaged or written by a newer bench."""
    manifest = store.read_manifest()
    suite = load_run_suite(store, manifest)
    by_cell = (columns if columns is not None else load_columns(store)).by_cell()
    found = cell_figures(store, manifest, suite, by_cell)
    cells, rows, flags, primaries = found.cells, found.metrics, found.flags, found.primary_metrics
    baselines, verdicts = baseline_section(suite, cells, by_cell, primaries)
    costs = cost_section(manifest, found.cost_inputs, suite.spec.requirements, cost_options or CostOptions(),
                         {v["cell_id"]: v for v in verdicts})
    mark_cost_rows(costs, flags)
    return Summary(run_id=manifest.run_id, suite=manifest.suite, status=manifest.status, cost=manifest.cost,
                   cells=manifest.cells, primary_metrics=primaries, metrics=rows,
                   skipped=skipped_cells(cells, by_cell, store.segments()), flags=flags,
                   contention=found.contention, unfinished=manifest.unfinished,
                   sweeps=sweep_curves(cells, [row.model_dump() for row in rows],
                                       suite.spec.slo.e2e_s or suite.spec.requirements.max_p95_latency_s),
                   baselines=baselines, baseline_tests=verdicts, costs=_cost_section(costs))


def _cost_section(costs: dict[str, Any]) -> CostSection:
    try:
        return CostSection.model_validate(costs)
    except ValidationError as exc:  # a bug of bench, not of the run: say where
        raise RunError(f"the cost section does not match its schema: {exc.errors()[0]}") from None


def baseline_section(suite: LoadedSuite, cells: list[dict[str, Any]], by_cell: dict[str, RecordColumns],
                     primaries: dict[str, str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per task, its trivial baseline on the items its cells evaluated (bench.metrics.baselines), and per cell
    the paired test of the model against it on the task's primary metric."""
    found, verdicts = [], []
    for task in suite.spec.tasks:
        task_cells = [c for c in cells if c["task_id"] == task.id and len(by_cell.get(c["cell_id"], EMPTY))]
        references = references_of([by_cell[c["cell_id"]] for c in task_cells])
        baseline = baseline_of_texts(task, references, _inputs(task, suite) if needs_inputs(task) else None)
        if baseline is None:
            continue
        found.append(baseline.as_dict(task))
        metric = primaries[task.id]
        for cell in task_cells:
            items = model_items_columns(by_cell[cell["cell_id"]], metric, pairs=metric not in baseline.scores)
            verdict = beats_baseline(_ident(cell), task, metric, items, baseline)
            verdicts += [verdict.as_dict()] if verdict else []
    return found, verdicts


def _inputs(task: TaskSpec, suite: LoadedSuite) -> dict[str, str] | None:
    """item id -> input text of the task's dataset (the lead-N baseline); None when it cannot be read now."""
    from bench.errors import BenchError
    from bench.tasks.datasets import load_items

    try:
        return {item.id: item.input for item in load_items(task.dataset, suite.base_dir)}
    except (BenchError, OSError):
        return None


def skipped_cells(cells: list[dict[str, Any]], by_cell: dict[str, Any], segments: list[Any]) -> list[dict[str, Any]]:
    """Cells with no record whose backend could not be created, and why (they resume with --resume)."""
    reasons = {s.cell_id: s.error for s in segments if s.error}
    pending = [c for c in cells if c["cell_id"] in reasons and not by_cell.get(c["cell_id"])]
    return [{"cell_id": c["cell_id"], "model_id": c["model_id"], "task_id": c["task_id"],
             "load": c.get("load", "latency"), "reason": reasons[c["cell_id"]]} for c in pending]


def mark_cost_rows(costs: dict[str, Any], flags: list[dict[str, Any]]) -> None:
    """Cost rows (measured and projected from it) carry their cell's flags, e.g. 'contended'."""
    labels = {cell: flag_labels(found) for cell, found in flags_by_cell(flags).items()}
    for row in costs["rows"]:
        row["flags"] = labels.get(row["cell_id"], "")


def _ident(cell: dict[str, Any]) -> dict[str, Any]:
    return {"cell_id": cell["cell_id"], "model_id": cell["model_id"], "task_id": cell["task_id"],
            "load": cell.get("load", "latency")}


def _task(tasks: dict[str, TaskSpec], task_id: str) -> TaskSpec:
    if task_id not in tasks:
        raise RunError(f"the run's suite copy has no task '{task_id}'; the run directory is inconsistent")
    return tasks[task_id]


NON_SCORE_METRICS = ("error_rate", "parse_failure_rate", *FAILURE_KINDS)


def primary_metric(task: TaskSpec, rows: Sequence[MetricRow] = ()) -> str:
    """The task's headline metric: its first scorer's, or (lm_eval: the task's own) the first quality metric."""
    from bench.tasks.scorers import SCORERS

    named = SCORERS.get(task.scorers[0].name).primary
    quality = [r.metric for r in rows if r.group == "quality" and r.metric not in NON_SCORE_METRICS]
    return named or (quality[0] if quality else "")



