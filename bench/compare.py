"""Baseline vs candidate: per-cell metric changes, significance tests on the per-item records, `--fail-on` rules.

Pure: comparables in, a CompareResult out (plus renderers that build text or rich objects, never print).
A rule fails a cell only when the change is beyond its threshold AND significant at alpha, so run-to-run
noise on a busy machine does not raise false alarms.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict
from rich.table import Table
from scipy import stats as scipy_stats

from bench.errors import BenchError
from bench.metrics import stats

SAMPLE_METRICS = ("e2e_latency_s", "ttft_s", "tpot_s", "decode_tps", "prefill_tps")
CELL_METRICS = ("tasks_per_s", "usd_per_1000_tasks", "peak_rss_gb")
E2E_DERIVED = {"tasks_per_s": True, "usd_per_1000_tasks": False}  # metric -> inverse of mean e2e latency?
ALIASES = {"decode_tps": "decode_tps_p50", "ttft": "ttft_s_p50", "latency": "e2e_latency_s_p50",
           "usd_per_1000": "usd_per_1000_tasks"}
PRIMARY_ALIAS = "accuracy"
GROUP_ORDER = {"quality": 0, "performance": 1, "cost": 2, "memory": 3}
RULE_PATTERN = re.compile(r"^\s*(?P<metric>[A-Za-z0-9_.\-]+)\s*:\s*(?P<sign>[+-])\s*"
                          r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>pp|%)\s*$")
RULE_HINT = ('a rule is METRIC:±Npp (percentage points, for ratios such as accuracy) or METRIC:±N% (relative), '
             'e.g. "accuracy:-2pp", "latency:+10%", "decode_tps:-10%"')


class CompareError(BenchError):
    """Bad input to a comparison: mismatched runs, an invalid rule, an unreadable baseline (exit code 2)."""

    exit_code = 2


# --- what is compared ------------------------------------------------------------------------------------------

class MetricValue(BaseModel):
    """A cell's summary figure for one metric, as in summary.json."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    value: float | None
    higher_is_better: bool
    unit: str
    group: str


class CorpusData(BaseModel):
    """What a corpus-level metric (macro-F1) needs to be recomputed on resampled items."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scorers: dict[str, dict[str, Any]]  # metric -> scorer entry of the suite ({name: ..., params})
    items: dict[str, list[Any]]  # item_id -> [prediction, reference]


class CellData(BaseModel):
    """One model x task: summary figures, per-item scores (repetition 0) and per-item timing samples (status ok)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model_id: str
    task_id: str
    metrics: dict[str, MetricValue]
    items: dict[str, dict[str, float]] = {}
    samples: dict[str, list[float]] = {}
    corpus: CorpusData | None = None

    @property
    def key(self) -> str:
        return f"{self.model_id}/{self.task_id}"

    def score_names(self) -> set[str]:
        return {name for scores in self.items.values() for name in scores}


