"""Rate sweeps: expansion into cells, the curve, and the highest rate meeting the p95 objective."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.api import load_run
from bench.metrics.sweep import max_rate
from bench.report.plots import sweep_figure
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan
from bench.suite.spec import LoadSpec

WriteSuite = Callable[[dict[str, Any] | str], Path]


def point(rate: float, p95: float | None) -> dict[str, Any]:
    return {"offered_rps": rate, "e2e_p95_s": p95}


def test_max_rate_is_the_last_rate_before_the_objective_is_missed() -> None:
    points = [point(1, 0.2), point(2, 0.3), point(4, 0.9), point(8, 0.4)]
    assert max_rate(points, 0.5) == 2          # 4/s misses; 8/s meeting it again after a miss does not count
    assert max_rate(points, 0.1) is None
    assert max_rate(points, None) is None
    assert max_rate([point(1, None)], 1.0) is None


def test_a_rate_list_expands_into_one_cell_per_rate(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    assert [spec.label for spec in LoadSpec(mode="rate", rate_rps=(1.0, 2.5)).expand()] == ["rate-1rps",
                                                                                            "rate-2.5rps"]
    suite = fake_suite(labels_jsonl, load=[{"mode": "rate", "rate_rps": [1, 2, 4]}])
    plan = build_plan(load_suite(write_suite(suite)), PlanOptions())
    assert [c.load.rates() for c in plan.cells] == [(1.0,), (2.0,), (4.0,)]


def test_a_sweep_on_an_engine_that_serialises_finds_its_saturation(write_suite: WriteSuite, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """25 ms per request, one at a time: about 40 req/s at most; at 160 req/s the queue grows."""
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 100.0})
    monkeypatch.setattr("bench.backends.fake.FakeBackend.max_parallel", 1)
    data = tmp_path / "items.jsonl"
    data.write_text("".join(f'{{"id": "i{n:02d}", "text": "t", "label": "billing"}}\n' for n in range(24)))
    suite = fake_suite(data, models=[{"id": "fake-a", "backend": {"kind": "fake", "delay_s": 0.025}}],
                       load=[{"mode": "rate", "rate_rps": [5, 160], "seed": 1}], slo={"e2e_s": 0.1})
    store = start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs"), SilentProgress())
    run = load_run(store.path)
    (curve,) = run.summary.sweeps
    slow, fast = curve["points"]
    assert slow["e2e_p95_s"] < 0.1 < fast["e2e_p95_s"]   # queueing at 160 req/s is counted from arrival
    assert curve["max_rate_meeting_p95_rps"] == 5
    assert fast["achieved_tasks_per_s"] < 45             # an engine of ~40 req/s cannot achieve 160
    assert "Rate sweep: fake-a × triage" in (store.path / "report.md").read_text()
    assert sweep_figure([run]) is not None
