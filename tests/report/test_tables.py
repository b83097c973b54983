"""Tests for bench.report.tables: comparison rows, markdown and terminal output from a Summary."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from report_runs import make_report_run, report_suite
from rich.console import Console

from bench.report.tables import comparison_markdown, comparison_rows, headers, print_comparison
from bench.results.schema import Manifest, MetricRow, Summary


def metric(cell: str, name: str, value: float | None, n: int = 10, ci: tuple[float, float] | None = None,
           model: str = "m-a", task: str = "triage") -> dict[str, Any]:
    return {"cell_id": cell, "model_id": model, "task_id": task, "metric": name, "value": value,
            "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None, "n": n,
            "higher_is_better": True, "unit": "ratio", "group": "quality", "basis": "measured"}


NO_COSTS = {"local_machine": {"profile_id": "this-machine", "usd_per_hour": 2.0, "price_basis": "test", "tdp_w": 20.0,
                              "tdp_basis": "assumed"},
            "requirements": {"min_accuracy": 0.0, "max_p95_latency_s": None}, "rows": [], "api": [],
            "procurement": []}


def summary(usd_per_hour: float = 2.0) -> Summary:
    cells = [{"cell_id": "c1", "model_id": "m-a", "task_id": "triage"},
             {"cell_id": "c2", "model_id": "m-b", "task_id": "triage"},
             {"cell_id": "c3", "model_id": "m-a", "task_id": "extract"}]
    metrics = [
        metric("c1", "accuracy", 0.8333333, n=6, ci=(0.4365, 0.9699)),
        metric("c1", "error_rate", 2 / 6, n=6, ci=(0.1, 0.7)),
        metric("c1", "e2e_latency_s_p50", 0.12345),
        metric("c1", "decode_tps_p50", 41.26),
        metric("c1", "peak_rss_gb", 1.234),
        metric("c1", "usd_per_1000_tasks", 0.012345),
        # c2 has only a quality figure without interval, and an infinite cost
        metric("c2", "accuracy", 0.5, n=4, model="m-b"),
        metric("c2", "usd_per_1000_tasks", float("inf"), model="m-b"),
        metric("c2", "error_rate", 0.0, n=4, model="m-b"),
        metric("c3", "field_accuracy", None, n=0, task="extract"),
    ]
    return Summary.model_validate({
        "run_id": "unit-20260101-000000", "suite": {"name": "unit", "path": "/unit.yaml", "sha256": "ab" * 32},
        "status": "complete", "cost": {"usd_per_hour": usd_per_hour, "basis": "cloud on-demand"},
        "cells": cells, "primary_metrics": {"triage": "accuracy", "extract": "field_accuracy"},
        "metrics": metrics, "costs": NO_COSTS})


def with_metrics(data: Summary, rows: list[dict[str, Any]]) -> Summary:
    """The summary with these metric rows added."""
    return data.model_copy(update={"metrics": [*data.metrics, *(MetricRow.model_validate(r) for r in rows)]})


def manifest(**fields: Any) -> Manifest:
    return Manifest.model_validate({"run_id": "unit-20260101-000000", "status": "complete",
                                    "suite": {"name": "unit", "path": "/unit.yaml", "sha256": "ab" * 32},
                                    "options": {}, "cost": {}, "tasks": {}, "cells": [], **fields})


MANIFEST = manifest(
    machine={"cpu_model": "Test CPU 9000", "physical_cores": 8},
    bench_version="0.1.0", git={"commit": "deadbeef", "dirty": False},
    backends={"m-a": {"engine": "fake", "engine_version": "0", "model_sha256": "f" * 64,
                      "settings": {"n_ctx": 2048}}},
)


def test_one_table_per_task_one_row_per_model() -> None:
    tables = comparison_rows(summary())
    assert list(tables) == ["triage", "extract"]
    assert [row[0] for row in tables["triage"]] == ["m-a", "m-b"]
    assert [row[0] for row in tables["extract"]] == ["m-a"]
    assert all(len(row) == len(headers(summary(), "triage")) for row in tables["triage"])


def test_row_formatting() -> None:
    row = comparison_rows(summary())["triage"][0]
    assert row == ["m-a", "83.3% [44–97]", "0.123 s", "41.3", "1.23 GB", "0.0123", "4/2", "–", ""]


def test_failures_column_counts_each_kind_from_its_rate() -> None:
    """Issue #16 class 3: empty answers, unparseable ones, cuts at max_tokens and over-context items per cell."""
    data = with_metrics(summary(), [
        metric("c1", "empty_answer_rate", 1 / 6, n=6), metric("c1", "parse_failure_rate", 0.0, n=6),
        metric("c1", "cut_at_max_tokens_rate", 2 / 6, n=6),
        metric("c1", "over_context_rate", 1 / 6, n=6), metric("c1", "input_truncated_rate", 0.0, n=6)])
    assert comparison_rows(data)["triage"][0][7] == "empty 1 · cut 2 · over ctx 1"
    md = comparison_markdown(data, MANIFEST)
    assert "| failures" in md and "empty 1 · cut 2 · over ctx 1" in md and "cut at max_tokens" in md


