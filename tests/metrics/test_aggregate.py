"""Tests for bench.metrics.aggregate: metric definitions exactly as ARCHITECTURE.md states them."""

from __future__ import annotations

from typing import Any

import pytest

from bench.metrics.aggregate import (
    MetricRow,
    decode_tps,
    e2e_s,
    group_by_cell,
    prefill_tps,
    summarize_cell,
    tpot_s,
    ttft_s,
)
from bench.metrics.records import CellSegment, ItemRecord
from bench.metrics.stats import wilson_interval
from bench.suite.spec import CostSpec, TaskSpec

CELL = "cell0"
LABELS = ["billing", "technical", "shipping"]


def task(scorers: list[str] | None = None) -> TaskSpec:
    return TaskSpec.model_validate({
        "id": "triage", "dataset": {"path": "items.jsonl"},
        "answer": {"mode": "choices", "choices": LABELS},
        "scorers": scorers or ["accuracy", "macro_f1"],
    })


def record(item_id: str, **fields: Any) -> ItemRecord:
    base: dict[str, Any] = {
        "cell_id": CELL, "model_id": "m", "task_id": "triage", "task_version": "1", "item_id": item_id,
        "segment": "s1", "prompt_sha256": "abc", "prediction": "billing", "reference": "billing",
        "scores": {"accuracy": 1.0}, "prompt_tokens": 100, "completion_tokens": 11,
        "t_start": 1000.0, "t_first_token": 1000.5, "t_end": 1001.5,
    }
    base.update(fields)
    return ItemRecord(**base)


def segment(items_done: int, t_start: float, t_end: float, **fields: Any) -> CellSegment:
    base: dict[str, Any] = {
        "cell_id": CELL, "model_id": "m", "task_id": "triage", "segment": "s1", "backend": {},
        "load_time_s": 1.0, "warmup_items": 0, "items_done": items_done, "t_start": t_start, "t_end": t_end,
        "rss_before_bytes": 100_000_000, "peak_rss_bytes": 500_000_000, "cpu_user_s": 1.0, "cpu_system_s": 0.5,
        "completed": True,
    }
    base.update(fields)
    return CellSegment(**base)


def by_metric(rows: list[MetricRow]) -> dict[str, MetricRow]:
    names = [r.metric for r in rows]
    assert len(names) == len(set(names)), f"duplicate metric rows: {names}"
    return {r.metric: r for r in rows}


def summarize(records: list[ItemRecord], segments: list[CellSegment] | None = None,
              usd_per_hour: float = 0.0, scorers: list[str] | None = None) -> dict[str, MetricRow]:
    cost = CostSpec(usd_per_hour=usd_per_hour, basis="test")
    return by_metric(summarize_cell(CELL, task(scorers), records, segments or [], cost))


# --- per-record definitions ----------------------------------------------------------------------


def test_latency_definitions_on_one_record() -> None:
    r = record("a", t_start=10.0, t_first_token=10.25, t_end=12.25, completion_tokens=9, prompt_tokens=50)
    assert ttft_s(r) == pytest.approx(0.25)
    assert e2e_s(r) == pytest.approx(2.25)
    assert tpot_s(r) == pytest.approx(2.0 / 8)
    assert decode_tps(r) == pytest.approx(4.0)
    assert prefill_tps(r) == pytest.approx(50 / 0.25)


def test_prefill_counts_only_tokens_not_served_from_the_prefix_cache() -> None:
    r = record("a", t_start=0.0, t_first_token=0.5, t_end=1.0, prompt_tokens=100, cached_prompt_tokens=60)
    assert prefill_tps(r) == pytest.approx(40 / 0.5)
    fully_cached = record("b", prompt_tokens=100, cached_prompt_tokens=100)
    assert prefill_tps(fully_cached) is None


@pytest.mark.parametrize("tokens", [0, 1])
def test_fewer_than_two_output_tokens_have_no_tpot(tokens: int) -> None:
    r = record("a", completion_tokens=tokens)
    assert tpot_s(r) is None
    assert decode_tps(r) is None
    rows = summarize([record(str(i), completion_tokens=tokens) for i in range(3)])
    assert "tpot_s_p50" not in rows
    assert "decode_tps_p50" not in rows
    assert "ttft_s_p50" in rows


def test_no_first_token_means_no_ttft_or_tpot() -> None:
    r = record("a", t_first_token=None)
    assert ttft_s(r) is None
    assert tpot_s(r) is None
    assert prefill_tps(r) is None
    assert e2e_s(r) == pytest.approx(1.5)


# --- performance rows -----------------------------------------------------------------------------


