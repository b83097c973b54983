"""Run plan cells as Ray tasks (a local instance or a cluster) and stream their records into the one run
directory. A worker that dies mid-cell is retried by Ray; records already streamed are kept and a retry's
duplicates are dropped, so every item is recorded exactly once. A cell that still fails is recorded as failed.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.metrics.records import CellSegment, ItemRecord
from bench.optional import require
from bench.results.store import RunStore
from bench.run.runner import Progress, done_keys, prepare, run_cell
from bench.run.worker import MessageSink
from bench.suite.load import NoChecks, parse_suite
from bench.suite.plan import Plan, PlanOptions, build_plan

TASK_RETRIES = 2


class _Silent:
    def start_cell(self, *args: Any) -> None: ...

    def advance(self, *args: Any) -> None: ...

    def end_cell(self) -> None: ...

    def skip_cell(self, *args: Any) -> None: ...


def remote_cell(queue: Any, suite_text: str, suite_path: str, options: dict[str, Any], cell_id: str,
                done: list[tuple[str, str, int]]) -> str:
    """Executed by a Ray worker: rebuild the plan from the suite text and run one cell."""
    suite = parse_suite(suite_text, Path(suite_path), NoChecks())
    plan = build_plan(suite, PlanOptions.from_dict(options))
    cell = next(c for c in plan.cells if c.id == cell_id)
    run_cell(prepare(cell, suite, set(map(tuple, done))), suite, MessageSink(queue.put), _Silent())  # type: ignore[arg-type]
    return cell_id


def execute_ray(plan: Plan, store: RunStore, progress: Progress, address: str | None) -> None:
    """Submit every unfinished cell, then append what the workers stream back until all tasks end."""
    ray = require("ray", "--executor ray", "pip install -e '.[ray]'")
    from ray.util.queue import Queue

    if not ray.is_initialized():
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False)
    queue = Queue()
    seen = done_keys(store.records())
    task = ray.remote(max_retries=TASK_RETRIES)(remote_cell)
    pending = {}
    for cell in plan.cells:
        if prepare(cell, plan.suite, seen).pending:
            ref = task.options(**_resources(cell)).remote(queue, plan.suite.text, str(plan.suite.path),
                                                           asdict(plan.options), cell.id, sorted(seen))
            pending[ref] = cell
    _collect(ray, queue, pending, store, seen, progress)


def _resources(cell: Any) -> dict[str, Any]:
    """CPU (and GPU) requests of the cell's backend: llama.cpp takes its threads' cores, GPU engines a GPU."""
    from bench.backends.base import backend_factory

    factory, params = backend_factory(cell.model)
    return factory.ray_resources(params)


def _collect(ray: Any, queue: Any, pending: dict[Any, Any], store: RunStore, seen: set[tuple[str, str, int]],
             progress: Progress) -> None:
    while pending:
        finished, _ = ray.wait(list(pending), timeout=0.2)
        _drain(queue, store, seen, progress)
        for ref in finished:
            cell = pending.pop(ref)
            try:
                ray.get(ref)
            except Exception as exc:  # retries exhausted: the cell is recorded as failed, never lost
                store.append_segment(_failed_segment(cell, f"ray task failed after {TASK_RETRIES} retries: {exc}"))
    time.sleep(0.1)
    _drain(queue, store, seen, progress)


def _drain(queue: Any, store: RunStore, seen: set[tuple[str, str, int]], progress: Progress) -> None:
    while not queue.empty():
        kind, data = queue.get()
        if kind == "segment":
            store.append_segment(CellSegment.model_validate(data))
            continue
        record = ItemRecord.model_validate(data)
        if record.key not in seen:  # a retried task re-sends what its dead attempt already streamed
            seen.add(record.key)
            store.append_record(record)
            progress.advance(record)


def _failed_segment(cell: Any, reason: str) -> CellSegment:
    return CellSegment(cell_id=cell.id, model_id=cell.model.id, task_id=cell.task.id, segment="ray-failed",
                       backend={}, load_time_s=0.0, warmup_items=0, items_done=0, t_start=0.0, t_end=0.0,
                       rss_before_bytes=0, peak_rss_bytes=0, cpu_user_s=0.0, cpu_system_s=0.0, completed=False,
                       error=reason)
