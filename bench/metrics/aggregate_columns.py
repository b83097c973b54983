"""Metric rows of one cell from columns (bench.metrics.columns): the same rows as aggregate.summarize_cell, value
for value, without one object per record.

Each figure goes through the same function as the record-by-record path (the intervals of bench.metrics.stats,
aggregate._distribution_rows, _mean_row, ...) with the same values in the same order; only the per-record
arithmetic is vectorized (element-wise IEEE operations, so bit-identical), and macro-F1's bootstrap counts
confusion matrices instead of calling the scorer on every resample (same resamples, same formula).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bench.metrics import stats
from bench.metrics.aggregate import (
    PART_SCORES,
    CellIdent,
    MetricRow,
    _distribution_rows,
    _mean_row,
    cost_rows,
    measured_wall_s,
    segment_facts,
)
from bench.metrics.columns import RecordColumns
from bench.metrics.records import FAILURE_KINDS, CellSegment
from bench.suite.spec import CostSpec, SloSpec, TaskSpec
from bench.tasks.normalize import normalize_label
from bench.tasks.scorers import MacroF1, Scorer, build_scorer, pick

LatencyFn = Callable[[RecordColumns], np.ndarray]


def summarize_cell_columns(cell_id: str, task: TaskSpec, cols: RecordColumns, segments: list[CellSegment],
                           cost: CostSpec, slo: SloSpec | None = None) -> list[MetricRow]:
    """aggregate.summarize_cell on columns: every metric of one cell, rows sorted by (item id, repetition) first."""
    cols = cols.sorted()
    ident: CellIdent = {"cell_id": cell_id, "model_id": str(cols.model_id[0]) if len(cols) else "",
                        "task_id": task.id}
    rows = quality_rows(task, cols.take(cols.repetition == 0), ident)
    perf = performance_rows(cols, segments, ident)
    if slo is not None and (slo.ttft_s or slo.tpot_s or slo.e2e_s):
        perf += goodput_rows(cols, segments, slo, ident)
    return rows + perf + cost_rows(perf, cost, ident)


# --- latency definitions, vectorized (aggregate.py defines them per record) --------------------------------------

def origin(c: RecordColumns) -> np.ndarray:
    return np.where(np.isnan(c.t_arrival), c.t_start, c.t_arrival)


def ttft_s(c: RecordColumns) -> np.ndarray:
    return np.asarray(c.t_first_token - origin(c))


def e2e_s(c: RecordColumns) -> np.ndarray:
    return np.asarray(c.t_end - origin(c))


def send_lag_s(c: RecordColumns) -> np.ndarray:
    return np.asarray(c.t_start - c.t_arrival)


def tpot_s(c: RecordColumns) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        tpot = (c.t_end - c.t_first_token) / (c.completion_tokens - 1)
    return np.where(c.completion_tokens < 2, np.nan, tpot)


def decode_tps(c: RecordColumns) -> np.ndarray:
    tpot = tpot_s(c)
    with np.errstate(divide="ignore"):
        return np.where(tpot == 0, np.nan, 1.0 / tpot)


def prefill_tps(c: RecordColumns) -> np.ndarray:
    ttft = c.t_first_token - c.t_start
    evaluated = c.prompt_tokens - c.cached_prompt_tokens
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = evaluated / ttft
    return np.where((ttft == 0) | (evaluated <= 0), np.nan, rate)


LATENCY: dict[str, tuple[LatencyFn, str, bool]] = {
    "ttft_s": (ttft_s, "s", False), "e2e_latency_s": (e2e_s, "s", False), "tpot_s": (tpot_s, "s", False),
    "decode_tps": (decode_tps, "tokens/s", True), "prefill_tps": (prefill_tps, "tokens/s", True),
    "send_lag_s": (send_lag_s, "s", False),
}
"""Same names, units and directions as aggregate.LATENCY; NaN where the per-record function gives None."""


def present(values: np.ndarray) -> list[float]:
    """The values that are not None in the record path (NaN here), as Python floats in row order."""
    return list(values[~np.isnan(values)].tolist())


# --- rows ---------------------------------------------------------------------------------------------------------

def performance_rows(cols: RecordColumns, segments: list[CellSegment], ident: CellIdent) -> list[MetricRow]:
    ok = cols.take(cols.ok)
    rows = []
    for name, (fn, unit, up) in LATENCY.items():
        rows += _distribution_rows(name, present(fn(ok)), unit, up, ident)
    if segments:
        measured = np.isin(cols.segment, [s.segment for s in segments]) & cols.ok
        done, tokens = int(measured.sum()), int(cols.completion_tokens[measured].sum())
        rows += segment_facts(done, tokens, segments, ident)
    return rows


def meets_slo(c: RecordColumns, slo: SloSpec) -> np.ndarray:
    """aggregate.meets_slo for every row."""
    good = c.ok.copy()
    ttft, tpot = ttft_s(c), tpot_s(c)
    if slo.ttft_s is not None:
        good &= ~np.isnan(ttft) & (ttft <= slo.ttft_s)
    if slo.tpot_s is not None:
        good &= np.isnan(tpot) | (tpot <= slo.tpot_s)
    if slo.e2e_s is not None:
        good &= e2e_s(c) <= slo.e2e_s
    return good


def goodput_rows(cols: RecordColumns, segments: list[CellSegment], slo: SloSpec,
                 ident: CellIdent) -> list[MetricRow]:
    good = meets_slo(cols, slo).astype(float).tolist()
    wall = measured_wall_s(segments)
    low, high = stats.wilson_interval(sum(good), len(good)) if good else (None, None)
    return [MetricRow(**ident, metric="slo_attainment", value=float(np.mean(good)) if good else None, ci_low=low,
                      ci_high=high, n=len(good), higher_is_better=True, unit="ratio", group="performance"),
            MetricRow(**ident, metric="goodput_rps", value=sum(good) / wall if wall > 0 else None, n=len(good),
                      higher_is_better=True, unit="requests/s", group="performance")]


def quality_rows(task: TaskSpec, cols: RecordColumns, ident: CellIdent) -> list[MetricRow]:
    """aggregate.quality_rows on columns (repetition 0, sorted)."""
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    direction = {name: s.higher_is_better for s in scorers for name in score_names(s, cols)}
    rows = [_mean_row(name, cols.score(name, 0.0).tolist(), up, ident, parts(name, cols))
            for name, up in direction.items()]
    for scorer in scorers:
        rows += corpus_rows(scorer, cols, ident)
    rows.append(_mean_row("error_rate", (~cols.ok).astype(float).tolist(), False, ident))
    rows.append(_mean_row("parse_failure_rate", cols.parse_error.astype(float).tolist(), False, ident))
    rows += [_mean_row(name, getattr(cols, name.removesuffix("_rate")).astype(float).tolist(), False, ident)
             for name in FAILURE_KINDS]
    return rows


def score_names(scorer: Scorer, cols: RecordColumns) -> list[str]:
    """scorer.names_in(records): the base scorer looks at the first record's reference; a scorer that reads the
    recorded names (lm_eval) gets them in order of first appearance over the rows."""
    if not len(cols):
        return []
    if type(scorer).names_in is Scorer.names_in:
        return list(scorer.item(None, cols.decoded_at("reference", 0)))
    firsts = {name: int(np.argmax(~np.isnan(v))) for name, v in cols.scores.items() if (~np.isnan(v)).any()}
    return sorted(firsts, key=lambda name: firsts[name])


def parts(metric: str, cols: RecordColumns) -> tuple[float, int] | None:
    """aggregate._parts: (parts right, parts scored), an item without parts counting as the most parts, wrong."""
    prefix = PART_SCORES.get(metric)
    if prefix is None:
        return None
    part_cols = [v for name, v in cols.scores.items() if name.startswith(prefix)]
    if not part_cols:
        return None
    matrix = np.column_stack(part_cols)
    counts = (~np.isnan(matrix)).sum(axis=1)
    most = int(counts.max(initial=0))
    if most == 0:
        return None
    right = sum(float(s) for s in np.nansum(matrix, axis=1).tolist())
    return (right, int(np.where(counts == 0, most, counts).sum()))


# --- corpus metrics -----------------------------------------------------------------------------------------------

def corpus_rows(scorer: Scorer, cols: RecordColumns, ident: CellIdent) -> list[MetricRow]:
    """aggregate._corpus_rows: macro-F1 counted on label codes; another corpus scorer gets the decoded values."""
    if not len(cols) or type(scorer).corpus is Scorer.corpus:
        return []
    if isinstance(scorer, MacroF1):
        values = {"macro_f1": macro_f1_with_interval(scorer.params.field, cols)}  # type: ignore[attr-defined]
    else:
        values = generic_corpus(scorer, cols)
    return [MetricRow(**ident, metric=name, value=value, ci_low=ci[0] if ci else None,
                      ci_high=ci[1] if ci else None, n=len(cols), higher_is_better=scorer.higher_is_better,
                      unit="ratio", group="quality") for name, (value, ci) in values.items()]


def generic_corpus(scorer: Scorer, cols: RecordColumns) -> dict[str, tuple[float, stats.Interval | None]]:
    keyed = list(zip(range(len(cols)), cols.decoded("prediction"), cols.decoded("reference"), strict=True))

    def compute(sample: list[tuple[Any, Any, Any]]) -> dict[str, float]:
        return scorer.corpus([p for _, p, _ in sample], [r for _, _, r in sample])

    def metric(name: str) -> Callable[[list[tuple[Any, Any, Any]]], float]:
        return lambda sample: compute(sample)[name]

    return {name: (value, stats.resample_interval(keyed, metric(name), key=lambda t: t[0]))
            for name, value in compute(keyed).items()}


def prediction_label(prediction: Any, field: str | None) -> str | None:
    """MacroF1.corpus's label of a prediction (None: no label)."""
    picked = pick(prediction, field)
    return None if picked is None else str(normalize_label(picked))


