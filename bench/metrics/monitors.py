"""Resource monitors as context managers, so measuring stays out of the business logic."""

from __future__ import annotations

import threading
from types import TracebackType

import psutil


class ProcessMonitor:
    """Samples this process's RSS in a background thread; records peak RSS and CPU time used.

    with ProcessMonitor() as mon: ...   then mon.peak_rss_bytes, mon.cpu_user_s, mon.cpu_system_s
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.process = psutil.Process()
        self.rss_before_bytes = 0
        self.peak_rss_bytes = 0
        self.cpu_user_s = 0.0
        self.cpu_system_s = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_loop, name="bench-rss-sampler", daemon=True)

    def __enter__(self) -> ProcessMonitor:
        self.rss_before_bytes = self.peak_rss_bytes = self.process.memory_info().rss
        self._cpu_start = self.process.cpu_times()
        self._thread.start()
        return self

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        self.peak_rss_bytes = max(self.peak_rss_bytes, self.process.memory_info().rss)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
        cpu = self.process.cpu_times()
        self.cpu_user_s = cpu.user - self._cpu_start.user
        self.cpu_system_s = cpu.system - self._cpu_start.system
