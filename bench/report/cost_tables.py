"""Cost tables and the procurement summary, rendered from a summary's `costs` section."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.table import Table
from tabulate import tabulate

from bench.report.markdown import md_text
from bench.report.naming import cell_name
from bench.results.schema import CostSection

COST_COLUMNS = ["model", "hardware", "basis", "tasks/s", "$/1000 tasks", "$/1000 correct", "J/task", "p95 latency",
                "fits", "flags"]


def number(value: float | None, spec: str, suffix: str = "") -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:{spec}}{suffix}"


def cost_table_rows(costs: CostSection, task_id: str) -> list[list[str]]:
    rows = [r for r in costs.rows if r.task_id == task_id]
    rows.sort(key=lambda r: (r.basis != "measured", r.usd_per_1000_tasks is None, r.usd_per_1000_tasks or 0.0))
    return [[cell_name(r), r.profile_id, r.basis, number(r.tasks_per_s, ".2f"),
             number(r.usd_per_1000_tasks, ".4f"), number(r.usd_per_1000_correct, ".4f"),
             number(r.energy_j_per_task, ".1f"), number(r.p95_latency_s, ".3f", " s"),
             "yes" if r.fits else ("no" if r.fits is False else "?"), r.flags] for r in rows]


def procurement_lines(costs: CostSection) -> list[str]:
    req = costs.requirements
    limit = f", p95 ≤ {req['max_p95_latency_s']} s" if req["max_p95_latency_s"] else ""
    lines = [f"Cheapest option per task with quality ≥ {req['min_accuracy']:.0%}{limit}:"]
    for pick in costs.procurement:
        choice = pick["choice"]
        refused = "".join(f"; not recommended: {reason}" for reason in pick.get("not_beating_baseline", []))
        if choice is None:
            lines.append(f"- {pick['task_id']}: no measured or projected option meets the requirements{refused}")
            continue
        flags = f" [{choice['flags']}]" if choice.get("flags") else ""
        lines.append(f"- {pick['task_id']}: {cell_name(choice)} on {choice['profile_id']} ({choice['basis']}{flags}): "
                     f"${choice['usd_per_1000_tasks']:.4f} per 1000 tasks, quality {number(choice['quality'], '.0%')}"
                     f"{_monthly_note(choice, costs.monthly_tasks)}{_break_even_note(pick['break_even'])}{refused}")
    return lines


def _monthly_note(choice: dict[str, Any], monthly_tasks: int | None) -> str:
    """", $M per month at N tasks (incl. $T one-off training)" where the row has a monthly total."""
    if choice.get("monthly_usd") is None or not monthly_tasks:
        return ""
    training = choice.get("training_usd") or 0.0
    note = f" (incl. ${training:.4f} one-off training)" if training > 0 else ""
    return f", ${choice['monthly_usd']:.2f} per month at {monthly_tasks:,} tasks{note}"


def _break_even_note(evens: list[dict[str, Any]]) -> str:
    if not evens:
        return ""
    cheapest_api = min(evens, key=lambda e: e["inputs"]["api_usd_per_task"])
    if cheapest_api["tasks_per_month"] is None:
        undercut = sum(e["tasks_per_month"] is not None for e in evens)
        return (f"; the cheapest API ({cheapest_api['api_model']}) stays cheaper ({cheapest_api['reason']}); "
                f"{undercut}/{len(evens)} APIs are undercut at some volume")
    return (f"; cheaper than every API in the price table above {cheapest_api['tasks_per_month']:,.0f} "
            f"tasks/month (break-even with the cheapest, {cheapest_api['api_model']})")


def cost_markdown(costs: CostSection, task_ids: list[str]) -> list[str]:
    local = costs.local_machine
    parts = ["## Cost per 1000 tasks by hardware", "",
             f"This machine ({local['profile_id']}): ${local['usd_per_hour']}/h ({md_text(local['price_basis'])}); "
             f"power {local['tdp_w']:.0f} W ({md_text(local['tdp_basis'])}). Other hardware is projected with a "
             "roofline model calibrated on this run (docs/projection.md): `projected` figures are estimates whose "
             "inputs are in summary.json.", ""]
    for task_id in task_ids:
        parts += [f"### {task_id}", "", tabulate(cost_table_rows(costs, task_id), headers=COST_COLUMNS,
                                                  tablefmt="github"), ""]
        apis = [a for a in costs.api if a["task_id"] == task_id]
        if apis:
            api_rows = [[a["api_model"], a["provider"], number(a["usd_per_1000_tasks"], ".4f")] for a in apis]
            parts += [f"Hosted APIs for {task_id} ({apis[0]['basis']}; their accuracy is not measured here):", "",
                      tabulate(api_rows, headers=["API model", "provider", "$/1000 tasks"], tablefmt="github"), ""]
    return parts


def print_costs(costs: CostSection, task_ids: list[str], console: Console, tables: bool) -> None:
    for line in procurement_lines(costs):
        console.print(line, markup=False, highlight=False)
    if not tables:
        return
    for task_id in task_ids:
        rows = cost_table_rows(costs, task_id)
        if not rows:  # a task of the suite that has no cell in this run (--tasks, or learn-curve's run)
            continue
        table = Table(title=f"cost: {task_id}", title_justify="left")
        for column in COST_COLUMNS:
            table.add_column(column, justify="left" if column in {"model", "hardware", "basis"} else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
