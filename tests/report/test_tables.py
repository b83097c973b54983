"""Tests for bench.report.tables: comparison rows, markdown and terminal output from a summary dict."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console

from bench.report.tables import comparison_markdown, comparison_rows, headers, print_comparison


def metric(cell: str, name: str, value: float | None, n: int = 10, ci: tuple[float, float] | None = None,
           model: str = "m-a", task: str = "triage") -> dict[str, Any]:
    return {"cell_id": cell, "model_id": model, "task_id": task, "metric": name, "value": value,
            "ci_low": ci[0] if ci else None, "ci_high": ci[1] if ci else None, "n": n,
            "higher_is_better": True, "unit": "ratio", "group": "quality", "basis": "measured"}


def summary(usd_per_hour: float = 2.0) -> dict[str, Any]:
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
    return {"run_id": "unit-20260101-000000", "suite": {"name": "unit", "sha256": "ab" * 32},
            "status": "complete", "cost": {"usd_per_hour": usd_per_hour, "basis": "cloud on-demand"},
            "cells": cells, "primary_metrics": {"triage": "accuracy", "extract": "field_accuracy"},
            "metrics": metrics}


MANIFEST: dict[str, Any] = {
    "machine": {"cpu_model": "Test CPU 9000", "physical_cores": 8},
    "bench_version": "0.1.0", "git": {"commit": "deadbeef", "dirty": False},
    "backends": {"m-a": {"engine": "fake", "engine_version": "0", "model_sha256": "f" * 64,
                         "settings": {"n_ctx": 2048}}},
}


def test_one_table_per_task_one_row_per_model() -> None:
    tables = comparison_rows(summary())
    assert list(tables) == ["triage", "extract"]
    assert [row[0] for row in tables["triage"]] == ["m-a", "m-b"]
    assert [row[0] for row in tables["extract"]] == ["m-a"]
    assert all(len(row) == len(headers(summary(), "triage")) for row in tables["triage"])


def test_row_formatting() -> None:
    row = comparison_rows(summary())["triage"][0]
    assert row == ["m-a", "83.3% [44–97]", "0.123 s", "41.3", "1.23 GB", "0.0123", "4/2"]


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
    md = comparison_markdown(summary(usd_per_hour=0.0), {})
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
