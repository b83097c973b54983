"""Trivial baselines: the bar a model has to beat, scored on the items the models answered, by the task's own
scorers, from the references alone (no model runs).

- `baseline:majority` (choices and text tasks): always answer the most common expected value of the evaluated
  items (their references, compared after label normalization; ties go to the first in sorted order). On a
  label-balanced sample it scores 1 / number of labels; on the data's own mix, its majority share.
- `baseline:field-mode` (json tasks): every field set to its most common non-empty value over the references.
- `baseline:lead-N` (text tasks scored by rouge_l): the first N words of the item's input, N = the median
  reference length in words (rounded half up, at least 1), the lead baseline of summarization (See et al. 2017,
  "lead-3"; here the length follows the references instead of 3 sentences).

`beats_baseline` tests a model against its task's baseline on the same items: McNemar (exact) for 0/1 item
scores, the paired bootstrap for other item scores, the paired corpus bootstrap for macro-F1
(bench.compare.significance). A model beats the baseline when it scores higher and the test is significant at
ALPHA.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.metrics.aggregate import CellIdent, MetricRow
from bench.metrics.columns import RecordColumns
from bench.metrics.records import FAILURE_KINDS, ItemRecord
from bench.metrics.stats import MIN_N_BOOTSTRAP
from bench.suite.spec import LmEvalDataset, TaskSpec
from bench.tasks.normalize import normalize_label
from bench.tasks.scorers import Scorer, build_scorer, pick

PREFIX = "baseline:"
ALPHA = 0.05
NOT_SCORES = ("error_rate", "parse_failure_rate", *FAILURE_KINDS)


@dataclass(frozen=True)
class Baseline:
    """A baseline of one task: its name (`baseline:...`), what it answers, and one scored record per item."""

    name: str
    task_id: str
    description: str
    records: list[ItemRecord]

    @property
    def cell_id(self) -> str:
        return f"{self.name}@{self.task_id}"

    def rows(self, task: TaskSpec) -> list[MetricRow]:
        """Its quality rows (the task's scorers' metrics with their 95% CIs), as a model's are computed (the
        columnar path: macro-F1's bootstrap from confusion counts, fast at any size)."""
        from bench.metrics.aggregate_columns import quality_rows
        from bench.metrics.columns import from_records

        ident: CellIdent = {"cell_id": self.cell_id, "model_id": self.name, "task_id": self.task_id}
        return [r for r in quality_rows(task, from_records(self.records), ident) if r.metric not in NOT_SCORES]

    def as_dict(self, task: TaskSpec) -> dict[str, Any]:
        """The summary.json entry: identity, description, item count and metric rows (never priced)."""
        return {"cell_id": self.cell_id, "model_id": self.name, "task_id": self.task_id,
                "description": self.description, "n": len(self.records),
                "metrics": [r.model_dump() for r in self.rows(task)]}


def build_baseline(task: TaskSpec, references: dict[str, Any], inputs: dict[str, str] | None = None) -> Baseline | None:
    """The task's baseline over these items (item id -> reference; inputs: item id -> input text, needed by the
    lead-N baseline). None for lm-eval tasks (their own scorers) and tasks without items or inputs."""
    if isinstance(task.dataset, LmEvalDataset) or not references:
        return None
    if task.answer.mode == "json":
        return _score(task, references, *field_mode(references))
    if needs_inputs(task):
        if inputs is None:
            return None
        field = next(s for s in task.scorers if s.name == "rouge_l").model_dump().get("field")
        return _score(task, references, *lead_words(references, inputs, field))
    return _score(task, references, *majority(references))


def majority(references: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(name, description, item id -> prediction): the most common reference, label-normalized."""
    counts = Counter(_key(ref) for ref in references.values())
    top = min(counts, key=lambda k: (-counts[k], k))
    answer = next(ref for ref in references.values() if _key(ref) == top)
    share = counts[top] / len(references)
    description = (f"always answers {answer!r}, the most common expected value of the {len(references)} "
                   f"evaluated items ({share:.0%} of them)")
    return f"{PREFIX}majority", description, dict.fromkeys(references, answer)


def _key(value: Any) -> str:
    normalized = normalize_label(value) if isinstance(value, str) else value
    return json.dumps(normalized, sort_keys=True, default=str)


def field_mode(references: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(name, description, item id -> prediction): each field's most common non-empty value."""
    values: dict[str, Counter[str]] = {}
    for ref in references.values():
        for field, value in (ref.items() if isinstance(ref, dict) else ()):
            if value not in (None, ""):
                values.setdefault(field, Counter())[json.dumps(value, sort_keys=True)] += 1
    answer = {field: json.loads(min(c, key=lambda k: (-c[k], k))) for field, c in values.items()}
    description = (f"always answers each field's most common value over the {len(references)} evaluated items: "
                   f"{json.dumps(answer, ensure_ascii=False)[:200]}")
    return f"{PREFIX}field-mode", description, dict.fromkeys(references, answer)


def lead_words(references: dict[str, Any], inputs: dict[str, str],
               field: str | None) -> tuple[str, str, dict[str, Any]]:
    """(name, description, item id -> prediction): the first N words of each input, N the median reference
    length in words (the first reference of a list), rounded half up, at least 1."""
    lengths = [len(str(_first(pick(ref, field)) or "").split()) for ref in references.values()]
    n = max(1, math.floor(statistics.median(lengths) + 0.5))
    lead = {item: " ".join(inputs.get(item, "").split()[:n]) for item in references}
    description = (f"answers the first {n} words of the input (N = the median reference length in words over "
                   f"the {len(references)} evaluated items)")
    return f"{PREFIX}lead-{n}", description, {k: {field: v} if field else v for k, v in lead.items()}


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list | tuple) and value else value


