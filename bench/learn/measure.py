"""Measuring a learn curve end to end: load and check the suite's task, run every fit, and return the curve
document with its timing context (wall and CPU seconds, load average) and the per-item records."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import Problem, SpecError
from bench.learn.classifiers import make_classifier
from bench.learn.curve import CurveConfig, Fit, check_config, run_curve
from bench.learn.curve_task import LabelTask, label_task
from bench.learn.output import curve_document, fit_records
from bench.learn.params import classifier_params
from bench.results.schema import Record
from bench.suite.load import load_suite
from bench.suite.spec import LoadedSuite

KIND_ALIASES = {"tfidf": "tfidf_logreg", "embed": "embed_logreg"}


@dataclass(frozen=True)
class Measured:
    """A measured curve: its document (curve.json) and every trained model's per-item records."""

    document: dict[str, Any]
    records: list[Record]
    fits: list[Fit]


def checked_kind(kind: str) -> str:
    """The classifier kind (aliases tfidf, embed resolved); SpecError naming the kinds for an unknown one."""
    kind = KIND_ALIASES.get(kind, kind)
    try:
        classifier_params(kind, {})
    except ValueError as exc:
        raise SpecError([Problem("bench learn-curve", "--model", str(exc), "e.g. --model tfidf_logreg")]) from None
    return kind


def prepare(path: Path, task_id: str, config: CurveConfig) -> tuple[LoadedSuite, LabelTask]:
    """The suite at `path` and its checked task, with `config` checked; SpecError (one line) for any bad input."""
    suite = load_suite(path)
    task = label_task(suite, task_id)
    check_config(config, len(task.pool.texts), task.where, (task_id, len(task.classes)))
    return suite, task


def _context(start: float, cpu: float, load_before: tuple[float, float, float]) -> dict[str, Any]:
    return {"elapsed_s": round(time.perf_counter() - start, 3), "cpu_s": round(time.process_time() - cpu, 3),
            "loadavg_before": list(load_before), "loadavg_after": list(os.getloadavg()),
            "cpu_count": os.cpu_count()}


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread (threadpoolctl) inside the block. The fits are small: on the 2-core test machine
    under load, OpenBLAS's threads made scikit-learn's lbfgs 40x slower in wall time (23 s vs 0.5 s for 7 fits)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def measure(task: LabelTask, config: CurveConfig, progress: Callable[[Fit], None] = lambda fit: None) -> Measured:
    """Run the curve of `task` (classifiers from make_classifier(config.kind, seed, **config.params)), BLAS on one
    thread; `progress` is called after each fit."""
    start, cpu, load = time.perf_counter(), time.process_time(), os.getloadavg()
    fits, records = [], []
    with one_blas_thread():
        for fit in run_curve(task, config, lambda seed: make_classifier(config.kind, seed, **config.params)):
            fits.append(fit)
            records.extend(fit_records(task, config, fit))
            progress(fit)
    return Measured(curve_document(task, config, fits, _context(start, cpu, load)), records, fits)
