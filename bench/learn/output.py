"""A learn curve's results on disk: curve.json (config, points, labels needed to reach 80/90/95% of optimum),
curve.csv (one row per point and metric) and records.jsonl (one Record per test item of every trained model, in
bench's records format, so per-item results are never lost)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.learn.curve import ALL, TARGETS, CurveConfig, Fit, Point, labels_to_reach, points
from bench.learn.curve_task import LabelTask, text_sha256
from bench.results.schema import Record, json_line

CURVE_VERSION = 1
CSV_COLUMNS = [f.name for f in dataclasses.fields(Point)]


def metrics_of(fits: Sequence[Fit]) -> list[str]:
    """The metric names the fits were scored with (first fit's order)."""
    return list(fits[0].scores) if fits else []


def reach_table(curve: Sequence[Point], strategies: Sequence[str]) -> dict[str, dict[str, int | None]]:
    """strategy -> {"80": labels or None (not reached), "90": ..., "95": ...}."""
    return {s: {f"{t:g}": labels_to_reach(curve, s, t) for t in TARGETS} for s in strategies}


def curve_document(
    task: LabelTask, config: CurveConfig, fits: Sequence[Fit], context: dict[str, Any]
) -> dict[str, Any]:
    """curve.json's content: schema version, task, config, pool size, per-metric points and labels-to-reach, and
    `context` (timings, load average, machine) as given."""
    by_metric = {m: points(fits, m) for m in metrics_of(fits)}
    return {
        "schema_version": CURVE_VERSION, "task_id": task.task.id, "task_version": task.task.version,
        "kind": config.kind, "params": config.params, "strategies": list(config.strategies),
        "budgets": list(config.budgets), "seeds": config.seeds, "query": config.query,
        "pool_size": len(task.pool.texts), "test_size": len(task.test), "classes": task.classes,
        "interval": "95% Student-t over seeds", "optimum": "same seed, all labels",
        "points": {m: [dataclasses.asdict(p) for p in c] for m, c in by_metric.items()},
        "labels_to_reach": {m: reach_table(c, config.strategies) for m, c in by_metric.items()},
        **context,
    }


def curve_csv(document: dict[str, Any]) -> str:
    """curve.csv: one row per (metric, strategy, labels), the columns of Point."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for rows in document["points"].values():
        writer.writerows(rows)
    return buffer.getvalue()


def cell_id(config: CurveConfig, fit: Fit) -> str:
    """The records' cell id of a fit: kind/strategy/labels/seed (`all` for the whole pool)."""
    labels = ALL if fit.strategy == ALL else str(fit.labels)
    return f"{config.kind}/{fit.strategy}/{labels}/seed{fit.seed}"


def fit_records(task: LabelTask, config: CurveConfig, fit: Fit) -> list[Record]:
    """One Record per test item of `fit`: prediction, reference, item scores, the fit's timings and train ids."""
    per_item = fit.predict_s / max(len(task.test), 1)
    extra = {"labels": fit.labels, "strategy": fit.strategy, "seed": fit.seed, "fit_s": fit.fit_s}
    records = []
    for i, (item, label) in enumerate(zip(task.test, fit.predictions, strict=True)):
        prediction = task.prediction(label)
        scores = {k: v for s in task.scorers for k, v in s.item(prediction, item.expected).items()}
        records.append(Record(
            cell_id=cell_id(config, fit), model_id=f"{config.kind}@{fit.labels}", task_id=task.task.id,
            task_version=task.task.version, item_id=item.id, segment="learn-curve",
            prompt_sha256=text_sha256(item.input), prediction=prediction, raw_output=label,
            reference=item.expected, scores=scores, t_start=i * per_item, t_end=(i + 1) * per_item,
            engine_extra={**extra, "train_ids": fit.train_ids} if i == 0 else extra, tags=item.tags))
    return records


def write_outputs(out: Path, document: dict[str, Any], records: Sequence[Record]) -> list[Path]:
    """curve.json, curve.csv and records.jsonl under `out` (created); the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"curve.json": json.dumps(document, indent=2) + "\n", "curve.csv": curve_csv(document),
             "records.jsonl": "".join(json_line(r) + "\n" for r in records)}
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    return [out / name for name in files]
