"""Load modes: the driver's concurrency, Poisson arrivals, and their figures (fake backend, real threads)."""

from __future__ import annotations

import itertools
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, get_args

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.backends.base import Request, Result, now
from bench.backends.fake import FakeBackend, FakeParams
from bench.errors import SpecError
from bench.metrics.aggregate import e2e_s, meets_slo, send_lag_s, ttft_s
from bench.metrics.records import ItemRecord
from bench.results.summary import summarize_run
from bench.run.lifecycle import RunRequest, start_run
from bench.run.load_modes import LOAD_MODES, arrival_offsets, drive, wanted_parallel
from bench.run.progress import SilentProgress
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan
from bench.suite.spec import GenerationSpec, LoadSpec, SloSpec

WriteSuite = Callable[[dict[str, Any] | str], Path]


def requests(n: int) -> list[Request]:
    return [Request(id=f"r{i}", messages=(), completion="x", mode="text", generation=GenerationSpec())
            for i in range(n)]


class Counting(FakeBackend):
    """Records the most requests it ever had in flight at once."""

    def __init__(self, params: FakeParams, max_parallel: int) -> None:
        super().__init__(params)
        self.max_parallel = max_parallel
        self.active = self.peak = 0
        self.guard = threading.Lock()

    def generate(self, batch: Sequence[Request]) -> Iterator[Result]:
        for request in batch:
            with self.guard:
                self.active += 1
                self.peak = max(self.peak, self.active)
            try:
                yield self._answer(request)
            finally:
                with self.guard:
                    self.active -= 1


def timed(backend: FakeBackend, load: LoadSpec, n: int = 8) -> tuple[float, list[Result]]:
    start = time.perf_counter()
    results = list(drive(backend, requests(n), load))
    return time.perf_counter() - start, results


def test_arrivals_are_a_seeded_poisson_process() -> None:
    offsets = arrival_offsets(4000, rate_rps=20.0, seed=7)
    assert offsets == arrival_offsets(4000, rate_rps=20.0, seed=7) != arrival_offsets(4000, 20.0, seed=8)
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert offsets[0] == 0.0 and all(g >= 0 for g in gaps)
    assert statistics.fmean(gaps) == pytest.approx(1 / 20.0, rel=0.06)  # exponential gaps, mean 1/rate
    assert statistics.pstdev(gaps) == pytest.approx(1 / 20.0, rel=0.1)   # and std = mean


def test_wanted_parallel_per_mode() -> None:
    assert wanted_parallel(LoadSpec(), 10) == 1
    assert wanted_parallel(LoadSpec(mode="concurrency", concurrency=3), 10) == 3
    assert wanted_parallel(LoadSpec(mode="throughput"), 10) == 10


def test_concurrency_overlaps_requests_and_keeps_every_result() -> None:
    sequential, _ = timed(Counting(FakeParams(delay_s=0.05), 64), LoadSpec())
    backend = Counting(FakeParams(delay_s=0.05), 64)
    parallel, results = timed(backend, LoadSpec(mode="concurrency", concurrency=4))
    assert sorted(r.request_id for r in results) == sorted(f"r{i}" for i in range(8))
    assert backend.peak == 4
    assert parallel < sequential / 2  # 8 x 50 ms: about 0.4 s one by one, 0.1 s four at a time


def test_an_engine_that_cannot_batch_is_never_overloaded() -> None:
    backend = Counting(FakeParams(delay_s=0.01), max_parallel=1)
    _, results = timed(backend, LoadSpec(mode="throughput"))
    assert backend.peak == 1 and len(results) == 8


def test_rate_mode_sends_at_the_arrival_times_and_records_them() -> None:
    backend = Counting(FakeParams(delay_s=0.005), 64)
    load = LoadSpec(mode="rate", rate_rps=40.0, seed=3)
    start = now()
    elapsed, results = timed(backend, load, n=20)
    arrivals = sorted(r.extra["t_arrival"] for r in results)
    offsets = arrival_offsets(20, 40.0, 3)
    assert [a - arrivals[0] for a in arrivals] == pytest.approx(offsets, abs=1e-6)  # epoch floats: ~0.2 µs
    lags = [r.t_start - r.extra["t_arrival"] for r in results]
    assert min(lags) >= -1e-3 and statistics.median(lags) < 0.02  # the generator sends on time
    assert elapsed >= offsets[-1] and arrivals[0] >= start


def record(**kw: Any) -> ItemRecord:
    base = {"cell_id": "c", "model_id": "m", "task_id": "t", "task_version": "1", "item_id": "i", "segment": "s",
            "prompt_sha256": "p", "t_start": 10.0, "t_first_token": 10.2, "t_end": 11.0, "completion_tokens": 5}
    return ItemRecord(**(base | kw))


def test_latency_counts_from_arrival_and_send_lag_is_reported() -> None:
    queued = record(t_arrival=9.5)
    assert ttft_s(queued) == pytest.approx(0.7) and e2e_s(queued) == pytest.approx(1.5)
    assert send_lag_s(queued) == pytest.approx(0.5) and send_lag_s(record()) is None


