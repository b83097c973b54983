"""Baseline files: round trip, determinism, size, and clear errors (end to end through bench.cli.main.main)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from suite_factory import fake_suite

from bench.cli.main import main
from bench.compare import (
    CompareError,
)
from bench.compare.baseline import KIND, hardware_identity, load_comparable
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

pytestmark = pytest.mark.usefixtures("fast_and_fixed")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    labels = ["billing"] * 20 + ["technical"] * 5 + ["shipping"] * 5
    dataset = tmp_path / "items.jsonl"
    dataset.write_text("".join(json.dumps({"id": f"i{n:02d}", "text": f"ticket {n}", "label": label}) + "\n"
                               for n, label in enumerate(labels)))
    models = [{"id": "fake-a", "backend": {"kind": "fake", "delay_s": 0.001}},
              {"id": "fake-b", "backend": {"kind": "fake", "choice_index": 1, "delay_s": 0.001}}]
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(fake_suite(dataset, models=models, cost={"usd_per_hour": 3.6, "basis": "t"})))
    return start_run(RunRequest(suite, PlanOptions(), tmp_path / "results"), SilentProgress()).path


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def save(capsys: pytest.CaptureFixture[str], run_dir: Path, path: Path) -> dict[str, Any]:
    code, _, err = cli(capsys, "baseline", "save", run_dir, path)
    assert code == 0 and "2 cells" in err
    return dict(json.loads(path.read_text()))


def test_a_run_compared_with_its_own_baseline_gives_identical_values(run_dir: Path, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    baseline = tmp_path / "baselines" / "unit.json"
    save(capsys, run_dir, baseline)
    for pair in ((baseline, run_dir), (run_dir, baseline)):
        code, out, _ = cli(capsys, "compare", *pair, "--fail-on", "latency:+0%", "--fail-on", "accuracy:-0pp",
                           "--fail-on", "peak_rss_gb:+0%", "--format", "json")
        document = json.loads(out)
        assert code == 0 and document["mismatches"] == []
        assert len(document["rows"]) == 2 * 16  # 12 + the 4 failure kinds (issue #16)
        for row in document["rows"]:
            assert row["baseline"] == row["candidate"] and row["direction"] == "same", row
            assert not row["significant"]
    assert load_comparable(baseline).model_dump(exclude={"source"}) == \
        load_comparable(run_dir).model_dump(exclude={"source"})


def test_the_file_is_deterministic_small_and_reviewable(run_dir: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    data = save(capsys, run_dir, first)
    save(capsys, run_dir, second)
    text = first.read_text()
    assert text == second.read_text()
    assert text == json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    assert data["kind"] == KIND and data["schema_version"] == 1
    assert len(text) < 40_000 and len(text) < (run_dir / "records.jsonl").stat().st_size
    assert all(len(digits.replace(".", "").lstrip("0")) <= 6 for digits in re.findall(r"\d+\.\d+", text))
    cell = data["cells"]["fake-a/triage"]
    assert data["primary_metrics"] == {"triage": "accuracy"}
    assert len(cell["items"]) == 30 and cell["items"]["i00"]["accuracy"] == 1.0
    assert len(cell["samples"]["e2e_latency_s"]) == 30
    assert set(cell["corpus"]["scorers"]) == {"macro_f1"}
    assert cell["metrics"]["accuracy"]["value"] == pytest.approx(20 / 30, rel=1e-5)
    assert "e2e_latency_s_p95" not in cell["metrics"] and "load_time_s" not in cell["metrics"]
    assert set(data["identity"]["hardware"]) == {"cpu_model", "physical_cores", "logical_cpus", "ram_gb", "os",
                                                 "gpus"}


def test_hardware_identity_leaves_volatile_fields_out() -> None:
    machine = {"cpu_model": "X", "physical_cores": 4, "logical_cpus": 8, "ram_gb": 16.7, "os": "Linux 6.8",
               "machine": "x86_64", "python": "3.11.9", "gpus": [{"index": 0, "name": "L4", "memory_gb": 24.0,
                                                                  "power_limit_w": 72.0}]}
    assert hardware_identity(machine) == {"cpu_model": "X", "physical_cores": 4, "logical_cpus": 8, "ram_gb": 17,
                                          "os": "Linux 6.8", "gpus": ["L4"]}


def test_an_edited_baseline_with_other_hardware_is_refused(run_dir: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "base.json"
    data = save(capsys, run_dir, path)
    data["identity"]["hardware"]["cpu_model"] = "Some Other CPU"
    data["identity"]["tasks"]["triage"] = "2"
    path.write_text(json.dumps(data))
    code, _, err = cli(capsys, "compare", path, run_dir)
    assert code == 2 and "hardware cpu_model: 'Some Other CPU' (baseline)" in err and "task version triage" in err
    assert cli(capsys, "compare", path, run_dir, "--allow-mismatch")[0] == 0


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "invalid JSON"),
    ('{"schema_version": 1}', 'expected "kind": "bench-baseline"'),
    ('[1, 2]', 'expected "kind": "bench-baseline"'),
    ('{"kind": "bench-baseline", "schema_version": 99}', "schema_version 99 is not supported"),
    ('{"kind": "bench-baseline", "schema_version": 1, "run_id": "r", "status": "complete", "identity": {}, '
     '"primary_metrics": {}, "cells": {"m/t": 5}}', "malformed baseline file (cells.m/t"),
])
def test_bad_baseline_files_exit_2(run_dir: Path, tmp_path: Path, content: str, message: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    code, _, err = cli(capsys, "compare", path, run_dir)
    assert code == 2 and message in err


def test_missing_paths_and_non_run_directories(tmp_path: Path, run_dir: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CompareError, match="no such run directory or baseline file"):
        load_comparable(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    code, _, err = cli(capsys, "compare", tmp_path / "empty", run_dir)
    assert code == 2 and "is not a run directory" in err
    code, _, err = cli(capsys, "baseline", "save", tmp_path / "empty", tmp_path / "b.json")
    assert code == 2 and not (tmp_path / "b.json").exists()
    (tmp_path / "file.json").write_text("{}")
    code, _, err = cli(capsys, "baseline", "save", tmp_path / "file.json", tmp_path / "b.json")
    assert code == 2 and "needs a run directory" in err


def test_throughput_samples_reproduce_the_summarys_tasks_per_s(run_dir: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """compare's tasks/s test resamples (gap, ok) pairs whose ratio is exactly the summary's figure."""
    from bench.compare import (
        GAP_SAMPLES,
        OK_SAMPLES,
    )

    comparable = load_comparable(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    tps = {(m["model_id"], m["task_id"]): m["value"] for m in summary["metrics"] if m["metric"] == "tasks_per_s"}
    for key, cell in comparable.cells.items():
        gaps, ok = cell.samples[GAP_SAMPLES], cell.samples[OK_SAMPLES]
        assert len(gaps) == len(ok) == 30 and min(gaps) >= 0
        assert sum(ok) / sum(gaps) == pytest.approx(tps[(cell.model_id, cell.task_id)], rel=1e-4), key
        assert cell.contended is None
    baseline = tmp_path / "b.json"
    save(capsys, run_dir, baseline)
    assert load_comparable(baseline).cells == comparable.cells


@pytest.mark.parametrize("content", [b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe{}", b'{"kind": 1' + b"9" * 5000])
def test_a_broken_baseline_file_is_one_error_line(content: bytes, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "base.json"
    path.write_bytes(content)
    assert main(["compare", str(path), str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith(f"error: {path}: not a baseline file")


def test_round_floats_of_long_lists_is_the_per_value_rounding() -> None:
    import math
    import random

    from bench.compare.baseline import round_floats

    rng = random.Random(4)
    values = [rng.lognormvariate(0, 3) for _ in range(500)] + [0.0, 1.0, 123456.5, 1e-9, math.inf, math.nan] * 3
    rounded = round_floats({"samples": values, "short": values[:3], "nested": [{"x": values[7]}]})
    assert rounded["samples"] == [float(f"{v:.6g}") if math.isfinite(v) else None for v in values]
    assert rounded["short"] == [float(f"{v:.6g}") for v in values[:3]]
    assert rounded["nested"] == [{"x": float(f"{values[7]:.6g}")}]


def test_a_run_directory_compares_from_its_cell_figures_as_from_its_full_summary(run_dir: Path) -> None:
    """bench compare skips the baseline section and cost table (it reads neither): the comparable is the one
    built from the run's full summary (bench.load_run), field for field."""
    from bench.api import load_run
    from bench.compare.baseline import comparable_from_run, comparable_of_dir

    light, full = comparable_of_dir(run_dir), comparable_from_run(load_run(run_dir))
    assert light.model_dump() == full.model_dump()
    assert light.cells and all(cell.metrics for cell in light.cells.values())
