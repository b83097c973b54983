"""Export a run's per-item timings in pytest-benchmark's JSON layout (readable by `pytest-benchmark compare`).

One benchmark per cell x timing metric, named "<model>/<task>/<metric>", grouped by task; its stats are computed
from the per-item samples (status ok, every repetition) exactly as pytest_benchmark.stats.Stats does.
"""

from __future__ import annotations

import json
import statistics
from bisect import bisect_left, bisect_right
from pathlib import Path
from typing import Any

from bench.api import RunData
from bench.compare.baseline import timing_samples
from bench.results.atomic import write_text_atomic
from bench.results.schema import Manifest, ManifestCell

TIMING_METRICS = ("e2e_latency_s", "ttft_s", "tpot_s")
FORMAT_VERSION = "5.1.0"  # the pytest-benchmark release whose JSON layout this follows


def export_pytest_benchmark(run: RunData, path: str | Path) -> dict[str, Any]:
    """Write the run's timings as a pytest-benchmark JSON file; returns the document."""
    document = pytest_benchmark_document(run)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, json.dumps(document, indent=4, ensure_ascii=True) + "\n")
    return document


def pytest_benchmark_document(run: RunData) -> dict[str, Any]:
    """The pytest-benchmark JSON document of a run: machine_info, commit_info, benchmarks, datetime,
    version (FORMAT_VERSION)."""
    manifest = run.manifest
    return {"machine_info": machine_info(manifest.machine), "commit_info": commit_info(manifest),
            "benchmarks": benchmarks(run), "datetime": manifest.ended_at or manifest.started_at,
            "version": FORMAT_VERSION}


def machine_info(machine: dict[str, Any]) -> dict[str, Any]:
    """pytest-benchmark's machine_info keys, filled from the manifest (no hostname: node is empty)."""
    system, _, release = str(machine.get("os", "")).partition(" ")
    return {"node": "", "processor": machine.get("machine", ""), "machine": machine.get("machine", ""),
            "python_compiler": "", "python_implementation": "CPython",
            "python_implementation_version": machine.get("python", ""), "python_version": machine.get("python", ""),
            "python_build": [], "release": release, "system": system,
            "cpu": {"brand_raw": machine.get("cpu_model", ""), "count": machine.get("logical_cpus")},
            "gpus": [gpu.get("name") for gpu in machine.get("gpus") or []]}


def commit_info(manifest: Manifest) -> dict[str, Any]:
    """pytest-benchmark's commit_info from the manifest's git facts (id "unknown" outside git; no branch or time)."""
    git = manifest.git
    return {"id": git.commit or "unknown", "dirty": bool(git.dirty), "project": "bench",
            "branch": "(unknown)", "time": None, "author_time": None}


def benchmarks(run: RunData) -> list[dict[str, Any]]:
    """One benchmark entry per cell x timing metric that has samples (list of dicts, in manifest cell order)."""
    entries = []
    for cell in run.manifest.cells:
        samples = timing_samples([r for r in run.records if r.cell_id == cell.cell_id])
        entries += [benchmark_entry(run, cell, metric, samples[metric]) for metric in TIMING_METRICS
                    if samples[metric]]
    return entries


def benchmark_entry(run: RunData, cell: ManifestCell, metric: str, data: list[float]) -> dict[str, Any]:
    """One pytest-benchmark entry named "<model>/<task>/<metric>", grouped by task, unit s; `data` are the
    per-item samples (s), one round each."""
    name = f"{cell.model_id}/{cell.task_id}/{metric}"
    return {"group": cell.task_id, "name": name, "fullname": name, "params": None, "param": None,
            "extra_info": {"run_id": run.run_id, "cell_id": cell.cell_id, "model_id": cell.model_id,
                           "task_id": cell.task_id, "metric": metric, "unit": "s",
                           "basis": "measured: one round per item (status ok, every repetition)"},
            "options": {"disable_gc": False, "timer": "time.perf_counter", "min_rounds": len(data),
                        "max_time": None, "min_time": None, "warmup": False},
            "stats": {**sample_stats(data), "data": data, "iterations": 1}}


def sample_stats(data: list[float]) -> dict[str, Any]:
    """min ... total as pytest-benchmark computes them (its quartile methods and outlier counts)."""
    ordered = sorted(data)
    mean = statistics.mean(data)
    stddev = statistics.stdev(data) if len(data) > 1 else 0.0
    q1, q3 = quartiles(ordered)
    iqr = q3 - q1
    iqr_outliers = sum(1 for v in data if v < q1 - 1.5 * iqr or v > q3 + 1.5 * iqr)
    stddev_outliers = sum(1 for v in data if v < mean - stddev or v > mean + stddev)
    low, high = _tukey_fences(ordered, q1, q3)
    total = sum(data)
    return {"min": ordered[0], "max": ordered[-1], "mean": mean, "stddev": stddev, "rounds": len(data),
            "median": statistics.median(data), "iqr": iqr, "q1": q1, "q3": q3, "iqr_outliers": iqr_outliers,
            "stddev_outliers": stddev_outliers, "outliers": f"{stddev_outliers};{iqr_outliers}", "ld15iqr": low,
            "hd15iqr": high, "ops": len(data) / total if total else 0, "total": total}


def quartiles(ordered: list[float]) -> tuple[float, float]:
    """Q1 and Q3 by pytest-benchmark's methods: median of halves (even n), Method 3 weights (odd n)."""
    n = len(ordered)
    if n == 1:
        return ordered[0], ordered[0]
    if n % 2 == 0:
        return statistics.median(ordered[: n // 2]), statistics.median(ordered[n // 2:])
    k, r = n // 4, n % 4
    if r == 1:
        return (0.25 * ordered[k - 1] + 0.75 * ordered[k], 0.75 * ordered[3 * k] + 0.25 * ordered[3 * k + 1])
    return (0.75 * ordered[k] + 0.25 * ordered[k + 1], 0.25 * ordered[3 * k + 1] + 0.75 * ordered[3 * k + 2])


def _tukey_fences(ordered: list[float], q1: float, q3: float) -> tuple[float, float]:
    """Lowest and highest datum within 1.5 IQR of the quartiles."""
    if len(ordered) == 1:
        return ordered[0], ordered[0]
    iqr = q3 - q1
    low = ordered[min(bisect_left(ordered, q1 - 1.5 * iqr), len(ordered) - 1)]
    return low, ordered[bisect_right(ordered, q3 + 1.5 * iqr) - 1]
