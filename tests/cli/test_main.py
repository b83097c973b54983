"""End-to-end tests of the bench CLI, in process, with the scripted fake backend."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite as one_model_suite

from bench.cli.main import main
from bench.metrics import stats


def fake_suite(dataset: Path, **overrides: Any) -> dict[str, Any]:
    """Two fake models and two tasks (label choice, free text)."""
    base = one_model_suite(dataset)
    echo = {"id": "echo", "dataset": base["tasks"][0]["dataset"], "answer": {"mode": "text"},
            "scorers": ["exact_match"]}
    models = [*base["models"], {"id": "fake-b", "backend": {"kind": "fake", "choice_index": 1}}]
    return {**base, "models": models, "tasks": [*base["tasks"], echo], **overrides}


WriteSuite = Callable[[dict[str, Any] | str], Path]
Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def _fewer_resamples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bootstrap CIs with 200 resamples instead of 2000: same code paths, a tenth of the time."""
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from tmp_path, so the default results/ folder can never land in the repository."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def suite(write_suite: WriteSuite, labels_jsonl: Path) -> Path:
    return write_suite(fake_suite(labels_jsonl))


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def records(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]


def test_validate_ok(suite: Path, capsys: Capsys) -> None:
    assert main(["validate", str(suite)]) == 0
    captured = capsys.readouterr()
    assert "ok (2 models, 2 tasks)" in captured.err
    assert captured.out == ""


def test_validate_broken_suite_lists_every_problem(write_suite: WriteSuite, labels_jsonl: Path,
                                                   capsys: Capsys) -> None:
    broken = fake_suite(labels_jsonl)
    broken["models"][0]["colour"] = "red"
    broken["tasks"][0]["scorers"] = ["acuracy"]
    broken["tasks"][1]["dataset"] = {"path": "missing.jsonl"}
    path = write_suite(broken)
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert len(lines) >= 3
    assert all(line.startswith("error: ") for line in lines), lines  # one line per problem
    assert all(str(path) in line for line in lines)
    assert any("models[0].colour" in line and "unknown key" in line for line in lines)
    assert any("acuracy" in line and "did you mean 'accuracy'" in line for line in lines)
    assert any("missing.jsonl" in line for line in lines)


