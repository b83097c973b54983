"""GPU telemetry: graceful without a driver; real figures from a fake NVML module."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from bench.metrics.aggregate import performance_rows
from bench.metrics.gpu import GpuSampler
from bench.metrics.monitors import ProcessMonitor
from bench.metrics.records import CellSegment


def fake_pynvml(used: list[int], power_mw: int = 250_000, util: int = 80) -> Any:
    module = types.ModuleType("pynvml")
    readings = iter(used)
    module.nvmlInit = lambda: None  # type: ignore[attr-defined]
    module.nvmlDeviceGetCount = lambda: 1  # type: ignore[attr-defined]
    module.nvmlDeviceGetHandleByIndex = lambda i: f"gpu{i}"  # type: ignore[attr-defined]
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(used=next(readings, used[-1]))  # type: ignore[attr-defined]
    module.nvmlDeviceGetPowerUsage = lambda h: power_mw  # type: ignore[attr-defined]
    module.nvmlDeviceGetUtilizationRates = lambda h: types.SimpleNamespace(gpu=util)  # type: ignore[attr-defined]
    return module


def test_without_a_driver_gpu_figures_are_unavailable_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = types.ModuleType("pynvml")

    def fail() -> None:
        raise RuntimeError("NVML Shared Library Not Found")

    broken.nvmlInit = fail  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pynvml", broken)
    sampler = GpuSampler()
    assert not sampler.available and "unavailable" in sampler.reason
    with ProcessMonitor(gpu=sampler, meters=[]) as monitor:
        pass
    assert monitor.gpu.stats.summary()["gpu_mean_power_w"] is None


def test_samples_peak_memory_mean_power_and_utilisation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([1_000, 5_000, 3_000], power_mw=300_000, util=60))
    sampler = GpuSampler()
    for _ in range(3):
        sampler.sample()
    summary = sampler.stats.summary()
    assert summary == {"gpu_peak_memory_bytes": 5_000.0, "gpu_mean_power_w": 300.0, "gpu_mean_util_pct": 60.0}


def test_gpu_rows_appear_only_when_measured() -> None:
    base = {"cell_id": "c", "model_id": "m", "task_id": "t", "segment": "s", "backend": {}, "load_time_s": 1.0,
            "warmup_items": 0, "items_done": 2, "t_start": 0.0, "t_end": 2.0, "rss_before_bytes": 1,
            "peak_rss_bytes": 2, "cpu_user_s": 1.0, "cpu_system_s": 0.0, "completed": True}
    ident = {"cell_id": "c", "model_id": "m", "task_id": "t"}
    without = {r.metric for r in performance_rows([], [CellSegment(**base)], ident)}  # type: ignore[arg-type]
    assert "gpu_power_w" not in without
    gpu = {"gpu_peak_memory_bytes": 8e9, "gpu_mean_power_w": 210.0, "gpu_mean_util_pct": 75.0}
    rows = {r.metric: r.value for r in performance_rows([], [CellSegment(**base, gpu=gpu)], ident)}  # type: ignore[arg-type]
    assert rows["peak_gpu_memory_gb"] == pytest.approx(8.0)
    assert rows["gpu_power_w"] == 210.0 and rows["gpu_util_pct"] == 75.0
