"""Rate sweeps: the latency-vs-throughput curve of each model x task, and the highest offered rate whose
p95 end-to-end latency (from arrival) still meets the objective."""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def sweep_curves(cells: list[dict[str, Any]], metrics: list[dict[str, Any]],
                 p95_limit_s: float | None) -> list[dict[str, Any]]:
    """One curve per model x task with two or more rate cells, points sorted by offered rate."""
    value = {(m["cell_id"], m["metric"]): m["value"] for m in metrics}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        if cell.get("rate_rps") is not None:
            groups[(cell["model_id"], cell["task_id"])].append(cell)
    curves = []
    for (model_id, task_id), group in sorted(groups.items()):
        if len(group) < 2:
            continue
        points = [_point(cell, value) for cell in sorted(group, key=lambda c: c["rate_rps"])]
        if not any(p["achieved_tasks_per_s"] for p in points):
            continue  # nothing measured (e.g. a hosted API skipped for want of its key)
        curves.append({"model_id": model_id, "task_id": task_id, "p95_limit_s": p95_limit_s, "points": points,
                       "max_rate_meeting_p95_rps": max_rate(points, p95_limit_s)})
    return curves


def _point(cell: dict[str, Any], value: dict[tuple[str, str], Any]) -> dict[str, Any]:
    cid = cell["cell_id"]
    return {"offered_rps": cell["rate_rps"], "achieved_tasks_per_s": value.get((cid, "tasks_per_s")),
            "e2e_p50_s": value.get((cid, "e2e_latency_s_p50")), "e2e_p95_s": value.get((cid, "e2e_latency_s_p95")),
            "ttft_p95_s": value.get((cid, "ttft_s_p95")), "slo_attainment": value.get((cid, "slo_attainment")),
            "goodput_rps": value.get((cid, "goodput_rps"))}


def max_rate(points: list[dict[str, Any]], limit_s: float | None) -> float | None:
    """The highest offered rate, below the first one that misses the limit, whose p95 meets it."""
    if limit_s is None:
        return None
    best = None
    for point in points:
        if point["e2e_p95_s"] is None or point["e2e_p95_s"] > limit_s:
            break
        best = point["offered_rps"]
    return best
