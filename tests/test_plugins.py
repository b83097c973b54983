"""Third-party backends, scorers and dataset kinds through entry points: a plugin distribution is installed (a
dist-info on a path entry, as pip lays it out), a suite names its backend, scorer and dataset kind, and `bench run`
uses them; a broken plugin is one clear line and harms nothing else. Adding a backend touches its module and its
test only."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

HERE = Path(__file__).resolve().parent
WriteSuite = Callable[[dict[str, Any] | str], Path]
ENTRY_POINTS = """[bench.backends]
echo = bench_echo_plugin:EchoBackend
broken = bench_missing_module:Backend

[bench.scorers]
answer_length = bench_echo_plugin:AnswerLength

[bench.datasets]
counting = bench_echo_plugin:CountingKind
broken_data = bench_missing_module:Kind
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A folder holding the plugin package and its dist-info, as `pip install` would leave them."""
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(HERE / "plugins" / "bench_echo_plugin.py", site / "bench_echo_plugin.py")
    dist = site / "bench_echo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-echo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return site


def bench(site: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120,
                          env=env)


def test_a_plugin_backend_and_scorer_run_a_suite(site: Path, write_suite: WriteSuite, labels_jsonl: Path,
                                                 tmp_path: Path) -> None:
    suite = fake_suite(labels_jsonl, models=[{"id": "echo-2", "backend": {"kind": "echo", "pick": 2}}])
    suite["tasks"][0]["scorers"] = ["accuracy", "answer_length"]
    path = write_suite(suite)
    assert bench(site, "validate", str(path)).returncode == 0
    run = bench(site, "run", str(path), "--out", str(tmp_path / "runs"), "--format", "json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    values = {row["metric"]: row["value"] for row in summary["metrics"]}
    assert values["accuracy"] == pytest.approx(2 / 6)  # always "shipping": 2 of the 6 items
    assert values["answer_length"] == pytest.approx(len("shipping"))
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["backends"]["echo-2"]["engine"] == "echo-plugin"


def test_a_broken_plugin_is_one_line_and_breaks_nothing_else(site: Path, write_suite: WriteSuite,
                                                             labels_jsonl: Path) -> None:
    path = write_suite(fake_suite(labels_jsonl, models=[{"id": "b", "backend": {"kind": "broken"}}]))
    result = bench(site, "validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "broken" in x]
    assert "bench-echo-plugin" in line and "ModuleNotFoundError" in line and "models[0].backend.kind" in line
    fine = write_suite(fake_suite(labels_jsonl))
    assert bench(site, "validate", str(fine)).returncode == 0
    assert bench(site, "--help").returncode == 0


def test_an_unknown_kind_suggests_plugins_too(site: Path, write_suite: WriteSuite, labels_jsonl: Path) -> None:
    path = write_suite(fake_suite(labels_jsonl, models=[{"id": "e", "backend": {"kind": "ecko"}}]))
    result = bench(site, "validate", str(path))
    assert result.returncode == 2 and "did you mean 'echo'?" in result.stderr


def counting_suite(labels_jsonl: Path, dataset: dict[str, Any]) -> dict[str, Any]:
    suite = fake_suite(labels_jsonl, models=[{"id": "echo-1", "backend": {"kind": "echo", "pick": 1}}])
    suite["tasks"][0]["dataset"] = dataset
    suite["tasks"][0]["answer"] = {"mode": "choices", "choices": ["billing", "shipping"]}
    return suite


def test_a_plugin_dataset_kind_feeds_a_run(site: Path, write_suite: WriteSuite, labels_jsonl: Path,
                                           tmp_path: Path) -> None:
    path = write_suite(counting_suite(labels_jsonl, {"kind": "counting", "n": 5,
                                                     "labels": ["billing", "shipping", "shipping"]}))
    assert bench(site, "validate", str(path)).returncode == 0
    run = bench(site, "run", str(path), "--out", str(tmp_path / "runs"), "--format", "json")
    assert run.returncode == 0, run.stderr
    values = {row["metric"]: row["value"] for row in json.loads(run.stdout)["metrics"]}
    assert values["accuracy"] == pytest.approx(3 / 5)  # echo answers "shipping": items 1, 2 and 4 expect it
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    assert sorted(r["item_id"] for r in records) == ["c0", "c1", "c2", "c3", "c4"]


def test_a_plugin_dataset_kinds_params_check_the_block(site: Path, write_suite: WriteSuite,
                                                       labels_jsonl: Path) -> None:
    path = write_suite(counting_suite(labels_jsonl, {"kind": "counting", "nn": 5}))
    result = bench(site, "validate", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "tasks[0].dataset.nn: unknown key (did you mean 'n'?)" in result.stderr
    assert "tasks[0].dataset.n" in result.stderr


def test_a_broken_or_misspelt_dataset_plugin_is_one_line(site: Path, write_suite: WriteSuite,
                                                         labels_jsonl: Path) -> None:
    result = bench(site, "validate", str(write_suite(counting_suite(labels_jsonl, {"kind": "broken_data"}))))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "broken_data" in x]
    assert "bench-echo-plugin" in line and "ModuleNotFoundError" in line and "tasks[0].dataset.kind" in line
    result = bench(site, "validate", str(write_suite(counting_suite(labels_jsonl, {"kind": "countng", "n": 2}))))
    assert result.returncode == 2 and "did you mean 'counting'?" in result.stderr
