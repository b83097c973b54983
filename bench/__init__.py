"""bench: benchmark and cost-compare language models on your own business tasks."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "load_run", "load_runs"]
__version__ = "0.1.0"


def load_run(path: Any, cost_options: Any = None) -> Any:
    """Load a run directory (see bench.api); imported lazily so `bench --help` stays fast."""
    from bench.api import load_run as _load_run

    return _load_run(path, cost_options)


def load_runs(paths: Any, cost_options: Any = None) -> Any:
    from bench.api import load_runs as _load_runs

    return _load_runs(paths, cost_options)
