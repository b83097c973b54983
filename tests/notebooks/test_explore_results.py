"""The example notebook runs top to bottom against a real run directory, so it cannot rot."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.run.lifecycle as runs_module
from bench.suite.plan import PlanOptions
from bench.run.progress import SilentProgress
from bench.run.lifecycle import RunRequest, start_run
from suite_factory import fake_suite

nbformat = pytest.importorskip("nbformat", reason="install the dev extra: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="install the dev extra: pip install -e '.[dev]'")
NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore_results.ipynb"


def test_notebook_executes_and_shows_the_run(tmp_path: Path, labels_jsonl: Path, write_suite,  # type: ignore[no-untyped-def]
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs_module, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    store = start_run(RunRequest(write_suite(fake_suite(labels_jsonl)), PlanOptions(), tmp_path / "runs"),
                      SilentProgress())
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("BENCH_RUNS", str(store.path))
    client = nbclient.NotebookClient(notebook, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert store.path.name in text and "fake-a" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 4