def test_slo_attainment_uses_every_objective_set() -> None:
    slo = SloSpec(ttft_s=0.5, tpot_s=0.25, e2e_s=2.0)
    assert meets_slo(record(), slo)                                   # ttft 0.2, tpot 0.2, e2e 1.0
    assert not meets_slo(record(t_arrival=9.0), slo)                  # ttft from arrival 1.2 > 0.5
    assert not meets_slo(record(t_end=11.5), slo)                     # tpot 1.3/4 = 0.325 > 0.25
    assert meets_slo(record(completion_tokens=1), SloSpec(tpot_s=0.01))  # no decode: TPOT does not apply
    assert not meets_slo(record(status="error"), slo)


def test_mode_parameters_are_required(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    path = write_suite(fake_suite(labels_jsonl, load=[{"mode": "concurrency"}, {"mode": "rate"}]))
    with pytest.raises(SpecError) as info:
        load_suite(path)
    text = str(info.value)
    assert "concurrency needs concurrency" in text and "rate needs rate_rps" in text


def test_load_modes_are_a_plan_axis_with_stable_latency_ids(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    plain = build_plan(load_suite(write_suite(fake_suite(labels_jsonl))), PlanOptions())
    modes = [{"mode": "latency"}, {"mode": "concurrency", "concurrency": 4}, {"mode": "rate", "rate_rps": 5}]
    swept = build_plan(load_suite(write_suite(fake_suite(labels_jsonl, load=modes))), PlanOptions())
    assert [c.key for c in swept.cells] == ["fake-a/triage", "fake-a/triage/concurrency-4", "fake-a/triage/rate-5rps"]
    assert swept.cells[0].id == plain.cells[0].id
    assert len({c.id for c in swept.cells}) == 3


def test_a_run_reports_each_mode_with_goodput(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine",
                        lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    models = [{"id": "fake-a", "backend": {"kind": "fake", "delay_s": 0.03}}]
    modes = [{"mode": "latency"}, {"mode": "concurrency", "concurrency": 6}, {"mode": "rate", "rate_rps": 100}]
    suite = fake_suite(labels_jsonl, models=models, load=modes, slo={"e2e_s": 0.5})
    store = start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs"), SilentProgress())
    summary = summarize_run(store)
    by_load = {c.load: c.cell_id for c in summary.cells}
    value = {(r.cell_id, r.metric): r.value for r in summary.metrics}
    assert value[(by_load["concurrency-6"], "tasks_per_s")] > 2 * value[(by_load["latency"], "tasks_per_s")]
    assert value[(by_load["latency"], "slo_attainment")] == 1.0
    assert (by_load["rate-100rps"], "send_lag_s_p50") in value
    assert (by_load["latency"], "send_lag_s_p50") not in value
    report = (store.path / "report.md").read_text()
    assert "fake-a @ concurrency-6" in report and "fake-a @ rate-100rps" in report
    records = [json.loads(line) for line in (store.path / "records.jsonl").read_text().splitlines()]
    assert sum(r["t_arrival"] is not None for r in records) == 6  # the rate cell's items


class InEngine(FakeBackend):
    """A batching engine: drive() hands it the whole cell and the load shape (as it does vLLM)."""

    shapes: list[tuple[int, list[float] | None]]

    def generate_load(self, batch: Sequence[Request], parallel: int,
                      arrivals: Sequence[float] | None) -> Iterator[Result]:
        self.shapes.append((parallel, None if arrivals is None else list(arrivals)))
        for request, arrival in zip(batch, arrivals or [None] * len(batch), strict=True):
            result = self._answer(request)
            if arrival is not None:
                result.extra["t_arrival"] = arrival
            yield result


@pytest.mark.parametrize(("load", "parallel"), [
    (LoadSpec(mode="latency"), 1), (LoadSpec(mode="concurrency", concurrency=3), 3),
    (LoadSpec(mode="throughput"), 8), (LoadSpec(mode="rate", rate_rps=50.0), 8)])
def test_a_batching_engine_gets_the_load_shape_in_one_call(load: LoadSpec, parallel: int) -> None:
    backend = InEngine(FakeParams())
    backend.shapes = []
    results = list(drive(backend, requests(8), load))
    assert len(results) == 8 and len(backend.shapes) == 1
    wanted, arrivals = backend.shapes[0]
    assert wanted == parallel
    if load.mode == "rate":
        assert arrivals is not None and arrivals == sorted(arrivals) and arrivals[0] >= now() - 5
        assert all(r.extra["t_arrival"] in arrivals for r in results)
    else:
        assert arrivals is None


def test_every_mode_the_suite_accepts_is_registered() -> None:
    assert LOAD_MODES.names() == sorted(get_args(LoadSpec.model_fields["mode"].annotation))


def test_an_unknown_mode_names_a_close_one() -> None:
    with pytest.raises(KeyError, match="unknown load mode 'latncy' \\(did you mean 'latency'\\?\\)"):
        wanted_parallel(LoadSpec.model_construct(mode="latncy"), 3)
