"""What a cell evaluates: the --limit sample (#16 class 1), few-shot examples never an item's own (#10 class 8),
and answers extracted as the scorer normalizes them (#10 class 6)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from suite_factory import fake_suite

from bench.backends.base import Result
from bench.run.runner import build_request, cell_items, make_record, prepare
from bench.suite.load import load_suite
from bench.suite.plan import PlanOptions, build_plan

WriteSuite = Callable[[dict[str, Any] | str], Path]


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def only_cell_items(suite_path: Path, limit: int | None = None) -> list[Any]:
    plan = build_plan(load_suite(suite_path), PlanOptions(limit=limit))
    [cell] = plan.cells
    return cell_items(cell, plan.suite)


def test_few_shot_from_the_test_file_never_shows_an_item_its_own_answer(write_suite: WriteSuite,
                                                                        labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 2, "dataset": {"path": labels_jsonl.name,
                                                         "fields": {"input": "text", "expected": "label"}}}
    plan = build_plan(load_suite(write_suite(suite)), PlanOptions())
    work = prepare(plan.cells[0], plan.suite, set())
    for item in work.items:
        request = build_request(work, item, 0)
        assert request.completion.count(item.input) == 1  # the item itself, never as an example
        assert len(request.messages) == 1 + 2 * 2 + 1  # system, two example turns, the item


def test_limit_on_text_answers_is_a_seeded_random_sample(write_suite: WriteSuite, tmp_path: Path) -> None:
    rows = [{"id": f"r{i:02d}", "text": f"receipt {i}", "label": "x" * (i + 1)} for i in range(40)]
    suite = fake_suite(write_rows(tmp_path / "receipts.jsonl", rows))
    suite["tasks"][0]["answer"] = {"mode": "text"}
    suite["tasks"][0]["scorers"] = ["exact_match"]
    path = write_suite(suite)
    picked = only_cell_items(path, limit=10)
    assert [i.id for i in picked] == [i.id for i in only_cell_items(path, limit=10)]
    assert max(len(str(i.expected)) for i in picked) > 10  # not the 10 shortest answers
    assert len({i.id for i in picked}) == 10


def test_limit_on_choices_is_balanced_or_natural(write_suite: WriteSuite, tmp_path: Path) -> None:
    rows = [{"id": str(i), "text": f"message {i}", "label": "spam" if i % 5 == 0 else "billing"} for i in range(50)]
    suite = fake_suite(write_rows(tmp_path / "spam.jsonl", rows))
    suite["tasks"][0]["answer"]["choices"] = ["billing", "spam"]
    balanced = only_cell_items(write_suite(suite), limit=10)
    suite["tasks"][0]["sample"] = "natural"
    natural = only_cell_items(write_suite(suite), limit=10)
    assert Counter(i.expected for i in balanced) == {"billing": 5, "spam": 5}
    assert Counter(i.expected for i in natural) == {"billing": 8, "spam": 2}


def test_a_served_answer_is_extracted_and_scored_as_the_scorer_normalizes(write_suite: WriteSuite,
                                                                          labels_jsonl: Path) -> None:
    """#10 class 6 through the runner: text answers without a choice index (an OpenAI-compatible server)."""
    plan = build_plan(load_suite(write_suite(fake_suite(labels_jsonl))), PlanOptions())
    work = prepare(plan.cells[0], plan.suite, set())
    parcel = next(item for item in work.items if item.expected == "shipping")
    for text in ("Shipping.", '```json\n{"answer": "shipping"}\n```', 'The category is:\n{"answer": "Shipping"}'):
        record = make_record(work, parcel, 0, Result("x#0", text=text), "seg", "sha")
        assert (record.prediction, record.parse_error) == ("shipping", None)
        assert record.scores["accuracy"] == 1.0


class _UndefinedScorer:
    """A scorer plugin whose metric is undefined for some item (NaN) beside a defined one."""

    def score(self, item: Any, result: Result, prediction: Any) -> dict[str, float]:
        return {"odd": float("nan"), "also_odd": float("inf"), "fine": 0.5}


def test_an_undefined_score_is_left_out_and_named_so_the_record_stays_readable(write_suite: WriteSuite,
                                                                               labels_jsonl: Path) -> None:
    """NaN is not JSON: a record holding it was written as null and then refused by its own run's reader."""
    from bench.results.schema import Record

    plan = build_plan(load_suite(write_suite(fake_suite(labels_jsonl))), PlanOptions())
    work = prepare(plan.cells[0], plan.suite, set())
    work.scorers.append(_UndefinedScorer())  # type: ignore[arg-type]
    record = make_record(work, work.items[0], 0, Result("x#0", text="shipping"), "seg", "sha")
    assert "odd" not in record.scores and "also_odd" not in record.scores and record.scores["fine"] == 0.5
    assert record.engine_extra["undefined_scores"] == ["also_odd", "odd"]
    assert Record.model_validate_json(record.model_dump_json()).scores == record.scores
