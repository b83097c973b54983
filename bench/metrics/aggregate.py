"""Records -> metric rows per cell. Pure: the same records always give the same summary."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar

import numpy as np

from bench.cost.formulas import usd_per_1000_tasks
from bench.metrics.records import FAILURE_KINDS, CellSegment, ItemRecord
from bench.metrics.stats import (
    MIN_N_BOOTSTRAP,
    Interval,
    bootstrap_interval,
    median_interval,
    percentile,
    resample_interval,
    wilson_interval,
)
from bench.results.schema import MetricRow as MetricRow  # part of the summary's schema
from bench.suite.spec import CostSpec, SloSpec, TaskSpec
from bench.tasks.scorers import Scorer, build_scorer

T = TypeVar("T")


class CellIdent(TypedDict):
    cell_id: str
    model_id: str
    task_id: str


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
    """Every metric of one cell from its records and segments. Records are sorted by (item id, repetition)
    first, so the file order (a concurrency cell, a resume) never changes a figure or an interval."""
    records = sorted(records, key=record_key)
    first = records[0] if records else None
    ident: CellIdent = {"cell_id": cell_id, "model_id": first.model_id if first else "", "task_id": task.id}
    rows = quality_rows(task, [r for r in records if r.repetition == 0], ident)
    perf = performance_rows(records, segments, ident)
    if slo is not None and (slo.ttft_s or slo.tpot_s or slo.e2e_s):
        perf += goodput_rows(records, segments, slo, ident)
    return rows + perf + cost_rows(perf, cost, ident)


def record_key(r: ItemRecord) -> tuple[str, str, int]:
    """The stable order of records before any resampling: cell, item id, repetition."""
    return (r.cell_id, r.item_id, r.repetition)


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
    wall = measured_wall_s(segments)
    low, high = wilson_interval(sum(good), len(good)) if good else (None, None)
    return [MetricRow(**ident, metric="slo_attainment", value=float(np.mean(good)) if good else None, ci_low=low,
                      ci_high=high, n=len(good), higher_is_better=True, unit="ratio", group="performance"),
            MetricRow(**ident, metric="goodput_rps", value=sum(good) / wall if wall > 0 else None, n=len(good),
                      higher_is_better=True, unit="requests/s", group="performance")]


def quality_rows(task: TaskSpec, records: list[ItemRecord], ident: CellIdent) -> list[MetricRow]:
    """Mean of each item score over every item (a failed item scores 0), its 95% CI (score_interval), and the
    error, parse-failure and failure-kind rates (records.FAILURE_KINDS: empty answers, answers cut at max_tokens,
    items over the context, inputs truncated)."""
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    direction = {name: s.higher_is_better for s in scorers for name in _metric_names(s, records)}
    rows = [_mean_row(name, [r.scores.get(name, 0.0) for r in records], up, ident, _parts(name, records))
            for name, up in direction.items()]
    for scorer in scorers:
        rows += _corpus_rows(scorer, records, ident)
    errors = [float(r.status != "ok") for r in records]
    rows.append(_mean_row("error_rate", errors, False, ident))
    rows.append(_mean_row("parse_failure_rate", [float(r.parse_error is not None) for r in records], False, ident))
    rows += [_mean_row(name, [float(kind(r)) for r in records], False, ident) for name, kind in FAILURE_KINDS.items()]
    return rows


def _metric_names(scorer: Scorer, records: list[ItemRecord]) -> list[str]:
    return scorer.names_in(records)


PART_SCORES = {"field_accuracy": "field."}
"""Item scores that are the mean of binary part scores (a JSON object's fields): their interval is Wilson over
all parts (successes = parts right, trials = parts scored), not over items."""


def _parts(metric: str, records: list[ItemRecord]) -> tuple[float, int] | None:
    """(parts right, parts scored) over the records; an item without part scores (it failed) counts as the
    largest number of parts any item had, all wrong. None for a metric without parts."""
    prefix = PART_SCORES.get(metric)
    if prefix is None:
        return None
    per_item = [[v for k, v in r.scores.items() if k.startswith(prefix)] for r in records]
    most = max((len(p) for p in per_item), default=0)
    if most == 0:
        return None
    return (sum(sum(p) for p in per_item), sum(len(p) or most for p in per_item))


def score_interval(values: Sequence[float], parts: tuple[float, int] | None = None) -> Interval | None:
    """95% CI of a mean score. 0/1 scores: Wilson over items. Means of binary parts: Wilson over the parts.
    Other scores: percentile bootstrap (sorted, seeded) from MIN_N_BOOTSTRAP items with some spread; otherwise,
    for scores in [0, 1], the Wilson interval of the mean (conservative: their variance is at most p(1 - p));
    otherwise none. An interval never collapses to a point because the sample happens to be uniform."""
    n = len(values)
    if n == 0:
        return None
    if parts is not None:
        return wilson_interval(parts[0], parts[1])
    array = np.asarray(values, dtype=float)
    if bool(np.isin(array, (0.0, 1.0)).all()):
        return wilson_interval(sum(values), n)
    if n >= MIN_N_BOOTSTRAP and max(values) > min(values):
        return bootstrap_interval(values, statistic=np.mean)
    if bool(((array >= 0.0) & (array <= 1.0)).all()):
        return wilson_interval(sum(values), n)
    return None


def _mean_row(metric: str, values: list[float], higher: bool, ident: CellIdent,
              parts: tuple[float, int] | None = None) -> MetricRow:
    ci = score_interval(values, parts)
    return MetricRow(**ident, metric=metric, value=float(np.mean(values)) if values else None,
                     ci_low=ci[0] if ci else None, ci_high=ci[1] if ci else None, n=len(values),
                     higher_is_better=higher, unit="ratio", group="quality")


def _corpus_rows(scorer: Scorer, records: list[ItemRecord], ident: CellIdent) -> list[MetricRow]:
    if not records:
        return []
    keyed = [(record_key(r), r.prediction, r.reference) for r in records]

    def compute(sample: list[tuple[Any, Any, Any]]) -> dict[str, float]:
        return scorer.corpus([p for _, p, _ in sample], [ref for _, _, ref in sample])

    rows = []
    for name, value in compute(keyed).items():
        ci = resample_interval(keyed, _metric_of(compute, name), key=lambda t: t[0])
        rows.append(MetricRow(**ident, metric=name, value=value, ci_low=ci[0] if ci else None,
                              ci_high=ci[1] if ci else None, n=len(keyed),
                              higher_is_better=scorer.higher_is_better, unit="ratio", group="quality"))
    return rows


def _metric_of(compute: Callable[[list[T]], dict[str, float]], name: str) -> Callable[[list[T]], float]:
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
    """Median with its exact order-statistic 95% CI (none below MIN_N_MEDIAN_CI values), plus p95/p99 for
    latencies."""
    if not values:
        return []
    ci = median_interval(values)
    rows = [MetricRow(**ident, metric=f"{name}_p50", value=percentile(values, 50), ci_low=ci[0] if ci else None,
                      ci_high=ci[1] if ci else None, n=len(values), higher_is_better=up, unit=unit,
                      group="performance")]
    if unit == "s":
        rows += [MetricRow(**ident, metric=f"{name}_p{q}", value=percentile(values, q), n=len(values),
                           higher_is_better=up, unit=unit, group="performance") for q in (95, 99)]
    return rows


def measured_wall_s(segments: Sequence[CellSegment]) -> float:
    """Wall time of the measured work: the sum of the segments' measured windows (after warm-up)."""
    return sum(max(s.t_end - s.t_start, 0.0) for s in segments)


def measured_records(records: Sequence[ItemRecord], segments: Sequence[CellSegment]) -> list[ItemRecord]:
    """The records made inside these segments (the ones their wall time covers)."""
    ids = {s.segment for s in segments}
    return [r for r in records if r.segment in ids]


def successful(records: Sequence[ItemRecord]) -> list[ItemRecord]:
    """Items the server completed (status ok): the only work that counts as throughput."""
    return [r for r in records if r.status == "ok"]


def _segment_rows(records: list[ItemRecord], segments: list[CellSegment], ident: CellIdent) -> list[MetricRow]:
    """Throughput and CPU per task count successful items only (failed work is never throughput); n is the
    number of successful items."""
    if not segments:
        return []
    ok = successful(measured_records(records, segments))
    return segment_facts(len(ok), sum(r.completion_tokens for r in ok), segments, ident)


def segment_facts(done: int, out_tokens: int, segments: list[CellSegment], ident: CellIdent) -> list[MetricRow]:
    """The cell rows from its segments and its successful measured items (`done`, their output tokens)."""
    wall = measured_wall_s(segments)
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
    """$ per 1000 successful tasks from the measured throughput; None ("–") when no item succeeded."""
    tps = next((r for r in perf if r.metric == "tasks_per_s"), None)
    if tps is None or tps.value is None or cost.usd_per_hour <= 0:
        return []
    if tps.value <= 0:
        return [MetricRow(**ident, metric="usd_per_1000_tasks", value=None, n=0, higher_is_better=False, unit="USD",
                          group="cost", basis="no successful item: no cost per task")]
    value = usd_per_1000_tasks(tps.value, cost.usd_per_hour)
    return [MetricRow(**ident, metric="usd_per_1000_tasks", value=value, n=tps.n, higher_is_better=False,
                      unit="USD", group="cost", basis=f"measured throughput x ${cost.usd_per_hour}/h ({cost.basis})")]


def group_by_cell(records: list[ItemRecord]) -> dict[str, list[ItemRecord]]:
    cells: dict[str, list[ItemRecord]] = defaultdict(list)
    for record in records:
        cells[record.cell_id].append(record)
    return cells
