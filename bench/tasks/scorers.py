"""Scorers: per-item scores (and corpus-level ones such as macro-F1), each with its direction.

Unparseable or missing predictions score 0; a scorer never raises on model output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from bench.registry import Registry
from bench.suite.spec import TaskSpec
from bench.tasks.normalize import (
    normalize_amount,
    normalize_currency,
    normalize_date,
    normalize_label,
    normalize_text,
)

if TYPE_CHECKING:
    from bench.backends.base import Result
    from bench.tasks.items import Item

FieldType = Literal["text", "label", "date", "amount", "currency", "bool"]


class ScorerParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str


class Scorer:
    """Base: subclasses set Params and implement item(); corpus() is for non-decomposable metrics."""

    Params: ClassVar[type[ScorerParams]] = ScorerParams
    higher_is_better: ClassVar[bool] = True
    primary: ClassVar[str] = ""
    """The metric a report shows first for a task whose first scorer is this one."""
    dataset_kind: ClassVar[str | None] = None
    """The one dataset kind whose items this scorer can score (lm_eval), or None: any kind bench prompts."""

    def __init__(self, params: ScorerParams) -> None:
        self.params = params

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        raise NotImplementedError

    def bind(self, task: TaskSpec, base_dir: Path) -> None:
        """Hook for a scorer that needs its task's data before scoring (lm_eval); most need nothing."""

    def score(self, item: Item, result: Result, prediction: Any) -> dict[str, float]:
        """Scores of one answered item; most scorers look at the parsed prediction only."""
        return self.item(prediction, item.expected)

    def names_in(self, records: Sequence[Any]) -> list[str]:
        """The per-item metric names this scorer wrote into records."""
        return list(self.item(None, records[0].reference)) if records else []

    def corpus(self, predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, float]:
        return {}


SCORERS: Registry[type[Scorer]] = Registry("scorer", "bench.scorers")
SCORERS.add("lm_eval", "bench.tasks.lm_eval_scorer:LmEvalScorer")


def build_scorer(ref: dict[str, Any]) -> Scorer:
    """Instantiate a scorer from its suite entry ({name: ..., params...})."""
    cls = SCORERS.get(ref["name"])
    return cls(cls.Params.model_validate(ref))


def pick(value: Any, field: str | None) -> Any:
    """The named field of a dict prediction/reference, or the value itself."""
    if field is None:
        return value
    return value.get(field) if isinstance(value, dict) else None


def same(prediction: Any, reference: Any, kind: FieldType = "text", rel_tol: float = 0.0,
         dayfirst: bool | None = None) -> bool:
    """Compare after normalizing by field type; None never matches. `dayfirst` reads numeric dates of both
    sides day-first (True), month-first (False) or by normalize_date's rule (None)."""
    if prediction is None or reference is None:
        return False
    if kind == "amount":
        got, want = normalize_amount(prediction), normalize_amount(reference)
        return got is not None and want is not None and math.isclose(got, want, rel_tol=rel_tol, abs_tol=0.005)
    normalizer = partial(normalize_date, dayfirst=dayfirst) if kind == "date" else NORMALIZERS[kind]
    normalized = normalizer(prediction)
    return normalized is not None and normalized != "" and normalized == normalizer(reference)


def _to_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    text = normalize_text(value)
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text)


NORMALIZERS: dict[str, Callable[[object], object]] = {
    "text": normalize_text, "label": normalize_label, "date": normalize_date, "currency": normalize_currency,
    "bool": _to_bool,
}


class FieldParams(ScorerParams):
    field: str | None = None


@SCORERS.register("accuracy")
class Accuracy(Scorer):
    """Label accuracy: 1 when the (normalized) label equals the reference."""

    primary = "accuracy"
    Params = FieldParams

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        field = self.params.field  # type: ignore[attr-defined]
        return {"accuracy": float(same(pick(prediction, field), pick(reference, field), "label"))}


@SCORERS.register("macro_f1")
class MacroF1(Scorer):
    """Unweighted mean of per-label F1 over the labels present in references or predictions."""

    primary = "macro_f1"
    Params = FieldParams

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        return {}

    def corpus(self, predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, float]:
        field = self.params.field  # type: ignore[attr-defined]
        preds = [normalize_label(pick(p, field)) if pick(p, field) is not None else None for p in predictions]
        refs = [normalize_label(pick(r, field)) for r in references]
        return {"macro_f1": macro_f1(preds, refs)}


