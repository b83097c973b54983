"""Comparison rows, --fail-on rules and the comparison of two sides."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bench.compare.constants import ALIASES, DEFAULT_RULES, GROUP_ORDER, PRIMARY_ALIAS, RULE_HINT, RULE_PATTERN
from bench.compare.model import CellData, Comparable, CompareError
from bench.compare.significance import Significance, significance_for

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
    contended: bool = False
    """A speed or cost figure of a cell measured under contention on either side (--allow-contended)."""

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

    @property
    def significantly_worse(self) -> bool:
        return self.direction == "worse" and self.significance.significant is True


def compare_cells(baseline: CellData, candidate: CellData, alpha: float) -> list[Comparison]:
    names = sorted(set(baseline.metrics) & set(candidate.metrics),
                   key=lambda m: (GROUP_ORDER.get(baseline.metrics[m].group, 9), m))
    return [_row(name, baseline, candidate, alpha) for name in names]


SPEED_GROUPS = ("performance", "cost")
"""Figures a contended machine distorts: timings, throughput and what is priced from them."""


def _row(metric: str, baseline: CellData, candidate: CellData, alpha: float) -> Comparison:
    base, cand = baseline.metrics[metric], candidate.metrics[metric]
    contended = base.group in SPEED_GROUPS and bool(baseline.contended or candidate.contended)
    return Comparison(baseline.model_id, baseline.task_id, metric, base.unit, base.higher_is_better, base.value,
                      cand.value, significance_for(metric, baseline, candidate, alpha), contended)


# --- rules ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """`METRIC:±N(pp|%)`: the sign says which way is bad, N how far it may go."""

    text: str
    metric: str
    sign: int
    amount: float
    unit: str
    default: bool = False
    """A rule of the default policy: it fails only on a significant change, and is skipped where its metric is
    absent."""

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


def default_rules() -> tuple[Rule, ...]:
    """The policy applied without --fail-on (constants.DEFAULT_RULES)."""
    return tuple(replace(parse_rule(text), default=True) for text in DEFAULT_RULES)


@dataclass(frozen=True)
class Failure:
    rule: str
    row: Comparison


def evaluate_rules(rules: Sequence[Rule], rows: Sequence[Comparison],
                   primary_metrics: dict[str, str]) -> list[Failure]:
    """A rule fails a cell when the change is beyond its threshold and significant (or, for a --fail-on rule,
    untestable). Default-policy rules need a significant change and skip metrics these runs do not have."""
    failures = []
    for rule in rules:
        matched = [row for row in rows if row.metric == rule.target(row.task_id, primary_metrics)]
        if rule.default:
            failures += [Failure(rule.text, row) for row in matched
                         if row.significance.significant is True and (rule.unit != "pp" or row.unit == "ratio")
                         and rule.breached(row)]
            continue
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
    """rules None: the default policy (default_rules()); allow_contended: judge speed on contended cells."""

    alpha: float = 0.05
    allow_mismatch: bool = False
    rules: tuple[Rule, ...] | None = None
    allow_contended: bool = False


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

    @property
    def policy(self) -> str:
        return "default" if self.rules and all(rule.default for rule in self.rules) else "--fail-on"

    @property
    def significantly_worse(self) -> list[Comparison]:
        """Rows that got significantly worse, whether or not a rule failed them."""
        return [row for row in self.rows if row.significantly_worse]

    @property
    def untested_worse(self) -> list[Comparison]:
        """Rows that look worse but could not be tested (too few samples, or no test for the metric)."""
        return [row for row in self.rows if row.direction == "worse" and (
            row.significance.significant is None or row.significance.test == "insufficient data")]


def compare(baseline: Comparable, candidate: Comparable, options: CompareOptions | None = None) -> CompareResult:
    """Every metric of every cell present on both sides, with its test, and the rules' failures."""
    options = options or CompareOptions()
    if not 0 < options.alpha < 1:
        raise CompareError(f"--alpha must be between 0 and 1, got {options.alpha}")
    mismatches = identity_mismatches(baseline, candidate)
    if mismatches and not options.allow_mismatch:
        raise CompareError("cannot compare these runs: " + "; ".join(mismatches)
                           + " (use --allow-mismatch to compare anyway)")
    contended = contention_problems(baseline, candidate)
    if contended and not options.allow_contended:
        raise CompareError("cannot judge speed or cost: " + "; ".join(contended) + ". Rerun on a quiet machine, "
                           "or pass --allow-contended to compare anyway (those rows are then marked 'contended')")
    rows = [row for key in sorted(set(baseline.cells) & set(candidate.cells))
            for row in compare_cells(baseline.cells[key], candidate.cells[key], options.alpha)]
    primary = {**baseline.primary_metrics, **candidate.primary_metrics}
    rules = default_rules() if options.rules is None else options.rules
    failures = evaluate_rules(rules, rows, primary)
    notes = identity_notes(baseline, candidate) + [f"speed and cost judged despite contention (--allow-contended): "
                                                   f"{problem}" for problem in contended]
    return CompareResult(label(baseline), label(candidate), options.alpha, rules, rows, failures, mismatches, notes)


def contention_problems(baseline: Comparable, candidate: Comparable) -> list[str]:
    """'cell X measured under contention in the candidate: ...' for each compared cell flagged on either side."""
    problems = []
    for key in sorted(set(baseline.cells) & set(candidate.cells)):
        for name, side in (("baseline", baseline), ("candidate", candidate)):
            reason = side.cells[key].contended
            if reason:
                problems.append(f"cell {key} was measured under contention in the {name} ({reason})")
    return problems


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
    problems += item_gaps(baseline, candidate)
    problems += [f"{name} run is {side.status}, not complete" for name, side in
                 (("baseline", baseline), ("candidate", candidate)) if side.status != "complete"]
    return problems


def item_gaps(baseline: Comparable, candidate: Comparable) -> list[str]:
    """Cells both sides have whose evaluated items differ: a side that lacks items (a partial or filtered run)
    shows figures over other items than the other side's, so its changes are not comparable."""
    import pyarrow.compute as pc

    problems = []
    for key in sorted(set(baseline.cells) & set(candidate.cells)):
        base, cand = baseline.cells[key].items.ids, candidate.cells[key].items.ids
        only_base = len(base) - int(pc.sum(pc.is_in(base, value_set=cand)).as_py() or 0) if len(base) else 0
        only_cand = len(cand) - int(pc.sum(pc.is_in(cand, value_set=base)).as_py() or 0) if len(cand) else 0
        if only_base or only_cand:
            problems.append(f"cell {key}: {only_base} of the baseline's {len(base)} items are missing from the "
                            f"candidate and {only_cand} of the candidate's {len(cand)} from the baseline")
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
