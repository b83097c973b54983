"""Resource monitors as context managers, so measuring stays out of the business logic."""

from __future__ import annotations

import threading
import time
from types import TracebackType

import psutil

from bench.metrics.energy import EnergyMeter, available_meters
from bench.metrics.gpu import GpuSampler


class ProcessMonitor:
    """Samples the memory of this process and its descendants (an engine's worker processes, e.g. vLLM's) in a
    background thread; records the peak and the CPU time the whole tree used.

    Memory is this process's RSS while it has no children; with children it is the sum of the tree's PSS
    (proportional set size), so pages that forked workers share are counted once, not once per process.

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
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-rss-sampler", daemon=True)

    def __enter__(self) -> ProcessMonitor:
        self._next_scan = 0.0  # the first sample lists the tree
        self.sample()
        self.rss_before_bytes = self.peak_rss_bytes
        self._cpu_start = self.process.cpu_times()
        self._child_cpu_start = dict(self._child_cpu)
        self._energy_start = [m.read_j() for m in self.meters]
        self._thread.start()
        return self

    def mark(self) -> None:
        """Start CPU-time and energy accounting from now (e.g. after model load and warm-up)."""
        with self._lock:
            self._scan()
            self._child_cpu_start = dict(self._child_cpu)
        self._cpu_start = self.process.cpu_times()
        self._energy_start = [m.read_j() for m in self.meters]

    def pause(self) -> None:
        """Stop sampling memory until resume() (work that is not the measured job, e.g. a file conversion)."""
        self._paused.set()

    def resume(self) -> None:
        with self._lock:
            self._children = []  # children of the paused work are not the job's
            self._next_scan = 0.0
            self._paused.clear()

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            if not self._paused.is_set():
                self.sample()

    def sample(self) -> None:
        with self._lock:  # the sampler thread and the owner (enter, mark, exit) both sample
            now = time.monotonic()
            if now >= self._next_scan:
                self._scan()
                self._next_scan = now + self.CHILD_SCAN_S
            elif not self._children:
                self.peak_rss_bytes = max(self.peak_rss_bytes, self.process.memory_info().rss)
            if self.gpu.available:
                self.gpu.sample()

    def _scan(self) -> None:
        """List the tree, read its children's CPU times and the tree's memory (PSS summed when it has children)."""
        try:
            self._children = self.process.children(recursive=True)
        except psutil.Error:
            self._children = []
        if not self._children:
            self.peak_rss_bytes = max(self.peak_rss_bytes, self.process.memory_info().rss)
            return
        total = self.process.memory_full_info().pss
        for child in self._children:
            try:
                total += child.memory_full_info().pss
                times = child.cpu_times()
            except psutil.Error:  # exited since it was listed
                continue
            self._child_cpu[child.pid] = (times.user, times.system)
        self.peak_rss_bytes = max(self.peak_rss_bytes, total)

    def _children_cpu_since_start(self) -> tuple[float, float]:
        with self._lock:
            self._scan()  # the latest CPU times of children still alive
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
