"""NVIDIA GPU telemetry through nvidia-ml-py: memory used, power draw and utilisation, sampled in the same
monitor as RSS. Without a driver `nvmlInit()` raises NVMLError: GPU figures are then reported unavailable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class GpuStats:
    """Running aggregates over the samples of every visible GPU."""

    peak_memory_bytes: int = 0
    power_w: list[float] = field(default_factory=list)
    util_pct: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | None]:
        def mean(values: list[float]) -> float | None:
            return sum(values) / len(values) if values else None

        return {"gpu_peak_memory_bytes": float(self.peak_memory_bytes) if self.power_w or self.util_pct else None,
                "gpu_mean_power_w": mean(self.power_w), "gpu_mean_util_pct": mean(self.util_pct)}


class GpuSampler:
    """One sample() reads every GPU once; unavailable() is True on machines without an NVIDIA driver."""

    def __init__(self) -> None:
        self.pynvml: Any = None
        self.handles: list[Any] = []
        self.reason = ""
        try:
            import pynvml

            pynvml.nvmlInit()
            self.pynvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception as exc:  # no package, no driver (NVMLError_LibraryNotFound), no device
            self.reason = f"GPU telemetry unavailable: {exc}"
        self.stats = GpuStats()

    @property
    def available(self) -> bool:
        return bool(self.handles)

    def sample(self) -> None:
        memory = 0
        for handle in self.handles:
            memory += int(self.pynvml.nvmlDeviceGetMemoryInfo(handle).used)
            self.stats.power_w.append(self.pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)
            self.stats.util_pct.append(float(self.pynvml.nvmlDeviceGetUtilizationRates(handle).gpu))
        self.stats.peak_memory_bytes = max(self.stats.peak_memory_bytes, memory)