def test_performance_rows_are_medians_of_ok_records() -> None:
    records = [
        record("a", t_start=0.0, t_first_token=0.1, t_end=1.1, completion_tokens=11, prompt_tokens=10),
        record("b", t_start=0.0, t_first_token=0.2, t_end=2.2, completion_tokens=11, prompt_tokens=10),
        record("c", t_start=0.0, t_first_token=0.3, t_end=3.3, completion_tokens=11, prompt_tokens=10),
        # an errored record: excluded from latency distributions
        record("d", status="error", error="boom", t_start=0.0, t_first_token=None, t_end=50.0, scores={}),
    ]
    rows = summarize(records)
    assert rows["ttft_s_p50"].value == pytest.approx(0.2)
    assert rows["e2e_latency_s_p50"].value == pytest.approx(2.2)
    assert rows["e2e_latency_s_p50"].n == 3
    assert rows["tpot_s_p50"].value == pytest.approx(0.2)
    assert rows["decode_tps_p50"].value == pytest.approx(5.0)
    assert rows["prefill_tps_p50"].value == pytest.approx(10 / 0.2)
    assert rows["e2e_latency_s_p95"].value == pytest.approx(1.1 + 0.95 * 2 * 1.1)
    assert "e2e_latency_s_p99" in rows
    assert rows["ttft_s_p50"].unit == "s" and rows["decode_tps_p50"].unit == "tokens/s"
    assert rows["ttft_s_p50"].higher_is_better is False
    assert rows["decode_tps_p50"].higher_is_better is True
    assert rows["ttft_s_p50"].group == "performance"
    # three values: too few for a 95% CI of the median (it needs 6), so none is reported
    assert rows["e2e_latency_s_p50"].ci_low is None and rows["e2e_latency_s_p50"].ci_high is None


def test_tasks_per_s_sums_items_and_wall_time_over_segments() -> None:
    records = [record(str(i), segment="s1" if i < 3 else "s2") for i in range(8)]
    segments = [segment(3, 100.0, 102.0), segment(5, 200.0, 202.0, segment="s2", peak_rss_bytes=2_000_000_000),
                segment(0, 300.0, 300.0, segment="s3", peak_rss_bytes=1_000_000_000)]
    rows = summarize(records, segments)
    assert rows["tasks_per_s"].value == pytest.approx(8 / 4.0)  # not 8 / (302 - 100)
    assert rows["tasks_per_s"].n == 8
    assert rows["peak_rss_gb"].value == pytest.approx(2.0)
    assert rows["peak_rss_gb"].group == "memory"
    assert rows["cpu_s_per_task"].value == pytest.approx(3 * 1.5 / 8)
    assert rows["load_time_s"].value == pytest.approx(1.0)


def test_no_segments_no_throughput_and_no_cost() -> None:
    rows = summarize([record("a")], [], usd_per_hour=3.0)
    assert "tasks_per_s" not in rows
    assert "usd_per_1000_tasks" not in rows


def test_usd_per_1000_tasks_formula() -> None:
    records = [record(str(i)) for i in range(10)]
    rows = summarize(records, [segment(10, 0.0, 4.0)], usd_per_hour=1.8)
    tps = 10 / 4.0
    cost = rows["usd_per_1000_tasks"]
    assert cost.value == pytest.approx(1000 / tps / 3600 * 1.8)
    assert cost.unit == "USD"
    assert cost.group == "cost"
    assert cost.higher_is_better is False
    assert "1.8" in cost.basis and "test" in cost.basis


def test_usd_per_1000_tasks_absent_when_price_is_zero() -> None:
    rows = summarize([record("a")], [segment(1, 0.0, 1.0)], usd_per_hour=0.0)
    assert "tasks_per_s" in rows
    assert "usd_per_1000_tasks" not in rows


# --- quality rows ---------------------------------------------------------------------------------


def test_quality_uses_only_repetition_zero() -> None:
    right = [record(f"i{i}", repetition=0) for i in range(4)]
    wrong = [record(f"i{i}", repetition=1, prediction="shipping", scores={"accuracy": 0.0}) for i in range(4)]
    rows = summarize(right + wrong)
    assert rows["accuracy"].value == pytest.approx(1.0)
    assert rows["accuracy"].n == 4
    assert rows["macro_f1"].value == pytest.approx(1.0)
    assert rows["macro_f1"].n == 4
    assert rows["error_rate"].n == 4
    # performance still uses every repetition
    assert rows["e2e_latency_s_p50"].n == 8


def test_accuracy_has_wilson_interval() -> None:
    records = [record(f"i{i}", scores={"accuracy": float(i < 5)}) for i in range(6)]
    rows = summarize(records)
    acc = rows["accuracy"]
    assert acc.value == pytest.approx(5 / 6)
    assert (acc.ci_low, acc.ci_high) == pytest.approx(wilson_interval(5, 6))
    assert acc.higher_is_better is True
    assert acc.group == "quality" and acc.unit == "ratio"


