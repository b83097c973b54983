"""Tests for bench.machine.calibrate: small, fast measurements of this machine's bandwidth and matrix throughput."""

from __future__ import annotations

from typing import Any

import pytest

import bench.machine.calibrate as calibrate
from bench.machine.calibrate import calibrate_machine, sgemm_gflops, stream_add_gb_s


@pytest.mark.parametrize("threads", [1, 2])
def test_stream_add_is_plausible(threads: int) -> None:
    # 3 arrays of 8 MiB, best of 3: a real machine moves between 1 and 1000 GB/s
    gb_s = stream_add_gb_s(threads, n_bytes=8 << 20, repeats=3)
    assert 1.0 < gb_s < 1000.0


def test_stream_add_with_more_threads_than_chunks_of_work() -> None:
    # 16 threads over a 1 MiB array: some chunks are tiny, none is lost
    assert stream_add_gb_s(16, n_bytes=1 << 20, repeats=2) > 0


def test_sgemm_is_plausible() -> None:
    # 256^3 x 2 = 33.5 MFLOP per multiply; any machine does more than 0.1 and less than 1e6 GFLOPS
    gflops = sgemm_gflops(size=256, repeats=2)
    assert 0.1 < gflops < 1e6


def test_calibrate_machine_keys_and_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, Any] = {}

    def fake_stream(threads: int) -> float:
        calls["threads"] = threads
        return 12.3456

    monkeypatch.setattr(calibrate, "stream_add_gb_s", fake_stream)
    monkeypatch.setattr(calibrate, "sgemm_gflops", lambda: 98.76)
    result = calibrate_machine(threads=3)
    assert set(result) == {"bandwidth_gb_s", "bandwidth_threads", "sgemm_gflops", "method"}
    assert result["bandwidth_gb_s"] == 12.35   # rounded to 2 decimals
    assert result["sgemm_gflops"] == 98.8      # rounded to 1 decimal
    assert result["bandwidth_threads"] == 3
    assert calls["threads"] == 3
    assert "STREAM" in result["method"]


def test_calibrate_machine_defaults_to_physical_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calibrate, "physical_cores", lambda: 7)
    monkeypatch.setattr(calibrate, "stream_add_gb_s", lambda threads: float(threads))
    monkeypatch.setattr(calibrate, "sgemm_gflops", lambda: 1.0)
    result = calibrate_machine()
    assert result["bandwidth_threads"] == 7
    assert result["bandwidth_gb_s"] == 7.0