class Comparable(BaseModel):
    """Everything a comparison needs from one side: a run directory or a saved baseline file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    run_id: str
    status: str
    identity: dict[str, Any]
    primary_metrics: dict[str, str]
    cells: dict[str, CellData]
    source: str = ""


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


# --- rows -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    """One metric of one cell: both values, the change, its direction and its significance."""

    model_id: str
    task_id: str
    metric: str
    unit: str
    higher_is_better: bool
    baseline: float | None
    candidate: float | None
    significance: Significance

    @property
    def cell(self) -> str:
        return f"{self.model_id}/{self.task_id}"

    @property
    def abs_change(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        return self.candidate - self.baseline

    @property
    def rel_change(self) -> float | None:
        change = self.abs_change
        if change is None or self.baseline is None:
            return None
        if self.baseline == 0:
            return 0.0 if change == 0 else math.copysign(math.inf, change)
        return change / abs(self.baseline)

    @property
    def direction(self) -> str:
        change = self.abs_change
        if change is None:
            return "n/a"
        if change == 0:
            return "same"
        return "better" if (change > 0) == self.higher_is_better else "worse"


def compare_cells(baseline: CellData, candidate: CellData, alpha: float) -> list[Comparison]:
    names = sorted(set(baseline.metrics) & set(candidate.metrics),
                   key=lambda m: (GROUP_ORDER.get(baseline.metrics[m].group, 9), m))
    return [_row(name, baseline, candidate, alpha) for name in names]


def _row(metric: str, baseline: CellData, candidate: CellData, alpha: float) -> Comparison:
    base, cand = baseline.metrics[metric], candidate.metrics[metric]
    return Comparison(baseline.model_id, baseline.task_id, metric, base.unit, base.higher_is_better, base.value,
                      cand.value, significance_for(metric, baseline, candidate, alpha))


# --- rules ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """`METRIC:±N(pp|%)`: the sign says which way is bad, N how far it may go."""

    text: str
    metric: str
    sign: int
    amount: float
    unit: str

    def target(self, task_id: str, primary_metrics: dict[str, str]) -> str:
        """The metric name this rule checks in a cell of task_id (aliases resolved)."""
        if self.metric == PRIMARY_ALIAS:
            return primary_metrics.get(task_id, PRIMARY_ALIAS)
        return ALIASES.get(self.metric, self.metric)

    def breached(self, row: Comparison) -> bool:
        """Whether the change goes the bad way by more than the threshold (significance aside)."""
        if self.unit == "pp" and row.unit != "ratio":
            raise CompareError(f"rule '{self.text}': pp (percentage points) is for ratios between 0 and 1, "
                               f"but {row.metric} is in {row.unit}; use % instead")
        change = row.abs_change if self.unit == "pp" else row.rel_change
        return change is not None and change * 100 * self.sign > self.amount


def parse_rule(text: str) -> Rule:
    match = RULE_PATTERN.match(text)
    if not match:
        raise CompareError(f"invalid --fail-on rule '{text}' ({RULE_HINT})")
    sign = 1 if match["sign"] == "+" else -1
    return Rule(text.strip(), match["metric"], sign, float(match["amount"]), match["unit"])


def parse_rules(texts: Sequence[str]) -> tuple[Rule, ...]:
    return tuple(parse_rule(text) for text in texts)


@dataclass(frozen=True)
class Failure:
    rule: str
    row: Comparison


def evaluate_rules(rules: Sequence[Rule], rows: Sequence[Comparison],
                   primary_metrics: dict[str, str]) -> list[Failure]:
    """A rule fails a cell when the change is beyond its threshold and significant (or untestable)."""
    failures = []
    for rule in rules:
        matched = [row for row in rows if row.metric == rule.target(row.task_id, primary_metrics)]
        if not matched:
            known = sorted({row.metric for row in rows} | set(ALIASES) | {PRIMARY_ALIAS})
            raise CompareError(f"rule '{rule.text}': no metric '{rule.metric}' in these runs "
                               f"(known: {', '.join(known)})")
        failures += [Failure(rule.text, row) for row in matched
                     if rule.breached(row) and row.significance.significant is not False]
    return failures


# --- the comparison -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CompareOptions:
    alpha: float = 0.05
    allow_mismatch: bool = False
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class CompareResult:
    baseline: str
    candidate: str
    alpha: float
    rules: tuple[Rule, ...]
    rows: list[Comparison]
    failures: list[Failure]
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failures else 0


def compare(baseline: Comparable, candidate: Comparable, options: CompareOptions | None = None) -> CompareResult:
    """Every metric of every cell present on both sides, with its test, and the rules' failures."""
    options = options or CompareOptions()
    if not 0 < options.alpha < 1:
        raise CompareError(f"--alpha must be between 0 and 1, got {options.alpha}")
    mismatches = identity_mismatches(baseline, candidate)
    if mismatches and not options.allow_mismatch:
        raise CompareError("cannot compare these runs: " + "; ".join(mismatches)
                           + " (use --allow-mismatch to compare anyway)")
    rows = [row for key in sorted(set(baseline.cells) & set(candidate.cells))
            for row in compare_cells(baseline.cells[key], candidate.cells[key], options.alpha)]
    primary = {**baseline.primary_metrics, **candidate.primary_metrics}
    failures = evaluate_rules(options.rules, rows, primary)
    return CompareResult(label(baseline), label(candidate), options.alpha, options.rules, rows, failures, mismatches,
                         identity_notes(baseline, candidate))


def label(side: Comparable) -> str:
    return side.source or side.run_id


def identity_mismatches(baseline: Comparable, candidate: Comparable) -> list[str]:
    """What differs between the two sides' suite name, task versions, hardware, cells and completeness.

    An edited suite file under the same name (a new prompt, other engine settings) is exactly what CI
    compares, so a different suite sha256 is a note (see identity_notes), not a refusal.
    """
    base, cand = baseline.identity, candidate.identity
    suite_names = ({"name": base.get("suite", {}).get("name")}, {"name": cand.get("suite", {}).get("name")})
    problems = _diff_dicts("suite", *suite_names)
    problems += _diff_dicts("task version", base.get("tasks", {}), cand.get("tasks", {}))
    problems += _diff_dicts("hardware", base.get("hardware", {}), cand.get("hardware", {}))
    problems += _only_in("cells", set(baseline.cells), set(candidate.cells))
    problems += [f"{name} run is {side.status}, not complete" for name, side in
                 (("baseline", baseline), ("candidate", candidate)) if side.status != "complete"]
    return problems


def identity_notes(baseline: Comparable, candidate: Comparable) -> list[str]:
    base = baseline.identity.get("suite", {}).get("sha256")
    cand = candidate.identity.get("suite", {}).get("sha256")
    return [f"the suite file changed (sha256 {str(base)[:12]} -> {str(cand)[:12]}); cells are matched by "
            "model and task id"] if base != cand else []


