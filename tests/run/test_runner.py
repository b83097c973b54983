"""The runner keeps a model's backend loaded across its consecutive cells, and closes it when it must."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.backends.base import BACKENDS
from bench.backends.fake import FakeBackend
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.run.runner import BackendPool
from bench.suite.plan import PlanOptions
from bench.suite.spec import ModelSpec

WriteSuite = Callable[[dict[str, Any] | str], Path]


class Tracked(FakeBackend):
    opened: ClassVar[list[Tracked]] = []

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.closed = False
        Tracked.opened.append(self)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch) -> type[Tracked]:
    Tracked.opened = []
    monkeypatch.setitem(BACKENDS._items, "fake", Tracked)
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine",
                        lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    return Tracked


def model(**backend: Any) -> ModelSpec:
    return ModelSpec.model_validate({"id": "m", "backend": {"kind": "fake", **backend}})


def test_the_pool_reuses_a_backend_for_the_same_settings_only(tracked: type[Tracked]) -> None:
    with BackendPool() as pool:
        first, reused = pool.acquire(model())
        assert not reused
        again, reused = pool.acquire(model())
        assert again is first and reused
        other, reused = pool.acquire(model(delay_s=0.01))
        assert other is not first and not reused and first.closed  # another model: the old one is closed
    assert other.closed  # leaving the pool closes the last one


def test_keep_only_closes_another_models_backend_before_the_next_cell(tracked: type[Tracked]) -> None:
    with BackendPool() as pool:
        first, _ = pool.acquire(model())
        pool.keep_only(model())
        assert not first.closed
        pool.keep_only(model(delay_s=0.5))
        assert first.closed


def test_a_models_cells_share_one_load_and_say_so(tracked: type[Tracked], write_suite: WriteSuite,
                                                   labels_jsonl: Path, tmp_path: Path) -> None:
    models = [{"id": "a", "backend": {"kind": "fake"}}, {"id": "b", "backend": {"kind": "fake", "delay_s": 0.001}}]
    load = [{"mode": "latency"}, {"mode": "concurrency", "concurrency": 2}]
    store = start_run(RunRequest(write_suite(fake_suite(labels_jsonl, models=models, load=load)), PlanOptions(),
                                 tmp_path / "runs", executor="local"), SilentProgress())
    segments = [json.loads(line) for line in (store.path / "segments.jsonl").read_text().splitlines()]
    assert [(s["model_id"], s["backend_reused"]) for s in segments] == [
        ("a", False), ("a", True), ("b", False), ("b", True)]
    assert len(tracked.opened) == 2 and all(b.closed for b in tracked.opened)
    assert segments[1]["load_time_s"] == segments[0]["load_time_s"]  # the one load, reported on both


def test_an_interrupted_cell_closes_its_backend(tracked: type[Tracked], write_suite: WriteSuite,
                                                labels_jsonl: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupt(self: Any, record: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(SilentProgress, "advance", interrupt)
    with pytest.raises(KeyboardInterrupt):
        start_run(RunRequest(write_suite(fake_suite(labels_jsonl)), PlanOptions(), tmp_path / "runs", executor="local"),
                  SilentProgress())
    assert len(tracked.opened) == 1 and tracked.opened[0].closed
