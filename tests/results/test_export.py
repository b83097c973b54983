"""bench export pytest-benchmark: the layout pytest-benchmark writes, stats as it computes them, and its own
`pytest-benchmark compare` CLI reading the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.cli.main import main
from bench.metrics import stats
from bench.results.export import sample_stats
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

pb_stats = pytest.importorskip("pytest_benchmark.stats")


@pytest.fixture(autouse=True)
def _fast_and_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 80.0})


@pytest.fixture
def exported(write_suite: Any, labels_jsonl: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    models = [{"id": "fake-a", "backend": {"kind": "fake", "delay_s": 0.001}},
              {"id": "fake-b", "backend": {"kind": "fake", "delay_s": 0.002, "fail_every": 3}}]
    suite = write_suite(fake_suite(labels_jsonl, models=models, repetitions=2))
    run = start_run(RunRequest(suite, PlanOptions(), tmp_path / "results"), SilentProgress()).path
    target = tmp_path / "export" / "bench.json"
    assert main(["export", "pytest-benchmark", str(run), str(target)]) == 0
    assert "benchmarks" in capsys.readouterr().err
    return target


def oracle(data: list[float]) -> dict[str, Any]:
    """pytest-benchmark's own Stats on the same samples."""
    reference = pb_stats.Stats()
    for value in data:
        reference.update(value)
    return dict(reference.as_dict())


def test_layout_and_stats_match_pytest_benchmark(exported: Path) -> None:
    document = json.loads(exported.read_text())
    assert set(document) == {"machine_info", "commit_info", "benchmarks", "datetime", "version"}
    assert document["machine_info"]["node"] == ""  # never a hostname
    names = [b["name"] for b in document["benchmarks"]]
    assert names == [f"{m}/triage/{t}" for m in ("fake-a", "fake-b") for t in ("e2e_latency_s", "ttft_s", "tpot_s")]
    by_name = {b["name"]: b for b in document["benchmarks"]}
    assert by_name["fake-a/triage/e2e_latency_s"]["stats"]["rounds"] == 12  # 6 items x 2 repetitions
    assert by_name["fake-b/triage/e2e_latency_s"]["stats"]["rounds"] == 8  # every 3rd request failed: not timed
    for entry in document["benchmarks"]:
        assert entry["group"] == "triage" and entry["extra_info"]["unit"] == "s"
        data = entry["stats"]["data"]
        assert entry["stats"] == {**oracle(data), "data": data, "iterations": 1}
    assert 0.001 <= by_name["fake-a/triage/e2e_latency_s"]["stats"]["min"] < 0.5


@pytest.mark.parametrize("data", [[0.5], [3.0, 1.0], [1.0, 2.0, 9.0], [4.0, 1.0, 2.0, 3.0, 50.0],
                                  [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], [0.1 * i for i in range(1, 10)] + [7.0]])
def test_sample_stats_equal_pytest_benchmarks(data: list[float]) -> None:
    assert sample_stats(data) == oracle(data)


def test_pytest_benchmark_compare_reads_the_file(exported: Path) -> None:
    executable = shutil.which("pytest-benchmark") or str(Path(sys.executable).with_name("pytest-benchmark"))
    done = subprocess.run([executable, "compare", str(exported), "--columns", "min,median,mean,max,rounds"],
                          capture_output=True, text=True, timeout=120, cwd=exported.parent)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Failed to load" not in output
    for name in ("fake-a/triage/e2e_latency_s", "fake-b/triage/tpot_s"):
        assert name in output
    assert "benchmark 'triage'" in output
