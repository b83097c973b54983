"""Resource monitors as context managers, so measuring stays out of the business logic."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil

from bench.metrics.energy import EnergyMeter, available_meters
from bench.metrics.gpu import GpuSampler


class ProcessMonitor:
    """Samples this process's RSS in a background thread; records peak RSS and CPU time used.

    with ProcessMonitor() as mon: ...   then mon.peak_rss_bytes, mon.cpu_user_s, mon.cpu_system_s, mon.energy_j
    Energy is measured by the readable counters (RAPL, NVML); energy_j is None when there are none.
    NVIDIA GPUs (when a driver is present) are sampled too: mon.gpu.stats.summary().
    """

    def __init__(self, interval_s: float = 0.02, meters: list[EnergyMeter] | None = None,
                 gpu: GpuSampler | None = None) -> None:
        self.interval_s = interval_s
        self.process = psutil.Process()
        self.rss_before_bytes = 0
        self.peak_rss_bytes = 0
        self.cpu_user_s = 0.0
        self.cpu_system_s = 0.0
        self.meters = available_meters() if meters is None else meters
        self.energy_j: float | None = None
        self.energy_source = "+".join(m.source for m in self.meters) or "none"
        self._energy_start: list[float] = []
        self.gpu = gpu if gpu is not None else GpuSampler()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-rss-sampler", daemon=True)

    def __enter__(self) -> ProcessMonitor:
        self.rss_before_bytes = self.peak_rss_bytes = self.process.memory_info().rss
        self._cpu_start = self.process.cpu_times()
        self._energy_start = [m.read_j() for m in self.meters]
        self._thread.start()
        return self

    def mark(self) -> None:
        """Start CPU-time and energy accounting from now (e.g. after model load and warm-up)."""
        self._cpu_start = self.process.cpu_times()
        self._energy_start = [m.read_j() for m in self.meters]

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        self.peak_rss_bytes = max(self.peak_rss_bytes, self.process.memory_info().rss)
        if self.gpu.available:
            self.gpu.sample()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        cpu = self.process.cpu_times()
        self.cpu_user_s = cpu.user - self._cpu_start.user
        self.cpu_system_s = cpu.system - self._cpu_start.system
        if self.meters:
            self.energy_j = sum(m.read_j() - s for m, s in zip(self.meters, self._energy_start, strict=True))
