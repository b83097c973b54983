"""Slices by a tag (bench.results.slices) rendered: one table per cell for the terminal (rich) and markdown
(tabulate), and CSV with one line per slice x metric. The HTML section (bench.report.html) uses the same rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from bench.metrics.slices import ALPHA, Slice
from bench.report.naming import cell_name
from bench.report.tables import quality_text
from bench.results.schema import MetricRow
from bench.results.slices import SliceReport

LATENCY = ("e2e_latency_s_p50", "e2e_latency_s_p95")
NOT_SCORES = {"error_rate", *LATENCY}
NOTE = (f"Each slice is tested against the rest of the cell's items on the item score named (two-sided: Fisher's "
        f"exact test for 0/1 scores, a permutation test of the mean difference otherwise), p-values Holm-corrected "
        f"for the number of slices; ⚠ = below the rest at corrected p < {ALPHA} (docs/metrics.md).")



def _seconds(row: MetricRow | None) -> str:
    return "–" if row is None or row.value is None else f"{row.value:.3f} s"


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def score_names(slices: Sequence[Slice]) -> list[str]:
    """The scorers' metrics the slices carry, in order of first appearance."""
    seen: dict[str, None] = {}
    for s in slices:
        seen.update(dict.fromkeys(r.metric for r in s.rows if r.group == "quality" and r.metric not in NOT_SCORES))
    return list(seen)


def cell_tables(report: SliceReport) -> dict[str, tuple[list[str], list[list[str]]]]:
    """Per cell (its title): the column names and one row per slice (n, scores with CI, error rate, p50/p95
    latency, the test, its raw and Holm p-values and the flag)."""
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    for cell_id in dict.fromkeys(s.ident["cell_id"] for s in report.slices):
        cell = [s for s in report.slices if s.ident["cell_id"] == cell_id]
        names = score_names(cell)
        columns = ["slice", "n", *(f"{m} [95% CI]" for m in names), "error rate", "p50 latency", "p95 latency",
                   "tested on", "p", "p (Holm)", "flag"]
        rows = [_row(s, names) for s in cell]
        title = f"{cell_name(cell[0].ident)} × {cell[0].ident['task_id']}"
        tables[f"{title} ({cell_id})" if title in tables else title] = (columns, rows)
    return tables


def _row(s: Slice, names: list[str]) -> list[str]:
    rows = {r.metric: r for r in s.rows}
    test = s.test
    tested = "–" if test is None else f"{test.metric} ({test.method})"
    return [s.value, str(s.n), *(quality_text(rows.get(m)) for m in names), quality_text(rows.get("error_rate")),
            _seconds(rows.get(LATENCY[0])), _seconds(rows.get(LATENCY[1])), tested,
            _p(test.p_value if test else None), _p(test.p_holm if test else None),
            f"⚠ below the rest (n={s.n})" if s.flagged else ""]


def print_slices(reports: Sequence[SliceReport], console: Console) -> None:
    """The slice tables on the terminal, then the note on the test and the cells without the tag."""
    for report in reports:
        for title, (columns, rows) in cell_tables(report).items():
            table = Table(title=f"by {report.tag}: {title}", title_justify="left")
            for column in columns:
                table.add_column(column, justify="left" if column in ("slice", "tested on", "flag") else "right")
            for row in rows:
                table.add_row(*row)
            console.print(table)
        for line in [NOTE, *without_lines(report)]:
            console.print(line, markup=False, highlight=False)


def without_lines(report: SliceReport) -> list[str]:
    return [f"cells without the tag '{report.tag}' (not sliced): {', '.join(report.cells_without_tag)}"] \
        if report.cells_without_tag else []


def slices_markdown(reports: Sequence[SliceReport]) -> str:
    """A markdown section per run: '## Slices by TAG', a table per cell, the note."""
    parts: list[str] = []
    for report in reports:
        parts += [f"## Slices by {report.tag} (run {report.run_id})", ""]
        for title, (columns, rows) in cell_tables(report).items():
            parts += [f"### {title}", "", tabulate(rows, headers=columns, tablefmt="github"), ""]
        parts += [NOTE, "", *(f"- {line}" for line in without_lines(report)), ""]
    return "\n".join(parts)


CSV_FIELDS = ["run_id", "cell_id", "model_id", "task_id", "tag", "slice", "slice_n", "metric", "value", "ci_low",
              "ci_high", "n", "unit", "tested_metric", "test", "p_value", "p_holm", "flagged"]


def slices_csv(reports: Sequence[SliceReport]) -> str:
    """One line per run x cell x slice x metric, the slice's test repeated on each of its lines."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS)
    writer.writeheader()
    for report in reports:
        for s in report.slices:
            test = s.test
            common = {**s.ident, "run_id": report.run_id, "tag": s.tag, "slice": s.value, "slice_n": s.n,
                      "tested_metric": test.metric if test else "", "test": test.method if test else "",
                      "p_value": test.p_value if test else "", "p_holm": test.p_holm if test else "",
                      "flagged": s.flagged}
            for row in s.rows:
                writer.writerow({**common, "metric": row.metric, "value": row.value, "ci_low": row.ci_low,
                                 "ci_high": row.ci_high, "n": row.n, "unit": row.unit})
    return buffer.getvalue()
