"""Facts about this machine, without volatile identifiers (no hostname, no PIDs)."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import psutil


def physical_cores() -> int:
    """Physical core count (llama.cpp's best thread count), falling back to logical CPUs."""
    return psutil.cpu_count(logical=False) or os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, or platform's best guess elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def detect_machine() -> dict[str, Any]:
    """CPU model, cores, RAM and OS: the stable identity used in provenance and comparisons."""
    return {
        "cpu_model": cpu_model(),
        "physical_cores": physical_cores(),
        "logical_cpus": psutil.cpu_count(logical=True) or 1,
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
    }
