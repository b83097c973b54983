"""Tests for bench.metrics.baselines: the trivial baselines every table shows, and the paired test against them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.metrics.baselines import ModelItems, beats_baseline, build_baseline
from bench.suite.spec import TaskSpec

LABELS = ["billing", "technical", "shipping", "refund"]
NATURAL = ["billing"] * 7 + ["technical"] * 6 + ["shipping"] * 4 + ["refund"] * 3
"""20 items: always answering the majority label (billing) gets 35%, always answering technical 30%."""


def task(mode: str, scorers: list[Any], **answer: Any) -> TaskSpec:
    return TaskSpec.model_validate({"id": "t", "dataset": {"path": "x.jsonl"}, "answer": {"mode": mode, **answer},
                                    "scorers": scorers})


def labels_task() -> TaskSpec:
    return task("choices", ["accuracy", "macro_f1"], choices=LABELS)


def rows(baseline: Any, spec: TaskSpec) -> dict[str, Any]:
    return {r.metric: r for r in baseline.rows(spec)}


def test_majority_label_of_the_natural_mix_scores_its_share() -> None:
    refs = {f"i{k:02d}": label for k, label in enumerate(NATURAL)}
    baseline = build_baseline(labels_task(), refs)
    assert baseline is not None and baseline.name == "baseline:majority"
    assert "'billing'" in baseline.description and "35%" in baseline.description
    got = rows(baseline, labels_task())
    assert got["accuracy"].value == pytest.approx(0.35) and got["accuracy"].n == 20
    assert got["accuracy"].ci_low is not None and got["accuracy"].ci_low < 0.35 < got["accuracy"].ci_high
    assert got["macro_f1"].value == pytest.approx((2 * 7 / (2 * 7 + 13)) / 4)  # billing's F1; 0 for the others
    assert "error_rate" not in got


def test_majority_compares_labels_normalized_and_breaks_ties_in_sorted_order() -> None:
    baseline = build_baseline(labels_task(), {"a": "Shipping ", "b": "shipping", "c": "billing", "d": "Billing"})
    assert baseline is not None
    assert json.loads(baseline.predictions[0]) == "billing"  # 2 billing vs 2 shipping: the first in sorted order
    assert rows(baseline, labels_task())["accuracy"].value == pytest.approx(0.5)


def test_json_baseline_answers_each_fields_most_common_value() -> None:
    spec = task("json", ["json_fields"], json_schema={"type": "object"})
    refs = {"r1": {"shop": "Acme", "total": "12.00"}, "r2": {"shop": "Acme", "total": "9.50"},
            "r3": {"shop": "Bolt", "total": "9.50"}, "r4": {"shop": None, "total": "1.00"}}
    baseline = build_baseline(spec, refs)
    assert baseline is not None and baseline.name == "baseline:field-mode"
    assert json.loads(baseline.predictions[0]) == {"shop": "Acme", "total": "9.50"}
    got = rows(baseline, spec)
    assert got["field.shop"].value == pytest.approx(2 / 4) and got["field.total"].value == pytest.approx(2 / 4)
    assert got["field_accuracy"].value == pytest.approx((0.5 + 1.0 + 0.5 + 0.0) / 4)


def test_lead_n_words_takes_the_median_reference_length() -> None:
    spec = task("text", ["rouge_l"])
    refs = {"a": "one two three", "b": "one two three four five", "c": ["w x y z", "ignored longer reference"]}
    inputs = {"a": "one two three four five six", "b": "five four three two one zero", "c": "w x y z q"}
    baseline = build_baseline(spec, refs, inputs)
    assert baseline is not None and baseline.name == "baseline:lead-4"
    assert [json.loads(p) for p in baseline.predictions] == ["one two three four", "five four three two", "w x y z"]
    assert baseline.scores["rouge_l"].tolist() == pytest.approx([6 / 7, 2 / 9, 1.0])  # b: "five"
    assert build_baseline(spec, refs, None) is None  # the inputs could not be read: no lead baseline


def test_a_model_below_the_majority_does_not_beat_it() -> None:
    """Issue #16 class 2: a model at 30% where always answering the majority label gets 35%."""
    refs = {f"i{k:02d}": label for k, label in enumerate(NATURAL)}
    baseline = build_baseline(labels_task(), refs)
    assert baseline is not None
    items = ModelItems(list(refs), [float(ref == "technical") for ref in refs.values()])
    ident = {"cell_id": "c1", "model_id": "m-a", "task_id": "t"}
    verdict = beats_baseline(ident, labels_task(), "accuracy", items, baseline)
    assert verdict is not None and not verdict.beats
    assert (verdict.model_value, verdict.baseline_value, verdict.n, verdict.test) == (0.3, 0.35, 20, "mcnemar")
    assert "m-a does not beat baseline:majority significantly on accuracy (30.0% vs 35.0% on 20 items, mcnemar" \
        in verdict.reason()


