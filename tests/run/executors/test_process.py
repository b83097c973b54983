"""The process executor: each model's cells in a worker process, the parent the run's one writer; a native
crash costs only the cell it hit, the run goes on, ends `incomplete` (exit 1) and --resume finishes it once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite
from suite_factory import one_label_items as items

from bench.run.lifecycle import RunRequest, resume_run, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

WriteSuite = Callable[[dict[str, Any] | str], Path]
REPO = Path(__file__).resolve().parents[3]


def crashing(marker: Path, after: int, how: str) -> dict[str, Any]:
    return {"id": "crashy", "backend": {"kind": "fake", "crash_after": after, "crash_marker": str(marker),
                                        "crash_signal": how}}


def record_keys(run_dir: Path) -> Counter[tuple[str, str]]:
    rows = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    return Counter((r["model_id"], r["item_id"]) for r in rows)


def manifest(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "manifest.json").read_text()))


@pytest.mark.parametrize("how", ["SIGSEGV", "SIGABRT", "SIGKILL", "exit"])
def test_a_crash_costs_only_its_cell_and_resume_finishes_once(how: str, write_suite: WriteSuite,
                                                              tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    models = [crashing(marker, 3, how), {"id": "steady", "backend": {"kind": "fake"}}]
    suite = write_suite(fake_suite(items(tmp_path / "items.jsonl", 8), models=models))
    store = start_run(RunRequest(suite, PlanOptions(), tmp_path / "runs", executor="process"), SilentProgress())
    first = manifest(store.path)
    assert first["status"] == "incomplete"
    assert record_keys(store.path) == Counter({**{("crashy", f"i{k:02d}"): 1 for k in range(3)},
                                               **{("steady", f"i{k:02d}"): 1 for k in range(8)}})
    (unfinished,) = first["unfinished"]
    assert (unfinished["done"], unfinished["total"]) == (3, 8)
    expected = f"crashed with {how}" if how != "exit" else "exited with code 1"
    assert expected in unfinished["reason"] and "worker process" in unfinished["reason"]
    resume_run(store.path, SilentProgress(), executor="process")
    assert manifest(store.path)["status"] == "complete"
    assert set(record_keys(store.path).values()) == {1} and len(record_keys(store.path)) == 16


def test_the_cli_names_the_crash_in_one_line_and_exits_1(write_suite: WriteSuite, tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    models = [crashing(marker, 2, "SIGSEGV"), {"id": "steady", "backend": {"kind": "fake"}}]
    suite = write_suite(fake_suite(items(tmp_path / "items.jsonl", 5), models=models))
    run = subprocess.run([sys.executable, "-m", "bench", "run", str(suite), "--out", str(tmp_path / "runs")],
                         capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    lines = [line for line in run.stderr.splitlines() if line.startswith("unfinished:")]
    assert len(lines) == 1 and "crashy" in lines[0] and "SIGSEGV" in lines[0] and "2/5" in lines[0]
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"--resume {run_dir}" in run.stderr
    assert "unfinished" in run.stdout  # the crashed cell's row is marked in the table
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(f["model_id"], f["flag"]) for f in summary["flags"]] == [("crashy", "unfinished")]
    again = subprocess.run([sys.executable, "-m", "bench", "run", "--resume", str(run_dir)],
                           capture_output=True, text=True, timeout=120, cwd=REPO)
    assert again.returncode == 0, again.stderr
    assert set(record_keys(run_dir).values()) == {1} and len(record_keys(run_dir)) == 10


def test_the_crashed_models_later_cells_run_in_a_fresh_worker(write_suite: WriteSuite, tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    suite = fake_suite(items(tmp_path / "items.jsonl", 4), models=[crashing(marker, 1, "SIGSEGV")])
    suite["tasks"].append({**suite["tasks"][0], "id": "triage-2"})
    store = start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs", executor="process"),
                      SilentProgress())
    done = Counter(task for (task, _item) in ((json.loads(x)["task_id"], json.loads(x)["item_id"])
                                             for x in (store.path / "records.jsonl").read_text().splitlines()))
    assert done == {"triage": 1, "triage-2": 4}
    assert [u["cell"] for u in manifest(store.path)["unfinished"]] == ["crashy × triage"]


def test_every_segment_and_record_is_written_by_the_parent(write_suite: WriteSuite, tmp_path: Path) -> None:
    models = [{"id": "a", "backend": {"kind": "fake"}}, {"id": "b", "backend": {"kind": "fake", "choice_index": 1}}]
    load = [{"mode": "latency"}, {"mode": "concurrency", "concurrency": 2}]
    suite = write_suite(fake_suite(items(tmp_path / "items.jsonl", 6), models=models, load=load))
    store = start_run(RunRequest(suite, PlanOptions(), tmp_path / "runs", executor="process"), SilentProgress())
    assert manifest(store.path)["status"] == "complete" and manifest(store.path)["executor"] == "process"
    segments = store.segments()
    assert [(s.model_id, s.backend_reused, s.items_done) for s in segments] == [
        ("a", False, 6), ("a", True, 6), ("b", False, 6), ("b", True, 6)]
    assert len(store.records()) == 24


def test_ctrl_c_leaves_an_interrupted_run_that_resumes_once(write_suite: WriteSuite, tmp_path: Path) -> None:
    models = [{"id": "slow", "backend": {"kind": "fake", "delay_s": 0.05}}]
    suite = write_suite(fake_suite(items(tmp_path / "items.jsonl", 200), models=models))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--out", str(tmp_path / "runs")],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    records = tmp_path / "runs"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(records.glob("*/records.jsonl")):
        time.sleep(0.1)
    time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C reaches the whole process group
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    (run_dir,) = records.iterdir()
    assert manifest(run_dir)["status"] == "interrupted"
    assert f"bench run --resume {run_dir}" in stderr and "Traceback" not in stderr
    assert 0 < len(record_keys(run_dir)) < 200
    resumed = subprocess.run([sys.executable, "-m", "bench", "run", "--resume", str(run_dir)],
                             capture_output=True, text=True, timeout=120, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr
    assert set(record_keys(run_dir).values()) == {1} and len(record_keys(run_dir)) == 200


def test_sigterm_to_bench_alone_stops_its_worker_too(write_suite: WriteSuite, tmp_path: Path) -> None:
    models = [{"id": "slow", "backend": {"kind": "fake", "delay_s": 0.05}}]
    suite = write_suite(fake_suite(items(tmp_path / "items.jsonl", 200), models=models))
    proc = subprocess.Popen([sys.executable, "-m", "bench", "run", str(suite), "--out", str(tmp_path / "runs")],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((tmp_path / "runs").glob("*/records.jsonl")):
        time.sleep(0.1)
    proc.terminate()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert manifest(run_dir)["status"] == "interrupted"
    segments = [json.loads(line) for line in (run_dir / "segments.jsonl").read_text().splitlines()]
    assert len(segments) == 1 and segments[0]["items_done"] == len(record_keys(run_dir))


@pytest.mark.model
def test_a_real_llama_cpp_model_beside_a_crashing_engine(write_suite: WriteSuite, labels_jsonl: Path,
                                                         tmp_path: Path) -> None:
    """The crash of one engine costs only its cell; the real model's cells are measured in their own process."""
    marker = tmp_path / "crashed"
    models = [{"id": "smollm2", "backend": {"kind": "llama_cpp", "model": "bundled:smollm2-135m-instruct",
                                            "n_ctx": 1024}},
              crashing(marker, 2, "SIGSEGV"), {"id": "after", "backend": {"kind": "fake"}}]
    store = start_run(RunRequest(write_suite(fake_suite(labels_jsonl, models=models)), PlanOptions(),
                                 tmp_path / "runs", executor="process"), SilentProgress())
    first = manifest(store.path)
    assert first["status"] == "incomplete" and [u["cell"] for u in first["unfinished"]] == ["crashy × triage"]
    by_model = {r.model_id: r for r in store.records()}
    assert by_model["smollm2"].status == "ok" and by_model["smollm2"].raw_output in {"billing", "technical",
                                                                                    "shipping"}
    segments = {s.model_id: s for s in store.segments() if s.error is None}
    assert segments["smollm2"].backend["engine"].startswith("llama.cpp")
    assert segments["smollm2"].backend["settings"]["repack_reason"].startswith("auto:")
    # a fresh process per model: the fake after llama.cpp does not carry the model's memory
    assert segments["after"].peak_rss_bytes < segments["smollm2"].peak_rss_bytes - 50e6
    resume_run(store.path, SilentProgress(), executor="process")
    assert manifest(store.path)["status"] == "complete"
    assert set(record_keys(store.path).values()) == {1} and len(record_keys(store.path)) == 18


