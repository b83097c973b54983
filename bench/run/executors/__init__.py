"""Executors: where a plan's cells run (the "launcher" axis). Each is `(plan, store, progress, address)`.

process (default)  each model's cells in a worker process; this process alone writes the run
local              every cell in this process (debugging; a native crash ends the run)
ray[:ADDRESS]      cells as Ray tasks on a local instance or a cluster
"""

from __future__ import annotations

from typing import Any

from bench.registry import Registry

EXECUTORS: Registry[Any] = Registry("executor")
EXECUTORS.add("process", "bench.run.executors.process:execute_process")
EXECUTORS.add("local", "bench.run.executors.process:execute_local")
EXECUTORS.add("ray", "bench.run.executors.ray_executor:execute_ray")
