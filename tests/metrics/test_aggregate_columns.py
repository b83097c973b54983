"""The columnar summary equals the record-by-record one: every metric row's value, CI and n."""

from __future__ import annotations

from pathlib import Path

import pytest
from columnar_fixtures import fixture_rows, routing_task, triage_task, write_records

from bench.metrics.aggregate import MetricRow, group_by_cell, summarize_cell
from bench.metrics.aggregate_columns import summarize_cell_columns
from bench.metrics.columns import load_columns
from bench.metrics.records import CellSegment
from bench.results.store import RECORDS, RunStore
from bench.suite.spec import CostSpec, SloSpec, TaskSpec

COST = CostSpec(usd_per_hour=0.5, basis="test")
TASKS = {"A": triage_task(), "B": triage_task(), "C": routing_task()}


def segment(cell: str) -> CellSegment:
    return CellSegment(cell_id=cell, model_id=f"model-{cell}", task_id="t", segment=f"seg-{cell}", backend={},
                       load_time_s=1.0, warmup_items=0, items_done=10, t_start=999.0, t_end=1020.0,
                       rss_before_bytes=1, peak_rss_bytes=2, cpu_user_s=3.0, cpu_system_s=1.0, completed=True)


def both_paths(tmp_path: Path, n: int, slo: SloSpec | None) -> list[tuple[list[MetricRow], list[MetricRow]]]:
    write_records(tmp_path / RECORDS, fixture_rows(n))
    store = RunStore(tmp_path)
    records, columns = group_by_cell(store.records()), load_columns(store).by_cell()
    assert set(records) == set(columns) == set(TASKS)
    return [(summarize_cell(cell, TASKS[cell], records[cell], [segment(cell)], COST, slo),
             summarize_cell_columns(cell, TASKS[cell], columns[cell], [segment(cell)], COST, slo))
            for cell in sorted(TASKS)]


@pytest.mark.parametrize("n", [4, 24])
@pytest.mark.parametrize("slo", [None, SloSpec(ttft_s=0.1, tpot_s=0.05, e2e_s=3.0)])
def test_every_metric_row_is_identical(tmp_path: Path, n: int, slo: SloSpec | None) -> None:
    """n = 4: exact methods only; n = 24: bootstraps of field_f1 and macro-F1 (the same resamples)."""
    for want, got in both_paths(tmp_path, n, slo):
        assert [r.model_dump() for r in got] == [r.model_dump() for r in want]


def test_the_fixture_exercises_what_it_should(tmp_path: Path) -> None:
    rows = {(r.cell_id, r.metric): r for _, got in both_paths(tmp_path, 24, SloSpec(e2e_s=3.0)) for r in got}
    assert rows[("C", "field_f1")].ci_low is not None  # a bootstrap interval of a non-binary score
    assert rows[("A", "macro_f1")].ci_low is not None and rows[("C", "macro_f1")].ci_low is not None
    assert rows[("B", "error_rate")].value > 0  # timeouts
    assert rows[("C", "parse_failure_rate")].value > 0
    for cell, kind in [("A", "empty_answer_rate"), ("C", "cut_at_max_tokens_rate"), ("B", "over_context_rate"),
                       ("A", "input_truncated_rate")]:
        assert 0 < rows[(cell, kind)].value < 1, kind
    assert rows[("B", "empty_answer_rate")].value == 0  # a string "yes" is not over_context, old rows not empty
    assert rows[("A", "send_lag_s_p50")].n > 0  # arrival times in some records
    assert rows[("A", "tpot_s_p50")].n > 0 and rows[("A", "goodput_rps")].value is not None


def test_a_task_not_scored_by_parts_has_no_part_interval(tmp_path: Path) -> None:
    task = TaskSpec.model_validate({"id": "triage", "dataset": {"path": "x.jsonl"}, "answer": {"mode": "text"},
                                    "scorers": ["exact_match"]})
    write_records(tmp_path / RECORDS, fixture_rows(12))
    store = RunStore(tmp_path)
    want = summarize_cell("A", task, group_by_cell(store.records())["A"], [], COST)
    got = summarize_cell_columns("A", task, load_columns(store).by_cell()["A"], [], COST)
    assert [r.model_dump() for r in got] == [r.model_dump() for r in want]


def test_an_all_right_macro_f1_has_no_interval_on_either_path_not_a_point(tmp_path: Path) -> None:
    """Every answer right: every bootstrap resample gives macro-F1 1.0; "100% [100-100]" would claim a certainty the
    12 items cannot give, so no interval is reported (accuracy keeps its Wilson interval)."""
    from columnar_fixtures import triage_row

    rows = [{**triage_row("A", i), "prediction": triage_row("A", i)["reference"], "scores": {"accuracy": 1.0}}
            for i in range(12)]
    write_records(tmp_path / RECORDS, rows)
    store = RunStore(tmp_path)
    by_record = summarize_cell("A", triage_task(), group_by_cell(store.records())["A"], [segment("A")], COST)
    by_column = summarize_cell_columns("A", triage_task(), load_columns(store).by_cell()["A"], [segment("A")], COST)
    for summary in (by_record, by_column):
        got = {r.metric: r for r in summary}
        assert (got["macro_f1"].value, got["macro_f1"].ci_low, got["macro_f1"].ci_high) == (1.0, None, None)
        assert got["accuracy"].ci_low is not None and got["accuracy"].ci_low < 0.8