def macro_f1(predictions: Sequence[str | None], references: Sequence[str]) -> float:
    labels = sorted(set(references) | {p for p in predictions if p is not None})
    if not labels:
        return 0.0
    scores = []
    for label in labels:
        tp = sum(p == label and r == label for p, r in zip(predictions, references, strict=True))
        fp = sum(p == label and r != label for p, r in zip(predictions, references, strict=True))
        fn = sum(p != label and r == label for p, r in zip(predictions, references, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return sum(scores) / len(scores)


@SCORERS.register("exact_match")
class ExactMatch(Scorer):
    """Exact match after casefolding, trimming and collapsing whitespace."""

    primary = "exact_match"
    Params = FieldParams

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        field = self.params.field  # type: ignore[attr-defined]
        return {"exact_match": float(same(pick(prediction, field), pick(reference, field), "text"))}


class NumericParams(FieldParams):
    rel_tol: float = 0.01


@SCORERS.register("numeric_tolerance")
class NumericTolerance(Scorer):
    """1 when the number is within rel_tol of the reference (amount strings are parsed)."""

    primary = "numeric_within_tol"
    Params = NumericParams

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        p: NumericParams = self.params  # type: ignore[assignment]
        ok = same(pick(prediction, p.field), pick(reference, p.field), "amount", p.rel_tol)
        return {"numeric_within_tol": float(ok)}


class JsonFieldParams(ScorerParams):
    fields: tuple[str, ...] | None = None
    types: dict[str, FieldType] = {}
    rel_tol: float = 0.0
    dayfirst: bool | tuple[str, ...] | None = None
    """Numeric dates (06/04/2018) read day-first: true for every date field, or the list of fields that are;
    false for month-first everywhere; unset: dotted dates day-first, slashed ones month-first unless a > 12."""

    def dayfirst_of(self, field: str) -> bool | None:
        if isinstance(self.dayfirst, tuple):
            return True if field in self.dayfirst else None
        return self.dayfirst


@SCORERS.register("json_fields")
class JsonFields(Scorer):
    """Per-field accuracy of an extracted object, field-level F1, and one score per field."""

    primary = "field_accuracy"
    Params = JsonFieldParams

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        p: JsonFieldParams = self.params  # type: ignore[assignment]
        ref = reference if isinstance(reference, dict) else {}
        pred = prediction if isinstance(prediction, dict) else {}
        fields = p.fields or tuple(ref)
        hits = {f: same(pred.get(f), ref.get(f), p.types.get(f, "text"), p.rel_tol, p.dayfirst_of(f)) for f in fields}
        scores = {f"field.{f}": float(hit) for f, hit in hits.items()}
        correct = sum(hits.values())
        predicted = sum(pred.get(f) not in (None, "") for f in fields)
        expected = sum(ref.get(f) not in (None, "") for f in fields)
        scores["field_accuracy"] = correct / len(fields) if fields else 0.0
        scores["field_f1"] = 2 * correct / (predicted + expected) if predicted + expected else 0.0
        scores["all_fields_correct"] = float(correct == len(fields) and bool(fields))
        return scores


@SCORERS.register("rouge_l")
class RougeL(Scorer):
    """ROUGE-L F-measure (Lin 2004) computed by Google's rouge-score package; a list of references scores
    against the best of them (rouge-score's score_multi)."""

    primary = "rouge_l"
    Params = FieldParams

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        field = self.params.field  # type: ignore[attr-defined]
        pred, ref = pick(prediction, field), pick(reference, field)
        return {"rouge_l": rouge_l(str(pred or ""), _references(ref))}


def _references(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v is not None]
    return [] if value is None else [str(value)]


def rouge_l(prediction: str, references: str | Sequence[str]) -> float:
    """ROUGE-L F1 in [0, 1] of a prediction against one reference or the best of several (0 without any)."""
    targets = [references] if isinstance(references, str) else list(references)
    if not targets:
        return 0.0
    return float(_rouge_scorer().score_multi(targets, prediction)["rougeL"].fmeasure)


class RougeTokenizer:
    """rouge-score's default tokenization (lowercase, every run of non-alphanumerics is a separator, no
    stemming) with letters and digits of every script kept: identical on ASCII text, where the default drops
    everything outside a-z0-9 (a Japanese or Greek summary would have no tokens and always score 0)."""

    def tokenize(self, text: str) -> list[str]:
        return re.sub(r"[\W_]+", " ", text.lower()).split()


@cache
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], tokenizer=RougeTokenizer())