@pytest.mark.parametrize(("executor", "message"), [
    ("bogus", "unknown executor 'bogus'"), ("process:host", "takes no address"), ("local:x", "takes no address")])
def test_an_unknown_executor_is_bad_input(executor: str, message: str, write_suite: WriteSuite, labels_jsonl: Path,
                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli.main import main

    suite = write_suite(fake_suite(labels_jsonl))
    assert main(["run", str(suite), "--out", str(tmp_path / "runs"), "--executor", executor]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or executor != "bogus"  # refused before a run directory exists


@pytest.mark.parametrize("executor", ["process", "local"])
def test_a_model_that_stops_answering_skips_its_cells_and_the_others_run(executor: str, write_suite: WriteSuite,
                                                                         tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on: every connection is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = {"id": "dead", "backend": {"kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "x",
                                      "max_retries": 0}}
    suite = fake_suite(items(tmp_path / "items.jsonl", 5), models=[dead, {"id": "alive", "backend": {"kind": "fake"}}])
    suite["tasks"].append({**suite["tasks"][0], "id": "triage-2"})
    store = start_run(RunRequest(write_suite(suite), PlanOptions(), tmp_path / "runs", executor=executor),
                      SilentProgress())
    first = manifest(store.path)
    assert first["status"] == "incomplete"
    assert [u["cell"] for u in first["unfinished"]] == ["dead × triage", "dead × triage-2"]
    assert all("stopped answering" in u["reason"] for u in first["unfinished"])
    counts = record_keys(store.path)
    assert sum(v for (model, _), v in counts.items() if model == "alive") == 10
    assert sum(v for (model, _), v in counts.items() if model == "dead") == 3