def test_per_field_scores_of_a_json_task_are_in_the_markdown() -> None:
    data = with_metrics(summary(), [metric("c3", "field.total", 0.75, n=8, ci=(0.41, 0.93), task="extract"),
                                    metric("c3", "field.date", 0.25, n=8, ci=(0.07, 0.59), task="extract")])
    md = comparison_markdown(data, MANIFEST)
    section = md[md.index("## extract: per-field scores"):]
    assert "| model   | total         | date         |" in section
    assert "| m-a     | 75.0% [41–93] | 25.0% [7–59] |" in section


def test_missing_and_non_finite_metrics_show_a_dash() -> None:
    tables = comparison_rows(summary())
    b = tables["triage"][1]
    assert b[1] == "50.0%"  # no interval -> no brackets
    assert b[2:6] == ["–", "–", "–", "–"]
    assert b[6] == "4/0"
    extract = tables["extract"][0]
    assert extract[1] == "–"
    assert extract[6] == "0/0"


def test_headers_name_the_primary_metric() -> None:
    assert headers(summary(), "triage")[1] == "accuracy [95% CI]"
    assert headers(summary(), "extract")[1] == "field_accuracy [95% CI]"


def test_markdown_has_sections_tables_and_provenance() -> None:
    md = comparison_markdown(summary(), MANIFEST)
    assert md.startswith("# Run unit-20260101-000000\n")
    assert "Suite `unit` (sha256 abababababab)" in md
    assert "status **complete**" in md
    assert "## triage" in md and "## extract" in md
    assert md.index("## triage") < md.index("## extract") < md.index("## Provenance")
    assert "| model" in md and "accuracy [95% CI]" in md
    assert "83.3% [44–97]" in md
    assert "- cpu_model: Test CPU 9000" in md
    assert "- physical_cores: 8" in md
    assert "bench 0.1.0 at commit deadbeef" in md
    assert "- m-a: fake 0, model sha256 ffffffffffffffff" in md
    assert "n_ctx" in md
    assert "$2.0/h (cloud on-demand)" in md


def test_markdown_without_price_says_so() -> None:
    md = comparison_markdown(summary(usd_per_hour=0.0), manifest())
    assert "no price set" in md
    assert "## Provenance" in md
    assert "bench None at commit None" in md


def test_terminal_output_uses_the_same_rows() -> None:
    buffer = io.StringIO()
    print_comparison(summary(), Console(file=buffer, width=200, color_system=None))
    text = buffer.getvalue()
    assert "task: triage" in text and "task: extract" in text
    assert "83.3% [44–97]" in text
    assert "m-b" in text
    assert "$2.0/h" in text


# --- issue #10: failed work and contention are marked in every format ------------------------------------------------

SIX = [(f"t{n}", f"ticket {n}", "billing") for n in range(6)]