def _score(task: TaskSpec, references: dict[str, Any], name: str, description: str,
           predictions: dict[str, Any]) -> Baseline:
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    records = [_record(task, name, item, predictions[item], reference, scorers)
               for item, reference in sorted(references.items())]
    return Baseline(name, task.id, description, records)


def _record(task: TaskSpec, name: str, item: str, prediction: Any, reference: Any,
            scorers: Sequence[Scorer]) -> ItemRecord:
    scores: dict[str, float] = {}
    for scorer in scorers:
        scores.update(scorer.item(prediction, reference))
    return ItemRecord.model_construct(  # valid by construction: no per-item validation on large runs
        cell_id=f"{name}@{task.id}", model_id=name, task_id=task.id, task_version=task.version, item_id=item,
        segment="baseline", prompt_sha256="", prediction=prediction,
        raw_output=prediction if isinstance(prediction, str) else json.dumps(prediction),
        reference=reference, scores=scores, t_start=0.0, t_end=0.0)


ModelItems = dict[str, tuple[float, Any, Any]]
"""item id -> (the model's item score of the tested metric, 0 for a failed item; prediction; reference)."""


@dataclass(frozen=True)
class Verdict:
    """Whether one model cell beats its task's baseline on the items both answered."""

    cell_id: str
    model_id: str
    task_id: str
    baseline: str
    metric: str
    model_value: float
    baseline_value: float
    test: str
    p_value: float | None
    n: int
    beats: bool

    def reason(self) -> str:
        p = f"p = {self.p_value:.3g}" if self.p_value is not None else "no p-value"
        verdict = "beats" if self.beats else "does not beat"
        return (f"{self.model_id} {verdict} {self.baseline} significantly on {self.metric} "
                f"({self.model_value:.1%} vs {self.baseline_value:.1%} on {self.n} items, {self.test}, {p})")

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "reason": self.reason()}


def model_items(records: Sequence[ItemRecord], metric: str) -> ModelItems:
    """ModelItems of a cell's repetition-0 records."""
    return {r.item_id: (r.scores.get(metric, 0.0), r.prediction, r.reference) for r in records if r.repetition == 0}


def beats_baseline(ident: dict[str, Any], task: TaskSpec, metric: str, items: ModelItems,
                   baseline: Baseline) -> Verdict | None:
    """The paired test of the model against the baseline on their common items (sorted by item id): McNemar for
    0/1 item scores, the paired bootstrap for other item scores, the paired corpus bootstrap for a corpus
    metric (macro-F1). None when they share no item or the metric is neither."""
    from bench.compare import significance

    base = {r.item_id: r for r in baseline.records}
    common = sorted(set(items) & set(base))
    if not common:
        return None
    if metric in baseline.records[0].scores:
        cand = [items[i][0] for i in common]
        ref = [base[i].scores[metric] for i in common]
        binary = all(v in (0.0, 1.0) for v in [*cand, *ref])
        outcome = (significance.mcnemar if binary else significance.paired_bootstrap)(ref, cand, ALPHA)
        values = (statistics.fmean(cand), statistics.fmean(ref))
    else:
        found = _corpus_test(task, metric, [[items[i][1], items[i][2]] for i in common],
                             [[base[i].prediction, base[i].reference] for i in common])
        if found is None:
            return None
        outcome, values = found
    beats = values[0] > values[1] and bool(outcome.significant)
    return Verdict(ident["cell_id"], ident["model_id"], ident["task_id"], baseline.name, metric, values[0],
                   values[1], outcome.test, outcome.p_value, len(common), beats)


def _corpus_test(task: TaskSpec, metric: str, cand: list[list[Any]],
                 base: list[list[Any]]) -> tuple[Any, tuple[float, float]] | None:
    """(significance, (model value, baseline value)) of a corpus metric by the paired corpus bootstrap."""
    from bench.compare import significance
    from bench.tasks.scorers import MacroF1

    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    scorer = next((s for s in scorers if metric in s.corpus([], []) or s.primary == metric), None)
    if scorer is None:
        return None

    def value(pairs: list[list[Any]]) -> float:
        return float(scorer.corpus([p for p, _ in pairs], [r for _, r in pairs]).get(metric, 0.0))

    values = (value(cand), value(base))
    if isinstance(scorer, MacroF1) and len(cand) >= MIN_N_BOOTSTRAP:
        return significance.macro_f1_bootstrap(scorer.params.field, base, cand, ALPHA), values  # type: ignore[attr-defined]
    return significance.corpus_bootstrap(value, base, cand, ALPHA), values


def model_items_columns(cols: RecordColumns, metric: str) -> ModelItems:
    """model_items of a cell's columns (bench.metrics.columns)."""
    first = cols.take(cols.repetition == 0)
    scores = first.score(metric, 0.0).tolist()
    return {str(item): (float(s), p, r) for item, s, p, r in zip(first.item_id.tolist(), scores,
                                                                  first.decoded("prediction"),
                                                                  first.decoded("reference"), strict=True)}


def references_of(cells: Sequence[RecordColumns]) -> dict[str, Any]:
    """item id -> reference over the repetition-0 rows of a task's cells (the items the models evaluated)."""
    references: dict[str, Any] = {}
    for cols in cells:
        first = cols.take(cols.repetition == 0)
        for item, reference in zip(first.item_id.tolist(), first.decoded("reference"), strict=True):
            references.setdefault(str(item), reference)
    return references


def needs_inputs(task: TaskSpec) -> bool:
    """Whether the task's baseline reads the items' inputs (lead-N: a text task scored by rouge_l)."""
    return task.answer.mode == "text" and any(s.name == "rouge_l" for s in task.scorers)
