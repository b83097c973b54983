"""Issue 11, classes 2-4: every kill is resumable, one writer per run, disk and permission faults end cleanly.

Kills and concurrent processes are real: `python -m bench.cli.main` in subprocesses with the scripted fake backend.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

import bench.run.lifecycle
from bench.cli.main import main
from bench.results.store import MANIFEST, RECORDS, SEGMENTS, SET_ASIDE, RunStore, run_lock
from bench.run.lifecycle import RunRequest, resume_run, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

REPO = Path(__file__).resolve().parents[2]
LABELS = ["billing", "technical", "shipping"]
Capsys = pytest.CaptureFixture[str]


def write_suite(folder: Path, items: int = 30, delay_s: float = 0.02, few_shot: bool = False) -> Path:
    """Two fake models with small delays over `items` labelled items (and a few-shot file when asked)."""
    rows = [{"id": f"i{n}", "text": f"text {n}", "label": LABELS[n % 3]} for n in range(items)]
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    task: dict[str, Any] = {"id": "triage", "dataset": {"path": "items.jsonl", "fields": {"input": "text",
                                                                                        "expected": "label"}},
                            "answer": {"mode": "choices", "choices": LABELS}, "scorers": ["accuracy", "macro_f1"]}
    if few_shot:
        (folder / "shots.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:6]))
        task["few_shot"] = {"k": 2, "dataset": {"path": "shots.jsonl", "fields": {"input": "text",
                                                                                   "expected": "label"}}}
    suite = {"name": "faults", "warmup": 0,
             "models": [{"id": f"f{i}", "backend": {"kind": "fake", "choice_index": i, "delay_s": delay_s}}
                        for i in range(2)],
             "tasks": [task]}
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def bench_process(*args: str, **popen: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "bench.cli.main", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def run_bench(*args: str, timeout: float = 120, **popen: Any) -> tuple[int, str, str]:
    process = bench_process(*args, **popen)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def one_error_line(err: str, *expected: str) -> str:
    """The single `error:` line of stderr (no traceback), containing each expected text."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    for text in expected:
        assert text in errors[0], (text, errors[0])
    return errors[0]


def run_dirs(out: Path) -> list[Path]:
    return sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")) if out.exists() else []


def keys(run_dir: Path) -> Counter[tuple[str, str, int]]:
    return Counter((r.cell_id, r.item_id, r.repetition) for r in RunStore(run_dir).records())


def comparable(summary: dict[str, Any]) -> dict[Any, Any]:
    """Everything in a summary that timings do not decide: every metric row's n and whether it is set, quality
    values exactly; the status, the cells, the baselines and each model's paired test against them; the cost rows'
    presence (their figures are timings)."""
    rows = {(row["cell_id"], row["metric"]): (row["n"], row["value"] is None,
                                              row["value"] if row["group"] == "quality" else "timing")
            for row in summary["metrics"]}
    costs = sorted((r["cell_id"], r["profile_id"], r["basis"], r["quality"]) for r in summary["costs"]["rows"])
    return {"metrics": rows, "status": summary["status"], "cells": summary["cells"], "costs": costs,
            "baselines": summary.get("baselines"), "baseline_tests": summary.get("baseline_tests"),
            "unfinished": summary["unfinished"], "skipped": summary["skipped"]}


@pytest.fixture
def fast_calibration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                        "sgemm_gflops": 100.0})


# ------------------------------------------------------------------------------------------ 2. every kill


def test_no_run_folder_exists_while_the_machine_is_calibrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    out = tmp_path / "out"
    seen: list[list[Path]] = []

    def calibrate() -> dict[str, float]:
        seen.append(run_dirs(out))
        raise KeyboardInterrupt  # as a kill at this moment would

    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", calibrate)
    with pytest.raises(KeyboardInterrupt):
        start_run(RunRequest(write_suite(tmp_path), PlanOptions(), out), SilentProgress())
    assert seen == [[]]
    assert run_dirs(out) == []  # nothing that --resume would call "not a run directory"


