"""Tests for bench.run.lifecycle and bench.run.runner with the scripted fake backend: run, interrupt, resume."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

from bench.backends.base import Request, Result
from bench.backends.fake import FakeBackend
from bench.errors import RunError
from bench.metrics import stats
from bench.results.store import RunStore
from bench.run.lifecycle import RunRequest, redact, resume_run, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

WriteSuite = Callable[[dict[str, Any] | str], Path]
CANARY_HOST = "canary-host-7f3a9"


@pytest.fixture(autouse=True)
def _fewer_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bootstrap CIs with 200 resamples instead of 2000: same code paths, a tenth of the time."""
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)


TWO_MODELS = [{"id": "fake-a", "backend": {"kind": "fake", "choice_index": 0}},
              {"id": "fake-b", "backend": {"kind": "fake", "choice_index": 1}}]


def start(suite_path: Path, out_root: Path, executor: str = "local", **options: Any) -> RunStore:
    return start_run(RunRequest(suite_path, PlanOptions(**options), out_root, executor=executor), SilentProgress())


def only_run_dir(out_root: Path) -> Path:
    dirs = [p for p in out_root.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def interrupted_run(suite_path: Path, out_root: Path, monkeypatch: pytest.MonkeyPatch, after: int) -> Path:
    """Start a run that Ctrl-C stops after `after` items; its run directory."""
    with monkeypatch.context() as patch:
        interrupt_after(patch, after)
        with pytest.raises(KeyboardInterrupt):
            start(suite_path, out_root)
    return only_run_dir(out_root)


def quality(summary: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(row["model_id"], row["metric"]): (row["value"], row["ci_low"], row["ci_high"], row["n"])
            for row in summary["metrics"] if row["group"] == "quality"}


def interrupt_after(monkeypatch: pytest.MonkeyPatch, calls: int) -> None:
    """Make the fake backend raise KeyboardInterrupt (as Ctrl-C would) on call number calls + 1."""
    original = FakeBackend._answer
    counter = {"n": 0}

    def answer(self: FakeBackend, request: Request) -> Result:
        counter["n"] += 1
        if counter["n"] > calls:
            raise KeyboardInterrupt
        return original(self, request)

    monkeypatch.setattr(FakeBackend, "_answer", answer)


def test_complete_run_writes_every_file(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    store = start(write_suite(fake_suite(labels_jsonl, models=TWO_MODELS)), out)
    assert store.path.parent == out
    names = {p.name for p in store.path.iterdir()}
    assert {"manifest.json", "records.jsonl", "segments.jsonl", "summary.json", "report.md"} <= names

    manifest = json.loads((store.path / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["schema_version"] == 2  # 2: segments in segments.jsonl
    assert manifest["run_id"] == store.path.name
    for key in ("bench_version", "git", "machine", "started_at", "ended_at", "suite", "models", "tasks"):
        assert manifest.get(key) not in (None, {}, ""), key
    assert len(manifest["suite"]["sha256"]) == 64
    assert "labels" not in manifest["tasks"]["triage"]
    assert len(manifest["tasks"]["triage"]["datasets"]) == 1
    assert set(manifest["backends"]) == {"fake-a", "fake-b"}
    assert manifest["backends"]["fake-a"]["engine"] == "fake"
    assert [c["n_items"] for c in manifest["cells"]] == [6, 6]

    records = [json.loads(line) for line in (store.path / "records.jsonl").read_text().splitlines()]
    assert len(records) == 12
    cell_ids = {c["cell_id"] for c in manifest["cells"]}
    assert {r["cell_id"] for r in records} == cell_ids
    for cell in cell_ids:
        items = sorted(r["item_id"] for r in records if r["cell_id"] == cell)
        assert items == ["a1", "a2", "a3", "a4", "a5", "a6"]
    assert all(r["status"] == "ok" for r in records)

    segments = [json.loads(line) for line in (store.path / "segments.jsonl").read_text().splitlines()]
    assert len(segments) == 2
    assert all(s["completed"] and s["items_done"] == 6 for s in segments)

    summary = json.loads((store.path / "summary.json").read_text())
    assert summary["status"] == "complete"
    acc = {row["model_id"]: row["value"] for row in summary["metrics"] if row["metric"] == "accuracy"}
    assert acc == {"fake-a": pytest.approx(2 / 6), "fake-b": pytest.approx(2 / 6)}
    report = (store.path / "report.md").read_text()
    assert "## triage" in report and "fake-a" in report and "fake-b" in report


def test_no_hostname_anywhere_in_the_run_dir(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    real = socket.gethostname()
    # a distinctive name too, so a leak is visible even when the real hostname is short
    import platform

    monkeypatch.setattr(socket, "gethostname", lambda: CANARY_HOST)
    monkeypatch.setattr(platform, "node", lambda: CANARY_HOST)
    store = start(write_suite(fake_suite(labels_jsonl)), tmp_path / "results")
    real_pattern = re.compile(rf"(?<![A-Za-z0-9_.-]){re.escape(real)}(?![A-Za-z0-9_-])")
    files = [p for p in store.path.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert CANARY_HOST not in text, file
        assert not real_pattern.search(text.replace(str(tmp_path), "")), file
    manifest = json.loads((store.path / "manifest.json").read_text().replace(str(tmp_path), ""))
    assert "hostname" not in json.dumps(manifest).lower()
    assert "node" not in manifest["machine"]


def test_fail_every_keeps_errored_records(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path) -> None:
    models = [{"id": "fake-a", "backend": {"kind": "fake", "choice_index": 0, "fail_every": 3}}]
    store = start(write_suite(fake_suite(labels_jsonl, models=models)), tmp_path / "results")
    records = store.records()
    assert len(records) == 6
    errored = [r for r in records if r.status == "error"]
    assert len(errored) == 2
    assert all(r.error == "scripted failure" and r.prediction is None for r in errored)
    assert all(r.scores.get("accuracy", 0.0) == 0.0 for r in errored)
    summary = json.loads((store.path / "summary.json").read_text())
    rows = {row["metric"]: row for row in summary["metrics"]}
    assert rows["error_rate"]["value"] == pytest.approx(2 / 6)
    assert rows["error_rate"]["n"] == 6
    assert rows["accuracy"]["n"] == 6
    assert rows["e2e_latency_s_p50"]["n"] == 4


def test_repetitions_give_one_record_per_item_per_repetition(write_suite: WriteSuite, labels_jsonl: Path,
                                                             tmp_path: Path) -> None:
    store = start(write_suite(fake_suite(labels_jsonl, repetitions=3)), tmp_path / "results")
    records = store.records()
    assert len(records) == 18
    keys = Counter((r.item_id, r.repetition) for r in records)
    assert set(keys.values()) == {1}
    assert {rep for _, rep in keys} == {0, 1, 2}
    summary = json.loads((store.path / "summary.json").read_text())
    acc = next(row for row in summary["metrics"] if row["metric"] == "accuracy")
    assert acc["n"] == 6  # quality from repetition 0 only


def test_limit_option(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path) -> None:
    store = start(write_suite(fake_suite(labels_jsonl)), tmp_path / "results", limit=3)
    assert len(store.records()) == 3
    assert store.read_manifest().cells[0].n_items == 3


def test_interrupted_run_is_marked_and_keeps_its_records(write_suite: WriteSuite, labels_jsonl: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "results"
    interrupt_after(monkeypatch, 8)
    with pytest.raises(KeyboardInterrupt):
        start(write_suite(fake_suite(labels_jsonl, models=TWO_MODELS)), out, executor="local")
    run = RunStore(only_run_dir(out))
    manifest = run.read_manifest()
    assert manifest.status == "interrupted"
    assert manifest.ended_at
    records = run.records()
    assert len(records) == 8
    assert len({r.key for r in records}) == 8
    segments = run.segments()
    assert [s.completed for s in segments] == [True, False]
    assert segments[1].items_done == 2
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["status"] == "interrupted"


def test_sigterm_leaves_an_interrupted_run(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    original = FakeBackend._answer
    counter = {"n": 0}

    def answer(self: FakeBackend, request: Request) -> Result:
        counter["n"] += 1
        if counter["n"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, request)

    monkeypatch.setattr(FakeBackend, "_answer", answer)
    handler_before = signal.getsignal(signal.SIGTERM)
    out = tmp_path / "results"
    with pytest.raises(KeyboardInterrupt):
        start(write_suite(fake_suite(labels_jsonl)), out, executor="local")
    assert signal.getsignal(signal.SIGTERM) is handler_before
    run = RunStore(only_run_dir(out))
    assert run.read_manifest().status == "interrupted"
    assert 3 <= len(run.records()) <= 4


def test_resume_finishes_with_every_item_once_and_the_same_quality(
        write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    suite_path = write_suite(fake_suite(labels_jsonl, models=TWO_MODELS, repetitions=2))
    reference = start(suite_path, tmp_path / "reference")
    reference_summary = json.loads((reference.path / "summary.json").read_text())

    run_dir = interrupted_run(suite_path, tmp_path / "results", monkeypatch, after=5)
    assert len(RunStore(run_dir).records()) == 5

    resumed = resume_run(run_dir, SilentProgress())
    manifest = resumed.read_manifest()
    assert manifest.status == "complete"
    records = RunStore(run_dir).records()
    assert len(records) == 24
    assert set(Counter(r.key for r in records).values()) == {1}
    assert {r.key for r in records} == {r.key for r in reference.records()}
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete"
    assert quality(summary) == quality(reference_summary)
    segments = RunStore(run_dir).segments()
    done = Counter()
    for s in segments:
        done[s.cell_id] += s.items_done
    assert set(done.values()) == {12}


def test_resume_of_a_complete_run_adds_nothing(write_suite: WriteSuite, labels_jsonl: Path,
                                               tmp_path: Path) -> None:
    store = start(write_suite(fake_suite(labels_jsonl)), tmp_path / "results")
    before = (store.path / "records.jsonl").read_text()
    resume_run(store.path, SilentProgress())
    assert (store.path / "records.jsonl").read_text() == before
    assert RunStore(store.path).read_manifest().status == "complete"


def test_resume_refuses_when_a_data_file_changed(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = interrupted_run(write_suite(fake_suite(labels_jsonl)), tmp_path / "results", monkeypatch, after=2)
    with labels_jsonl.open("a") as handle:
        handle.write(json.dumps({"id": "a7", "text": "refund please", "label": "billing"}) + "\n")
    with pytest.raises(RunError, match="changed"):
        resume_run(run_dir, SilentProgress())
    assert len(RunStore(run_dir).records()) == 2
    assert RunStore(run_dir).read_manifest().status == "interrupted"


def test_resume_uses_the_suite_copy_not_the_edited_suite(write_suite: WriteSuite, labels_jsonl: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = interrupted_run(write_suite(fake_suite(labels_jsonl)), tmp_path / "results", monkeypatch, after=2)
    write_suite(fake_suite(labels_jsonl, models=TWO_MODELS))  # the user edits the suite meanwhile
    resume_run(run_dir, SilentProgress())
    records = RunStore(run_dir).records()
    assert {r.model_id for r in records} == {"fake-a"}
    assert len(records) == 6


def test_resume_of_a_non_run_directory(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a run directory"):
        resume_run(tmp_path, SilentProgress())


def test_manifest_keeps_generation_settings(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path) -> None:
    models = [{"id": "fake-a", "backend": {"kind": "fake"}, "generation": {"max_tokens": 7, "temperature": 0.0}}]
    store = start(write_suite(fake_suite(labels_jsonl, models=models)), tmp_path / "results")
    generation = store.read_manifest().models["fake-a"]["generation"]
    assert generation["max_tokens"] == 7  # a reproducibility setting, not a secret
    assert generation["temperature"] == 0.0


def test_redact_drops_secret_values_and_keeps_env_names() -> None:
    value = {"backend": {"kind": "openai", "api_key": "sk-live-123", "api_key_env": "OPENAI_API_KEY",
                         "headers": [{"Authorization": "Bearer xyz"}], "password": "hunter2",
                         "base_url": "http://localhost:8000", "max_tokens": 5,
                         "access_token": "tok-1", "client_secret": "s3"}}
    redacted = redact(value)
    dumped = json.dumps(redacted)
    for secret in ("sk-live-123", "xyz", "hunter2", "tok-1", "s3"):
        assert secret not in dumped
    backend = redacted["backend"]
    assert backend["api_key_env"] == "OPENAI_API_KEY"
    assert backend["base_url"] == "http://localhost:8000"
    assert backend["max_tokens"] == 5
    assert backend["kind"] == "openai"
    assert set(backend) == set(value["backend"])
    assert value["backend"]["api_key"] == "sk-live-123"  # the input is not modified


def test_a_run_whose_every_cell_is_skipped_is_incomplete_and_exits_1(write_suite: WriteSuite, labels_jsonl: Path,
                                                                    tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.cli.main import main

    monkeypatch.delenv("BENCH_TEST_UNSET_KEY", raising=False)
    models = [{"id": "hosted", "backend": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "m",
                                           "api_key_env": "BENCH_TEST_UNSET_KEY"}}]
    suite = write_suite(fake_suite(labels_jsonl, models=models))
    assert main(["run", str(suite), "--out", str(tmp_path / "results")]) == 1
    manifest = RunStore(only_run_dir(tmp_path / "results")).read_manifest()
    assert manifest.status == "incomplete"
    (cell,) = manifest.unfinished
    assert (cell["done"], cell["total"]) == (0, 6) and "BENCH_TEST_UNSET_KEY" in cell["reason"]


def test_a_resume_whose_cell_is_skipped_stays_incomplete(write_suite: WriteSuite, labels_jsonl: Path,
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        start(write_suite(fake_suite(labels_jsonl)), tmp_path / "results", executor="local")
    monkeypatch.undo()
    run_dir = only_run_dir(tmp_path / "results")
    monkeypatch.setattr(FakeBackend, "__init__", _refuse_to_load)
    resume_run(run_dir, SilentProgress(), executor="local")
    manifest = RunStore(run_dir).read_manifest()
    assert manifest.status == "incomplete"
    assert [(c["done"], c["total"]) for c in manifest.unfinished] == [(2, 6)]
    assert "model file unloadable" in manifest.unfinished[0]["reason"]


def _refuse_to_load(self: FakeBackend, params: Any) -> None:
    from bench.errors import BackendError

    raise BackendError("model file unloadable")


def test_retryable_failures_are_asked_again_on_resume_and_counted_once(write_suite: WriteSuite,
                                                                      labels_jsonl: Path, tmp_path: Path) -> None:
    models = [{"id": "flaky", "backend": {"kind": "fake", "fail_every": 2, "fail_retryable": True}}]
    store = start(write_suite(fake_suite(labels_jsonl, models=models)), tmp_path / "results")
    manifest = store.read_manifest()
    assert manifest.status == "incomplete" and manifest.unfinished[0]["done"] == 3
    assert "retryable" in manifest.unfinished[0]["reason"]
    resume_run(store.path, SilentProgress())  # 3 asked again: the 2nd of them fails again
    assert RunStore(store.path).read_manifest().status == "incomplete"
    resume_run(store.path, SilentProgress())
    final = RunStore(store.path)
    assert final.read_manifest().status == "complete"
    records = final.records()
    assert len(records) == 6 and {r.status for r in records} == {"ok"}
    assert len((store.path / "records.jsonl").read_text().splitlines()) == 6 + 3 + 1  # earlier attempts kept
    summary = json.loads((store.path / "summary.json").read_text())
    n = {row["metric"]: row["n"] for row in summary["metrics"]}
    assert n["accuracy"] == 6


def test_a_run_whose_cell_failed_every_item_exits_1_naming_it(write_suite: WriteSuite, labels_jsonl: Path,
                                                              tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli.main import main

    models = [{"id": "broken", "backend": {"kind": "fake", "fail_every": 1}},
              {"id": "fine", "backend": {"kind": "fake"}}]
    suite = write_suite(fake_suite(labels_jsonl, models=models))
    assert main(["run", str(suite), "--out", str(tmp_path / "results")]) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and failed[0].startswith("failed: broken × triage: 0 of 6 items succeeded")
    assert RunStore(only_run_dir(tmp_path / "results")).read_manifest().status == "complete"


def test_a_run_and_its_resume_read_each_dataset_once(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      dataset_reads: Counter[str]) -> None:
    shots = labels_jsonl.with_name("shots.jsonl")
    shots.write_text(labels_jsonl.read_text())
    suite = fake_suite(labels_jsonl, models=TWO_MODELS, load=[{"mode": "latency"},
                                                              {"mode": "concurrency", "concurrency": 2}])
    suite["tasks"][0]["few_shot"] = {"k": 1, "dataset": {"path": str(shots),
                                                         "fields": {"input": "text", "expected": "label"}}}
    path = write_suite(suite)
    run_dir = interrupted_run(path, tmp_path / "runs", monkeypatch, after=5)  # validation, plan, manifest, 4 cells
    assert dataset_reads == {"items.jsonl": 1, "shots.jsonl": 1}
    dataset_reads.clear()
    store = resume_run(run_dir, SilentProgress())  # the hash check, the remaining cells, the unfinished count
    assert dataset_reads == {"items.jsonl": 1, "shots.jsonl": 1}
    assert store.read_manifest().status == "complete" and len(store.records()) == 4 * 6
