"""Resource monitors as context managers, so measuring stays out of the business logic."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import psutil

from bench.metrics.energy import EnergyMeter, available_meters
from bench.metrics.gpu import GpuSampler


class ProcessMonitor:
    """Samples the RSS of this process and its descendants (an engine's worker processes, e.g. vLLM's) in a
    background thread; records the peak and the CPU time the whole tree used.

    with ProcessMonitor() as mon: ...   then mon.peak_rss_bytes, mon.cpu_user_s, mon.cpu_system_s, mon.energy_j
    Energy is measured by the readable counters (RAPL, NVML); energy_j is None when there are none.
    NVIDIA GPUs (when a driver is present) are sampled too: mon.gpu.stats.summary().
    A child's CPU time counts up to its last sample, so children that exit before the end still count.
    """

    CHILD_SCAN_S = 0.5
    """How often the process tree is listed (listing scans /proc; sampling the known processes is cheap)."""

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
        self._children: list[psutil.Process] = []
        self._next_scan = 0.0
        self._child_cpu: dict[int, tuple[float, float]] = {}
        self._child_cpu_start: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-rss-sampler", daemon=True)

    def __enter__(self) -> ProcessMonitor:
        self.sample()
        self.rss_before_bytes = self.peak_rss_bytes
        self._cpu_start = self.process.cpu_times()
        self._child_cpu_start = dict(self._child_cpu)
        self._energy_start = [m.read_j() for m in self.meters]
        self._thread.start()
        return self

    def mark(self) -> None:
        """Start CPU-time and energy accounting from now (e.g. after model load and warm-up)."""
        self.sample()
        self._cpu_start = self.process.cpu_times()
        with self._lock:
            self._child_cpu_start = dict(self._child_cpu)
        self._energy_start = [m.read_j() for m in self.meters]

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        now = time.monotonic()
        if now >= self._next_scan:
            try:
                self._children = self.process.children(recursive=True)
            except psutil.Error:
                self._children = []
            self._next_scan = now + self.CHILD_SCAN_S
        rss = self.process.memory_info().rss
        for child in self._children:
            try:
                rss += child.memory_info().rss
                times = child.cpu_times()
            except psutil.Error:  # exited since the last scan
                continue
            with self._lock:
                self._child_cpu[child.pid] = (times.user, times.system)
        self.peak_rss_bytes = max(self.peak_rss_bytes, rss)
        if self.gpu.available:
            self.gpu.sample()

    def _children_cpu_since_start(self) -> tuple[float, float]:
        with self._lock:
            user = sum(u - self._child_cpu_start.get(pid, (0.0, 0.0))[0] for pid, (u, _) in self._child_cpu.items())
            system = sum(s - self._child_cpu_start.get(pid, (0.0, 0.0))[1] for pid, (_, s) in self._child_cpu.items())
        return user, system

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        cpu = self.process.cpu_times()
        child_user, child_system = self._children_cpu_since_start()
        self.cpu_user_s = cpu.user - self._cpu_start.user + child_user
        self.cpu_system_s = cpu.system - self._cpu_start.system + child_system
        if self.meters:
            self.energy_j = sum(m.read_j() - s for m, s in zip(self.meters, self._energy_start, strict=True))
