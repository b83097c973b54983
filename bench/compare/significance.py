"""Significance tests on per-item records: McNemar, paired and corpus bootstraps, ratio of medians."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from bench.compare.constants import E2E_DERIVED, SAMPLE_METRICS
from bench.compare.model import CellData, CorpusData
from bench.metrics import stats

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


def mcnemar(baseline: Sequence[float], candidate: Sequence[float], alpha: float) -> Significance:
    """Exact McNemar test on paired 0/1 outcomes: binomial test on the discordant pairs."""
    worse = sum(1 for b, c in zip(baseline, candidate, strict=True) if b > c)
    better = sum(1 for b, c in zip(baseline, candidate, strict=True) if c > b)
    p = float(scipy_stats.binomtest(worse, worse + better, 0.5).pvalue) if worse + better else 1.0
    return Significance("mcnemar", p, significant=p < alpha, n_baseline=len(baseline), n_candidate=len(candidate))


def paired_bootstrap(baseline: Sequence[float], candidate: Sequence[float], alpha: float) -> Significance:
    """Bootstrap over items of the mean paired difference (candidate - baseline)."""
    diffs = np.asarray(candidate, dtype=float) - np.asarray(baseline, dtype=float)
    if diffs.size < 2 or np.all(diffs == diffs[0]):
        return _degenerate_difference(float(diffs.mean()) if diffs.size else 0.0, len(baseline), alpha)
    rng = np.random.default_rng(stats.SEED)
    estimates = rng.choice(diffs, size=(stats.BOOTSTRAP_RESAMPLES, diffs.size), replace=True).mean(axis=1)
    return _difference_outcome("paired bootstrap", estimates, alpha, len(baseline))


def corpus_bootstrap(metric: Callable[[list[list[Any]]], float], baseline: list[list[Any]],
                     candidate: list[list[Any]], alpha: float) -> Significance:
    """Paired bootstrap of a corpus-level metric's difference: the same resampled items on both sides."""
    n = len(baseline)
    if n < 2:
        return _degenerate_difference(metric(candidate) - metric(baseline) if n else 0.0, n, alpha)
    rng = np.random.default_rng(stats.SEED)
    rows = rng.integers(0, n, size=(stats.BOOTSTRAP_RESAMPLES // 2, n))
    estimates = np.array([metric([candidate[i] for i in row]) - metric([baseline[i] for i in row]) for row in rows])
    return _difference_outcome("paired bootstrap (corpus)", estimates, alpha, n)


def _difference_outcome(test: str, estimates: np.ndarray, alpha: float, n: int) -> Significance:
    low, high = np.percentile(estimates, [alpha / 2 * 100, 100 - alpha / 2 * 100])
    below, above = int(np.sum(estimates <= 0)), int(np.sum(estimates >= 0))
    p = min(1.0, 2 * (min(below, above) + 1) / (estimates.size + 1))  # never 0 from a finite bootstrap
    significant = p < alpha and not (low <= 0 <= high)
    return Significance(test, p, float(low), float(high), "difference", bool(significant), n, n)


def _degenerate_difference(difference: float, n: int, alpha: float) -> Significance:
    """Every resample gives the same difference: significant only if it is non-zero on enough items."""
    significant = difference != 0 and n >= 2
    return Significance("paired bootstrap", 0.0 if significant else 1.0, difference, difference, "difference",
                        significant, n, n)


def ratio_test(baseline: Sequence[float], candidate: Sequence[float], alpha: float,
               statistic: Callable[..., Any] = np.median, invert: bool = False) -> Significance:
    """Mann-Whitney U (two-sided) plus a seeded bootstrap CI of statistic(candidate) / statistic(baseline);
    significant when p < alpha and the CI excludes 1. invert reports the CI of the reciprocal ratio."""
    if len(baseline) < 2 or len(candidate) < 2:
        return Significance("insufficient data", significant=False, n_baseline=len(baseline),
                            n_candidate=len(candidate))
    p = float(scipy_stats.mannwhitneyu(candidate, baseline, alternative="two-sided").pvalue)
    p = 1.0 if math.isnan(p) else p
    low, high = ratio_interval(baseline, candidate, statistic, 1 - alpha)
    low, high = (1 / high, 1 / low) if invert and low > 0 else (low, high)
    label = f"ratio of {'medians' if statistic is np.median else 'means'}" + (" (inverse)" if invert else "")
    return Significance("mann-whitney", p, low, high, label, p < alpha and not (low <= 1 <= high),
                        len(baseline), len(candidate))


def ratio_interval(baseline: Sequence[float], candidate: Sequence[float],
                   statistic: Callable[..., Any] = np.median, confidence: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of statistic(candidate) / statistic(baseline), each side resampled (seeded)."""
    rng = np.random.default_rng(stats.SEED)
    base, cand = np.asarray(baseline, dtype=float), np.asarray(candidate, dtype=float)
    base_est = statistic(rng.choice(base, size=(stats.BOOTSTRAP_RESAMPLES, base.size)), axis=1)
    cand_est = statistic(rng.choice(cand, size=(stats.BOOTSTRAP_RESAMPLES, cand.size)), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = cand_est / base_est
    ratios = ratios[np.isfinite(ratios)]
    if ratios.size == 0:
        return (math.nan, math.nan)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return (float(low), float(high))


def significance_for(metric: str, baseline: CellData, candidate: CellData, alpha: float) -> Significance:
    """Pick the test that fits the metric, from the per-item data of both cells."""
    if metric in baseline.score_names() & candidate.score_names():
        return _item_test(metric, baseline, candidate, alpha)
    if baseline.corpus and candidate.corpus and metric in baseline.corpus.scorers:
        return _corpus_test(metric, baseline.corpus, candidate.corpus, alpha)
    sample = metric.removesuffix("_p50")
    if metric.endswith("_p50") and sample in SAMPLE_METRICS:
        return ratio_test(baseline.samples.get(sample, []), candidate.samples.get(sample, []), alpha)
    if metric in E2E_DERIVED:
        return ratio_test(baseline.samples.get("e2e_latency_s", []), candidate.samples.get("e2e_latency_s", []),
                          alpha, np.mean, invert=E2E_DERIVED[metric])
    return Significance("none (threshold only)")


def _item_test(metric: str, baseline: CellData, candidate: CellData, alpha: float) -> Significance:
    common = sorted(set(baseline.items) & set(candidate.items))
    base = [baseline.items[i].get(metric, 0.0) for i in common]
    cand = [candidate.items[i].get(metric, 0.0) for i in common]
    if all(v in (0.0, 1.0) for v in base + cand):
        return mcnemar(base, cand, alpha)
    return paired_bootstrap(base, cand, alpha)


def _corpus_test(metric: str, baseline: CorpusData, candidate: CorpusData, alpha: float) -> Significance:
    from bench.tasks.scorers import build_scorer

    scorer = build_scorer(baseline.scorers[metric])
    common = sorted(set(baseline.items) & set(candidate.items))

    def compute(pairs: list[list[Any]]) -> float:
        return scorer.corpus([p[0] for p in pairs], [p[1] for p in pairs])[metric]

    return corpus_bootstrap(compute, [baseline.items[i] for i in common], [candidate.items[i] for i in common],
                            alpha)
