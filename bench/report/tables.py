"""The comparison table: the same rows rendered for the terminal (rich) and markdown (tabulate)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from bench.metrics.contention import MAX_OTHER_CPU_SHARE, MAX_STEAL_SHARE, MIN_WINDOW_S
from bench.metrics.flags import CONTENDED, flag_labels, flags_by_cell
from bench.report.cost_tables import cost_markdown, procurement_lines
from bench.report.markdown import md_text
from bench.report.naming import cell_name
from bench.results.schema import Manifest, MetricRow, Summary

COLUMNS = ["model", "{metric} [95% CI]", "p50 latency", "decode tok/s", "peak RSS", "$/1000 tasks", "ok/err",
           "failures", "flags"]
FAILURES = {"empty_answer_rate": "empty", "parse_failure_rate": "unparsed", "cut_at_max_tokens_rate": "cut",
            "over_context_rate": "over ctx", "input_truncated_rate": "truncated"}
"""Failure metrics (records.FAILURE_KINDS and parse failures) -> their short label in the failures column."""
FAILURES_NOTE = ("failures: items per cell with an empty answer, an answer that does not parse, an answer cut at "
                 "max_tokens, a prompt over the context (refused: an error), an input truncated to fit (the task's "
                 "`truncate`); from records.jsonl.")


def headers(summary: Summary, task_id: str) -> list[str]:
    return [c.format(metric=summary.primary_metrics[task_id]) for c in COLUMNS]


def _metrics(summary: Summary, cell_id: str) -> dict[str, MetricRow]:
    return {row.metric: row for row in summary.metrics if row.cell_id == cell_id}


def _fmt(row: MetricRow | None, spec: str, scale: float = 1.0, suffix: str = "") -> str:
    if row is None or row.value is None or not math.isfinite(row.value):
        return "–"
    return f"{row.value * scale:{spec}}{suffix}"


def quality_text(row: MetricRow | None) -> str:
    """A proportion as a percentage with its CI, e.g. '61.0% [52–70]'; '–' when there is none."""
    if row is None or row.value is None:
        return "–"
    ci = f" [{row.ci_low * 100:.0f}–{row.ci_high * 100:.0f}]" if row.ci_low is not None and row.ci_high is not None \
        else ""
    return f"{row.value * 100:.1f}%{ci}"


def comparison_rows(summary: Summary) -> dict[str, list[list[str]]]:
    """Per task: one row per model with quality ± 95% CI, speed, memory, cost and item counts."""
    tables: dict[str, list[list[str]]] = {}
    flags = flags_by_cell(summary.flags)
    for cell in summary.cells:
        metrics = _metrics(summary, cell.cell_id)
        primary = summary.primary_metrics[cell.task_id]
        errors = metrics.get("error_rate")
        n = errors.n if errors else 0
        n_err = round(errors.value * n) if errors and errors.value is not None else 0
        tables.setdefault(cell.task_id, []).append([
            cell_name(cell), quality_text(metrics.get(primary)),
            _fmt(metrics.get("e2e_latency_s_p50"), ".3f", suffix=" s"),
            _fmt(metrics.get("decode_tps_p50"), ".1f"), _fmt(metrics.get("peak_rss_gb"), ".2f", suffix=" GB"),
            _fmt(metrics.get("usd_per_1000_tasks"), ".4f", suffix=""), f"{n - n_err}/{n_err}",
            failure_counts(metrics), flag_labels(flags.get(cell.cell_id, []))])
    for baseline in summary.baselines:
        if baseline["task_id"] in tables:
            tables[baseline["task_id"]].append(baseline_row(summary, baseline))
    return tables


def baseline_row(summary: Summary, baseline: dict[str, Any]) -> list[str]:
    """A task's trivial baseline beside its models: its quality on the same items; no speed, never priced."""
    metrics = baseline_metrics(baseline)
    primary = metrics.get(summary.primary_metrics[baseline["task_id"]])
    return [baseline["model_id"], quality_text(primary), "–", "–", "–", "–", f"{baseline['n']}/0", "–", "baseline"]


def baseline_metrics(baseline: dict[str, Any]) -> dict[str, MetricRow]:
    """A baseline entry's metric rows (as summary.json stores them), by metric name."""
    return {row["metric"]: MetricRow.model_construct(**row) for row in baseline["metrics"]}