def test_errored_items_count_in_error_rate_and_as_wrong() -> None:
    records = [record("a"), record("b"), record("c"),
               record("d", status="error", error="scripted failure", prediction=None, scores={}),
               record("e", status="timeout", error="timed out", prediction=None, scores={"accuracy": 0.0})]
    rows = summarize(records)
    assert rows["error_rate"].value == pytest.approx(2 / 5)
    assert rows["error_rate"].n == 5
    assert rows["error_rate"].higher_is_better is False
    assert rows["accuracy"].value == pytest.approx(3 / 5)
    assert rows["accuracy"].n == 5
    # macro-F1 over a, b, c (billing/billing) and two missing predictions for billing:
    # billing: tp 3, fp 0, fn 2 -> F1 = 6 / 8
    assert rows["macro_f1"].value == pytest.approx(0.75)


def test_parse_failure_rate() -> None:
    records = [record("a"), record("b", prediction=None, parse_error="not a label", scores={"accuracy": 0.0})]
    rows = summarize(records)
    assert rows["parse_failure_rate"].value == pytest.approx(0.5)


def test_macro_f1_is_a_corpus_metric() -> None:
    pairs = [("billing", "billing"), ("technical", "billing"), ("technical", "technical"),
             ("technical", "technical"), ("shipping", "shipping"), ("billing", "shipping")]
    records = [record(f"i{i}", prediction=p, reference=r, scores={"accuracy": float(p == r)})
               for i, (p, r) in enumerate(pairs)]
    rows = summarize(records)
    # billing: tp1 fp1 fn1 -> 0.5; technical: tp2 fp1 fn0 -> 0.8; shipping: tp1 fp0 fn1 -> 2/3
    expected = (0.5 + 0.8 + 2 / 3) / 3
    f1 = rows["macro_f1"]
    assert f1.value == pytest.approx(expected)
    assert f1.n == 6
    assert f1.ci_low is None and f1.ci_high is None  # 6 items: below MIN_N_BOOTSTRAP, no bootstrap interval
    more = summarize([record(f"r{k}-{r.item_id}", prediction=r.prediction, reference=r.reference, scores=r.scores)
                      for k in range(2) for r in records])["macro_f1"]
    assert more.n == 12 and more.ci_low is not None and more.ci_high is not None
    assert more.ci_low <= expected <= more.ci_high


def test_summary_rows_carry_cell_model_and_task() -> None:
    rows = summarize([record("a")], [segment(1, 0.0, 1.0)], usd_per_hour=1.0)
    for row in rows.values():
        assert (row.cell_id, row.model_id, row.task_id) == (CELL, "m", "triage")
        assert row.basis


def test_empty_cell_has_quality_rows_without_values() -> None:
    rows = summarize([])
    assert rows["error_rate"].value is None
    assert rows["error_rate"].n == 0
    assert "e2e_latency_s_p50" not in rows


def test_group_by_cell() -> None:
    a = record("x")
    b = record("y", cell_id="other")
    c = record("z")
    grouped = group_by_cell([a, b, c])
    assert grouped[CELL] == [a, c]
    assert grouped["other"] == [b]


# --- issue #10 class 4: failed work is not throughput ---------------------------------------------------------------

HTTP_400 = "HTTP 400 from http://127.0.0.1:8000/v1/chat/completions: bad request"


def test_six_items_that_all_get_http_400_have_zero_throughput_and_no_cost() -> None:
    """Six 400s in 0.0387 s used to print '155 tasks/s, $0.0018 per 1000 tasks' beside ok/err 0/6."""
    records = [record(f"i{i}", status="error", error=HTTP_400, prediction=None, scores={}, completion_tokens=0,
                      t_start=0.0, t_first_token=None, t_end=0.03) for i in range(6)]
    rows = summarize(records, [segment(6, 0.0, 6 / 155)], usd_per_hour=1.0)
    assert rows["tasks_per_s"].value == 0.0 and rows["tasks_per_s"].n == 0
    assert rows["output_tokens_per_s"].value == 0.0
    assert rows["cpu_s_per_task"].value is None
    cost = rows["usd_per_1000_tasks"]
    assert cost.value is None and "no successful item" in cost.basis
    assert rows["error_rate"].value == 1.0


def test_throughput_counts_the_successful_items_only() -> None:
    ok = [record(f"ok{i}") for i in range(3)]
    failed = [record(f"bad{i}", status="error", error=HTTP_400, prediction=None, scores={}) for i in range(3)]
    rows = summarize(ok + failed, [segment(6, 0.0, 2.0)], usd_per_hour=3.6)
    assert rows["tasks_per_s"].value == pytest.approx(3 / 2.0) and rows["tasks_per_s"].n == 3
    assert rows["usd_per_1000_tasks"].value == pytest.approx(1000 / 1.5 / 3600 * 3.6)
    assert rows["cpu_s_per_task"].value == pytest.approx(1.5 / 3)


