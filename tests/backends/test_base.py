"""The backend contract: BackendBase declares every optional hook with its default, so a backend that implements
only the required methods (info, generate, close) runs every load mode; shared code calls the hooks, never
probes for them."""

from __future__ import annotations

import ast
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.backends.base import (
    BACKENDS,
    BackendBase,
    BackendInfo,
    BackendParamsBase,
    Request,
    Result,
    backend_class,
    now,
)
from bench.backends.fake import FakeParams
from bench.errors import BackendError
from bench.run.executors.process import WorkerOutcome, crash_reason
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan
from bench.suite.spec import GenerationSpec

WriteSuite = Callable[[dict[str, Any] | str], Path]
PACKAGE = Path(__file__).resolve().parents[2] / "bench"


class Minimal(BackendBase):
    """Only what a backend must have: Params, info, generate, close. It counts requests in flight at once."""

    Params = FakeParams
    in_flight = peak = 0
    guard = threading.Lock()

    def __init__(self, params: FakeParams) -> None:
        self.params = params

    def info(self) -> BackendInfo:
        return BackendInfo(engine="minimal", engine_version="1", model="none")

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        for request in requests:
            yield self._answer(request)

    def _answer(self, request: Request) -> Result:
        with Minimal.guard:
            Minimal.in_flight += 1
            Minimal.peak = max(Minimal.peak, Minimal.in_flight)
        start = now()
        time.sleep(0.002)
        with Minimal.guard:
            Minimal.in_flight -= 1
        return Result(request.id, text=request.choices[0], choice_index=0, completion_tokens=1, t_start=start,
                      t_first_token=start, t_end=now())

    def close(self) -> None:
        return None


@pytest.fixture
def minimal(monkeypatch: pytest.MonkeyPatch) -> type[Minimal]:
    """Minimal registered as the `fake` kind (its Params), the machine calibration skipped."""
    Minimal.peak = 0
    monkeypatch.setitem(BACKENDS._items, "fake", Minimal)
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine",
                        lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    return Minimal


def test_the_defaults_are_declared_on_the_base() -> None:
    backend = Minimal(FakeParams())
    request = Request(id="r", messages=(), completion="x", mode="text", generation=GenerationSpec())
    assert backend.max_parallel == 1
    assert backend.generate_load([request], 4, None) is None  # None: the driver schedules
    assert backend.reset_cache() is None
    assert Minimal.engine_name is None and dict(Minimal.crash_hints) == {}
    assert Minimal.ray_resources(FakeParams()) == {"num_cpus": 1.0}
    assert Minimal.prepare_files(FakeParams()) is None


def test_a_backend_with_only_the_required_methods_runs_every_load_mode(minimal: type[Minimal], labels_jsonl: Path,
                                                                       write_suite: WriteSuite,
                                                                       tmp_path: Path) -> None:
    modes = [{"mode": "latency"}, {"mode": "concurrency", "concurrency": 4}, {"mode": "throughput"},
             {"mode": "rate", "rate_rps": 200}]
    suite = write_suite(fake_suite(labels_jsonl, load=modes, warmup=1))
    store = start_run(RunRequest(suite, PlanOptions(), tmp_path / "runs", executor="local"), SilentProgress())
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["backends"]["fake-a"]["engine"] == "minimal"
    records = store.records()
    assert len(records) == 4 * 6 and all(r.status == "ok" for r in records)
    assert minimal.peak == 1  # max_parallel defaults to 1: the driver never overlaps its requests
    assert sum(r.t_arrival is not None for r in records) == 6  # the rate cell's items, scheduled by the driver


def test_a_crash_names_the_kind_when_no_engine_name_is_declared(minimal: type[Minimal], labels_jsonl: Path,
                                                                 write_suite: WriteSuite) -> None:
    cell = build_plan(load_suite(write_suite(fake_suite(labels_jsonl))), PlanOptions()).cells[0]
    reason = crash_reason(cell, WorkerOutcome(exitcode=-11))
    assert reason.startswith("fake (fake backend) crashed with SIGSEGV (signal 11)")
    assert reason.endswith("a native crash in the engine")  # no crash_hints: the generic hint


def test_a_backend_declares_what_it_overrides() -> None:
    llama = backend_class("llama_cpp")
    assert llama.engine_name == "llama.cpp" and "SIGSEGV" in llama.crash_hints
    assert llama.ray_resources(None) == {"num_cpus": 2.0}
    assert backend_class("fake").max_parallel == 256 and backend_class("fake").engine_name is None


@pytest.mark.parametrize("kind", ["fake", "llama_cpp", "openai", "vllm"])
def test_every_built_in_backend_inherits_the_base_and_implements_what_it_must(kind: str) -> None:
    cls = backend_class(kind)  # importing the module imports no engine: they load in __init__
    assert issubclass(cls, BackendBase) and not inspect.isabstract(cls)
    assert issubclass(cls.Params, BackendParamsBase)


def test_a_class_that_does_not_inherit_the_base_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    class Loose:
        Params = FakeParams

    monkeypatch.setitem(BACKENDS._items, "fake", Loose)
    with pytest.raises(BackendError) as info:
        backend_class("fake")
    assert "backend kind 'fake'" in str(info.value) and "does not inherit bench.backends.base.BackendBase" in str(
        info.value)


def probes(source: str) -> list[str]:
    """getattr/hasattr calls on a backend, a backend class (factory) or the backend registry, as source text."""
    calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Name) and node.func.id in {"getattr", "hasattr"} and node.args]
    return [ast.unparse(call) for call in calls
            if any(word in ast.unparse(call.args[0]).lower() for word in ("backend", "factory"))]


def test_the_probe_finder_finds_the_probes_shared_code_had() -> None:
    source = ("parallel = getattr(backend, 'max_parallel', 1)\nhints = getattr(BACKENDS.get(kind), 'crash_hints', {})\n"
              "reset = getattr(factory, 'prepare_files', None)\nok = getattr(self.tokenizer, 'chat_template', None)\n")
    assert len(probes(source)) == 3


def test_shared_code_never_probes_a_backend_for_a_hook() -> None:
    found = {str(file.relative_to(PACKAGE.parent)): probes(file.read_text()) for file in PACKAGE.rglob("*.py")}
    assert {file: calls for file, calls in found.items() if calls} == {}