def baseline_lines(summary: Summary) -> list[str]:
    """What each baseline answers, and each model's paired test against it."""
    lines = [f"{b['model_id']} × {b['task_id']}: {b['description']} (computed from the references, not run, "
             "never priced)" for b in summary.baselines]
    return lines + [t["reason"] for t in summary.baseline_tests]


def count_of(row: MetricRow | None) -> int:
    """Items counted by a rate row: its value × n, rounded (0 without a row)."""
    return round(row.value * row.n) if row and row.value is not None else 0


def failure_counts(metrics: dict[str, MetricRow]) -> str:
    """The failures column: 'empty 2 · cut 1', the kinds with at least one item, or '–' when none failed."""
    found = [f"{label} {count}" for name, label in FAILURES.items() if (count := count_of(metrics.get(name)))]
    return " · ".join(found) or "–"


def flag_lines(summary: Summary) -> list[str]:
    """One line per flagged cell (what was measured), then how contention is judged if a cell is contended."""
    flags = summary.flags
    lines = [f"⚠ {cell_name(f)} × {f['task_id']}: {f['detail']}" for f in flags]
    if any(f["flag"] == CONTENDED for f in flags):
        lines.append(f"contended = other processes busy on more than {MAX_OTHER_CPU_SHARE:.0%} of the CPU capacity, "
                     f"or steal above {MAX_STEAL_SHARE:.0%}, over at least {MIN_WINDOW_S:g} s of measured work: "
                     "its speed and cost are not comparable (docs/metrics.md)")
    return lines