def reference_label(reference: Any, field: str | None) -> str:
    return str(normalize_label(pick(reference, field)))


def confusion_codes(predictions: list[list[str | None]], references: list[list[str]]) -> tuple[list[np.ndarray], int]:
    """Per side, a confusion cell per item: prediction code * n_labels + reference code, with codes indexing the
    sorted labels of every side and the prediction code n_labels meaning no label. Returns (cells, n_labels)."""
    labels = sorted(set().union(*references, *({p for p in side if p is not None} for side in predictions)))
    index = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    return [np.array([n if p is None else index[p] for p in preds], dtype=np.int64) * n
            + np.array([index[r] for r in refs], dtype=np.int64)
            for preds, refs in zip(predictions, references, strict=True)], n


def confusion_cells(field: str | None, sides: list[list[list[Any]]]) -> tuple[list[np.ndarray], int]:
    """confusion_codes of [prediction, reference] pairs (compare's corpus items), side by side; each distinct
    picked value is normalized once."""
    memo: dict[tuple[bool, Any], str | None] = {}

    def label(value: Any, is_prediction: bool) -> str | None:
        picked = pick(value, field)
        try:
            return memo[(is_prediction, picked)]
        except KeyError:
            found = prediction_label(value, field) if is_prediction else reference_label(value, field)
            memo[(is_prediction, picked)] = found
            return found
        except TypeError:  # an unhashable value (a list): normalized each time
            return prediction_label(value, field) if is_prediction else reference_label(value, field)

    return confusion_codes([[label(p[0], True) for p in side] for side in sides],
                           [[str(label(p[1], False)) for p in side] for side in sides])


