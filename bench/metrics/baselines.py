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

import numpy as np
import pandas as pd

from bench.metrics.aggregate import CellIdent, MetricRow
from bench.metrics.columns import RecordColumns
from bench.metrics.records import FAILURE_KINDS
from bench.metrics.stats import MIN_N_BOOTSTRAP
from bench.suite.spec import LmEvalDataset, TaskSpec
from bench.tasks.normalize import normalize_label
from bench.tasks.scorers import Scorer, build_scorer, pick

PREFIX = "baseline:"
ALPHA = 0.05
NOT_SCORES = ("error_rate", "parse_failure_rate", *FAILURE_KINDS)


@dataclass(frozen=True)
class Baseline:
    """A baseline of one task: its name (`baseline:...`), what it answers, and per evaluated item (sorted by id)
    its reference and prediction (JSON texts) and its item scores."""

    name: str
    task_id: str
    description: str
    items: list[str]
    references: list[str]
    predictions: list[str]
    scores: dict[str, np.ndarray]

    @property
    def cell_id(self) -> str:
        return f"{self.name}@{self.task_id}"

    def columns(self) -> RecordColumns:
        """Its items as a cell's record columns: every item answered (status ok), no timings."""
        n = len(self.items)

        def full(value: Any, dtype: Any = object) -> np.ndarray:
            return np.full(n, value, dtype=dtype)

        no = np.zeros(n, dtype=bool)
        return RecordColumns(
            cell_id=full(self.cell_id), model_id=full(self.name), task_id=full(self.task_id),
            item_id=np.array(self.items, dtype=object), segment=full("baseline"), status=full("ok"),
            repetition=np.zeros(n, dtype=np.int64), parse_error=no, prompt_tokens=np.zeros(n, dtype=np.int64),
            cached_prompt_tokens=np.zeros(n, dtype=np.int64), completion_tokens=np.zeros(n, dtype=np.int64),
            t_start=np.zeros(n), t_first_token=full(np.nan, float), t_end=np.zeros(n), t_arrival=full(np.nan, float),
            option_tokens=full(np.nan, float), empty_answer=no, cut_at_max_tokens=no, over_context=no,
            input_truncated=no, prediction=np.array(self.predictions, dtype=object),
            reference=np.array(self.references, dtype=object), scores=self.scores)

    def rows(self, task: TaskSpec) -> list[MetricRow]:
        """Its quality rows (the task's scorers' metrics with their 95% CIs), as a model's are computed (the
        columnar path: macro-F1's bootstrap from confusion counts, fast at any size)."""
        from bench.metrics.aggregate_columns import quality_rows

        ident: CellIdent = {"cell_id": self.cell_id, "model_id": self.name, "task_id": self.task_id}
        return [r for r in quality_rows(task, self.columns(), ident) if r.metric not in NOT_SCORES]

    def as_dict(self, task: TaskSpec) -> dict[str, Any]:
        """The summary.json entry: identity, description, item count and metric rows (never priced)."""
        return {"cell_id": self.cell_id, "model_id": self.name, "task_id": self.task_id,
                "description": self.description, "n": len(self.items),
                "metrics": [r.model_dump() for r in self.rows(task)]}


def build_baseline(task: TaskSpec, references: dict[str, Any], inputs: dict[str, str] | None = None) -> Baseline | None:
    """The task's baseline over these items (item id -> reference; inputs: item id -> input text, needed by the
    lead-N baseline). None for lm-eval tasks (their own scorers) and tasks without items or inputs."""
    return baseline_of_texts(task, {k: json.dumps(v) for k, v in references.items()}, inputs)


def baseline_of_texts(task: TaskSpec, references: dict[str, str],
                      inputs: dict[str, str] | None = None) -> Baseline | None:
    """build_baseline from the references' JSON texts (as records.jsonl holds them): each distinct reference is
    parsed and scored once, so a run of a million items costs what its distinct references cost."""
    if isinstance(task.dataset, LmEvalDataset) or not references or (needs_inputs(task) and inputs is None):
        return None
    items = sorted(references)
    codes, distinct = pd.factorize(np.array([references[i] for i in items], dtype=object), use_na_sentinel=False)
    refs = [json.loads(text) for text in distinct]
    counts = np.bincount(codes, minlength=len(refs)).tolist()
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    if needs_inputs(task):
        field = next(s for s in task.scorers if s.name == "rouge_l").model_dump().get("field")
        name, description, answers = lead_words(items, [refs[c] for c in codes.tolist()], inputs or {}, field)
        scored = [_item_scores(scorers, answer, refs[c]) for answer, c in zip(answers, codes.tolist(), strict=True)]
        return Baseline(name, task.id, description, items, [distinct[c] for c in codes.tolist()],
                        [json.dumps(a) for a in answers], _stack(scored))
    name, description, answer = (field_mode if task.answer.mode == "json" else majority)(refs, counts)
    per_ref = _stack([_item_scores(scorers, answer, ref) for ref in refs])
    return Baseline(name, task.id, description, items, [distinct[c] for c in codes.tolist()],
                    [json.dumps(answer)] * len(items), {k: v[codes] for k, v in per_ref.items()})


def _item_scores(scorers: Sequence[Scorer], prediction: Any, reference: Any) -> dict[str, float]:
    scores: dict[str, float] = {}
    for scorer in scorers:
        scores.update(scorer.item(prediction, reference))
    return scores


