"""Fixtures shared by the comparison tests."""

from __future__ import annotations

import pytest

import bench.run.lifecycle
from bench.metrics import monitors, stats


@pytest.fixture
def fast_and_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fewer bootstrap resamples, a fixed calibration, and no contention probe: runs here are compared for what
    was planted in them, not for how busy the test machine was."""
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 80.0})
    monkeypatch.setattr(monitors.ContentionProbe, "finish", lambda self, own_cpu_s, own_pids: {})