def test_records_outside_the_measured_segments_are_not_throughput() -> None:
    """A record whose segment line is missing has no wall time: it cannot count in tasks/s."""
    rows = summarize([record("a"), record("b", segment="lost")], [segment(1, 0.0, 1.0)])
    assert rows["tasks_per_s"].value == pytest.approx(1.0)


# --- issue #10 class 5: statistics that hold at any n and in any order ------------------------------------------------

def json_task() -> TaskSpec:
    return TaskSpec.model_validate({"id": "triage", "dataset": {"path": "items.jsonl"}, "answer": {"mode": "json"},
                                    "scorers": ["json_fields"]})


def test_three_items_each_with_one_of_two_fields_right_get_a_real_interval() -> None:
    """Used to print '50.0% [50–50]': Wilson over the 6 fields is about [19–81]."""
    records = [record(f"i{i}", prediction={"team": "billing", "priority": "low"},
                      reference={"team": "billing", "priority": "high"},
                      scores={"field.team": 1.0, "field.priority": 0.0, "field_accuracy": 0.5, "field_f1": 0.5,
                              "all_fields_correct": 0.0}) for i in range(3)]
    rows = by_metric(summarize_cell(CELL, json_task(), records, [], CostSpec(usd_per_hour=0.0, basis="t")))
    accuracy = rows["field_accuracy"]
    assert accuracy.value == pytest.approx(0.5)
    assert (accuracy.ci_low, accuracy.ci_high) == pytest.approx(wilson_interval(3, 6))
    assert round(accuracy.ci_low * 100) == 19 and round(accuracy.ci_high * 100) == 81
    f1 = rows["field_f1"]  # a continuous score at n = 3: the conservative Wilson interval of the mean, never [50-50]
    assert f1.ci_low is not None and f1.ci_high is not None and f1.ci_high - f1.ci_low > 0.5


def test_a_failed_item_counts_as_all_its_fields_wrong() -> None:
    scores = {"field.team": 1.0, "field.priority": 1.0, "field_accuracy": 1.0}
    records = [record("a", scores=scores), record("b", status="error", error="boom", prediction=None, scores={})]
    rows = by_metric(summarize_cell(CELL, json_task(), records, [], CostSpec(usd_per_hour=0.0, basis="t")))
    assert rows["field_accuracy"].value == pytest.approx(0.5)
    assert (rows["field_accuracy"].ci_low, rows["field_accuracy"].ci_high) == pytest.approx(wilson_interval(2, 4))


def test_uniform_continuous_scores_never_collapse_to_a_point() -> None:
    records = [record(f"i{i:02d}", scores={"accuracy": 1.0, "rouge_l": 0.7}) for i in range(12)]
    rows = summarize(records, scorers=["accuracy", "rouge_l"])
    rouge = rows["rouge_l"]
    assert rouge.ci_low is not None and rouge.ci_high is not None
    assert rouge.ci_low < 0.7 < rouge.ci_high
    assert (rouge.ci_low, rouge.ci_high) == pytest.approx(wilson_interval(0.7 * 12, 12))


def varied_records() -> list[ItemRecord]:
    """Twelve items, two repetitions, with different latencies, scores and predictions."""
    out = []
    for rep in range(2):
        for i in range(12):
            label = LABELS[(i * 7 + rep + (i % 5 == 2)) % 3]
            out.append(record(f"i{i:02d}", repetition=rep, t_start=float(i), t_first_token=i + 0.1 + 0.01 * i,
                              t_end=i + 0.5 + 0.037 * ((i * 5 + rep) % 11), prediction=label,
                              reference=LABELS[i % 3], scores={"accuracy": float(label == LABELS[i % 3]),
                                                               "rouge_l": 0.3 + 0.05 * ((i * 3) % 7)}))
    return out


def test_shuffled_records_give_identical_figures_and_intervals() -> None:
    import random

    records = varied_records()
    shuffled = list(records)
    random.Random(11).shuffle(shuffled)
    assert [r.key for r in shuffled] != [r.key for r in records]
    first = summarize(records, [segment(24, 0.0, 30.0)], scorers=["accuracy", "macro_f1", "rouge_l"])
    again = summarize(shuffled, [segment(24, 0.0, 30.0)], scorers=["accuracy", "macro_f1", "rouge_l"])
    assert first == again
    assert first["macro_f1"].ci_low is not None and first["rouge_l"].ci_low is not None
    assert first["e2e_latency_s_p50"].ci_low is not None  # 24 values: the exact median CI is reported