def report_text(run: Path, fmt: str, capsys: pytest.CaptureFixture[str], wide: bool = False) -> str:
    from bench.cli.main import main

    if fmt == "html":
        assert main(["report", str(run), "--format", "html", "--out", str(run / "r.html")]) == 0
        capsys.readouterr()
        return (run / "r.html").read_text(encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        if wide:
            mp.setenv("COLUMNS", "400")
        assert main(["report", str(run), "--format", fmt]) == 0
    return capsys.readouterr().out


@pytest.fixture
def all_failed(tmp_path: Path) -> Path:
    """Six items that all fail (the fake backend's fail_every=1 stands in for six HTTP 400s)."""
    suite = report_suite(tmp_path, "fails", ["m-a"], items=SIX)
    suite["models"][0]["backend"]["fail_every"] = 1
    return make_report_run(tmp_path, suite).path


def test_six_failed_items_report_no_throughput_no_cost_and_a_marked_row(
        all_failed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = json.loads(report_text(all_failed, "json", capsys))
    values = {m["metric"]: m["value"] for m in summary["metrics"]}
    assert values["tasks_per_s"] == 0.0 and values["usd_per_1000_tasks"] is None and values["error_rate"] == 1.0
    assert [f["flag"] for f in summary["flags"]] == ["no_successful_items"]
    measured = [r for r in summary["costs"]["rows"] if r["basis"] == "measured"]
    assert measured and all(r["tasks_per_s"] is None and r["usd_per_1000_tasks"] is None
                            and r["usd_per_1000_correct"] is None for r in measured)
    assert all(r["usd_per_1000_tasks"] is None for r in summary["costs"]["rows"])  # nor projected from nothing
    assert all(a["usd_per_1000_tasks"] is None for a in summary["costs"]["api"])
    assert all(p["choice"] is None for p in summary["costs"]["procurement"])
    row = comparison_rows(Summary.model_validate(summary))["triage"][0]
    assert row[5] == "–" and row[6] == "0/6" and row[7] == "–" and row[8] == "no successful item"
    md = report_text(all_failed, "md", capsys)
    assert "| no successful item" in md and "0 of 6 items succeeded" in md and "155 tasks/s" not in md
    table = report_text(all_failed, "table", capsys, wide=True)
    assert "no successful item" in table and "0 of 6 items succeeded" in table
    csv_rows = list(csv.DictReader(io.StringIO(report_text(all_failed, "csv", capsys))))
    assert {r["flags"] for r in csv_rows} == {"no_successful_items"}
    assert "0 of 6 items succeeded" in report_text(all_failed, "html", capsys)


def test_partly_failed_cells_count_the_successful_items(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = report_suite(tmp_path, "half", ["m-a"], items=SIX)
    suite["models"][0]["backend"]["fail_every"] = 2
    run = make_report_run(tmp_path, suite).path
    summary = json.loads(report_text(run, "json", capsys))
    rows = {m["metric"]: m for m in summary["metrics"]}
    assert rows["tasks_per_s"]["n"] == 3 and rows["error_rate"]["value"] == 0.5
    assert [f["flag"] for f in summary["flags"]] == ["failed_items"]
    assert "3 of 6 items failed" in summary["flags"][0]["detail"]


def mark_contended(run: Path, share: float) -> None:
    segments = [json.loads(line) for line in (run / "segments.jsonl").read_text().splitlines()]
    for segment in segments:
        segment.update(contention_window_s=27.0, logical_cpus=2, other_cpu_s=54.0 * share, steal_s=0.0,
                       other_processes={"llama-cli": 54.0 * share})
    (run / "segments.jsonl").write_text("".join(json.dumps(s) + "\n" for s in segments))


TWELVE = [(f"i{k:02d}", f"text {k}", ["billing", "technical", "shipping"][k % 3]) for k in range(12)]


def test_a_contended_cell_is_marked_in_every_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = report_suite(tmp_path, "busy", ["m-a"], items=TWELVE)
    suite["models"][0]["backend"]["answers"] = {i: label for i, _, label in TWELVE}  # beats the baseline (4/12)
    run = make_report_run(tmp_path, suite).path
    mark_contended(run, 0.9)
    summary = json.loads(report_text(run, "json", capsys))
    assert [f["flag"] for f in summary["flags"]] == ["contended"]
    assert summary["contention"][0]["other_cpu_share"] == pytest.approx(0.9)
    assert summary["contention"][0]["contended"] is True
    assert all(r["flags"] == "contended" for r in summary["costs"]["rows"])
    assert all(p["choice"]["flags"] == "contended" for p in summary["costs"]["procurement"] if p["choice"])
    procurement = report_text(run, "md", capsys).split("## Procurement summary")[1].split("##")[0]
    assert " [contended]): $" in procurement
    for fmt in ("md", "table", "html"):
        text = report_text(run, fmt, capsys, wide=True)
        assert "contended" in text and "90% of the CPU capacity" in text and "llama-cli" in text, fmt
        assert "more than 10% of the CPU capacity" in text, fmt
    csv_rows = list(csv.DictReader(io.StringIO(report_text(run, "csv", capsys))))
    assert {r["flags"] for r in csv_rows} == {"contended"}


def test_a_quiet_cell_and_an_old_run_are_not_marked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_report_run(tmp_path, report_suite(tmp_path, "quiet", ["m-a"])).path
    mark_contended(run, 0.05)
    summary = json.loads(report_text(run, "json", capsys))
    assert summary["flags"] == [] and summary["contention"][0]["contended"] is False
    segments = [json.loads(line) for line in (run / "segments.jsonl").read_text().splitlines()]
    for segment in segments:  # as written before contention was measured
        for key in ("contention_window_s", "logical_cpus", "other_cpu_s", "steal_s", "other_processes"):
            segment.pop(key, None)
    (run / "segments.jsonl").write_text("".join(json.dumps(s) + "\n" for s in segments))
    summary = json.loads(report_text(run, "json", capsys))
    assert summary["flags"] == [] and summary["contention"] == []


def test_failures_of_a_real_run_show_per_cell(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #16 class 3 end to end: an empty answer (a stop sequence hit at once) is ok but counted empty; JSON
    cut at max_tokens is unparseable and cut; a prompt over the context is refused and counted over ctx."""
    data = tmp_path / "objects.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": t, "expected": {"label": lab}}) + "\n"
                            for i, t, lab in [("a1", "the invoice total is wrong", "billing"),
                                              ("a2", "app crashes on start", "technical"),
                                              ("a3", "parcel", "shipping")]))
    generation = {"max_tokens": 8}
    models = [{"id": "m-blank", "backend": {"kind": "fake", "text": ""}, "generation": generation},
              {"id": "m-cut", "backend": {"kind": "fake", "text": '{"label": "bill', "completion_tokens": 8},
               "generation": generation},
              {"id": "m-long", "backend": {"kind": "fake", "text": '{"label": "billing"}', "n_ctx": 12},
               "generation": generation}]
    task = {"id": "extract", "dataset": {"path": str(data), "fields": {"input": "text", "expected": "expected"}},
            "prompt": {"user": "Extract the label: {input}"},
            "answer": {"mode": "json", "json_schema": {"type": "object", "properties": {"label": {"type": "string"}}}},
            "scorers": ["json_fields"]}
    suite = report_suite(tmp_path, "failures", ["m-a"]) | {"models": models, "tasks": [task]}
    run = make_report_run(tmp_path, suite).path
    summary = json.loads(report_text(run, "json", capsys))
    rows = {r[0]: r for r in comparison_rows(Summary.model_validate(summary))["extract"]}
    assert rows["m-blank"][6] == "3/0" and rows["m-blank"][7] == "empty 3 · unparsed 3"
    assert rows["m-cut"][6] == "3/0" and rows["m-cut"][7] == "unparsed 3 · cut 3"
    assert rows["m-long"][6] == "1/2" and rows["m-long"][7] == "over ctx 2"  # 'parcel' fits: 4 words + 8 ≤ 12
    md = report_text(run, "md", capsys)
    assert "empty 3 · unparsed 3" in md and "## extract: per-field scores" in md


NATURAL = ["billing"] * 7 + ["technical"] * 6 + ["shipping"] * 4 + ["refund"] * 3


def test_baseline_rows_and_a_procurement_that_refuses_a_model_below_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #16 class 2: always 'technical' scores 30% where always the majority label (billing) scores 35%; the
    table shows the baseline beside the model, unpriced, and the procurement summary refuses the model."""
    items = [(f"i{k:02d}", f"text {k}", label) for k, label in enumerate(NATURAL)]
    suite = report_suite(tmp_path, "natural", ["m-a", "m-tech"], items=items)
    suite["tasks"][0]["answer"]["choices"] = ["billing", "technical", "shipping", "refund"]
    suite["requirements"] = {"min_accuracy": 0.0}
    run = make_report_run(tmp_path, suite).path
    summary = json.loads(report_text(run, "json", capsys))
    [baseline] = summary["baselines"]
    values = {m["metric"]: m["value"] for m in baseline["metrics"]}
    assert baseline["model_id"] == "baseline:majority" and baseline["n"] == 20
    assert values["accuracy"] == pytest.approx(0.35) and values["macro_f1"] == pytest.approx(14 / 27 / 4)
    rows = {r[0]: r for r in comparison_rows(Summary.model_validate(summary))["triage"]}
    assert rows["baseline:majority"][1].startswith("35.0% [") and rows["baseline:majority"][5] == "–"
    assert rows["m-tech"][1].startswith("30.0% [") and rows["m-a"][1].startswith("35.0% [")
    assert not any(r["model_id"].startswith("baseline") for r in summary["costs"]["rows"])  # never priced
    [pick] = summary["costs"]["procurement"]
    assert pick["choice"] is None  # m-a ties the baseline, m-tech is below it: neither beats it significantly
    assert any("m-tech does not beat baseline:majority significantly on accuracy (30.0% vs 35.0% on 20 items"
               in reason for reason in pick["not_beating_baseline"])
    assert "baseline:majority" in report_text(run, "table", capsys, wide=True)
    for fmt in ("md", "html"):
        text = report_text(run, fmt, capsys)
        assert "baseline:majority" in text and "not recommended: m-tech does not beat" in text, fmt


def test_a_rouge_task_gets_the_lead_n_words_baseline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #16 class 2: a text task scored by rouge_l shows the first N words of each input, N the median
    reference length in words (here 3)."""
    data = tmp_path / "notes.jsonl"
    rows = [("n1", "refund the customer today please", "refund the customer"),
            ("n2", "ship a new charger by friday", "ship new charger soon"),
            ("n3", "close the ticket", "close it")]
    data.write_text("".join(json.dumps({"id": i, "text": t, "summary": s}) + "\n" for i, t, s in rows))
    task = {"id": "notes", "dataset": {"path": str(data), "fields": {"input": "text", "expected": "summary"}},
            "prompt": {"user": "Summarize: {input}"}, "answer": {"mode": "text"}, "scorers": ["rouge_l"]}
    suite = report_suite(tmp_path, "lead", ["m-a"]) | {"tasks": [task]}
    summary = make_report_run(tmp_path, suite).summary
    [baseline] = summary.baselines
    assert baseline["model_id"] == "baseline:lead-3"
    rouge = {m["metric"]: m["value"] for m in baseline["metrics"]}["rouge_l"]
    def f1(p: float, r: float) -> float:
        return 2 * p * r / (p + r)

    assert rouge == pytest.approx((1.0 + f1(2 / 3, 2 / 4) + f1(1 / 3, 1 / 2)) / 3)  # 'ship new', 'close' in common
    assert "baseline:lead-3" in [row[0] for row in comparison_rows(summary)["notes"]]
