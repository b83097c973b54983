"""Baseline vs candidate: per-cell metric changes, significance tests on the per-item records, `--fail-on` rules.

Pure: comparables in, a CompareResult out (plus renderers that build text or rich objects, never print).
A rule fails a cell only when the change is beyond its threshold AND significant at alpha, so run-to-run
noise on a busy machine does not raise false alarms.
"""

from bench.compare.constants import (
    ALIASES,
    CELL_METRICS,
    DEFAULT_RULES,
    GAP_SAMPLES,
    GROUP_ORDER,
    OK_SAMPLES,
    PRIMARY_ALIAS,
    RULE_HINT,
    RULE_PATTERN,
    SAMPLE_METRICS,
    THROUGHPUT_DERIVED,
)
from bench.compare.core import (
    CompareOptions,
    CompareResult,
    Comparison,
    Failure,
    Rule,
    compare,
    compare_cells,
    default_rules,
    evaluate_rules,
    identity_mismatches,
    identity_notes,
    label,
    parse_rule,
    parse_rules,
)
from bench.compare.model import CellData, Comparable, CompareError, CorpusData, MetricValue
from bench.compare.significance import (
    Significance,
    corpus_bootstrap,
    mcnemar,
    paired_bootstrap,
    ratio_interval,
    ratio_test,
    significance_for,
    throughput_test,
)

__all__ = [
    "ALIASES",
    "CELL_METRICS",
    "DEFAULT_RULES",
    "GAP_SAMPLES",
    "GROUP_ORDER",
    "OK_SAMPLES",
    "PRIMARY_ALIAS",
    "RULE_HINT",
    "RULE_PATTERN",
    "SAMPLE_METRICS",
    "THROUGHPUT_DERIVED",
    "CellData",
    "Comparable",
    "CompareError",
    "CompareOptions",
    "CompareResult",
    "Comparison",
    "CorpusData",
    "Failure",
    "MetricValue",
    "Rule",
    "Significance",
    "compare",
    "compare_cells",
    "corpus_bootstrap",
    "default_rules",
    "evaluate_rules",
    "identity_mismatches",
    "identity_notes",
    "label",
    "mcnemar",
    "paired_bootstrap",
    "parse_rule",
    "parse_rules",
    "ratio_interval",
    "ratio_test",
    "significance_for",
    "throughput_test",
]