def test_a_run_folder_appears_with_its_manifest_and_suite_copy(tmp_path: Path, fast_calibration: None) -> None:
    store = start_run(RunRequest(write_suite(tmp_path, items=3), PlanOptions(), tmp_path / "out"), SilentProgress())
    assert store.read_manifest().run_id == store.path.name
    assert {p.name for p in (tmp_path / "out").iterdir()} == {store.path.name}  # no staging folder left
    assert not (store.path / ".reserve").exists()  # the full-disk reserve is freed once the run is complete


def test_a_kill_between_a_cells_last_record_and_its_segment_line_is_measured_again(
        tmp_path: Path, fast_calibration: None, capsys: Capsys) -> None:
    store = start_run(RunRequest(write_suite(tmp_path, items=6), PlanOptions(), tmp_path / "out"), SilentProgress())
    reference = comparable(json.loads((store.path / "summary.json").read_text()))
    cells = (store.path / SEGMENTS).read_text().splitlines()
    (store.path / SEGMENTS).write_text("\n".join(cells[:-1]) + "\n")  # the state SIGKILL leaves at that moment
    store.update_manifest(status="running")
    resume_run(store.path, SilentProgress())
    assert f"warning: {store.path}: 6 records have no segment line" in capsys.readouterr().err  # said, not silent
    assert set(keys(store.path).values()) == {1} and sum(keys(store.path).values()) == 12
    set_aside = (store.path / SET_ASIDE).read_text().splitlines()
    assert len(set_aside) == 6  # kept, not lost: the last cell's six records, re-measured with timings
    assert comparable(json.loads((store.path / "summary.json").read_text())) == reference
    assert store.read_manifest().status == "complete"


def test_kill_9_at_20_random_moments_then_resume(tmp_path: Path) -> None:
    """SIGKILL at 20 random moments (calibration, cells, reports) of runs and their resumes, each run resumed to
    the end: every item exactly once, status complete, the summary equal to an uninterrupted run's but timings."""
    suite = write_suite(tmp_path, items=30, delay_s=0.03)
    started = time.perf_counter()
    code, _, err = run_bench("run", str(suite), "--out", str(tmp_path / "reference"))
    full_s = time.perf_counter() - started
    assert code == 0, err
    reference = comparable(json.loads((run_dirs(tmp_path / "reference")[0] / "summary.json").read_text()))
    rng = random.Random(11)
    kills: list[tuple[int, float]] = []  # (run, seconds after the process started)
    for run in range(20):
        out = tmp_path / f"out{run}"
        while len(kills) < 20 and RunStatus.of(out) != "complete":
            if kill_once(suite, out, moment := round(rng.uniform(0.1, full_s), 2)):
                kills.append((run, moment))
        folder = run_dirs(out)
        code, _, err = run_bench(*(["run", "--resume", str(folder[0])] if folder else ["run", str(suite)]),
                                 "--out", str(out))
        assert code == 0, (kills, err)
        run_dir = run_dirs(out)[0]
        assert len(run_dirs(out)) == 1
        assert set(keys(run_dir).values()) == {1} and sum(keys(run_dir).values()) == 60, kills
        assert RunStore(run_dir).read_manifest().status == "complete"
        assert comparable(json.loads((run_dir / "summary.json").read_text())) == reference, kills
        if len(kills) == 20:
            break
    assert len(kills) == 20


class RunStatus:
    @staticmethod
    def of(out: Path) -> str | None:
        folder = run_dirs(out)
        return str(json.loads((folder[0] / MANIFEST).read_text())["status"]) if folder else None


def kill_once(suite: Path, out: Path, moment: float) -> bool:
    """Start (or resume) the run under `out`, SIGKILL it `moment` s later; whether it was still running."""
    folder = run_dirs(out)
    process = bench_process(*(["run", "--resume", str(folder[0])] if folder else ["run", str(suite)]),
                            "--out", str(out))
    time.sleep(moment)
    alive = process.poll() is None
    process.kill()
    process.communicate()
    return alive


