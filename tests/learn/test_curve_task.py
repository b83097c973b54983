"""bench.learn.curve_task: what a curve learns from, and the bad inputs refused with one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.errors import SpecError
from bench.learn.curve_task import label_task
from bench.suite.load import load_suite
from tests.learn_suite import WriteSuite, rows, task

SUITES = Path(__file__).resolve().parents[2] / "suites"


def one_line(exc: pytest.ExceptionInfo[SpecError]) -> str:
    assert len(exc.value.problems) == 1
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_a_choices_task_learns_its_choices(learn_suite: WriteSuite) -> None:
    learned = label_task(load_suite(learn_suite()), "triage")
    assert learned.field is None and learned.classes == ["billing", "shipping", "account"]
    assert len(learned.pool.texts) == 36 and len(learned.test) == 18
    assert [s.params.name for s in learned.scorers] == ["accuracy", "macro_f1"]


def test_a_json_task_learns_its_label_field() -> None:
    learned = label_task(load_suite(SUITES / "email-routing.yaml"), "email-routing")
    assert learned.field == "department"
    assert learned.classes == ["sales", "support", "finance", "hr", "legal", "it"]
    assert len(learned.pool.texts) == 300
    assert learned.prediction("hr") == {"department": "hr"}
    assert [s.params.name for s in learned.scorers] == ["accuracy", "macro_f1"]  # not json_fields (urgent)


def test_unknown_task_names_the_tasks(learn_suite: WriteSuite) -> None:
    with pytest.raises(SpecError) as exc:
        label_task(load_suite(learn_suite()), "triage2")
    assert "--task: unknown task 'triage2'" in one_line(exc) and "triage" in one_line(exc)


def test_a_text_task_is_not_a_classification(learn_suite: WriteSuite) -> None:
    text_task = task(answer={"mode": "text"}, scorers=["exact_match"])
    with pytest.raises(SpecError) as exc:
        label_task(load_suite(learn_suite([text_task])), "triage")
    line = one_line(exc)
    assert "tasks[0].answer" in line and "not a classification task (mode text)" in line


def test_a_train_label_outside_the_choices(learn_suite: WriteSuite) -> None:
    pool = [*rows("p", 4, 0), {"id": "odd-1", "text": "a refund for my hat", "label": "returns"}]
    with pytest.raises(SpecError) as exc:
        label_task(load_suite(learn_suite(pool=pool)), "triage")
    line = one_line(exc)
    assert "pool.jsonl: item 'odd-1': label 'returns' is not one of the task's choices" in line
    assert "billing, shipping, account" in line


def test_a_pool_without_some_classes(learn_suite: WriteSuite) -> None:
    pool = [r for r in rows("p", 4, 0) if r["label"] != "account"]
    with pytest.raises(SpecError) as exc:
        label_task(load_suite(learn_suite(pool=pool)), "triage")
    line = one_line(exc)
    assert "pool.jsonl: labels: the train pool has no example of account" in line and "add examples" in line


def test_a_task_without_label_scorers(learn_suite: WriteSuite) -> None:
    with pytest.raises(SpecError) as exc:
        label_task(load_suite(learn_suite([task(scorers=["exact_match"])])), "triage")
    assert "tasks[0].scorers: task 'triage' has no accuracy or macro_f1 scorer" in one_line(exc)
