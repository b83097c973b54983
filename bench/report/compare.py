"""Renderers: rich table rows, JSON and a pull-request markdown block (they build, never print)."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from bench.compare.core import CompareResult, Comparison
from bench.compare.significance import Significance

# --- renderers ----------------------------------------------------------------------------------------------------

TABLE_HEADER = ("cell", "metric", "baseline", "candidate", "change", "p", "CI", "verdict")


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    return f"{value:.1%}" if unit == "ratio" else f"{value:.4g} {unit}"


def format_change(row: Comparison) -> str:
    if row.abs_change is None:
        return "—"
    if row.unit == "ratio":
        return f"{row.abs_change * 100:+.1f}pp"
    rel = row.rel_change
    return "—" if rel is None else ("±inf%" if math.isinf(rel) else f"{rel:+.1%}")


def format_ci(sig: Significance) -> str:
    if sig.ci_low is None or sig.ci_high is None:
        return ""
    if sig.ci_of == "difference":
        return f"[{sig.ci_low * 100:+.1f}, {sig.ci_high * 100:+.1f}]pp"
    return f"×[{sig.ci_low:.3g}, {sig.ci_high:.3g}]"


def verdict(row: Comparison, failed: bool) -> str:
    mark = " [contended]" if row.contended else ""
    if failed:
        return "FAIL" + mark
    if row.significance.significant is None:
        return f"{row.direction} (untested){mark}"
    if row.significance.test == "insufficient data":
        return f"{row.direction} (too few samples to test){mark}"
    return f"{row.direction}{' (significant)' if row.significance.significant else ''}{mark}"


def table_rows(result: CompareResult) -> list[tuple[str, ...]]:
    """One tuple of strings per comparison (columns of TABLE_HEADER)."""
    failed = {id(f.row) for f in result.failures}
    return [(row.cell, row.metric, format_value(row.baseline, row.unit), format_value(row.candidate, row.unit),
             format_change(row), _format_p(row.significance.p_value), format_ci(row.significance),
             verdict(row, id(row) in failed)) for row in result.rows]


def _format_p(p: float | None) -> str:
    return "" if p is None else f"{p:.3g}"


def rich_table(result: CompareResult) -> Table:
    table = Table(title=f"{result.baseline} → {result.candidate} (α = {result.alpha}; {policy_text(result)})")
    for name in TABLE_HEADER:
        table.add_column(name, justify="right" if name in ("baseline", "candidate", "change", "p") else "left")
    for cells in table_rows(result):
        last = cells[-1]
        style = "bold red" if last.startswith("FAIL") else ("yellow" if last.startswith("worse (sig") else None)
        table.add_row(*cells, style=style)
    return table


def policy_text(result: CompareResult) -> str:
    rules = ", ".join(rule.text for rule in result.rules) or "none"
    if result.policy == "default":
        return f"default policy (significant and beyond: {rules})"
    return f"rules: {rules}"


def summary_line(result: CompareResult) -> str:
    """Failures first; never 'no regression' while some row is significantly worse."""
    n = len(result.failures)
    if n:
        return f"❌ {n} regression{'s' if n != 1 else ''}"
    worse = len(result.significantly_worse)
    if worse:
        return (f"⚠️ no rule failed, but {worse} change{'s are' if worse != 1 else ' is'} significantly worse "
                "(within the rules' thresholds)")
    untested = len(result.untested_worse)
    if untested:
        return (f"⚠️ inconclusive: {untested} change{'s look' if untested != 1 else ' looks'} worse but could not be "
                "tested (too few samples: see the minimum n in docs/metrics.md); no regression shown")
    return "✅ no regression"


def result_json(result: CompareResult) -> dict[str, Any]:
    return {"exit_code": result.exit_code, "summary": summary_line(result), "alpha": result.alpha,
            "baseline": result.baseline, "candidate": result.candidate, "mismatches": result.mismatches,
            "notes": result.notes, "policy": result.policy,
            "rules": [rule.text for rule in result.rules],
            "significantly_worse": [{"cell": row.cell, "metric": row.metric} for row in result.significantly_worse],
            "failures": [{"rule": f.rule, "cell": f.row.cell, "metric": f.row.metric} for f in result.failures],
            "rows": [_row_json(row) for row in result.rows]}


def _row_json(row: Comparison) -> dict[str, Any]:
    sig = row.significance
    return {"model_id": row.model_id, "task_id": row.task_id, "metric": row.metric, "unit": row.unit,
            "higher_is_better": row.higher_is_better, "baseline": row.baseline, "candidate": row.candidate,
            "abs_change": row.abs_change, "rel_change": _finite(row.rel_change), "direction": row.direction,
            "test": sig.test, "p_value": sig.p_value, "ci_low": _finite(sig.ci_low), "ci_high": _finite(sig.ci_high),
            "ci_of": sig.ci_of, "significant": sig.significant, "n_baseline": sig.n_baseline,
            "n_candidate": sig.n_candidate, "contended": row.contended}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def result_markdown(result: CompareResult) -> str:
    """A block for a pull-request comment: summary line, failing rows, then every row in <details>."""
    lines = [f"### bench compare: {summary_line(result)}", "",
             f"Baseline `{result.baseline}` vs candidate `{result.candidate}`; α = {result.alpha}; "
             + _md(policy_text(result)), ""]
    lines += [f"> ⚠️ compared despite a mismatch: {_md(str(problem))}" for problem in result.mismatches]
    lines += [f"> note: {_md(str(note))}" for note in result.notes]
    if result.failures:
        lines += ["| rule | " + " | ".join(TABLE_HEADER[:-1]) + " |", "|---" * len(TABLE_HEADER) + "|"]
        rows = {id(row): cells for row, cells in zip(result.rows, table_rows(result), strict=True)}
        lines += [f"| `{f.rule}` | " + " | ".join(_md(c) for c in rows[id(f.row)][:-1]) + " |" for f in result.failures]
        lines.append("")
    lines += [f"<details><summary>All {len(result.rows)} comparisons</summary>", "",
              "| " + " | ".join(TABLE_HEADER) + " |", "|---" * len(TABLE_HEADER) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in cells) + " |" for cells in table_rows(result)]
    lines += ["", "Significance: exact McNemar (0/1 scores); paired bootstrap, or below 10 items an exact "
              "permutation test (continuous and corpus scores); Mann-Whitney U with a bootstrap CI of the ratio "
              "(timings); bootstrap of the ratio of throughputs (tasks/s, $/1000 tasks). See docs/metrics.md.",
              "</details>", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    """A table cell or line of text: pipes escaped, and no raw HTML (suite text shows as written)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