def _diff_dicts(what: str, base: dict[str, Any], cand: dict[str, Any]) -> list[str]:
    return [f"{what} {key}: {base.get(key)!r} (baseline) vs {cand.get(key)!r} (candidate)"
            for key in sorted(set(base) | set(cand)) if base.get(key) != cand.get(key)]


def _only_in(what: str, base: set[str], cand: set[str]) -> list[str]:
    problems = [f"{what} only in the baseline: {', '.join(sorted(base - cand))}"] if base - cand else []
    return problems + ([f"{what} only in the candidate: {', '.join(sorted(cand - base))}"] if cand - base else [])


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
    if failed:
        return "FAIL"
    if row.significance.significant is None:
        return f"{row.direction} (untested)"
    return f"{row.direction}{' (significant)' if row.significance.significant else ''}"


def table_rows(result: CompareResult) -> list[tuple[str, ...]]:
    """One tuple of strings per comparison (columns of TABLE_HEADER)."""
    failed = {id(f.row) for f in result.failures}
    return [(row.cell, row.metric, format_value(row.baseline, row.unit), format_value(row.candidate, row.unit),
             format_change(row), _format_p(row.significance.p_value), format_ci(row.significance),
             verdict(row, id(row) in failed)) for row in result.rows]


def _format_p(p: float | None) -> str:
    return "" if p is None else f"{p:.3g}"


def rich_table(result: CompareResult) -> Table:
    table = Table(title=f"{result.baseline} → {result.candidate} (α = {result.alpha})")
    for name in TABLE_HEADER:
        table.add_column(name, justify="right" if name in ("baseline", "candidate", "change", "p") else "left")
    for cells in table_rows(result):
        style = "bold red" if cells[-1] == "FAIL" else ("yellow" if cells[-1].startswith("worse (sig") else None)
        table.add_row(*cells, style=style)
    return table


def summary_line(result: CompareResult) -> str:
    n = len(result.failures)
    return "✅ no regression" if n == 0 else f"❌ {n} regression{'s' if n != 1 else ''}"


def result_json(result: CompareResult) -> dict[str, Any]:
    return {"exit_code": result.exit_code, "summary": summary_line(result), "alpha": result.alpha,
            "baseline": result.baseline, "candidate": result.candidate, "mismatches": result.mismatches,
            "rules": [rule.text for rule in result.rules],
            "failures": [{"rule": f.rule, "cell": f.row.cell, "metric": f.row.metric} for f in result.failures],
            "rows": [_row_json(row) for row in result.rows]}


def _row_json(row: Comparison) -> dict[str, Any]:
    sig = row.significance
    return {"model_id": row.model_id, "task_id": row.task_id, "metric": row.metric, "unit": row.unit,
            "higher_is_better": row.higher_is_better, "baseline": row.baseline, "candidate": row.candidate,
            "abs_change": row.abs_change, "rel_change": _finite(row.rel_change), "direction": row.direction,
            "test": sig.test, "p_value": sig.p_value, "ci_low": _finite(sig.ci_low), "ci_high": _finite(sig.ci_high),
            "ci_of": sig.ci_of, "significant": sig.significant, "n_baseline": sig.n_baseline,
            "n_candidate": sig.n_candidate}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def result_markdown(result: CompareResult) -> str:
    """A block for a pull-request comment: summary line, failing rows, then every row in <details>."""
    lines = [f"### bench compare: {summary_line(result)}", "",
             f"Baseline `{result.baseline}` vs candidate `{result.candidate}`; α = {result.alpha}; rules: "
             + (", ".join(f"`{rule.text}`" for rule in result.rules) or "none"), ""]
    lines += [f"> ⚠️ compared despite a mismatch: {problem}" for problem in result.mismatches]
    if result.failures:
        lines += ["| rule | " + " | ".join(TABLE_HEADER[:-1]) + " |", "|---" * len(TABLE_HEADER) + "|"]
        rows = {id(row): cells for row, cells in zip(result.rows, table_rows(result), strict=True)}
        lines += [f"| `{f.rule}` | " + " | ".join(_md(c) for c in rows[id(f.row)][:-1]) + " |" for f in result.failures]
        lines.append("")
    lines += [f"<details><summary>All {len(result.rows)} comparisons</summary>", "",
              "| " + " | ".join(TABLE_HEADER) + " |", "|---" * len(TABLE_HEADER) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in cells) + " |" for cells in table_rows(result)]
    lines += ["", "Significance: McNemar (0/1 scores), paired bootstrap (continuous and corpus scores), "
              "Mann-Whitney U with a bootstrap CI of the ratio (timings).", "</details>", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return text.replace("|", "\\|")
