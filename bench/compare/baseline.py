"""Comparables from run directories, and small, reviewable baseline files for CI.

A baseline file is the Comparable of a run, written deterministically (sorted keys, indent 1, floats rounded to
6 significant digits). A run directory goes through the same rounding, so a run compared with its own baseline
gives identical values.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from pydantic import ValidationError

from bench.api import RunData
from bench.compare import (
    CELL_METRICS,
    GAP_SAMPLES,
    OK_SAMPLES,
    SAMPLE_METRICS,
    CellData,
    Comparable,
    CompareError,
    CorpusData,
)
from bench.compare.items import Coded, CorpusItems, ItemScores
from bench.errors import BenchError
from bench.metrics.aggregate_columns import LATENCY as COLUMN_LATENCY
from bench.metrics.columns import EMPTY, RecordColumns, as_columns, load_columns
from bench.metrics.flags import CONTENDED, flags_by_cell
from bench.metrics.records import FAILURE_KINDS, CellSegment, ItemRecord
from bench.results.schema import Manifest, ManifestCell, MetricRow
from bench.results.store import MANIFEST, RunStore
from bench.results.summary import cell_figures, load_run_suite
from bench.suite.spec import LoadedSuite, TaskSpec
from bench.tasks.scorers import MacroF1, Scorer

KIND = "bench-baseline"
BASELINE_SCHEMA_VERSION = 1
SIGNIFICANT_DIGITS = 6
HARDWARE_KEYS = ("cpu_model", "physical_cores", "logical_cpus", "os")

ITEM_FLAGS: dict[str, Callable[[ItemRecord], float]] = {"error_rate": lambda r: float(r.status != "ok"),
              "parse_failure_rate": lambda r: float(r.parse_error is not None)}


# --- building a comparable from a run ----------------------------------------------------------------------------

def hardware_identity(machine: dict[str, Any]) -> dict[str, Any]:
    """The machine facts that must match for a comparison; volatile fields (python, PIDs, hostname) left out."""
    identity = {key: machine.get(key) for key in HARDWARE_KEYS}
    ram = machine.get("ram_gb")
    identity["ram_gb"] = round(ram) if isinstance(ram, int | float) else None
    identity["gpus"] = sorted(str(gpu.get("name")) for gpu in machine.get("gpus") or [])
    return identity


def run_identity(manifest: Manifest) -> dict[str, Any]:
    return {"suite": {"name": manifest.suite.name, "sha256": manifest.suite.sha256},
            "tasks": {task_id: str(task.version) for task_id, task in manifest.tasks.items()},
            "hardware": hardware_identity(manifest.machine)}


class Figures(Protocol):
    """What a comparison takes of a run's summary: a Summary, or the lighter CellFigures."""

    metrics: list[MetricRow]
    flags: list[dict[str, Any]]
    primary_metrics: dict[str, str]


def comparable_from_run(run: RunData) -> Comparable:
    """The comparable of a run directory, rounded exactly as a baseline file is. The per-item parts (scores,
    [prediction, reference]) are rounded value by value as they are built and go into the models unvalidated
    (bench made them; a baseline file is validated when read), so a million items are not copied three times."""
    suite = load_run_suite(RunStore(run.path), run.manifest)
    return comparable_of(run.path, run.manifest, suite, run.columns, run.summary)


def comparable_of_dir(path: Path) -> Comparable:
    """comparable_from_run of a run directory, from the per-cell figures only: a comparison reads no baseline
    section or cost table, so they are not computed. RunError for a directory that is not a run."""
    store = RunStore(path)
    manifest = store.read_manifest()
    suite = load_run_suite(store, manifest)
    columns = load_columns(store)
    return comparable_of(path, manifest, suite, columns,
                         cell_figures(store, manifest, suite, columns.by_cell()))


def comparable_of(path: Path, manifest: Manifest, suite: LoadedSuite, columns: RecordColumns,
                  figures: Figures) -> Comparable:
    tasks = {task.id: task for task in suite.spec.tasks}
    segments = [s for s in RunStore(path).segments() if s.error is None]
    flags = flags_by_cell(figures.flags)
    by_cell = columns.by_cell()
    cells = {}
    for cell in manifest.cells:
        records = by_cell.get(cell.cell_id) or EMPTY
        data = cell_dict(cell, records, figures.metrics, tasks.get(cell.task_id))
        data["samples"].update(throughput_samples(records, [s for s in segments if s.cell_id == cell.cell_id]))
        data["contended"] = next((f["detail"] for f in flags.get(cell.cell_id, []) if f["flag"] == CONTENDED),
                                 None)
        cells[cell.key or f"{cell.model_id}/{cell.task_id}"] = _cell_model(data)
    raw = {"run_id": manifest.run_id, "status": manifest.status,
           "identity": run_identity(manifest), "primary_metrics": figures.primary_metrics}
    checked = Comparable.model_validate({**round_floats(raw), "cells": {}, "source": str(path)})
    return Comparable.model_construct(**{**dict(checked), "cells": cells})


