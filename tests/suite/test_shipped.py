"""Every shipped suite validates and plans; the shipped data files have the promised shape."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan

REPO = Path(__file__).resolve().parents[2]
SUITES = sorted((REPO / "suites").glob("*.yaml"))
DATA = REPO / "suites" / "data"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_suites_are_shipped() -> None:
    names = {p.name for p in SUITES}
    assert {"quickstart.yaml", "ticket-triage.yaml", "email-routing.yaml", "invoice-extraction.yaml"} <= names


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_shipped_suite_loads_and_plans(path: Path) -> None:
    loaded = load_suite(path)
    spec = loaded.spec
    plan = build_plan(loaded, PlanOptions())
    loads = sum(len(load.expand()) for load in spec.load)
    assert len(plan.cells) == len(spec.models) * len(spec.tasks) * loads
    assert {(c.model.id, c.task.id) for c in plan.cells} == {(m.id, t.id) for m in spec.models for t in spec.tasks}
    assert len({c.id for c in plan.cells}) == len(plan.cells)


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.name)
def test_shipped_suite_limit_option_applies(path: Path) -> None:
    plan = build_plan(load_suite(path), PlanOptions(limit=3))
    assert all(c.limit is not None and c.limit <= 3 for c in plan.cells)


def test_validating_suites_does_not_import_the_llama_cpp_engine() -> None:
    code = ("import sys; from bench.suite import load_suite\n"
            f"for p in {[str(p) for p in SUITES]!r}: load_suite(p)\n"
            "assert 'llama_cpp' not in sys.modules, 'llama_cpp imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 0, done.stderr


# -------------------------------------------------------------------------------------- ticket triage


def test_ticket_triage_test_set() -> None:
    rows = read_jsonl(DATA / "ticket_triage" / "test.jsonl")
    assert len(rows) >= 150
    categories = Counter(row["category"] for row in rows)
    assert len(categories) >= 6
    assert min(categories.values()) >= 0.8 * max(categories.values()), categories
    assert all(row.get("priority") in {"low", "medium", "high", "urgent"} for row in rows)
    assert set(Counter(row["priority"] for row in rows)) == {"low", "medium", "high", "urgent"}
    assert all(isinstance(row.get("text"), str) and row["text"].strip() for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)


def test_ticket_triage_train_covers_every_category_and_does_not_overlap_test() -> None:
    test = read_jsonl(DATA / "ticket_triage" / "test.jsonl")
    train = read_jsonl(DATA / "ticket_triage" / "train.jsonl")
    assert {r["category"] for r in train} == {r["category"] for r in test}
    assert not {r["text"] for r in train} & {r["text"] for r in test}
    assert not {r["id"] for r in train} & {r["id"] for r in test}


# -------------------------------------------------------------------------------------- email routing


def test_email_routing_test_set() -> None:
    rows = read_jsonl(DATA / "email_routing" / "test.jsonl")
    assert len(rows) >= 100
    assert all(isinstance(row.get("department"), str) and row["department"] for row in rows)
    assert all(isinstance(row.get("urgent"), bool) for row in rows)
    departments = Counter(row["department"] for row in rows)
    assert set(departments) == {"sales", "support", "finance", "hr", "legal", "it"}
    assert min(departments.values()) >= 0.8 * max(departments.values()), departments
    urgent = sum(row["urgent"] for row in rows)
    assert 0 < urgent < len(rows)
    assert all(isinstance(row.get("subject"), str) and isinstance(row.get("body"), str) for row in rows)
    assert len({row["id"] for row in rows}) == len(rows)


def test_email_routing_train_does_not_overlap_test() -> None:
    test = read_jsonl(DATA / "email_routing" / "test.jsonl")
    train = read_jsonl(DATA / "email_routing" / "train.jsonl")
    assert {r["department"] for r in train} == {r["department"] for r in test}
    assert all(isinstance(r["urgent"], bool) for r in train)
    assert not {r["body"] for r in train} & {r["body"] for r in test}


def on_the_fake_backend(path: Path, tmp_path: Path) -> Path:
    """The shipped suite with its models replaced by one fake model and its data paths made absolute."""
    import yaml

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["models"] = [{"id": "fake", "backend": {"kind": "fake", "text": "{}", "json_output": {}}}]
    spec.pop("load", None)
    for task in spec["tasks"]:
        for dataset in (task["dataset"], (task.get("few_shot") or {}).get("dataset", {}), task.get("train") or {}):
            if "path" in dataset:
                dataset["path"] = str(path.parent / dataset["path"])
    out = tmp_path / path.name
    out.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return out


@pytest.mark.parametrize("name", ["quickstart.yaml", "ticket-triage.yaml", "email-routing.yaml",
                                  "invoice-extraction.yaml"])
def test_shipped_suite_reports_show_baselines_and_failures(name: str, tmp_path: Path) -> None:
    """Issue #16: every task table of a shipped suite's report has its baseline row and the failures column."""
    from bench.run.lifecycle import RunRequest, start_run
    from bench.run.progress import SilentProgress

    store = start_run(RunRequest(on_the_fake_backend(REPO / "suites" / name, tmp_path), PlanOptions(limit=6),
                                 tmp_path / "results"), SilentProgress())
    report = (store.path / "report.md").read_text(encoding="utf-8")
    summary = json.loads((store.path / "summary.json").read_text(encoding="utf-8"))
    tasks = [t.id for t in load_suite(REPO / "suites" / name).spec.tasks]
    assert sorted(b["task_id"] for b in summary["baselines"]) == sorted(tasks)
    for task in tasks:
        table = report.split(f"## {task}\n")[1].split("\n## ")[0]
        assert "| failures" in table and "| baseline:" in table, task
