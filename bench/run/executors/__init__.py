"""Executors: where a plan's cells run (the "launcher" axis), registered by name like backends and scorers.

process (default)  each model's cells in a worker process; this process alone writes the run
local              every cell in this process (debugging; a native crash ends the run)
ray[:ADDRESS]      cells as Ray tasks on a local instance or a cluster
"""

from __future__ import annotations

from typing import Protocol

from bench.registry import Registry
from bench.results.store import RunStore
from bench.run.runner import Progress
from bench.suite.plan import Plan


class Executor(Protocol):
    """Runs every cell of `plan` that has items left (resume: the store's settled items are skipped), appending
    records and segments to `store` (its one writer) and reporting to `progress`. `address` is what follows
    `NAME:` on the command line (ray:ADDRESS), None without one; an executor that takes none raises RunError
    when given one. KeyboardInterrupt propagates after what was measured is stored."""

    def __call__(self, plan: Plan, store: RunStore, progress: Progress, address: str | None) -> None:
        """Run the plan's pending cells into `store`; RunError for an address it cannot use."""


EXECUTORS: Registry[Executor] = Registry("executor")
EXECUTORS.add("process", "bench.run.executors.process:execute_process")
EXECUTORS.add("local", "bench.run.executors.process:execute_local")
EXECUTORS.add("ray", "bench.run.executors.ray_executor:execute_ray")
