"""Where a run came from: bench version, git commit, machine facts. Never a hostname or a secret."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.machine.detect import detect_machine


def bench_version() -> str:
    """The installed bench distribution's version, "unknown" when it is not installed."""
    try:
        return metadata.version("bench")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> dict[str, Any]:
    """The commit of the bench checkout and whether it had local changes (None outside git)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip() != ""
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": dirty}


def provenance() -> dict[str, Any]:
    """{"bench_version": str, "git": git_commit(), "machine": detect_machine()}, as the manifest records it."""
    return {"bench_version": bench_version(), "git": git_commit(), "machine": detect_machine()}
