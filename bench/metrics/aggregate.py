"""Records -> metric rows per cell. Pure: the same records always give the same summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypedDict

import numpy as np
from pydantic import BaseModel, ConfigDict

from bench.cost import usd_per_1000_tasks
from bench.metrics.records import CellSegment, ItemRecord
from bench.metrics.stats import bootstrap_interval, percentile, resample_interval, wilson_interval
from bench.spec import CostSpec, SloSpec, TaskSpec
from bench.tasks.scorers import Scorer, build_scorer


class CellIdent(TypedDict):
    cell_id: str
    model_id: str
    task_id: str


class MetricRow(BaseModel):
    """One figure for one cell, with its interval, sample size, direction, unit and basis."""

    model_config = ConfigDict(frozen=True)
    cell_id: str
    model_id: str
    task_id: str
    metric: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int
    higher_is_better: bool
    unit: str
    group: str
    basis: str = "measured"


def origin(r: ItemRecord) -> float:
    """Latency is measured from the request's arrival when a load generator set one (queueing included)."""
    return r.t_arrival if r.t_arrival is not None else r.t_start


def ttft_s(r: ItemRecord) -> float | None:
    return r.t_first_token - origin(r) if r.t_first_token is not None else None


def e2e_s(r: ItemRecord) -> float:
    return r.t_end - origin(r)


def send_lag_s(r: ItemRecord) -> float | None:
    """How late the request actually started after its intended arrival (load generator skew + queueing)."""
    return r.t_start - r.t_arrival if r.t_arrival is not None else None


def tpot_s(r: ItemRecord) -> float | None:
    """(t_end - t_first_token) / (completion_tokens - 1); None with fewer than 2 output tokens."""
    if r.t_first_token is None or r.completion_tokens < 2:
        return None
    return (r.t_end - r.t_first_token) / (r.completion_tokens - 1)


def prefill_tps(r: ItemRecord) -> float | None:
    """Prompt tokens actually evaluated (not served from the prefix cache) / the engine's TTFT."""
    ttft = r.t_first_token - r.t_start if r.t_first_token is not None else None
    evaluated = r.prompt_tokens - r.cached_prompt_tokens
    return evaluated / ttft if ttft and evaluated > 0 else None


def decode_tps(r: ItemRecord) -> float | None:
    tpot = tpot_s(r)
    return 1.0 / tpot if tpot else None


def summarize_cell(cell_id: str, task: TaskSpec, records: list[ItemRecord], segments: list[CellSegment],
                   cost: CostSpec, slo: SloSpec | None = None) -> list[MetricRow]:
    """Every metric of one cell from its records and segments."""
    first = records[0] if records else None
    ident: CellIdent = {"cell_id": cell_id, "model_id": first.model_id if first else "", "task_id": task.id}
    rows = quality_rows(task, [r for r in records if r.repetition == 0], ident)
    perf = performance_rows(records, segments, ident)
    if slo is not None and (slo.ttft_s or slo.tpot_s or slo.e2e_s):
        perf += goodput_rows(records, segments, slo, ident)
    return rows + perf + cost_rows(perf, cost, ident)


def meets_slo(r: ItemRecord, slo: SloSpec) -> bool:
    """vLLM's goodput: a request counts when it succeeded and meets every objective that is set
    (TPOT does not apply to an answer of fewer than two tokens)."""
    if r.status != "ok":
        return False
    ttft, tpot = ttft_s(r), tpot_s(r)
    if slo.ttft_s is not None and (ttft is None or ttft > slo.ttft_s):
        return False
    if slo.tpot_s is not None and tpot is not None and tpot > slo.tpot_s:
        return False
    return slo.e2e_s is None or e2e_s(r) <= slo.e2e_s


def goodput_rows(records: list[ItemRecord], segments: list[CellSegment], slo: SloSpec,
                 ident: CellIdent) -> list[MetricRow]:
    good = [float(meets_slo(r, slo)) for r in records]
    wall = sum(max(s.t_end - s.t_start, 0.0) for s in segments)
    low, high = wilson_interval(int(sum(good)), len(good))
    return [MetricRow(**ident, metric="slo_attainment", value=float(np.mean(good)) if good else None, ci_low=low,
                      ci_high=high, n=len(good), higher_is_better=True, unit="ratio", group="performance"),
            MetricRow(**ident, metric="goodput_rps", value=sum(good) / wall if wall > 0 else None, n=len(good),
                      higher_is_better=True, unit="requests/s", group="performance")]


def quality_rows(task: TaskSpec, records: list[ItemRecord], ident: CellIdent) -> list[MetricRow]:
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    direction = {name: s.higher_is_better for s in scorers for name in _metric_names(s, records)}
    rows = [_mean_row(name, [r.scores.get(name, 0.0) for r in records], up, ident)
            for name, up in direction.items()]
    for scorer in scorers:
        rows += _corpus_rows(scorer, records, ident)
    errors = [float(r.status != "ok") for r in records]
    rows.append(_mean_row("error_rate", errors, False, ident))
    rows.append(_mean_row("parse_failure_rate", [float(r.parse_error is not None) for r in records], False, ident))
    return rows


def _metric_names(scorer: Scorer, records: list[ItemRecord]) -> list[str]:
    return scorer.names_in(records)


def _mean_row(metric: str, values: list[float], higher: bool, ident: CellIdent) -> MetricRow:
    if not values:
        return MetricRow(**ident, metric=metric, value=None, n=0, higher_is_better=higher, unit="ratio",
                         group="quality")
    binary = all(v in (0.0, 1.0) for v in values)
    low, high = (wilson_interval(int(sum(values)), len(values)) if binary
                 else bootstrap_interval(values, statistic=np.mean))
    return MetricRow(**ident, metric=metric, value=float(np.mean(values)), ci_low=low, ci_high=high,
                     n=len(values), higher_is_better=higher, unit="ratio", group="quality")


