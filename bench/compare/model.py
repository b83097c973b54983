"""What is compared: per-cell values, per-item samples and scores, identity of each side."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict

from bench.errors import BenchError


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

    @cached_property
    def item_ids(self) -> list[str]:
        """The item ids, sorted (computed once)."""
        return sorted(self.items)


class CellData(BaseModel):
    """One model x task: summary figures, per-item scores (repetition 0) and per-item timing samples (status ok)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model_id: str
    task_id: str
    metrics: dict[str, MetricValue]
    items: dict[str, dict[str, float]] = {}
    samples: dict[str, list[float]] = {}
    corpus: CorpusData | None = None
    contended: str | None = None
    """Why the cell's speed was measured under contention (bench/metrics/contention.py); None when it was not
    (or, in runs before contention was measured, not known)."""

    @property
    def key(self) -> str:
        return f"{self.model_id}/{self.task_id}"

    @cached_property
    def all_score_names(self) -> frozenset[str]:
        return frozenset(name for scores in self.items.values() for name in scores)

    def score_names(self) -> set[str]:
        """Every per-item score name (computed once per cell)."""
        return set(self.all_score_names)

    @cached_property
    def item_ids(self) -> list[str]:
        """The item ids, sorted (computed once per cell)."""
        return sorted(self.items)

    def scores_of(self, metric: str) -> list[float]:
        """The metric's item scores in item_ids order, 0.0 where an item has none (computed once per metric)."""
        if metric not in self.score_cache:
            self.score_cache[metric] = [self.items[i].get(metric, 0.0) for i in self.item_ids]
        return self.score_cache[metric]

    @cached_property
    def score_cache(self) -> dict[str, list[float]]:
        return {}


class Comparable(BaseModel):
    """Everything a comparison needs from one side: a run directory or a saved baseline file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    run_id: str
    status: str
    identity: dict[str, Any]
    primary_metrics: dict[str, str]
    cells: dict[str, CellData]
    source: str = ""