def test_a_clearly_better_model_beats_the_majority_by_mcnemar() -> None:
    refs = {f"i{k:02d}": label for k, label in enumerate(NATURAL)}
    baseline = build_baseline(labels_task(), refs)
    assert baseline is not None
    items = ModelItems(list(refs), [1.0] * 20)  # right on all 20: 13 discordant pairs, all ours
    verdict = beats_baseline({"cell_id": "c", "model_id": "m", "task_id": "t"}, labels_task(), "accuracy", items,
                             baseline)
    assert verdict is not None and verdict.beats and verdict.p_value == pytest.approx(2 * 0.5 ** 13)


def test_macro_f1_is_tested_by_the_paired_corpus_bootstrap() -> None:
    spec = task("choices", ["macro_f1"], choices=LABELS)
    refs = {f"i{k:02d}": label for k, label in enumerate(NATURAL)}
    baseline = build_baseline(spec, refs)
    assert baseline is not None
    items = ModelItems(list(refs), [0.0] * 20, [[ref, ref] for ref in refs.values()])
    verdict = beats_baseline({"cell_id": "c", "model_id": "m", "task_id": "t"}, spec, "macro_f1", items, baseline)
    assert verdict is not None and verdict.test == "paired bootstrap (corpus)" and verdict.beats
    assert verdict.model_value == 1.0


def test_continuous_scores_are_tested_by_the_paired_bootstrap() -> None:
    spec = task("text", ["rouge_l"])
    refs = {f"i{k:02d}": "alpha beta gamma" for k in range(12)}
    baseline = build_baseline(spec, refs, {i: "zeta eta theta iota" for i in refs})
    assert baseline is not None and rows(baseline, spec)["rouge_l"].value == 0.0
    items = ModelItems(list(refs), [0.5 + k / 100 for k in range(12)])
    verdict = beats_baseline({"cell_id": "c", "model_id": "m", "task_id": "t"}, spec, "rouge_l", items, baseline)
    assert verdict is not None and verdict.test == "paired bootstrap" and verdict.beats


def test_lm_eval_tasks_and_empty_cells_have_no_baseline() -> None:
    assert build_baseline(labels_task(), {}) is None
    lm_eval = TaskSpec.model_validate({"id": "t", "dataset": {"kind": "lm_eval", "task": "x"},
                                       "answer": {"mode": "choices"}, "scorers": ["lm_eval"]})
    assert build_baseline(lm_eval, {"a": "x"}) is None


def test_a_corpus_metric_without_the_models_answers_is_not_tested() -> None:
    refs = {f"i{k:02d}": label for k, label in enumerate(NATURAL)}
    baseline = build_baseline(labels_task(), refs)
    assert baseline is not None
    ident = {"cell_id": "c", "model_id": "m", "task_id": "t"}
    assert beats_baseline(ident, labels_task(), "macro_f1", ModelItems(list(refs), [0.0] * 20), baseline) is None
    assert beats_baseline(ident, labels_task(), "accuracy", ModelItems(["other"], [1.0]), baseline) is None