def _cell_model(data: dict[str, Any]) -> CellData:
    """A CellData of bench's own figures: the small parts validated, the per-item parts (already rounded) as
    they are."""
    items, corpus, samples = data.pop("items"), data.pop("corpus"), data.pop("samples")
    small = CellData.model_validate({**round_floats(data), "corpus": None})
    corpus_model = None if corpus is None else \
        CorpusData.model_construct(scorers=round_floats(corpus["scorers"]), items=corpus["items"])
    rounded = {name: _round_list(values) for name, values in samples.items()}
    return CellData.model_construct(**{**dict(small), "items": items, "samples": rounded, "corpus": corpus_model})


Records = RecordColumns | list[ItemRecord]


def cell_dict(cell: ManifestCell, records: Records, metric_rows: list[MetricRow],
              task: TaskSpec | None) -> dict[str, Any]:
    cols = as_columns(records)
    first = cols.take(cols.repetition == 0)
    return {"model_id": cell.model_id, "task_id": cell.task_id,
            "metrics": cell_metrics(cell.cell_id, metric_rows),
            "items": item_scores_of(first), "samples": timing_arrays(cols), "corpus": corpus_data(task, first)}


def cell_metrics(cell_id: str, metric_rows: list[MetricRow]) -> dict[str, Any]:
    """The summary figures a comparison reports: quality, the p50 timings, throughput, cost and memory."""
    kept = {f"{name}_p50" for name in SAMPLE_METRICS} | set(CELL_METRICS)
    return {row.metric: {"value": row.value, "higher_is_better": row.higher_is_better, "unit": row.unit,
                         "group": row.group}
            for row in metric_rows
            if row.cell_id == cell_id and (row.group == "quality" or row.metric in kept)}


def item_scores(record: ItemRecord) -> dict[str, float]:
    """The record's item scores and flags; a failure kind (records.FAILURE_KINDS) only where it is 1 (an absent
    item score reads as 0, so a million items do not carry four zeros each)."""
    return {**record.scores, **{name: flag(record) for name, flag in ITEM_FLAGS.items()},
            **{name: 1.0 for name, kind in FAILURE_KINDS.items() if kind(record)}}


def item_scores_of(cols: RecordColumns) -> ItemScores:
    """item_scores of every row (rounded as round_floats does, non-finite ones dropped), by item id (an id given
    twice keeps its last row)."""
    scores = {name: _round_array(values) for name, values in cols.scores.items()}
    scores.update({"error_rate": (~cols.ok).astype(float), "parse_failure_rate": cols.parse_error.astype(float)})
    for name in FAILURE_KINDS:  # as item_scores: only where the kind is 1 (NaN: the item has no such score)
        scores[name] = np.where(getattr(cols, name.removesuffix("_rate")), 1.0, np.nan)
    return ItemScores.of(cols.item_id, scores)


def timing_samples(records: Records) -> dict[str, list[float]]:
    """Per-item timing samples of every repetition with status ok, in item order."""
    return {name: values.tolist() for name, values in timing_arrays(as_columns(records)).items()}


def timing_arrays(cols: RecordColumns) -> dict[str, np.ndarray]:
    """timing_samples as arrays."""
    ok = cols.take(cols.ok).sorted()
    samples = {}
    for name in SAMPLE_METRICS:
        values = COLUMN_LATENCY[name][0](ok)
        samples[name] = values[np.isfinite(values)]
    return samples


def throughput_samples(records: Records, segments: list[CellSegment]) -> dict[str, list[float]]:
    """Per item of the measured segments: the gap from the previous completion (or the segment start) to its own,
    the segment's tail added to its last item, and whether it succeeded. sum(ok) / sum(gaps) is the summary's
    tasks/s exactly, so compare's throughput test and its point estimate use the same data."""
    cols = as_columns(records)
    gaps: list[float] = []
    ok: list[float] = []
    for segment in segments:
        done = cols.take(cols.segment == segment.segment)
        if not len(done):  # a segment that measured no item (e.g. interrupted during warm-up) adds no sample
            continue
        done = done.take(np.lexsort((done.repetition, done.item_id.astype(str), done.t_end)))
        ends = np.minimum(np.maximum(done.t_end, segment.t_start), segment.t_end)
        seg_gaps = ends - np.concatenate([[segment.t_start], ends[:-1]])
        seg_gaps[-1] += max(segment.t_end - float(ends[-1]), 0.0)
        gaps += seg_gaps.tolist()
        ok += done.ok.astype(float).tolist()
    return {GAP_SAMPLES: gaps, OK_SAMPLES: ok} if gaps else {}


def corpus_data(task: TaskSpec | None, records: Records) -> dict[str, Any] | None:
    """Predictions and references, kept only for tasks with a corpus-level metric (macro-F1)."""
    from bench.tasks.scorers import build_scorer

    cols = as_columns(records)
    if task is None or not len(cols):
        return None
    predictions, references = _coded(cols, "prediction"), _coded(cols, "reference")
    scorers: dict[str, dict[str, Any]] = {}
    for ref in task.scorers:
        entry = ref.model_dump()
        scorers.update({name: entry for name in corpus_names(build_scorer(entry), predictions, references)})
    if not scorers:
        return None
    return {"scorers": scorers, "items": CorpusItems.of(cols.item_id, predictions, references)}


