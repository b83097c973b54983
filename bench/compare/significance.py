"""Significance tests on per-item records: McNemar, paired and corpus bootstraps, ratio of medians."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from bench.compare.constants import GAP_SAMPLES, OK_SAMPLES, SAMPLE_METRICS, THROUGHPUT_DERIVED
from bench.compare.items import CorpusItems, pair
from bench.compare.model import CellData, CorpusData
from bench.metrics import stats
from bench.tasks.scorers import MacroF1

# --- significance tests -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Significance:
    """Outcome of one test; significant is None when no test applies (threshold only)."""

    test: str
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    ci_of: str = ""
    significant: bool | None = None
    n_baseline: int = 0
    n_candidate: int = 0


Scores = Sequence[float] | np.ndarray


def mcnemar(baseline: Scores, candidate: Scores, alpha: float) -> Significance:
    """Exact McNemar test on paired 0/1 outcomes: two-sided binomial test on the discordant pairs (valid at any
    n; it cannot reach p < 0.05 with fewer than 6 discordant pairs)."""
    base, cand = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    worse, better = int(np.count_nonzero(base > cand)), int(np.count_nonzero(cand > base))
    p = float(scipy_stats.binomtest(worse, worse + better, 0.5).pvalue) if worse + better else 1.0
    return Significance("mcnemar", p, significant=p < alpha, n_baseline=len(baseline), n_candidate=len(candidate))


def paired_bootstrap(baseline: Scores, candidate: Scores, alpha: float) -> Significance:
    """Mean paired difference (candidate - baseline): bootstrap over items (percentile CI) from MIN_N_BOOTSTRAP
    items on; below, the exact sign-flip permutation test (every 2**n sign pattern), with no interval."""
    diffs = np.sort(np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float))
    if diffs.size < stats.MIN_N_BOOTSTRAP:
        return _exact_difference("exact sign-flip", _sign_flip_means(diffs), float(diffs.mean()) if diffs.size else 0.0,
                                 alpha, diffs.size)
    estimates = stats.bootstrap_means(np.random.default_rng(stats.SEED), diffs, stats.BOOTSTRAP_RESAMPLES)
    return _difference_outcome("paired bootstrap", estimates, alpha, len(baseline))


def _sign_flip_means(diffs: np.ndarray) -> np.ndarray:
    """The mean of diffs under every assignment of signs (2**n values; n < MIN_N_BOOTSTRAP)."""
    n = diffs.size
    signs = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) * 2 - 1
    return np.asarray((signs * diffs).mean(axis=1) if n else np.zeros(1))


def _exact_difference(test: str, null: np.ndarray, observed: float, alpha: float, n: int) -> Significance:
    """Two-sided exact permutation p: the share of the null distribution at least as far from 0 as observed."""
    p = float(np.mean(np.abs(null) >= abs(observed) - 1e-12)) if observed != 0 else 1.0
    return Significance(test, p, ci_of="difference", significant=p < alpha, n_baseline=n, n_candidate=n)


def corpus_bootstrap(metric: Callable[[list[list[Any]]], float], baseline: list[list[Any]],
                     candidate: list[list[Any]], alpha: float) -> Significance:
    """Paired bootstrap of a corpus-level metric's difference: the same resampled items on both sides (pairs in
    the caller's stable order, e.g. by item id). Below MIN_N_BOOTSTRAP items: the exact paired permutation test
    (approximate randomization over every 2**n swap of the two systems' outputs), with no interval."""
    n = len(baseline)
    if n < stats.MIN_N_BOOTSTRAP:
        swaps = [[(c, b) if (mask >> i) & 1 else (b, c) for i, (b, c) in enumerate(zip(baseline, candidate,
                                                                                       strict=True))]
                 for mask in range(2**n)]
        null = np.array([metric([c for _, c in s]) - metric([b for b, _ in s]) for s in swaps])
        observed = metric(candidate) - metric(baseline) if n else 0.0
        return _exact_difference("exact permutation (corpus)", null, observed, alpha, n)
    rng = np.random.default_rng(stats.SEED)
    rows = rng.integers(0, n, size=(stats.BOOTSTRAP_RESAMPLES // 2, n))
    estimates = np.array([metric([candidate[i] for i in row]) - metric([baseline[i] for i in row]) for row in rows])
    return _difference_outcome("paired bootstrap (corpus)", estimates, alpha, n)


def macro_f1_bootstrap(field: str | None, baseline: list[list[Any]], candidate: list[list[Any]],
                       alpha: float) -> Significance:
    """corpus_bootstrap of macro-F1 (n >= MIN_N_BOOTSTRAP) from confusion counts: the same resampled rows, the
    same per-label F1 summed in sorted label order, without calling the scorer on every resample."""
    from bench.metrics.aggregate_columns import confusion_cells

    (base, cand), n_labels = confusion_cells(field, [baseline, candidate])
    return _macro_f1_cells_bootstrap(base, cand, n_labels, alpha)


def _macro_f1_cells_bootstrap(base: np.ndarray, cand: np.ndarray, n_labels: int, alpha: float) -> Significance:
    """macro_f1_bootstrap of each item's confusion cell on either side (prediction code * n_labels + reference
    code, the prediction code n_labels meaning no label)."""
    from bench.metrics.aggregate_columns import macro_f1_of_counts

    n = len(base)
    size = (n_labels + 1) * n_labels
    rng = np.random.default_rng(stats.SEED)
    joint = base * size + cand
    pairs, observed = np.unique(joint, return_counts=True)
    if stats.use_counts(n, pairs.size):
        drawn = stats.multinomial_counts(rng, observed, stats.BOOTSTRAP_RESAMPLES // 2)
        side = [np.stack([np.bincount(codes, weights=row, minlength=size) for row in drawn])
                for codes in (pairs % size, pairs // size)]
        estimates = macro_f1_of_counts(side[0], n_labels) - macro_f1_of_counts(side[1], n_labels)
        return _difference_outcome("paired bootstrap (corpus)", estimates, alpha, n)
    chunks = []
    for rows in stats.row_chunks(stats.BOOTSTRAP_RESAMPLES // 2, n):
        index = rng.integers(0, n, size=(rows, n))
        offsets = np.arange(rows)[:, None] * size
        counts = [np.bincount((cells[index] + offsets).ravel(), minlength=rows * size).reshape(rows, size)
                  for cells in (cand, base)]
        chunks.append(macro_f1_of_counts(counts[0], n_labels) - macro_f1_of_counts(counts[1], n_labels))
    return _difference_outcome("paired bootstrap (corpus)", np.concatenate(chunks), alpha, n)


def _difference_outcome(test: str, estimates: np.ndarray, alpha: float, n: int) -> Significance:
    low, high = np.percentile(estimates, [alpha / 2 * 100, 100 - alpha / 2 * 100])
    p = _bootstrap_p(estimates, 0.0)
    significant = p < alpha and not (low <= 0 <= high)
    return Significance(test, p, float(low), float(high), "difference", bool(significant), n, n)


def _bootstrap_p(estimates: np.ndarray, null: float) -> float:
    """Two-sided bootstrap p of `null`: twice the smaller tail, never 0 from a finite bootstrap."""
    below, above = int(np.sum(estimates <= null)), int(np.sum(estimates >= null))
    return min(1.0, 2 * (min(below, above) + 1) / (estimates.size + 1))


MIN_N_TIMING_TEST = 5
"""Fewer timing samples than this on a side: untested. (The exact two-sided Mann-Whitney U cannot reach
p < 0.05 below 4 vs 4; 5 a side keeps a single outlier from deciding.)"""


def ratio_test(baseline: Sequence[float], candidate: Sequence[float], alpha: float,
               statistic: Callable[..., Any] = np.median, invert: bool = False) -> Significance:
    """Mann-Whitney U (two-sided; exact where scipy can) plus a seeded bootstrap CI of statistic(candidate) /
    statistic(baseline) from MIN_N_BOOTSTRAP samples a side; significant when p < alpha and the CI (if any)
    excludes 1. Untested below MIN_N_TIMING_TEST samples a side. invert reports the CI of the reciprocal ratio."""
    if len(baseline) < MIN_N_TIMING_TEST or len(candidate) < MIN_N_TIMING_TEST:
        return Significance("insufficient data", significant=False, n_baseline=len(baseline),
                            n_candidate=len(candidate))
    p = float(scipy_stats.mannwhitneyu(candidate, baseline, alternative="two-sided").pvalue)
    p = 1.0 if math.isnan(p) else p
    label = f"ratio of {'medians' if statistic is np.median else 'means'}" + (" (inverse)" if invert else "")
    if min(len(baseline), len(candidate)) < stats.MIN_N_BOOTSTRAP:
        return Significance("mann-whitney", p, ci_of=label, significant=p < alpha, n_baseline=len(baseline),
                            n_candidate=len(candidate))
    low, high = ratio_interval(baseline, candidate, statistic, 1 - alpha)
    low, high = (1 / high, 1 / low) if invert and low > 0 else (low, high)
    return Significance("mann-whitney", p, low, high, label, p < alpha and not (low <= 1 <= high),
                        len(baseline), len(candidate))


def ratio_interval(baseline: Sequence[float], candidate: Sequence[float],
                   statistic: Callable[..., Any] = np.median, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of statistic(candidate) / statistic(baseline), each side resampled (seeded; each
    side sorted first, so the order of the samples does not matter)."""
    rng = np.random.default_rng(stats.SEED)
    base, cand = np.sort(np.asarray(baseline, dtype=float)), np.sort(np.asarray(candidate, dtype=float))
    base_est = _resampled(rng, base, statistic)
    cand_est = _resampled(rng, cand, statistic)
    return _ratio_percentiles(cand_est, base_est, confidence)


def _resampled(rng: np.random.Generator, data: np.ndarray, statistic: Callable[..., Any]) -> np.ndarray:
    """statistic of BOOTSTRAP_RESAMPLES resamples of data, drawn in blocks (the same draws as all at once), or
    for a median or mean of many items with few distinct values, from multinomial counts (stats.COUNTS_FROM_N)."""
    if statistic is np.median:
        return stats.bootstrap_medians(rng, data, stats.BOOTSTRAP_RESAMPLES)
    if statistic is np.mean:
        return stats.bootstrap_means(rng, data, stats.BOOTSTRAP_RESAMPLES)
    return np.concatenate([statistic(rng.choice(data, size=(rows, data.size)), axis=1)
                           for rows in stats.row_chunks(stats.BOOTSTRAP_RESAMPLES, data.size)])


def _ratio_percentiles(numerator: np.ndarray, denominator: np.ndarray, confidence: float) -> tuple[float, float]:
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = numerator / denominator
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return (math.nan, math.nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return (float(low), float(high))


def throughput_samples(cell: CellData) -> np.ndarray | None:
    """(gap_s, ok) pairs of a cell, sorted; None when the cell has none (baselines saved before they existed)."""
    gaps, ok = cell.samples.get(GAP_SAMPLES), cell.samples.get(OK_SAMPLES)
    if not gaps or ok is None or len(gaps) != len(ok):
        return None
    pairs = np.column_stack([np.asarray(gaps, dtype=float), np.asarray(ok, dtype=float)])
    ordered: np.ndarray = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
    return ordered


def throughput_test(baseline: np.ndarray, candidate: np.ndarray, alpha: float, invert: bool) -> Significance:
    """Ratio of throughputs, candidate / baseline, each sum(ok) / sum(gap_s) over its items: the same estimator
    as the summary's tasks/s (successful items / measured wall time), so the change and its interval come from
    the same data. Bootstrap over items (seeded, sorted) from MIN_N_BOOTSTRAP items a side, p = twice the
    smaller tail of the ratio's distribution around 1; untested below. invert: for $ per task (1 / throughput)."""
    n_base, n_cand = len(baseline), len(candidate)
    if min(n_base, n_cand) < stats.MIN_N_BOOTSTRAP:
        return Significance("insufficient data", significant=False, n_baseline=n_base, n_candidate=n_cand)
    rng = np.random.default_rng(stats.SEED)
    base_tps, cand_tps = _throughputs(rng, baseline), _throughputs(rng, candidate)
    num, den = (base_tps, cand_tps) if invert else (cand_tps, base_tps)
    low, high = _ratio_percentiles(num, den, 1 - alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = num / den
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0 or math.isnan(low):
        return Significance("insufficient data", significant=False, n_baseline=n_base, n_candidate=n_cand)
    p = _bootstrap_p(ratios, 1.0)
    label = "ratio of throughputs" + (" (inverse)" if invert else "")
    return Significance("bootstrap (throughput)", p, low, high, label, p < alpha and not (low <= 1 <= high),
                        n_base, n_cand)


def _throughputs(rng: np.random.Generator, pairs: np.ndarray) -> np.ndarray:
    """sum(ok) / sum(gap) of BOOTSTRAP_RESAMPLES resamples of (gap, ok) pairs, drawn in blocks, or from
    multinomial counts of the distinct pairs (stats.COUNTS_FROM_N)."""
    distinct, counts = _distinct_rows(pairs)
    if stats.use_counts(len(pairs), len(distinct)):
        drawn = stats.multinomial_counts(rng, counts, stats.BOOTSTRAP_RESAMPLES).astype(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray((drawn @ distinct[:, 1]) / (drawn @ distinct[:, 0]))
    out = []
    for rows in stats.row_chunks(stats.BOOTSTRAP_RESAMPLES, len(pairs)):
        sample = pairs[rng.integers(0, len(pairs), size=(rows, len(pairs)))]
        with np.errstate(divide="ignore", invalid="ignore"):
            out.append(sample[:, :, 1].sum(axis=1) / sample[:, :, 0].sum(axis=1))
    return np.concatenate(out)


def _distinct_rows(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(pairs, axis=0, return_counts=True); for rows already sorted (throughput_samples'), by comparing
    neighbours instead of sorting again."""
    if len(pairs) < 2 or not _rows_sorted(pairs):
        distinct, counts = np.unique(pairs, axis=0, return_counts=True)
        return distinct, counts
    starts = np.flatnonzero(np.concatenate([[True], np.any(pairs[1:] != pairs[:-1], axis=1)]))
    return pairs[starts], np.diff(np.append(starts, len(pairs)))


def _rows_sorted(pairs: np.ndarray) -> bool:
    """Whether the (gap, ok) rows are in lexicographic order with no NaN."""
    first, second = pairs[:, 0], pairs[:, 1]
    if np.isnan(pairs).any():
        return False
    later = first[1:] > first[:-1]
    tied = first[1:] == first[:-1]
    return bool(np.all(later | (tied & (second[1:] >= second[:-1]))))


def significance_for(metric: str, baseline: CellData, candidate: CellData, alpha: float) -> Significance:
    """Pick the test that fits the metric, from the per-item data of both cells."""
    if metric in baseline.score_names() & candidate.score_names():
        return _item_test(metric, baseline, candidate, alpha)
    if baseline.corpus and candidate.corpus and metric in baseline.corpus.scorers:
        return _corpus_test(metric, baseline.corpus, candidate.corpus, alpha)
    sample = metric.removesuffix("_p50")
    if metric.endswith("_p50") and sample in SAMPLE_METRICS:
        return ratio_test(baseline.samples.get(sample, []), candidate.samples.get(sample, []), alpha)
    if metric in THROUGHPUT_DERIVED:
        base, cand = throughput_samples(baseline), throughput_samples(candidate)
        if base is None or cand is None:
            return Significance("none (no per-item throughput samples)")
        return throughput_test(base, cand, alpha, invert=THROUGHPUT_DERIVED[metric])
    return Significance("none (threshold only)")


def _item_test(metric: str, baseline: CellData, candidate: CellData, alpha: float) -> Significance:
    """McNemar on 0/1 scores, else the paired bootstrap, over the items both cells scored (in item id order; an
    item without the score counts 0.0)."""
    base_at, cand_at = pair(baseline.items.ids, candidate.items.ids)
    base, cand = baseline.items.values(metric, base_at), candidate.items.values(metric, cand_at)
    if bool(np.isin(base, (0.0, 1.0)).all() and np.isin(cand, (0.0, 1.0)).all()):
        return mcnemar(base, cand, alpha)
    return paired_bootstrap(base, cand, alpha)


def _corpus_test(metric: str, baseline: CorpusData, candidate: CorpusData, alpha: float) -> Significance:
    from bench.tasks.scorers import build_scorer

    scorer = build_scorer(baseline.scorers[metric])
    base_at, cand_at = pair(baseline.items.ids, candidate.items.ids)
    if isinstance(scorer, MacroF1) and len(base_at) >= stats.MIN_N_BOOTSTRAP:
        field = scorer.params.field  # type: ignore[attr-defined]
        cells, n_labels = coded_confusion_cells(field, [(baseline.items, base_at), (candidate.items, cand_at)])
        return _macro_f1_cells_bootstrap(cells[0], cells[1], n_labels, alpha)

    def compute(pairs: list[list[Any]]) -> float:
        return scorer.corpus([p[0] for p in pairs], [p[1] for p in pairs])[metric]

    return corpus_bootstrap(compute, baseline.items.pairs(base_at), candidate.items.pairs(cand_at), alpha)


def coded_confusion_cells(field: str | None, sides: list[tuple[CorpusItems, np.ndarray]]) -> tuple[
        list[np.ndarray], int]:
    """confusion_cells of each side's items at the given positions, each distinct value labelled once: the labels
    are those of these items only, sorted, so the cells equal confusion_cells' on the same [prediction,
    reference] pairs."""
    from bench.metrics.aggregate_columns import prediction_label, reference_label

    used = [(items.predictions.codes[at], items.references.codes[at], items) for items, at in sides]
    pred_labels, ref_labels = [], []
    for preds, refs, items in used:
        pred_labels.append(_labels_of(preds, items.predictions.values, lambda v: prediction_label(v, field)))
        ref_labels.append(_labels_of(refs, items.references.values, lambda v: reference_label(v, field)))
    present = [{labels[c] for c in np.unique(codes).tolist()} for codes, labels in
               zip([u[0] for u in used] + [u[1] for u in used], pred_labels + ref_labels, strict=True)]
    labels = sorted(set().union(*present) - {None})
    index = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    cells = [np.array([n if p is None else index[p] for p in preds_of], dtype=np.int64)[preds] * n
             + np.array([index.get(r, 0) for r in refs_of], dtype=np.int64)[refs]
             for (preds, refs, _), preds_of, refs_of in zip(used, pred_labels, ref_labels, strict=True)]
    return cells, n


def _labels_of(codes: np.ndarray, values: list[Any], label: Callable[[Any], str | None]) -> list[str | None]:
    """The label of each distinct value that `codes` uses (None for the others, which no item here has)."""
    wanted = set(np.unique(codes).tolist())
    return [label(value) if code in wanted else None for code, value in enumerate(values)]
