"""Tests for bench.suite.plan: cells = models x tasks, filters, stable cell ids, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.errors import SpecError
from bench.suite.load import NoChecks, parse_suite
from bench.suite.plan import PlanOptions, build_plan, cell_id
from bench.suite.spec import LoadedSuite


def suite_dict(models: tuple[str, ...] = ("m1", "m2"), tasks: tuple[str, ...] = ("t1", "t2", "t3"),
               task_limit: int | None = None) -> dict[str, Any]:
    task_entries: list[dict[str, Any]] = []
    for ident in tasks:
        entry: dict[str, Any] = {"id": ident, "dataset": {"path": "items.jsonl"}, "answer": {"mode": "text"},
                                 "scorers": ["exact_match"]}
        if task_limit is not None:
            entry["limit"] = task_limit
        task_entries.append(entry)
    return {"name": "plan-test",
            "models": [{"id": ident, "backend": {"kind": "fake"}} for ident in models],
            "tasks": task_entries}


def loaded(raw: dict[str, Any]) -> LoadedSuite:
    """Schema-validated suite (no data files needed: build_plan is pure)."""
    return parse_suite(yaml.safe_dump(raw, sort_keys=False), Path("plan-test.yaml"), NoChecks())


def test_cells_are_models_times_tasks_in_order() -> None:
    plan = build_plan(loaded(suite_dict()), PlanOptions())
    assert [(c.model.id, c.task.id) for c in plan.cells] == [
        ("m1", "t1"), ("m1", "t2"), ("m1", "t3"), ("m2", "t1"), ("m2", "t2"), ("m2", "t3")]
    assert plan.cells[0].label == "m1 × t1"
    assert plan.options == PlanOptions()


def test_cell_ids_are_unique() -> None:
    plan = build_plan(loaded(suite_dict()), PlanOptions())
    assert len({c.id for c in plan.cells}) == len(plan.cells) == 6


def test_models_filter() -> None:
    plan = build_plan(loaded(suite_dict()), PlanOptions(models=("m2",)))
    assert [(c.model.id, c.task.id) for c in plan.cells] == [("m2", "t1"), ("m2", "t2"), ("m2", "t3")]


def test_tasks_filter_keeps_suite_order() -> None:
    plan = build_plan(loaded(suite_dict()), PlanOptions(tasks=("t3", "t1")))
    assert [(c.model.id, c.task.id) for c in plan.cells] == [("m1", "t1"), ("m1", "t3"), ("m2", "t1"), ("m2", "t3")]


def test_both_filters() -> None:
    plan = build_plan(loaded(suite_dict()), PlanOptions(models=("m1",), tasks=("t2",)))
    assert [(c.model.id, c.task.id) for c in plan.cells] == [("m1", "t2")]


def test_unknown_model_filter_is_a_spec_error_with_hint() -> None:
    with pytest.raises(SpecError) as info:
        build_plan(loaded(suite_dict(models=("smollm2", "gemma3"))), PlanOptions(models=("smolm2",)))
    [problem] = info.value.problems
    assert problem.location == "--models"
    assert "'smolm2'" in problem.message
    assert problem.hint == "did you mean 'smollm2'?"


def test_every_unknown_task_filter_is_reported() -> None:
    with pytest.raises(SpecError) as info:
        build_plan(loaded(suite_dict()), PlanOptions(tasks=("t1", "t9", "x")))
    problems = info.value.problems
    assert [p.location for p in problems] == ["--tasks", "--tasks"]
    assert "'t9'" in problems[0].message and "'x'" in problems[1].message


def test_cell_ids_are_stable_across_builds() -> None:
    first = build_plan(loaded(suite_dict()), PlanOptions())
    second = build_plan(loaded(suite_dict()), PlanOptions())
    assert [c.id for c in first.cells] == [c.id for c in second.cells]
    assert all(len(c.id) == 12 for c in first.cells)


def test_cell_id_does_not_depend_on_other_cells_or_filters() -> None:
    full = {(c.model.id, c.task.id): c.id for c in build_plan(loaded(suite_dict()), PlanOptions()).cells}
    narrowed = build_plan(loaded(suite_dict()), PlanOptions(models=("m2",), tasks=("t3",))).cells[0]
    assert narrowed.id == full[("m2", "t3")]


def test_cell_id_changes_when_the_task_changes() -> None:
    before = build_plan(loaded(suite_dict()), PlanOptions()).cells[0]
    raw = suite_dict()
    raw["tasks"][0]["prompt"] = {"user": "Q: {input}"}
    after = build_plan(loaded(raw), PlanOptions()).cells[0]
    assert (before.model.id, before.task.id) == (after.model.id, after.task.id)
    assert before.id != after.id


def test_cell_id_changes_when_generation_params_change() -> None:
    before = build_plan(loaded(suite_dict()), PlanOptions()).cells[0]
    raw = suite_dict()
    raw["models"][0]["generation"] = {"max_tokens": 16}
    after = build_plan(loaded(raw), PlanOptions()).cells[0]
    assert before.id != after.id


def test_cell_id_changes_with_the_limit() -> None:
    suite = loaded(suite_dict())
    model, task = suite.spec.models[0], suite.spec.tasks[0]
    assert cell_id(model, task, None) == cell_id(model, task, None)
    assert cell_id(model, task, None) != cell_id(model, task, 5)
    assert cell_id(model, task, 5) != cell_id(model, task, 6)


@pytest.mark.parametrize(("task_limit", "option", "expected"), [
    (None, None, None),
    (None, 7, 7),
    (10, None, 10),
    (10, 3, 3),
    (4, 9, 4),
])
def test_limit_is_the_smaller_of_task_and_option(task_limit: int | None, option: int | None,
                                                 expected: int | None) -> None:
    plan = build_plan(loaded(suite_dict(task_limit=task_limit)), PlanOptions(limit=option))
    assert {c.limit for c in plan.cells} == {expected}


def test_build_plan_is_pure() -> None:
    suite = loaded(suite_dict())
    options = PlanOptions(models=("m1",))
    plan = build_plan(suite, options)
    assert plan.suite is suite
    assert plan.options is options
    assert isinstance(plan.cells, tuple)
    assert len(suite.spec.models) == 2
