"""A learn curve's key models as a bench run directory (manifest.json, suite.yaml, records.jsonl, segments.jsonl), so
`bench report` and `bench compare` work on them: the model trained on the whole pool and each strategy's model at
the largest label budget, one cell each, the seeds as repetitions. Every other point's per-item records stay in
the curve's own records.jsonl."""

from __future__ import annotations

import json
import resource
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.learn.curve import ALL, CurveConfig, Fit
from bench.learn.curve_task import LabelTask
from bench.learn.output import fit_records
from bench.machine.provenance import provenance
from bench.results.schema import Manifest, Record, Segment, json_line, write_manifest
from bench.results.summary import SUITE_COPY
from bench.run.lifecycle import dataset_hashes
from bench.suite.spec import LoadedSuite


def key_fits(fits: Sequence[Fit]) -> list[Fit]:
    """The fits of the run directory: `all`, and each strategy's largest budget (every seed)."""
    largest = {f.strategy: f.labels for f in fits}
    for f in fits:
        largest[f.strategy] = max(largest[f.strategy], f.labels)
    return [f for f in fits if f.labels == largest[f.strategy]]


def model_id(config: CurveConfig, fit: Fit) -> str:
    """The run's model id of a fit: kind@all or kind@strategy-labels."""
    return f"{config.kind}@{ALL}" if fit.strategy == ALL else f"{config.kind}@{fit.strategy}-{fit.labels}"


def run_records(task: LabelTask, config: CurveConfig, fit: Fit) -> list[Record]:
    """The fit's records with the run's cell (= model) id and the seed as the repetition."""
    name = model_id(config, fit)
    return [r.model_copy(update={"cell_id": name, "model_id": name, "repetition": fit.seed, "segment": name})
            for r in fit_records(task, config, fit)]


def _segment(task: LabelTask, config: CurveConfig, name: str, fits: list[Fit]) -> Segment:
    """One segment per cell: its items, the test-prediction wall time as the cell's time, training in `training`,
    this process's peak RSS so far as the peak (CPU time is not split per cell: 0)."""
    wall = sum(f.predict_s for f in fits)
    training = {"classifier": config.kind, "labels": fits[0].labels, "strategy": fits[0].strategy,
                "seeds": len(fits), "train_s": sum(f.fit_s for f in fits) / len(fits)}
    return Segment(cell_id=name, model_id=name, task_id=task.task.id, segment=name,
                   backend={"engine": "bench.learn", "kind": config.kind}, load_time_s=0.0, warmup_items=0,
                   items_done=len(task.test) * len(fits), t_start=0.0, t_end=wall, rss_before_bytes=0,
                   peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, cpu_user_s=0.0,
                   cpu_system_s=0.0, completed=True, training=training)


def _manifest(suite: LoadedSuite, task: LabelTask, config: CurveConfig, names: list[str]) -> Manifest:
    now = datetime.now(UTC).isoformat(timespec="seconds")
    models = {n: {"id": n, "backend": {"kind": "trained", "classifier": config.kind}} for n in names}
    cells = [{"cell_id": n, "model_id": n, "task_id": task.task.id, "task_version": task.task.version,
              "n_items": len(task.test)} for n in names]
    return Manifest.model_validate({
        "run_id": "learn-curve", "status": "complete", "options": {}, "cost": suite.spec.cost.model_dump(),
        "suite": {"name": suite.spec.name, "version": suite.spec.version, "path": str(suite.path),
                  "sha256": suite.sha256},
        "repetitions": config.seeds, "warmup": 0, "cells": cells, "models": models,
        "tasks": {task.task.id: {"version": task.task.version, "datasets": dataset_hashes(suite, task.task.id)}},
        **provenance(), "started_at": now, "ended_at": now})


def write_run(out: Path, suite: LoadedSuite, task: LabelTask, fits: Sequence[Fit], document: dict[str, Any]) -> Path:
    """Write the run directory `out` (created) for the key fits of the curve `document` (kept in the run as
    learn_curve.json: `bench report --format html` shows it); its path."""
    config = CurveConfig(document["kind"], tuple(document["budgets"]), tuple(document["strategies"]),
                         document["seeds"], document["query"], document["params"])
    chosen = key_fits(fits)
    names = list(dict.fromkeys(model_id(config, f) for f in chosen))
    out.mkdir(parents=True, exist_ok=True)
    records = [r for f in chosen for r in run_records(task, config, f)]
    segments = [_segment(task, config, n, [f for f in chosen if model_id(config, f) == n]) for n in names]
    (out / "records.jsonl").write_text("".join(json_line(r) + "\n" for r in records), encoding="utf-8")
    (out / "segments.jsonl").write_text("".join(json_line(s) + "\n" for s in segments), encoding="utf-8")
    (out / SUITE_COPY).write_text(suite.text, encoding="utf-8")
    (out / "learn_curve.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    write_manifest(out / "manifest.json", _manifest(suite, task, config, names))
    return out

