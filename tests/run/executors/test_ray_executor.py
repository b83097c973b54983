"""The Ray executor on a local Ray instance: cells as tasks, records streamed into one run directory,
a worker killed mid-cell retried without losing or repeating an item."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite
from suite_factory import one_label_items as items

from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

ray = pytest.importorskip("ray", reason="install the ray extra: pip install -e '.[ray]'")
WriteSuite = Callable[[dict[str, Any] | str], Path]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def keys(run_dir: Path) -> list[tuple[str, str]]:
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    return [(r["cell_id"], r["item_id"]) for r in map(json.loads, lines)]


def test_cells_run_as_ray_tasks_into_one_run(local_ray: None, write_suite: WriteSuite, tmp_path: Path) -> None:
    models = [{"id": f"fake-{n}", "backend": {"kind": "fake", "choice_index": n}} for n in range(2)]
    suite = fake_suite(items(tmp_path / "items.jsonl", 10), models=models)
    store = start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs", executor="ray"),
                      SilentProgress())
    recorded = keys(store.path)
    assert len(recorded) == len(set(recorded)) == 20
    manifest = json.loads((store.path / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["executor"] == "ray"
    assert {s.model_id for s in store.segments()} == {"fake-0", "fake-1"}


def test_a_worker_dying_mid_cell_is_retried_and_nothing_is_lost_or_repeated(local_ray: None, write_suite: WriteSuite,
                                                                           tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    models = [{"id": "fragile", "backend": {"kind": "fake", "crash_after": 5, "crash_marker": str(marker),
                                            "delay_s": 0.01}}]
    suite = fake_suite(items(tmp_path / "items.jsonl", 12), models=models)
    store = start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs", executor="ray"),
                      SilentProgress())
    assert marker.exists()  # the first attempt really died after 5 items
    recorded = keys(store.path)
    assert len(recorded) == len(set(recorded)) == 12
    assert json.loads((store.path / "manifest.json").read_text())["status"] == "complete"


def test_an_unknown_executor_is_an_input_error(write_suite: WriteSuite, tmp_path: Path) -> None:
    from bench.errors import RunError

    suite = fake_suite(items(tmp_path / "items.jsonl", 2))
    with pytest.raises(RunError, match="unknown executor 'slurm'"):
        start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs", executor="slurm"),
                  SilentProgress())


def test_vllm_cells_ask_ray_for_gpus_and_cpu_builds_for_cores() -> None:
    from types import SimpleNamespace

    from bench.run.executors.ray_executor import _resources
    from bench.suite.spec import ModelSpec

    def cell(**backend: object) -> object:
        return SimpleNamespace(model=ModelSpec.model_validate({"id": "v", "backend": {"kind": "vllm",
                                                                                        "model": "m", **backend}}))

    assert _resources(cell(tensor_parallel_size=2)) == {"num_gpus": 2.0}
    assert _resources(cell(device="cpu", cpu_threads=2)) == {"num_cpus": 2.0}
