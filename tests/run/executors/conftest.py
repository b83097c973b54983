"""Executor tests share a fixed calibration: measuring the machine is not what they test."""

from __future__ import annotations

import pytest

import bench.run.lifecycle


@pytest.fixture(autouse=True)
def _fixed_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 100.0})
