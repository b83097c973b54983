"""Slices: a cell's metrics per value of one item tag (the datasets' `tags`: priority, language, customer tier),
and a test of each slice against the rest of the cell's items.

Per slice: its number of items, every scorer's metric with its 95% CI (computed exactly as the cell's own rows,
bench.metrics.aggregate_columns.quality_rows), the error rate and the end-to-end latency (median with its exact
CI, p95). Records without the tag (or with an empty value) form their own slice, NONE_VALUE, so every item is
counted once.

The test, per slice, of its item scores against the complement's (two-sided, on the task's primary item score):
- every score 0 or 1: Fisher's exact test of the 2x2 table (slice / rest x right / wrong). It is exact at any n
  (conditional on the margins), where a chi-square or z-test is not at small n, and scipy computes it at any n.
- other scores (a mean of fields, ROUGE): a permutation test of the difference in means (exact when the
  slice's arrangements number at most PERMUTATIONS, else PERMUTATIONS seeded random ones), no distribution
  assumed; above MAX_PERMUTATION_N items, Welch's t-test (the permutation distribution is then normal).
The p-values of one cell's slices are corrected for their number with Holm–Bonferroni (Holm 1979, "A simple
sequentially rejective multiple test procedure", Scand. J. Statist. 6:65–70), which controls the family-wise
error rate at ALPHA like Bonferroni and is uniformly more powerful. A slice is flagged when its corrected
p-value is below ALPHA and its mean is below the rest's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy import stats

from bench.metrics.aggregate import CellIdent, MetricRow, _distribution_rows
from bench.metrics.aggregate_columns import e2e_s, present, quality_rows
from bench.metrics.columns import RecordColumns
from bench.metrics.records import FAILURE_KINDS
from bench.metrics.stats import SEED
from bench.suite.spec import TaskSpec

NONE_VALUE = "(none)"
"""The slice of the records that do not carry the tag (or carry it empty)."""
ALPHA = 0.05
PERMUTATIONS = 9999
MAX_PERMUTATION_N = 20_000
LEFT_OUT = {"parse_failure_rate", *FAILURE_KINDS}
"""Cell rows a slice does not repeat (the report's failure columns); the scorers' metrics and error_rate stay."""


@dataclass(frozen=True)
class SliceTest:
    """A slice's item scores against the rest's: `method` fisher_exact | permutation | welch_t, raw two-sided
    p-value and (set by holm_adjust) the Holm-adjusted one."""

    metric: str
    method: str
    slice_mean: float
    rest_mean: float
    p_value: float
    p_holm: float | None = None


@dataclass(frozen=True)
class Slice:
    """One value of one tag in one cell: its item count, metric rows and its test (None without a complement)."""

    ident: CellIdent
    tag: str
    value: str
    n: int
    rows: list[MetricRow] = field(default_factory=list)
    test: SliceTest | None = None

    @property
    def flagged(self) -> bool:
        """Significantly below the rest after the correction (ALPHA)."""
        t = self.test
        return t is not None and t.p_holm is not None and t.p_holm < ALPHA and t.slice_mean < t.rest_mean

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: identity, tag, value, n, metrics by name (value, CI, n, unit), test and flag."""
        metrics = {r.metric: {"value": r.value, "ci_low": r.ci_low, "ci_high": r.ci_high, "n": r.n, "unit": r.unit}
                   for r in self.rows}
        test = None if self.test is None else vars(self.test).copy()
        return {**self.ident, "tag": self.tag, "value": self.value, "n": self.n, "metrics": metrics, "test": test,
                "flagged": self.flagged}


def tag_values(cols: RecordColumns, tag: str) -> np.ndarray:
    """Each row's value of `tag` as text (NONE_VALUE where a record lacks it or has it empty)."""
    if cols.tags is None:
        return np.full(len(cols), NONE_VALUE, dtype=object)
    codes, texts = cols.codes_of("tags")
    values = [_value(tags, tag) for tags in cols.parse(texts)]
    return np.array(values, dtype=object)[codes] if len(cols) else np.array([], dtype=object)


def _value(tags: Any, tag: str) -> str:
    value = tags.get(tag) if isinstance(tags, dict) else None
    return NONE_VALUE if value is None or str(value) == "" else str(value)


def tag_names(cols: RecordColumns) -> set[str]:
    """Every tag some record carries with a non-empty value."""
    if cols.tags is None:
        return set()
    _, texts = cols.codes_of("tags")
    return {k for tags in cols.parse(texts) if isinstance(tags, dict) for k, v in tags.items() if str(v) != ""}


def cell_slices(task: TaskSpec, cols: RecordColumns, tag: str, ident: CellIdent, metric: str) -> list[Slice]:
    """One cell's slices by `tag` (values sorted, NONE_VALUE last), each tested on item score `metric` against
    the rest of the cell, Holm-corrected over the cell's tested slices."""
    cols = cols.sorted()
    values = tag_values(cols, tag)
    first = cols.repetition == 0
    scores = cols.score(metric, 0.0)[first]
    names = sorted(set(values.tolist()), key=lambda v: (v == NONE_VALUE, v))
    found = []
    for name in names:
        inside = values == name
        rows = [r for r in quality_rows(task, cols.take(inside & first), ident) if r.metric not in LEFT_OUT]
        latency = e2e_s(cols.take(inside & cols.ok))
        rows += _distribution_rows("e2e_latency_s", present(latency), "s", False, ident)
        test = compare_scores(metric, scores[inside[first]], scores[~inside[first]]) if len(names) > 1 else None
        found.append(Slice(ident, tag, name, int((inside & first).sum()), rows, test))
    return holm_adjust(found)


def compare_scores(metric: str, inside: np.ndarray, rest: np.ndarray) -> SliceTest | None:
    """Two-sided test of the slice's scores against the rest's (module docstring); None if either is empty."""
    if not inside.size or not rest.size:
        return None
    binary = bool(np.isin(inside, (0.0, 1.0)).all() and np.isin(rest, (0.0, 1.0)).all())
    if binary:
        method, p = "fisher_exact", fisher_p(inside, rest)
    elif inside.size + rest.size > MAX_PERMUTATION_N:
        method, p = "welch_t", float(stats.ttest_ind(inside, rest, equal_var=False).pvalue)
    else:
        method, p = "permutation", permutation_p(inside, rest)
    p = 1.0 if np.isnan(p) else p  # no variance on either side: nothing to tell apart
    return SliceTest(metric, method, float(inside.mean()), float(rest.mean()), min(p, 1.0))


def fisher_p(inside: np.ndarray, rest: np.ndarray) -> float:
    """Fisher's exact two-sided p-value of [[slice right, slice wrong], [rest right, rest wrong]]."""
    table = [[int(inside.sum()), int(inside.size - inside.sum())], [int(rest.sum()), int(rest.size - rest.sum())]]
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def permutation_p(inside: np.ndarray, rest: np.ndarray) -> float:
    """Two-sided permutation test: the share of arrangements whose |mean(slice) - mean(rest)| is at least the
    observed one (scipy.stats.permutation_test on the absolute difference, alternative "greater"; exact when
    the arrangements number at most PERMUTATIONS, else that many seeded ones, p = (hits + 1) / (draws + 1)).
    scipy's own two-sided option doubles the smaller one-sided p instead, which differs for unequal sizes."""
    def distance(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
        return np.asarray(np.abs(np.mean(a, axis=axis) - np.mean(b, axis=axis)))

    result = stats.permutation_test((inside, rest), distance, permutation_type="independent", vectorized=True,
                                    n_resamples=PERMUTATIONS, alternative="greater", rng=SEED)
    return float(result.pvalue)


def holm_adjust(slices: list[Slice]) -> list[Slice]:
    """The slices with p_holm set on their tests: Holm's step-down adjusted p-values over the tested ones."""
    tested = [i for i, s in enumerate(slices) if s.test is not None]
    adjusted = holm([slices[i].test.p_value for i in tested])  # type: ignore[union-attr]
    out = list(slices)
    for i, p in zip(tested, adjusted, strict=True):
        out[i] = replace(slices[i], test=replace(slices[i].test, p_holm=p))  # type: ignore[type-var]
    return out


def holm(p_values: list[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order: sorted ascending, the i-th (from 0) of m is
    max over j <= i of min(1, (m - j) p_(j)) (Holm 1979)."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [0.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def tested_metric(primary: str, cols: RecordColumns) -> str | None:
    """The item score a slice is tested on: the task's primary metric when it is an item score, else (a corpus
    metric such as macro-F1) the first item score recorded; None when the cell has no score."""
    if primary in cols.scores:
        return primary
    return next(iter(cols.scores), None)
