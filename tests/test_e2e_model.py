"""End to end through the CLI on the real SmolLM2 model: run, kill, resume, report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llama]')")
pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parent.parent


def suite(tmp_path: Path) -> Path:
    """Ticket triage (choices) and email routing (json) on the project's own data, SmolLM2 only."""
    data = REPO / "suites" / "data"
    spec: dict[str, Any] = {
        "name": "e2e", "warmup": 1,
        "cost": {"usd_per_hour": 0.1, "basis": "test price"},
        "models": [{"id": "smollm2", "backend": {"kind": "llama_cpp", "model": "bundled:smollm2-135m-instruct",
                                                 "n_ctx": 2048}, "generation": {"max_tokens": 24}}],
        "tasks": [
            {"id": "triage", "limit": 14,
             "dataset": {"path": str(data / "ticket_triage/test.jsonl"), "fields": {"input": "text",
                                                                                  "expected": "category"}},
             "prompt": {"system": "Categories: {choices}. Answer with the category.",
                        "user": "Ticket: {input}\nCategory:"},
             "answer": {"mode": "choices", "choices": ["billing", "technical", "account", "shipping", "returns",
                                                       "product_question", "feedback"]},
             "scorers": ["accuracy", "macro_f1"]},
            {"id": "routing", "limit": 4,
             "dataset": {"path": str(data / "email_routing/test.jsonl"),
                         "fields": {"input": "body", "expected": {"department": "department"}}},
             "prompt": {"system": "Route the email to sales, support, finance, hr, legal or it.",
                        "user": "Subject: {subject}\n\n{input}"},
             "answer": {"mode": "json", "json_schema": {
                 "type": "object", "required": ["department"],
                 "properties": {"department": {"enum": ["sales", "support", "finance", "hr", "legal", "it"]}}}},
             "scorers": [{"name": "json_fields"}]},
        ],
    }
    path = tmp_path / "e2e.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def bench(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=600,
                          cwd=REPO, **kwargs)


def only_run_dir(out: Path) -> Path:
    runs = [p for p in out.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def record_keys(run_dir: Path) -> list[tuple[str, str, int]]:
    lines = (run_dir / "records.jsonl").read_text().splitlines()
    return [(r["cell_id"], r["item_id"], r["repetition"]) for r in map(json.loads, lines)]


def quality(run_dir: Path) -> dict[tuple[str, str], float]:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {(row["cell_id"], row["metric"]): row["value"] for row in summary["metrics"]
            if row["group"] == "quality"}


def start_and_wait_for_records(args: list[str], run_root: Path, count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "bench", *args], cwd=REPO, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        records = list(run_root.glob("*/records.jsonl"))
        if records and len(records[0].read_text().splitlines()) >= count:
            return proc
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("no records appeared in time")


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("baseline")
    path = suite(tmp)
    done = bench("run", str(path), "--out", str(tmp / "runs"))
    return path, only_run_dir(tmp / "runs"), done


def test_run_prints_the_comparison_table_and_writes_the_run(baseline: tuple[Path, Path, Any]) -> None:
    _, run_dir, done = baseline
    assert done.returncode == 0, done.stderr
    assert "task: triage" in done.stdout and "smollm2" in done.stdout and "accuracy" in done.stdout
    for name in ("manifest.json", "records.jsonl", "segments.jsonl", "summary.json", "report.md", "suite.yaml"):
        assert (run_dir / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert len(manifest["backends"]["smollm2"]["model_sha256"]) == 64
    assert manifest["machine"]["physical_cores"] >= 1
    assert len(record_keys(run_dir)) == 18


def test_choices_score_above_zero_and_json_output_follows_the_schema(baseline: tuple[Path, Path, Any]) -> None:
    _, run_dir, _ = baseline
    values = quality(run_dir)
    assert max(v for (_, metric), v in values.items() if metric == "accuracy") > 0
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    routed = [r for r in records if r["task_id"] == "routing"]
    assert all(r["parse_error"] is None for r in routed)
    assert all(r["prediction"]["department"] in {"sales", "support", "finance", "hr", "legal", "it"} for r in routed)
    assert all(r["completion_tokens"] >= 2 and r["t_first_token"] >= r["t_start"] for r in routed)


def test_report_recomputes_the_same_summary_from_records(baseline: tuple[Path, Path, Any]) -> None:
    _, run_dir, _ = baseline
    before = (run_dir / "summary.json").read_text()
    (run_dir / "summary.json").unlink()
    done = bench("report", str(run_dir), "--format", "md")
    assert done.returncode == 0, done.stderr
    assert "## triage" in done.stdout
    assert (run_dir / "summary.json").read_text() == before


def test_sigkill_then_resume_holds_every_item_once_with_the_same_quality(
        baseline: tuple[Path, Path, Any], tmp_path: Path) -> None:
    path, reference_run, _ = baseline
    runs = tmp_path / "runs"
    proc = start_and_wait_for_records(["run", str(path), "--out", str(runs)], runs, count=6)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    run_dir = only_run_dir(runs)
    killed_at = len(record_keys(run_dir))
    assert 6 <= killed_at < 18
    done = bench("run", "--resume", str(run_dir))
    assert done.returncode == 0, done.stderr
    keys = record_keys(run_dir)
    assert len(keys) == len(set(keys)) == 18
    assert json.loads((run_dir / "manifest.json").read_text())["status"] == "complete"
    assert quality(run_dir) == quality(reference_run)


def test_ctrl_c_leaves_a_valid_run_marked_interrupted(baseline: tuple[Path, Path, Any], tmp_path: Path) -> None:
    path, _, _ = baseline
    runs = tmp_path / "runs"
    proc = start_and_wait_for_records(["run", str(path), "--out", str(runs)], runs, count=3)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    run_dir = only_run_dir(runs)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["metrics"]
    assert len(record_keys(run_dir)) < 18


def test_models_list_reads_gguf_metadata() -> None:
    done = bench("models", "list", "--format", "json", env={**os.environ})
    assert done.returncode == 0, done.stderr
    models = {m["ref"]: m for m in json.loads(done.stdout)["models"]}
    smollm = models["bundled:smollm2-135m-instruct"]
    assert smollm["architecture"] == "llama" and smollm["quantization"] == "Q4_1"
    assert 130e6 < smollm["parameters"] < 140e6 and len(smollm["sha256"]) == 64
    assert models["bundled:gemma3-270m"]["chat_template"] is False
