"""Backend kind `trained`: a classifier fitted on the task's train split (bench.learn) answers `choices` tasks and
JSON tasks whose fields are all labels, item by item, with the same Records as a language model.

It fits in prepare_task (before the cell's warm-up, outside its measured time and memory), or loads the fit from
the cache (bench.learn.cache); the segment's `training` says what the fit cost (wall s, CPU s) and whether it came
from the cache. Choices: the prediction is the argmax label and choice_logprobs = log(predict_proba) in the
task's choices order."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.backends.base import BackendBase, BackendInfo, Request, Result, now
from bench.backends.params import TrainedParams
from bench.errors import BackendError, SpecError
from bench.learn.cache import fit_key, library_versions, load_fitted, save_fitted
from bench.learn.embeddings import INSTALL, minilm_path
from bench.learn.labels import LabelField, Unanswerable, item_label, label_fields
from bench.learn.pool import draw_budget, train_pool
from bench.optional import require
from bench.suite.spec import TaskSpec
from bench.tasks.items import Item

TINY = np.finfo(np.float64).tiny
"""log(p) of a probability that underflowed to 0 is log(TINY) (about -708), never -inf (not JSON)."""
Fitted = list[tuple[LabelField, Any, list[int]]]
"""Per label field: the field, its fitted classifier, and each of the field's labels' column in predict_proba."""


class TrainedBackend(BackendBase):
    """A TextClassifier per label field of the current task, fitted (or loaded from the cache) by prepare_task."""

    Params = TrainedParams

    def __init__(self, params: TrainedParams) -> None:
        self.params = params
        require("sklearn", f"the trained backend ({params.model})", INSTALL)
        if params.model != "tfidf_logreg":
            require("sentence_transformers", f"the trained backend ({params.model})", INSTALL)
            minilm_path()
        self._fitted: Fitted = []
        self._fit_threads = self._torch_threads(None)
        self._by_task: dict[str, tuple[Fitted, dict[str, Any]]] = {}

    def info(self) -> BackendInfo:
        versions = library_versions()
        return BackendInfo(engine=f"trained/{self.params.model}", engine_version=versions["scikit-learn"],
                           model=self.params.model, model_path=None if self.params.model == "tfidf_logreg"
                           else str(minilm_path()),
                           settings={"classifier": self.params.model, "labels": self.params.labels,
                                     "seed": self.params.seed, "params": self.params.params, "versions": versions})

    def prepare_task(self, task: TaskSpec, base_dir: Path) -> dict[str, Any]:
        """Fit (or load) the task's classifiers; the facts of the fit. BackendError for a task it cannot answer,
        no train split or a budget larger than the pool (what `bench validate` refuses)."""
        key = f"{base_dir}|{task.model_dump_json()}"
        if key not in self._by_task:
            self._torch_threads(self._fit_threads)  # training keeps torch's own default
            self._by_task[key] = self._fit_task(task, base_dir)
        self._fitted, facts = self._by_task[key]
        return facts

    def _fit_task(self, task: TaskSpec, base_dir: Path) -> tuple[Fitted, dict[str, Any]]:
        try:
            fields, pool = label_fields(task), train_pool(task, base_dir)
        except (Unanswerable, ValueError, SpecError) as exc:
            raise BackendError(f"trained model ({self.params.model}) on task '{task.id}': {exc}") from None
        chosen = self._draw(pool, fields[0], task)
        fitted, all_facts = [], []
        for field in fields:
            classifier, facts = self._fit_field([pool[i] for i in chosen], field, task)
            fitted.append((field, classifier, _columns(classifier, field, task)))
            all_facts.append(facts)
        return fitted, _merge(all_facts, len(pool), len(chosen))

    def _draw(self, pool: list[Item], field: LabelField, task: TaskSpec) -> list[int]:
        """The labelled items: all, or `labels` of them drawn seeded and stratified by the first field's label."""
        budget = self.params.labels
        if budget != "all" and budget > len(pool):
            raise BackendError(f"label budget {budget} is larger than the train pool of task '{task.id}' "
                               f"({len(pool)} items): use labels: {len(pool)} or fewer, or all")
        if budget == "all":
            return list(range(len(pool)))
        return draw_budget([str(item_label(item, field, task)) for item in pool], budget, self.params.seed)

    def _fit_field(self, items: list[Item], field: LabelField, task: TaskSpec) -> tuple[Any, dict[str, Any]]:
        """The field's classifier from the cache, else fitted now and cached; with the facts of its fit."""
        pairs = [(item.input, label) for item in items if (label := item_label(item, field, task)) is not None]
        texts, labels = [text for text, _ in pairs], [label for _, label in pairs]
        config = {"model": self.params.model, "params": self.params.params, "seed": self.params.seed}
        key = fit_key(texts, labels, config)
        found = load_fitted(key)
        if found is not None:
            return found[0], {**found[1], "cached": True}
        classifier, facts = _timed_fit(self.params, texts, labels)
        save_fitted(key, classifier, {**facts, "cache_key": key})
        return classifier, {**facts, "cache_key": key, "cached": False}

    def _torch_threads(self, threads: int | None) -> int:
        """Set torch's intra-op threads (None: leave them); the number before. 0 for tfidf_logreg (no torch)."""
        if self.params.model == "tfidf_logreg":
            return 0
        torch = require("torch", f"the trained backend ({self.params.model})", INSTALL)
        before = int(torch.get_num_threads())
        if threads is not None:
            torch.set_num_threads(threads)
        return before

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        self._torch_threads(self.params.inference_threads)
        for request in requests:
            yield self._answer(request)

    def _answer(self, request: Request) -> Result:
        if not self._fitted:
            return Result(request.id, t_start=now(), t_end=now(), error="no task prepared (prepare_task not called)")
        start = now()
        rows = [(field, _row(classifier, columns, request.input)) for field, classifier, columns in self._fitted]
        end = now()
        result = Result(request.id, t_start=start, t_first_token=end, t_end=end)
        if rows[0][0].name is None:  # the task's choices
            probabilities = rows[0][1]
            result.choice_index = int(np.argmax(probabilities))
            result.choice_logprobs = [math.log(max(float(p), float(TINY))) for p in probabilities]
            result.text = request.choices[result.choice_index] if request.choices else \
                rows[0][0].labels[result.choice_index]
        else:
            result.text = json.dumps({f.name: f.value(f.labels[int(np.argmax(p))]) for f, p in rows})
        return result

    def close(self) -> None:
        self._fitted, self._by_task = [], {}


