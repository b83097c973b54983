"""What is compared: per-cell values, per-item samples and scores, identity of each side."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, PlainValidator, TypeAdapter, ValidationError

from bench.compare.items import CorpusItems, ItemScores
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


def _reader(kind: Any, shape: Any) -> Any:
    """A validator of `kind` (bench/compare/items.py) that reads the JSON shape `shape` (a baseline file)."""
    adapter: TypeAdapter[Any] = TypeAdapter(shape)

    def validate(value: Any) -> Any:
        if isinstance(value, kind):
            return value
        try:
            return kind.from_dict(adapter.validate_python(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ValueError(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None

    return validate


def _to_dict(value: ItemScores | CorpusItems) -> Any:
    return value.to_dict()


ScoresField = Annotated[ItemScores, PlainValidator(_reader(ItemScores, dict[str, dict[str, float]])),
                        PlainSerializer(_to_dict, return_type=dict[str, dict[str, float]])]
"""item_id -> {score name: value} in a baseline file; ItemScores in memory."""
CorpusField = Annotated[CorpusItems, PlainValidator(_reader(CorpusItems, dict[str, list[Any]])),
                        PlainSerializer(_to_dict, return_type=dict[str, list[Any]])]
"""item_id -> [prediction, reference] in a baseline file; CorpusItems in memory."""


class CorpusData(BaseModel):
    """What a corpus-level metric (macro-F1) needs to be recomputed on resampled items."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    scorers: dict[str, dict[str, Any]]  # metric -> scorer entry of the suite ({name: ..., params})
    items: CorpusField


class CellData(BaseModel):
    """One model x task: summary figures, per-item scores (repetition 0) and per-item timing samples (status ok)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    model_id: str
    task_id: str
    metrics: dict[str, MetricValue]
    items: ScoresField = ItemScores.from_dict({})
    samples: dict[str, list[float]] = {}
    corpus: CorpusData | None = None
    contended: str | None = None
    """Why the cell's speed was measured under contention (bench/metrics/contention.py); None when it was not
    (or, in runs before contention was measured, not known)."""

    @property
    def key(self) -> str:
        return f"{self.model_id}/{self.task_id}"

    def score_names(self) -> set[str]:
        """Every per-item score name (a name some item has)."""
        return set(self.items.names)


class Comparable(BaseModel):
    """Everything a comparison needs from one side: a run directory or a saved baseline file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    run_id: str
    status: str
    identity: dict[str, Any]
    primary_metrics: dict[str, str]
    cells: dict[str, CellData]
    source: str = ""