def corpus_names(scorer: Scorer, predictions: Coded, references: Coded) -> list[str]:
    """The corpus metrics a scorer reports: none when it has no corpus(), macro_f1 for MacroF1 (without
    computing it), else the names its corpus() returns on these items."""
    if type(scorer).corpus is Scorer.corpus:
        return []
    if isinstance(scorer, MacroF1):
        return ["macro_f1"]
    return list(scorer.corpus(predictions.tolist(), references.tolist()))


def _coded(cols: RecordColumns, column: str) -> Coded:
    """A JSON column's codes and distinct values, each rounded as round_floats does."""
    codes, texts = cols.codes_of(column)
    return Coded(codes, [round_floats(value) for value in cols.parse(texts)])


def round_floats(value: Any) -> Any:
    """Floats to 6 significant digits (non-finite ones to None), recursively; a list of floats is rounded once per
    distinct value."""
    if isinstance(value, float):
        return _round(value)
    if isinstance(value, dict):
        return {key: round_floats(item) if isinstance(item, CONTAINERS) else item for key, item in value.items()}
    if isinstance(value, list | tuple):
        if len(value) > 16 and all(type(item) is float for item in value):
            return _round_list(list(value))
        return [round_floats(item) if isinstance(item, CONTAINERS) else item for item in value]
    return value


CONTAINERS = (float, dict, list, tuple)


@lru_cache(maxsize=1 << 16)
def _round(value: float) -> float | None:
    return float(f"{value:.{SIGNIFICANT_DIGITS}g}") if math.isfinite(value) else None


def _round_array(values: np.ndarray) -> np.ndarray:
    """_round of each value (NaN for a non-finite one), once per distinct value."""
    distinct, index = np.unique(np.asarray(values, dtype=float), return_inverse=True)
    rounded = np.array([np.nan if r is None else r for r in map(_round, distinct.tolist())], dtype=float)
    return rounded[index.reshape(-1)]


def _round_list(values: list[float] | np.ndarray) -> list[float | None]:
    distinct, index = np.unique(np.asarray(values, dtype=float), return_inverse=True)
    rounded = np.array([_round(v) for v in distinct.tolist()] + [None], dtype=object)  # + None: stays 1-d
    result: list[float | None] = rounded[index.reshape(-1)].tolist()
    return result


# --- baseline files ------------------------------------------------------------------------------------------------

def baseline_dict(comparable: Comparable) -> dict[str, Any]:
    return {"kind": KIND, "schema_version": BASELINE_SCHEMA_VERSION,
            **comparable.model_dump(mode="json", exclude={"source"})}


def baseline_text(comparable: Comparable) -> str:
    return json.dumps(baseline_dict(comparable), sort_keys=True, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def save_baseline(run_dir: str | Path, path: str | Path) -> Comparable:
    """Write the baseline file of a run; returns what was written."""
    if Path(run_dir).is_file():
        raise CompareError(f"{run_dir} is a file; `bench baseline save` needs a run directory")
    comparable = load_comparable(run_dir)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(baseline_text(comparable), encoding="utf-8")
    return comparable


def load_comparable(path: str | Path) -> Comparable:
    """A run directory or a baseline file (recognized by its "kind"), with clear errors for anything else."""
    source = Path(path)
    if not source.exists():
        raise CompareError(f"{source}: no such run directory or baseline file")
    if source.is_dir():
        return _from_run_dir(source)
    return comparable_from_baseline(_read_json(source), str(source))


def _from_run_dir(path: Path) -> Comparable:
    if not (path / MANIFEST).is_file():
        raise CompareError(f"{path} is not a run directory (no {MANIFEST}) and not a baseline file")
    try:
        return comparable_of_dir(path)
    except CompareError:
        raise
    except BenchError as exc:
        raise CompareError(str(exc)) from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CompareError(f"{path}: not a baseline file (invalid JSON: {str(exc)[:120]})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise CompareError(f'{path}: not a baseline file (expected "kind": "{KIND}"; '
                           "write one with `bench baseline save RUN_DIR PATH`)")
    return data


def comparable_from_baseline(data: dict[str, Any], source: str) -> Comparable:
    version = data.get("schema_version")
    if version != BASELINE_SCHEMA_VERSION:
        raise CompareError(f"{source}: baseline schema_version {version!r} is not supported (this bench reads "
                           f"{BASELINE_SCHEMA_VERSION}); save the baseline again with `bench baseline save`")
    body = {key: value for key, value in data.items() if key not in ("kind", "schema_version")}
    try:
        return Comparable.model_validate({**body, "source": source})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
        raise CompareError(f"{source}: malformed baseline file ({problems})") from None