def field_rows(summary: Summary) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per json task: (field names, one row per model: its name and each field's accuracy in %) from the
    `field.<name>` metric rows (json_fields' per-field scores)."""
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    for cell in summary.cells:
        metrics = _metrics(summary, cell.cell_id)
        fields = [m.removeprefix("field.") for m in metrics if m.startswith("field.")]
        if fields:
            names, rows = tables.setdefault(cell.task_id, (fields, []))
            rows.append([cell_name(cell), *(quality_text(metrics.get(f"field.{f}")) for f in names)])
    for baseline in summary.baselines:
        if baseline["task_id"] in tables:
            names, rows = tables[baseline["task_id"]]
            base = baseline_metrics(baseline)
            rows.append([baseline["model_id"], *(quality_text(base.get(f"field.{f}")) for f in names)])
    return tables


def field_markdown(summary: Summary) -> list[str]:
    parts: list[str] = []
    for task_id, (names, rows) in field_rows(summary).items():
        parts += [f"## {task_id}: per-field scores", "", "Share of items with the field right [95% CI].", "",
                  tabulate(rows, headers=["model", *names], tablefmt="github"), ""]
    return parts


def sweep_markdown(summary: Summary) -> list[str]:
    """Per rate sweep: offered vs achieved rate and latency, and the highest rate meeting the p95 objective."""
    parts: list[str] = []
    for curve in summary.sweeps:
        limit = curve["p95_limit_s"]
        best = curve["max_rate_meeting_p95_rps"]
        verdict = (f"max rate meeting p95 ≤ {limit} s: **{best:g} req/s**" if best is not None else
                   f"no swept rate meets p95 ≤ {limit} s" if limit else "set slo.e2e_s to find the max rate")
        rows = [[f"{p['offered_rps']:g}", _opt(p["achieved_tasks_per_s"], ".2f"), _opt(p["e2e_p50_s"], ".3f"),
                 _opt(p["e2e_p95_s"], ".3f"), _opt(p["slo_attainment"], ".0%")] for p in curve["points"]]
        parts += [f"## Rate sweep: {curve['model_id']} × {curve['task_id']}", "", verdict, "",
                  tabulate(rows, headers=["offered req/s", "achieved tasks/s", "p50 e2e s", "p95 e2e s", "SLO met"],
                           tablefmt="github"), ""]
    return parts


def _opt(value: float | None, spec: str) -> str:
    return "–" if value is None else f"{value:{spec}}"


def skipped_lines(summary: Summary) -> list[str]:
    return [f"skipped {cell_name(s)} × {s['task_id']}: {s['reason']}" for s in summary.skipped]


def print_comparison(summary: Summary, console: Console) -> None:
    for task_id, rows in comparison_rows(summary).items():
        table = Table(title=f"task: {task_id}", title_justify="left")
        for column in headers(summary, task_id):
            table.add_column(column, justify="left" if column == "model" else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    console.print(_cost_note(summary), markup=False, highlight=False)
    console.print(FAILURES_NOTE, markup=False, highlight=False)
    for line in baseline_lines(summary):
        console.print(line, markup=False, highlight=False)
    for line in [*flag_lines(summary), *skipped_lines(summary)]:
        console.print(line, markup=False, highlight=False)


def _cost_note(summary: Summary, text: Callable[[object], str] = str) -> str:
    """How $/1000 tasks was computed; `text` renders the suite's cost basis (md_text in Markdown)."""
    cost = summary.cost
    if cost.usd_per_hour <= 0:
        return "$/1000 tasks: no price set (suite cost.usd_per_hour or --usd-per-hour)."
    return (f"$/1000 tasks = 1000 / measured tasks/s / 3600 × ${cost.usd_per_hour}/h "
            f"({text(cost.basis)}); quality in % with its 95% CI; latency and tok/s are medians.")


def comparison_markdown(summary: Summary, manifest: Manifest) -> str:
    parts = [f"# Run {summary.run_id}", "",
             f"Suite `{summary.suite.name}` (sha256 {summary.suite.sha256[:12]}), "
             f"status **{summary.status}**.", ""]
    tables = comparison_rows(summary)
    parts += ["## Procurement summary", "", *procurement_lines(summary.costs), ""]
    for task_id, rows in tables.items():
        parts += [f"## {task_id}", "", tabulate(rows, headers=headers(summary, task_id), tablefmt="github"), ""]
    parts += [_cost_note(summary, md_text), "", FAILURES_NOTE, ""]
    parts += [f"- {md_text(line)}" for line in baseline_lines(summary)] + ([""] if summary.baselines else [])
    parts += field_markdown(summary)
    parts += [f"- {md_text(line)}" for line in flag_lines(summary)] + ([""] if summary.flags else [])
    parts += sweep_markdown(summary)
    parts += [f"- {md_text(line)}" for line in skipped_lines(summary)] + ([""] if summary.skipped else [])
    parts += sample_lines(manifest)
    parts += cost_markdown(summary.costs, list(tables))
    parts += ["## Provenance", ""]
    parts += [f"- {key}: {md_text(value)}" for key, value in manifest.machine.items()]
    parts += [f"- bench {manifest.bench_version} at commit {manifest.git.commit}"]
    for model_id, info in manifest.backends.items():
        parts.append(f"- {model_id}: {md_text(info.get('engine'))} {md_text(info.get('engine_version'))}, "
                     f"model sha256 {md_text(str(info.get('model_sha256'))[:16])}, "
                     f"settings {md_text(info.get('settings'))}")
    return escape_html("\n".join(parts) + "\n")


def escape_html(markdown: str) -> str:
    """Markdown with no raw HTML: suite text (cost basis, backend settings, reasons) shows as written, never as
    tags. The report's own markup uses no HTML, so every <, > and & is text."""
    return markdown.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def sample_lines(manifest: Manifest) -> list[str]:
    """How each limited cell's items were drawn (seeded random, label-balanced or the data's own label mix)."""
    limited = [c for c in manifest.cells if c.limit]
    if not limited:
        return []
    return ["Items: " + "; ".join(f"{c.model_id} × {c.task_id}: {c.n_items} of the task's items, "
                                  f"{c.sample or 'balanced'} sample (seeded)" for c in limited), ""]


def metrics_csv(summaries: list[Summary]) -> str:
    """Every metric row of every run as CSV (one line per run x cell x metric)."""
    import csv
    import io

    buffer = io.StringIO()
    fields = ["run_id", "cell_id", "model_id", "task_id", "metric", "value", "ci_low", "ci_high", "n",
              "higher_is_better", "unit", "group", "basis", "flags"]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore")
    writer.writeheader()
    for summary in summaries:
        flags = {cell: ";".join(str(f["flag"]) for f in found) for cell, found in flags_by_cell(summary.flags).items()}
        for row in summary.metrics:
            writer.writerow({**row.model_dump(), "run_id": summary.run_id, "flags": flags.get(row.cell_id, "")})
    return buffer.getvalue()
