"""Optional engines are imported only when used, with a one-line error naming what to install."""

from __future__ import annotations

import importlib
from typing import Any

from bench.errors import BackendError


def require(module: str, needed_by: str, install: str) -> Any:
    """import_module(module), or BackendError('<needed_by> needs <module>: <install>')."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BackendError(f"{needed_by} needs {module}: {install}") from None


def llama_cpp() -> Any:
    """The llama_cpp module; BackendError naming `pip install -e '.[llama]'` when it is not installed."""
    return require("llama_cpp", "the llama_cpp backend", "pip install -e '.[llama]'")
