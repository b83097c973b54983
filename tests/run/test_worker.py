"""The process executor's worker: it runs its cells on the items the parent already read (no dataset read)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from suite_factory import fake_suite

from bench.run.worker import PipeSink, WorkOrder, run_cells
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan
from bench.tasks.datasets import read_once

WriteSuite = Callable[[dict[str, Any] | str], Path]


class Pipe:
    """The worker's end of the pipe, keeping what it sends."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, message: tuple[str, Any]) -> None:
        self.sent.append(message)


def test_a_worker_reads_no_dataset_the_parent_read(write_suite: WriteSuite, labels_jsonl: Path,
                                                   dataset_reads: Counter[str]) -> None:
    models = [{"id": "a", "backend": {"kind": "fake"}}, {"id": "b", "backend": {"kind": "fake", "choice_index": 1}}]
    with read_once() as parent:
        plan = build_plan(load_suite(write_suite(fake_suite(labels_jsonl, models=models))), PlanOptions())
    assert dataset_reads == {"items.jsonl": 1}
    order = WorkOrder(plan.suite.text, str(plan.suite.path), asdict(plan.options), tuple(c.id for c in plan.cells),
                      (), items=dict(parent.items))
    pipe = Pipe()
    run_cells(order, PipeSink(pipe))
    assert Counter(kind for kind, _ in pipe.sent)["record"] == 2 * 6
    assert dataset_reads == {"items.jsonl": 1}  # still the parent's one read