def label_cells(field: str | None, cols: RecordColumns) -> tuple[np.ndarray, int]:
    """confusion_codes of a cell's rows, each distinct prediction and reference text normalized once."""
    pred_codes, pred_texts = cols.codes_of("prediction")
    ref_codes, ref_texts = cols.codes_of("reference")
    preds = [prediction_label(v, field) for v in cols.parse(pred_texts)]
    refs = [reference_label(v, field) for v in cols.parse(ref_texts)]
    labels = sorted(set(refs) | {p for p in preds if p is not None})
    index = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    pred_map = np.array([n if p is None else index[p] for p in preds], dtype=np.int64)
    ref_map = np.array([index[r] for r in refs], dtype=np.int64)
    return pred_map[pred_codes] * n + ref_map[ref_codes], n


def macro_f1_with_interval(field: str | None, cols: RecordColumns) -> tuple[float, stats.Interval | None]:
    """scorers.macro_f1 and stats.resample_interval's bootstrap of it, from confusion counts: the resamples are
    the same index draws (rows already in record-key order), and each F1 is 2 tp / (2 tp + fp + fn) summed over
    the labels present in the resample in sorted order, as the scorer does."""
    cells, n_labels = label_cells(field, cols)
    size = (n_labels + 1) * n_labels
    value = float(macro_f1_of_counts(np.bincount(cells, minlength=size)[None, :], n_labels)[0])
    n = len(cols)
    if n < stats.MIN_N_BOOTSTRAP:
        return value, None
    rng = np.random.default_rng(stats.SEED)
    observed = np.bincount(cells, minlength=size)
    if stats.use_counts(n, int(np.count_nonzero(observed))):
        drawn = stats.multinomial_counts(rng, observed, stats.BOOTSTRAP_RESAMPLES // 2)
        return value, stats.with_spread(stats.percentile_interval(macro_f1_of_counts(drawn, n_labels), 0.95))
    estimates = []
    for rows in stats.row_chunks(stats.BOOTSTRAP_RESAMPLES // 2, n):
        index = rng.integers(0, n, size=(rows, n))
        offsets = np.arange(rows)[:, None] * size
        counts = np.bincount((cells[index] + offsets).ravel(), minlength=rows * size).reshape(rows, size)
        estimates.append(macro_f1_of_counts(counts, n_labels))
    return value, stats.with_spread(stats.percentile_interval(np.concatenate(estimates), 0.95))


def macro_f1_of_counts(counts: np.ndarray, n_labels: int) -> np.ndarray:
    """Macro-F1 of each row of confusion counts (row-major [prediction code][reference code], the last
    prediction code meaning no label); labels absent from a row's predictions and references are left out."""
    matrix = counts.reshape(len(counts), n_labels + 1, n_labels)
    total = np.zeros(len(counts))
    present_count = np.zeros(len(counts), dtype=np.int64)
    for label in range(n_labels):
        tp = matrix[:, label, label]
        fp = matrix[:, label, :].sum(axis=1) - tp
        fn = matrix[:, :, label].sum(axis=1) - tp
        present = (tp + fp + fn) > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            f1 = np.where(present, (2 * tp) / (2 * tp + fp + fn), 0.0)
        total = total + f1
        present_count += present
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(present_count > 0, total / present_count, 0.0)
