"""Runs for report tests: the fake backend made to report a model shape, so every hardware profile gets a
priced projected row (importable from tests: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from suite_factory import fake_suite

import bench.run.lifecycle
from bench.api import RunData, load_run
from bench.backends.base import BackendInfo
from bench.backends.fake import FakeBackend
from bench.metrics import stats
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

CALIBRATION = {"bandwidth_gb_s": 30.0, "sgemm_gflops": 80.0, "bandwidth_threads": 2, "method": "test"}
ARCH = {"n_layer": 22, "n_embd": 2048, "n_head": 32, "n_head_kv": 4, "head_dim": 64, "n_vocab": 32000}
ITEMS = [("a1", "the invoice total is wrong", "billing"), ("a2", "app crashes on start", "technical"),
         ("a3", "where is my parcel", "shipping"), ("a4", "charged twice", "billing")]


def info_with_shape(self: FakeBackend) -> BackendInfo:
    settings = {**self.params.model_dump(exclude={"kind"}), "n_ctx": 2048, "model_params": 1_100_000_000,
                "model_size_bytes": 600_000_000, "arch": ARCH}
    return BackendInfo(engine="fake", engine_version="0", model="fake", settings=settings, model_sha256="ab" * 32)


def report_suite(root: Path, name: str, models: list[str], answer_text: str | None = None,
                 items: list[tuple[str, str, str]] = ITEMS) -> dict[str, Any]:
    """A label task for fake models; with answer_text, also a free-text task whose every answer is that text."""
    data = root / f"{name}-items.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": t, "label": lab}) + "\n" for i, t, lab in items))
    backends = [{"id": m, "backend": {"kind": "fake", "choice_index": i, **({"text": answer_text} if answer_text
                                                                            else {})}} for i, m in enumerate(models)]
    suite = fake_suite(data, name=name, models=backends, cost={"usd_per_hour": 3.6, "basis": "test price"})
    if answer_text is not None:
        suite["tasks"].append({"id": "notes", "dataset": suite["tasks"][0]["dataset"], "answer": {"mode": "text"},
                               "prompt": {"user": "Summarize: {input}"}, "scorers": ["exact_match"]})
    return suite


def make_report_run(root: Path, suite: dict[str, Any]) -> RunData:
    path = root / f"{suite['name']}.yaml"
    path.write_text(yaml.safe_dump(suite))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
        mp.setattr(bench.run.lifecycle, "calibrate_machine", lambda: dict(CALIBRATION))
        mp.setattr(FakeBackend, "info", info_with_shape)
        store = start_run(RunRequest(path, PlanOptions(), root / "results"), SilentProgress())
    return load_run(store.path)