def test_validate_unreadable_suite(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "cannot read suite" in err and "Traceback" not in err


def test_plan_prints_cells_and_runs_nothing(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["plan", str(suite), "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["suite"] == "unit"
    assert [(c["model"], c["task"]) for c in plan["cells"]] == [
        ("fake-a", "triage"), ("fake-a", "echo"), ("fake-b", "triage"), ("fake-b", "echo")]
    assert all(c["items"] == 6 and c["backend"] == "fake" for c in plan["cells"])
    assert not (tmp_path / "results").exists()


def test_plan_table(suite: Path, capsys: Capsys) -> None:
    assert main(["plan", str(suite), "--limit", "2", "--models", "fake-b"]) == 0
    out = capsys.readouterr().out
    assert "plan: unit (2 cells)" in out
    assert "fake-b" in out and "fake-a" not in out


def test_run_dry_run_creates_nothing(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    out_dir = tmp_path / "out"
    assert main(["run", str(suite), "--dry-run", "--out", str(out_dir), "--format", "json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert len(plan["cells"]) == 4
    assert not out_dir.exists()
    assert not (tmp_path / "results").exists()


def test_resume_with_dry_run_says_why_it_is_refused(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", "--resume", str(tmp_path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "--dry-run prints a suite's plan" in err and len(err.strip().splitlines()) == 1


def test_run_json_prints_summary_on_stdout(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--format", "json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)  # stdout is pure JSON; progress goes to stderr
    assert summary["status"] == "complete"
    assert summary["primary_metrics"] == {"triage": "accuracy", "echo": "exact_match"}
    assert {row["metric"] for row in summary["metrics"]} >= {"accuracy", "macro_f1", "exact_match",
                                                             "error_rate", "tasks_per_s"}
    (run_dir,) = run_dirs(tmp_path / "results")
    assert f"results: results/{run_dir.name}" in captured.err
    assert json.loads((run_dir / "summary.json").read_text())["metrics"] == summary["metrics"]


def test_run_table_output(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "task: triage" in out and "task: echo" in out
    assert "fake-a" in out and "fake-b" in out


def test_run_limit_models_tasks_out(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    out_dir = tmp_path / "elsewhere"
    code = main(["run", str(suite), "--limit", "3", "--models", "fake-b", "--tasks", "triage",
                 "--out", str(out_dir), "--format", "json"])
    assert code == 0
    assert not (tmp_path / "results").exists()
    (run_dir,) = run_dirs(out_dir)
    rows = records(run_dir)
    assert len(rows) == 3
    assert {(r["model_id"], r["task_id"]) for r in rows} == {("fake-b", "triage")}
    summary = json.loads(capsys.readouterr().out)
    assert [(c["model_id"], c["task_id"]) for c in summary["cells"]] == [("fake-b", "triage")]


def test_run_usd_per_hour_gives_cost(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--tasks", "triage", "--models", "fake-a", "--usd-per-hour", "3.6",
                 "--format", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = {row["metric"]: row["value"] for row in summary["metrics"]}
    assert rows["usd_per_1000_tasks"] == pytest.approx(1000 / rows["tasks_per_s"] / 3600 * 3.6)


def test_unknown_model_id_is_bad_input(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--models", "fake-c"]) == 2
    err = capsys.readouterr().err
    assert "fake-c" in err and "Traceback" not in err
    assert run_dirs(tmp_path / "results") == []


def test_unknown_model_id_in_plan(suite: Path, capsys: Capsys) -> None:
    assert main(["plan", str(suite), "--tasks", "triag"]) == 2
    assert "did you mean 'triage'" in capsys.readouterr().err


def test_run_with_suite_and_resume_is_bad_input(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--resume", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["run"]) == 2


def test_report_formats(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--format", "json"]) == 0
    original = json.loads(capsys.readouterr().out)
    (run_dir,) = run_dirs(tmp_path / "results")
    (run_dir / "summary.json").unlink()
    (run_dir / "report.md").unlink()

    assert main(["report", str(run_dir), "--format", "json"]) == 0
    recomputed = json.loads(capsys.readouterr().out)
    assert recomputed["metrics"] == original["metrics"]  # derived from the records alone
    assert (run_dir / "summary.json").exists() and (run_dir / "report.md").exists()

    assert main(["report", str(run_dir), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert md.startswith(f"# Run {run_dir.name}")
    assert "## triage" in md and "## Provenance" in md

    assert main(["report", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert "task: triage" in table and "fake-a" in table


def test_report_on_a_non_run_directory(tmp_path: Path, capsys: Capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["report", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "not a run directory" in err and "Traceback" not in err


def test_resume_a_finished_run_is_a_no_op(suite: Path, tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", str(suite), "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    (run_dir,) = run_dirs(tmp_path / "results")
    before = (run_dir / "records.jsonl").read_text()
    assert main(["run", "--resume", str(run_dir), "--format", "json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (run_dir / "records.jsonl").read_text() == before
    assert again["status"] == "complete"
    quality = [(r["cell_id"], r["metric"], r["value"]) for r in first["metrics"] if r["group"] == "quality"]
    assert quality == [(r["cell_id"], r["metric"], r["value"]) for r in again["metrics"] if r["group"] == "quality"]
    assert run_dirs(tmp_path / "results") == [run_dir]


def test_resume_of_a_non_run_directory(tmp_path: Path, capsys: Capsys) -> None:
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_interrupt_exit_code_and_resume(suite: Path, tmp_path: Path, capsys: Capsys,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.backends.base import Request, Result
    from bench.backends.fake import FakeBackend

    original = FakeBackend._answer
    calls = {"n": 0}

    def answer(self: FakeBackend, request: Request) -> Result:
        calls["n"] += 1
        if calls["n"] > 4:
            raise KeyboardInterrupt
        return original(self, request)

    with monkeypatch.context() as patch:
        patch.setattr(FakeBackend, "_answer", answer)
        assert main(["run", str(suite), "--executor", "local"]) == 130  # the patch lives in this process
    assert "--resume" in capsys.readouterr().err
    (run_dir,) = run_dirs(tmp_path / "results")
    assert len(records(run_dir)) == 4
    assert main(["run", "--resume", str(run_dir), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "complete"
    assert len(records(run_dir)) == 24


@pytest.mark.parametrize("argv", [["--limit", "0"], ["--limit", "-1"], ["--usd-per-hour", "-5"],
                                  ["--usd-per-hour", "nan"], ["--usd-per-hour", "inf"],
                                  ["--price", "aws-m7g-large=-1"], ["--max-p95-latency", "-2"]])
def test_impossible_numbers_are_bad_input(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", str(tmp_path / "suite.yaml"), *argv])
    assert caught.value.code == 2


def test_resume_refuses_options_it_would_ignore(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--resume", str(tmp_path), "--limit", "3"]) == 2
    assert "--resume finishes a run with its own options" in capsys.readouterr().err


def test_run_computes_the_summary_once_and_prints_what_it_wrote(suite: Path, tmp_path: Path, capsys: Capsys,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.report.run_report as run_report

    calls = []
    original = run_report.summarize_run

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(run_report, "summarize_run", counted)
    assert main(["run", str(suite), "--executor", "local", "--min-accuracy", "0.42", "--format", "json"]) == 0
    assert len(calls) == 1  # at the run's end, with the command's cost options; the CLI reads what it wrote
    (run_dir,) = run_dirs(tmp_path / "results")
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((run_dir / "summary.json").read_text())
    assert printed["costs"]["requirements"]["min_accuracy"] == 0.42


def _argparse_error(argv: list[str], capsys: Capsys) -> str:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(("argv", "line"), [
    (["run", "s.yaml", "--models", ""], "bench run: error: argument --models: no id given in '': give one or more, "
     "comma-separated"),
    (["plan", "s.yaml", "--tasks", " , "], "bench plan: error: argument --tasks: no id given in ' , ': give one or "
     "more, comma-separated"),
    (["report", "r", "--profiles", ""], "bench report: error: argument --profiles: no id given in '': give one or "
     "more, comma-separated"),
    (["report", "r", "--by", ""], "bench report: error: argument --by: empty value: give one, or leave the option out"),
])
def test_empty_values_are_refused_not_ignored(argv: list[str], line: str, capsys: Capsys) -> None:
    # each ran with exit 0 before: --models "" ran every model, --by "" reported no slices
    assert _argparse_error(argv, capsys) == line


def test_report_table_out_writes_the_file_and_cost_tables_only_for_run_tasks(suite: Path, tmp_path: Path,
                                                                           capsys: Capsys) -> None:
    assert main(["run", str(suite), "--tasks", "triage", "--format", "json"]) == 0
    (run_dir,) = run_dirs(tmp_path / "results")
    capsys.readouterr()
    target = tmp_path / "report.txt"
    assert main(["report", str(run_dir), "--format", "table", "--out", str(target), "--profiles",
                 "aws-c7i-2xlarge"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.strip() == f"report: {target}"
    text = target.read_text()
    assert "task: triage" in text and "cost: triage" in text and "\x1b[" not in text  # plain text, no colour codes
    assert "echo" not in text  # the suite's other task has no cell in this run: no (empty) cost table
    assert main(["report", str(run_dir), "--profiles", "aws-c7i-2xlarge"]) == 0
    assert capsys.readouterr().out == text  # the same table on stdout
    page = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--format", "html", "--out", str(page), "--profiles", "aws-c7i-2xlarge"]) == 0
    html = page.read_text()
    assert 'id="comparison-triage"' in html and "<h3>echo</h3>" not in html and "echo" not in html


def test_a_price_without_a_basis_says_so(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path,
                                         capsys: Capsys) -> None:
    suite = write_suite(fake_suite(labels_jsonl, cost={"usd_per_hour": 1.0}))
    assert main(["run", str(suite), "--tasks", "triage", "--models", "fake-a", "--profiles", "aws-c7i-2xlarge"]) == 0
    assert "× $1.0/h (basis not given)" in capsys.readouterr().out  # was "(not set)", as if the price were unset
    (run_dir,) = run_dirs(tmp_path / "results")
    assert main(["report", str(run_dir), "--format", "md", "--profiles", "aws-c7i-2xlarge"]) == 0
    md = capsys.readouterr().out
    assert "× $1.0/h (basis not given)" in md and "$1.0/h (basis not given); power" in md
    assert "not set" not in md
    manifest = run_dir / "manifest.json"  # a run written before the rename: its manifest says "not set"
    assert '"basis": "basis not given"' in manifest.read_text()
    manifest.write_text(manifest.read_text().replace('"basis not given"', '"not set"'))
    assert main(["report", str(run_dir), "--format", "md", "--profiles", "aws-c7i-2xlarge"]) == 0
    assert "not set" not in capsys.readouterr().out