def _row(classifier: Any, columns: list[int], text: str) -> np.ndarray:
    """One text's probabilities over the field's labels in answer order."""
    row: np.ndarray = classifier.predict_proba([text])[0][columns]
    return row


def _columns(classifier: Any, field: LabelField, task: TaskSpec) -> list[int]:
    """Column of each of the field's labels in predict_proba; BackendError when a label had no train example."""
    missing = [label for label in field.labels if label not in classifier.classes_]
    if missing:
        raise BackendError(f"task '{task.id}': the labelled train items have no example of {', '.join(missing)}; "
                           "raise the label budget or add train examples of every label")
    return [classifier.classes_.index(label) for label in field.labels]


def _timed_fit(params: TrainedParams, texts: list[str], labels: list[str]) -> tuple[Any, dict[str, Any]]:
    """A classifier fitted on (texts, labels) with its wall time and CPU time (this process and its children)."""
    from bench.learn.classifiers import EmbedLogReg, make_classifier

    classifier = make_classifier(params.model, params.seed, **params.params)
    if isinstance(classifier, EmbedLogReg):
        classifier.cache_inputs = False  # each measured item is embedded when it is answered, never from a cache
    process = psutil.Process()
    cpu0, start = _cpu_s(process), now()
    classifier.fit(texts, labels)
    train_s, train_cpu_s = now() - start, _cpu_s(process) - cpu0
    return classifier, {"classifier": params.model, "train_items": len(texts), "train_s": train_s,
                        "train_cpu_s": train_cpu_s}


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


def _merge(facts: list[dict[str, Any]], pool: int, chosen: int) -> dict[str, Any]:
    """The segment's `training`: the fit facts summed over the label fields, with the pool and budget."""
    return {"classifier": facts[0]["classifier"], "pool_items": pool, "labels_used": chosen,
            "train_s": sum(f["train_s"] for f in facts), "train_cpu_s": sum(f["train_cpu_s"] for f in facts),
            "cached": all(f["cached"] for f in facts), "cache_keys": [f["cache_key"] for f in facts]}