# ------------------------------------------------------------------------------------------ 3. one writer


def interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, items: int = 30, **suite: Any) -> Path:
    """A run directory stopped (Ctrl-C) after 5 items."""
    from bench.backends.fake import FakeBackend

    original, calls = FakeBackend._answer, {"n": 0}

    def answer(self: FakeBackend, request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > 5:
            raise KeyboardInterrupt
        return original(self, request)

    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine",
                        lambda: {"bandwidth_gb_s": 30.0, "sgemm_gflops": 100.0})
    with monkeypatch.context() as patch:
        patch.setattr(FakeBackend, "_answer", answer)
        with pytest.raises(KeyboardInterrupt):
            start_run(RunRequest(write_suite(tmp_path, items=items, **suite), PlanOptions(), tmp_path / "out"),
                      SilentProgress())
    return run_dirs(tmp_path / "out")[0]


def test_a_second_resume_exits_2_naming_the_holder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: Capsys) -> None:
    run_dir = interrupted(tmp_path, monkeypatch)
    with run_lock(run_dir):
        assert main(["run", "--resume", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"is in use by another bench process (pid {os.getpid()}" in err
    assert len(RunStore(run_dir).records()) == 5  # nothing measured by the refused process


def test_two_resumes_at_once_measure_every_item_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_dir = interrupted(tmp_path, monkeypatch, items=40, delay_s=0.2)  # the first still runs when the second starts
    first = bench_process("run", "--resume", str(run_dir))
    deadline = time.monotonic() + 60
    while not (run_dir / ".lock-owner").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    code, _, err = run_bench("run", "--resume", str(run_dir))
    _, first_err = first.communicate(timeout=120)
    assert first.returncode == 0, first_err
    assert code == 2
    one_error_line(err, f"is in use by another bench process (pid {first.pid}")
    assert set(keys(run_dir).values()) == {1} and sum(keys(run_dir).values()) == 80


# ------------------------------------------------------------------------------------------ 4. disk faults


@contextmanager
def tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at `path` (root only; skipped where mounting is not allowed)."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """`folder`'s content on a read-only file system (root: a tmpfs remounted ro; others: permissions)."""
    if os.geteuid() != 0:
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        yield folder
        for path in [folder, *folder.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        return
    copy = folder.with_name(folder.name + "-ro")
    with tmpfs(copy, "size=16m") as mounted:
        shutil.copytree(folder, mounted, dirs_exist_ok=True)
        subprocess.run(["mount", "-o", "remount,ro", str(mounted)], check=True)
        yield mounted


def test_out_is_an_existing_file(tmp_path: Path, capsys: Capsys, fast_calibration: None) -> None:
    (tmp_path / "taken").write_text("x")
    assert main(["run", str(write_suite(tmp_path, items=3)), "--out", str(tmp_path / "taken")]) == 2
    one_error_line(capsys.readouterr().err, f"--out {tmp_path / 'taken'}: is not a folder")


def test_out_under_proc(tmp_path: Path, capsys: Capsys, fast_calibration: None) -> None:
    assert main(["run", str(write_suite(tmp_path, items=3)), "--out", "/proc/bench-results"]) == 2
    one_error_line(capsys.readouterr().err, "--out /proc/bench-results: cannot create a run folder there")


def test_out_on_a_read_only_file_system(tmp_path: Path, capsys: Capsys, fast_calibration: None) -> None:
    suite = write_suite(tmp_path, items=3)
    (tmp_path / "results").mkdir()
    with read_only(tmp_path / "results") as folder:
        assert main(["run", str(suite), "--out", str(folder)]) == 2
    line = one_error_line(capsys.readouterr().err, f"--out {folder}: cannot create a run folder there")
    assert "Read-only file system" in line or "Permission denied" in line


def test_a_file_size_limit_during_the_run_ends_cleanly_and_resumes(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, items=100, delay_s=0.0)
    limit = 60_000  # records.jsonl passes it after about 110 items; the manifest and reports stay below it

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    code, _, err = run_bench("run", str(suite), "--out", str(tmp_path / "out"), preexec_fn=small_files)
    assert code == 2
    one_error_line(err, "cannot write", "records.jsonl: File too large", "bench run --resume")
    run_dir = run_dirs(tmp_path / "out")[0]
    assert RunStore(run_dir).read_manifest().status == "interrupted"
    assert 0 < len(RunStore(run_dir).records()) < 200
    code, _, err = run_bench("run", "--resume", str(run_dir))
    assert code == 0, err
    assert set(keys(run_dir).values()) == {1} and sum(keys(run_dir).values()) == 200


def test_a_full_disk_during_the_run_ends_cleanly_and_resumes(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, items=200, delay_s=0.0)
    with tmpfs(tmp_path / "disk", "size=400k") as disk:
        code, _, err = run_bench("run", str(suite), "--out", str(disk))
        assert code == 2
        one_error_line(err, "cannot write", "No space left on device", "bench run --resume")
        run_dir = run_dirs(disk)[0]
        assert RunStore(run_dir).read_manifest().status == "interrupted"
        done = len(RunStore(run_dir).records())
        assert 0 < done < 400
        saved = tmp_path / "saved"
        shutil.copytree(run_dir, saved)
    code, _, err = run_bench("run", "--resume", str(saved))  # on a disk with room
    assert code == 0, err
    assert set(keys(saved).values()) == {1} and sum(keys(saved).values()) == 400


@pytest.mark.parametrize("deleted", ["items.jsonl", "shots.jsonl"])
def test_a_data_file_deleted_before_resume(deleted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: Capsys) -> None:
    run_dir = interrupted(tmp_path, monkeypatch, few_shot=True)
    (tmp_path / deleted).unlink()
    assert main(["run", "--resume", str(run_dir)]) == 2
    one_error_line(capsys.readouterr().err, f"cannot read {tmp_path / deleted}", "No such file or directory",
                   "restore it to resume")
    assert RunStore(run_dir).read_manifest().status == "interrupted"


def test_report_on_a_read_only_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    run_dir = interrupted(tmp_path, monkeypatch)
    with read_only(run_dir) as folder:
        before = (folder / "report.md").read_text()
        target = tmp_path / "elsewhere.md"
        assert main(["report", str(folder), "--format", "md", "--out", str(target)]) == 0
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"warning: cannot write {folder / 'summary.json'}" in err
        assert target.read_text().startswith(f"# Run {run_dir.name}")
        assert main(["report", str(folder), "--format", "html"]) == 2  # its only destination is that folder
        one_error_line(capsys.readouterr().err, f"cannot write {folder / 'report.html'}")
        assert (folder / "report.md").read_text() == before


def test_reports_are_written_atomically(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    run_dir = interrupted(tmp_path, monkeypatch)
    before = (run_dir / "report.md").read_text()
    real_replace = os.replace

    def fail_on_report(src: Any, dst: Any) -> None:
        if str(dst).endswith("report.md"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_report)
    assert main(["report", str(run_dir), "--format", "md", "--out", str(tmp_path / "r.md")]) == 0
    assert (run_dir / "report.md").read_text() == before  # the old report whole, never a half-written one
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]
    assert "warning: cannot write" in capsys.readouterr().err


def test_a_file_size_limit_writing_the_manifest_first_leaves_no_run_folder(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, items=3)

    def tiny_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    code, _, err = run_bench("run", str(suite), "--out", str(tmp_path / "out"), preexec_fn=tiny_files)
    assert code == 2
    one_error_line(err, "File too large")
    assert run_dirs(tmp_path / "out") == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_sigint_mid_run_marks_it_interrupted_and_resume_finishes_it(signum: int, tmp_path: Path,
                                                                              capsys: Capsys,
                                                                              fast_calibration: None) -> None:
    """And (SIGINT) `bench report` while the run is writing: it reads what is there (status running)."""
    suite = write_suite(tmp_path, items=40, delay_s=0.02)
    process = bench_process("run", str(suite), "--out", str(tmp_path / "out"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (run_dirs(tmp_path / "out") and
                                              (run_dirs(tmp_path / "out")[0] / RECORDS).exists()):
        time.sleep(0.05)
    run_dir = run_dirs(tmp_path / "out")[0]
    if signum == signal.SIGINT:
        assert main(["report", str(run_dir), "--format", "json"]) == 0
        report = capsys.readouterr()
        assert "Traceback" not in report.err and json.loads(report.out)["status"] == "running"
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert RunStore(run_dir).read_manifest().status == "interrupted"
    assert 0 < sum(keys(run_dir).values()) < 80
    assert main(["run", "--resume", str(run_dir)]) == 0, capsys.readouterr().err
    assert set(keys(run_dir).values()) == {1} and sum(keys(run_dir).values()) == 80
    assert RunStore(run_dir).read_manifest().status == "complete"


def test_two_runs_into_the_same_out_at_once_get_a_folder_each(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, items=3, delay_s=0.0)
    processes = [bench_process("run", str(suite), "--out", str(tmp_path / "out")) for _ in range(2)]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    folders = run_dirs(tmp_path / "out")
    assert len(folders) == 2  # the same second gives the same run id: the second gets a suffix, never a share
    for folder in folders:
        assert set(keys(folder).values()) == {1} and sum(keys(folder).values()) == 6
        assert RunStore(folder).read_manifest().status == "complete"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder without execute permission")
def test_out_inside_a_folder_without_execute_permission(tmp_path: Path, capsys: Capsys,
                                                        fast_calibration: None) -> None:
    suite = write_suite(tmp_path, items=3)
    (tmp_path / "closed").mkdir(mode=0o666)
    try:
        assert main(["run", str(suite), "--out", str(tmp_path / "closed" / "results")]) == 2
    finally:
        (tmp_path / "closed").chmod(0o755)
    one_error_line(capsys.readouterr().err, "cannot create a run folder there", "Permission denied")


def test_resume_of_a_read_only_run_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Capsys) -> None:
    run_dir = interrupted(tmp_path, monkeypatch)
    with read_only(run_dir) as folder:
        assert main(["run", "--resume", str(folder)]) == 2
        line = one_error_line(capsys.readouterr().err, f"cannot lock {folder / '.lock'}")
        assert "Read-only file system" in line or "Permission denied" in line
        assert RunStore(folder).read_manifest().status == "interrupted"


# ------------------------------------------------------------------------------------------ renamed segments file


@pytest.mark.parametrize("command", ["report", "resume"])
def test_a_v2_run_whose_segments_jsonl_was_renamed_to_cells_jsonl_says_so(command: str, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: Capsys) -> None:
    """It reported without load time, memory or cost, and resume set every record aside, both silently."""
    run_dir = interrupted(tmp_path, monkeypatch)
    (run_dir / SEGMENTS).rename(run_dir / "cells.jsonl")
    records = (run_dir / RECORDS).read_text()
    assert main(["report", str(run_dir)] if command == "report" else ["run", "--resume", str(run_dir)]) == 2
    one_error_line(capsys.readouterr().err, f"{run_dir / 'cells.jsonl'}: a run with a version 2 manifest keeps its "
                   "segments in segments.jsonl; rename cells.jsonl back to segments.jsonl")
    assert (run_dir / RECORDS).read_text() == records and not (run_dir / SET_ASIDE).exists()
    (run_dir / "cells.jsonl").rename(run_dir / SEGMENTS)
    shutil.copy(run_dir / SEGMENTS, run_dir / "cells.jsonl")
    assert main(["report", str(run_dir)]) == 2
    one_error_line(capsys.readouterr().err, f"{run_dir}: holds both segments.jsonl and cells.jsonl")
