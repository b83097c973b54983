"""Tests for bench.metrics.monitors.ProcessMonitor."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from bench.metrics.monitors import ProcessMonitor

MB = 1024 * 1024


def _touched_block(size: int) -> bytearray:
    """A block whose pages are really written (so they count in RSS)."""
    block = bytearray(size)
    for offset in range(0, size, 4096):
        block[offset] = 1
    return block


def test_peak_rss_rises_when_the_block_allocates() -> None:
    with ProcessMonitor(interval_s=0.01) as mon:
        block = _touched_block(200 * MB)
        time.sleep(0.1)
        del block
    assert mon.rss_before_bytes > 0
    assert mon.peak_rss_bytes - mon.rss_before_bytes >= 150 * MB


def test_peak_caught_by_sampler_after_memory_is_freed() -> None:
    with ProcessMonitor(interval_s=0.005) as mon:
        block = _touched_block(200 * MB)
        time.sleep(0.1)
        del block
        time.sleep(0.05)
        after_free = psutil.Process().memory_info().rss
    assert mon.peak_rss_bytes >= after_free
    assert mon.peak_rss_bytes - mon.rss_before_bytes >= 150 * MB


def test_peak_is_never_below_start() -> None:
    with ProcessMonitor() as mon:
        pass
    assert mon.peak_rss_bytes >= mon.rss_before_bytes > 0


def test_cpu_time_is_non_negative_and_counts_busy_work() -> None:
    with ProcessMonitor() as mon:
        deadline = time.process_time() + 0.2
        total = 0
        while time.process_time() < deadline:
            total += sum(range(1000))
    assert total > 0
    assert mon.cpu_user_s >= 0.0
    assert mon.cpu_system_s >= 0.0
    assert mon.cpu_user_s + mon.cpu_system_s >= 0.1


def test_sampler_thread_stops_on_exit() -> None:
    with ProcessMonitor(interval_s=0.01) as mon:
        assert mon._thread.is_alive()
    assert not mon._thread.is_alive()


def test_values_are_recorded_even_when_the_block_raises() -> None:
    mon = ProcessMonitor()
    try:
        with mon:
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert mon.peak_rss_bytes > 0
    assert not mon._thread.is_alive()
    assert mon.cpu_user_s >= 0.0


CHILD = """
import time
block = bytearray(300 * 2**20)
for i in range(0, len(block), 4096):
    block[i] = 1
end = time.process_time() + 0.6
while time.process_time() < end:
    pass
time.sleep(0.8)
"""


def test_a_child_process_memory_and_cpu_count_even_after_it_exits() -> None:
    """Engines such as vLLM run the model in worker processes: their RSS and CPU time are the run's."""
    with ProcessMonitor(meters=[]) as monitor:
        subprocess.run([sys.executable, "-c", CHILD], check=True)
    assert monitor.peak_rss_bytes - monitor.rss_before_bytes > 250 * 2**20
    assert monitor.cpu_user_s + monitor.cpu_system_s > 0.4