def _corpus_rows(scorer: Scorer, records: list[ItemRecord], ident: CellIdent) -> list[MetricRow]:
    if not records:
        return []
    pairs = [(r.prediction, r.reference) for r in records]

    def compute(sample: list[tuple[Any, Any]]) -> dict[str, float]:
        return scorer.corpus([p for p, _ in sample], [ref for _, ref in sample])

    rows = []
    for name, value in compute(pairs).items():
        low, high = resample_interval(pairs, _metric_of(compute, name))
        rows.append(MetricRow(**ident, metric=name, value=value, ci_low=low, ci_high=high, n=len(pairs),
                              higher_is_better=scorer.higher_is_better, unit="ratio", group="quality"))
    return rows


def _metric_of(compute: Callable[[list[tuple[Any, Any]]], dict[str, float]],
               name: str) -> Callable[[list[tuple[Any, Any]]], float]:
    return lambda sample: compute(sample)[name]


LATENCY: dict[str, tuple[Callable[[ItemRecord], float | None], str, bool]] = {
    "ttft_s": (ttft_s, "s", False),
    "e2e_latency_s": (e2e_s, "s", False),
    "tpot_s": (tpot_s, "s", False),
    "decode_tps": (decode_tps, "tokens/s", True),
    "prefill_tps": (prefill_tps, "tokens/s", True),
    "send_lag_s": (send_lag_s, "s", False),
}


def performance_rows(records: list[ItemRecord], segments: list[CellSegment],
                     ident: CellIdent) -> list[MetricRow]:
    ok = [r for r in records if r.status == "ok"]
    rows = []
    for name, (fn, unit, up) in LATENCY.items():
        values = [v for v in (fn(r) for r in ok) if v is not None]
        rows += _distribution_rows(name, values, unit, up, ident)
    rows += _segment_rows(records, segments, ident)
    return rows


def _distribution_rows(name: str, values: Sequence[float], unit: str, up: bool,
                       ident: CellIdent) -> list[MetricRow]:
    """Median with a bootstrap CI, plus p95/p99 for latencies."""
    if not values:
        return []
    low, high = bootstrap_interval(values)
    rows = [MetricRow(**ident, metric=f"{name}_p50", value=percentile(values, 50), ci_low=low, ci_high=high,
                      n=len(values), higher_is_better=up, unit=unit, group="performance")]
    if unit == "s":
        rows += [MetricRow(**ident, metric=f"{name}_p{q}", value=percentile(values, q), n=len(values),
                           higher_is_better=up, unit=unit, group="performance") for q in (95, 99)]
    return rows


def _segment_rows(records: list[ItemRecord], segments: list[CellSegment], ident: CellIdent) -> list[MetricRow]:
    wall = sum(max(s.t_end - s.t_start, 0.0) for s in segments)
    done = sum(s.items_done for s in segments)
    if not segments:
        return []
    out_tokens = sum(r.completion_tokens for r in records if r.status == "ok")
    facts = [("tasks_per_s", done / wall if wall > 0 else None, "tasks/s", True, "performance"),
             ("output_tokens_per_s", out_tokens / wall if wall > 0 else None, "tokens/s", True, "performance"),
             ("load_time_s", float(np.median([s.load_time_s for s in segments])), "s", False, "performance"),
             ("peak_rss_gb", max(s.peak_rss_bytes for s in segments) / 1e9, "GB", False, "memory"),
             ("cpu_s_per_task", sum(s.cpu_user_s + s.cpu_system_s for s in segments) / done if done else None,
              "s", False, "performance")]
    facts += _gpu_facts(segments)
    return [MetricRow(**ident, metric=m, value=v, n=done, higher_is_better=up, unit=u, group=g)
            for m, v, u, up, g in facts]


def _gpu_facts(segments: list[CellSegment]) -> list[tuple[str, float | None, str, bool, str]]:
    """GPU memory, power and utilisation where a driver reported them (measured, NVML)."""
    sampled = [s.gpu for s in segments if s.gpu]
    if not sampled:
        return []
    peak = max((g.get("gpu_peak_memory_bytes") or 0.0) for g in sampled) / 1e9
    power = [float(v) for g in sampled if (v := g.get("gpu_mean_power_w")) is not None]
    util = [float(v) for g in sampled if (v := g.get("gpu_mean_util_pct")) is not None]
    return [("peak_gpu_memory_gb", peak, "GB", False, "memory"),
            ("gpu_power_w", float(np.mean(power)) if power else None, "W", False, "performance"),
            ("gpu_util_pct", float(np.mean(util)) if util else None, "%", True, "performance")]


def cost_rows(perf: list[MetricRow], cost: CostSpec, ident: CellIdent) -> list[MetricRow]:
    tps = next((r.value for r in perf if r.metric == "tasks_per_s"), None)
    if not tps or cost.usd_per_hour <= 0:
        return []
    value = usd_per_1000_tasks(tps, cost.usd_per_hour)
    return [MetricRow(**ident, metric="usd_per_1000_tasks", value=value, n=perf[0].n, higher_is_better=False,
                      unit="USD", group="cost", basis=f"measured throughput x ${cost.usd_per_hour}/h ({cost.basis})")]


def group_by_cell(records: list[ItemRecord]) -> dict[str, list[ItemRecord]]:
    cells: dict[str, list[ItemRecord]] = defaultdict(list)
    for record in records:
        cells[record.cell_id].append(record)
    return cells