def _stack(rows: list[dict[str, float]]) -> dict[str, np.ndarray]:
    names = dict.fromkeys(name for row in rows for name in row)
    return {name: np.array([row.get(name, np.nan) for row in rows], dtype=float) for name in names}


def majority(refs: list[Any], counts: list[int]) -> tuple[str, str, Any]:
    """(name, description, answer): the most common reference (counts: items per distinct reference),
    label-normalized; ties to the first in sorted order."""
    by_key: Counter[str] = Counter()
    for ref, count in zip(refs, counts, strict=True):
        by_key[_key(ref)] += count
    top = min(by_key, key=lambda k: (-by_key[k], k))
    answer = next(ref for ref in refs if _key(ref) == top)
    total = sum(counts)
    description = (f"always answers {answer!r}, the most common expected value of the {total} evaluated items "
                   f"({by_key[top] / total:.0%} of them)")
    return f"{PREFIX}majority", description, answer


def _key(value: Any) -> str:
    normalized = normalize_label(value) if isinstance(value, str) else value
    return json.dumps(normalized, sort_keys=True, default=str)


def field_mode(refs: list[Any], counts: list[int]) -> tuple[str, str, Any]:
    """(name, description, answer): each field's most common non-empty value; ties to the first in sorted
    order of their JSON text."""
    values: dict[str, Counter[str]] = {}
    for ref, count in zip(refs, counts, strict=True):
        for field, value in (ref.items() if isinstance(ref, dict) else ()):
            if value not in (None, ""):
                values.setdefault(field, Counter())[json.dumps(value, sort_keys=True)] += count
    answer = {field: json.loads(min(c, key=lambda k: (-c[k], k))) for field, c in values.items()}
    description = (f"always answers each field's most common value over the {sum(counts)} evaluated items: "
                   f"{json.dumps(answer, ensure_ascii=False)[:200]}")
    return f"{PREFIX}field-mode", description, answer


def lead_words(items: list[str], refs: list[Any], inputs: dict[str, str],
               field: str | None) -> tuple[str, str, list[Any]]:
    """(name, description, answer per item): the first N words of each input, N the median reference length in
    words (the first reference of a list), rounded half up, at least 1."""
    lengths = [len(str(_first(pick(ref, field)) or "").split()) for ref in refs]
    n = max(1, math.floor(statistics.median(lengths) + 0.5))
    lead = [" ".join(inputs.get(item, "").split()[:n]) for item in items]
    description = (f"answers the first {n} words of the input (N = the median reference length in words over "
                   f"the {len(items)} evaluated items)")
    return f"{PREFIX}lead-{n}", description, [{field: v} if field else v for v in lead]


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list | tuple) and value else value


@dataclass(frozen=True)
class ModelItems:
    """A cell's repetition-0 items: ids, the tested metric's item scores (0 for a failed item) and, for a corpus
    metric, [prediction, reference] per item."""

    items: list[str]
    scores: list[float]
    pairs: list[list[Any]] | None = None


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


def beats_baseline(ident: dict[str, Any], task: TaskSpec, metric: str, model: ModelItems,
                   baseline: Baseline) -> Verdict | None:
    """The paired test of the model against the baseline on their common items (sorted by item id): McNemar for
    0/1 item scores, the paired bootstrap for other item scores, the paired corpus bootstrap for a corpus
    metric (macro-F1). None when they share no item or the metric is neither."""
    from bench.compare import significance

    position = {item: k for k, item in enumerate(model.items)}
    common = [(position[item], k) for k, item in enumerate(baseline.items) if item in position]
    if not common:
        return None
    if metric in baseline.scores:
        cand = [model.scores[m] for m, _ in common]
        ref = baseline.scores[metric][[b for _, b in common]].tolist()
        binary = all(v in (0.0, 1.0) for v in [*cand, *ref])
        outcome = (significance.mcnemar if binary else significance.paired_bootstrap)(ref, cand, ALPHA)
        values = (statistics.fmean(cand), statistics.fmean(ref))
    else:
        if model.pairs is None:
            return None
        found = _corpus_test(task, metric, [model.pairs[m] for m, _ in common],
                             [[json.loads(baseline.predictions[b]), json.loads(baseline.references[b])]
                              for _, b in common])
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


def model_items_columns(cols: RecordColumns, metric: str, pairs: bool) -> ModelItems:
    """ModelItems of a cell's columns (bench.metrics.columns); with pairs, its decoded predictions and
    references too (for a corpus metric)."""
    first = cols.take(cols.repetition == 0)
    return ModelItems([str(i) for i in first.item_id.tolist()], first.score(metric, 0.0).tolist(),
                      [list(p) for p in zip(first.decoded("prediction"), first.decoded("reference"), strict=True)]
                      if pairs else None)


def references_of(cells: Sequence[RecordColumns]) -> dict[str, str]:
    """item id -> reference (JSON text) over the repetition-0 rows of a task's cells (the items the models
    evaluated)."""
    references: dict[str, str] = {}
    for cols in cells:
        first = cols.take(cols.repetition == 0)
        for item, reference in zip(first.item_id.tolist(), first.reference.tolist(), strict=True):
            references.setdefault(str(item), reference)
    return references


def needs_inputs(task: TaskSpec) -> bool:
    """Whether the task's baseline reads the items' inputs (lead-N: a text task scored by rouge_l)."""
    return task.answer.mode == "text" and any(s.name == "rouge_l" for s in task.scorers)
