"""The `lm_eval` scorer: lm-eval's own filters and process_results score each document bench answered.

A document's responses are put on copies of its lm-eval Instances exactly as lm-eval's evaluator puts them
(multiple choice: one (log-likelihood, is_greedy) pair per choice; generation: the text), every filter
ensemble of the task runs, then process_results gives the per-document metrics. A metric from a filter other
than lm-eval's default 'none' is named `metric,filter`, as in lm-eval's results. Only metrics that lm-eval
aggregates by their mean are supported, so bench's mean over documents equals lm-eval's aggregate.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench.backends.base import Result
from bench.errors import Problem, SpecError
from bench.suite.spec import LmEvalDataset, TaskSpec
from bench.tasks.items import Item
from bench.tasks.lm_eval_source import PAYLOAD, instances_by_doc, load_task
from bench.tasks.scorers import Scorer


def metric_key(metric: str, filter_name: str) -> str:
    return metric if filter_name == "none" else f"{metric},{filter_name}"


def check_mean_aggregation(task: Any) -> None:
    """SpecError unless every metric of the task is aggregated by lm-eval's mean."""
    from lm_eval.api.metrics import mean

    other = [name for name, fn in task.aggregation().items() if fn is not mean]
    if other:
        raise SpecError([Problem("lm-eval", task.config.task,
                                 f"metric(s) {', '.join(other)} aggregate over the whole corpus",
                                 "bench supports lm-eval metrics aggregated by mean (acc, acc_norm, exact_match...)")])


class LmEvalScorer(Scorer):
    """Per-document metrics computed by the lm-eval task itself (bound to the task when a cell starts)."""

    dataset_kind: ClassVar[str | None] = "lm_eval"

    def __init__(self, params: Any) -> None:
        super().__init__(params)
        self.task: Any = None
        self.instances: dict[int, list[Any]] = {}

    def bind(self, task_spec: TaskSpec, base_dir: Path) -> None:
        if not isinstance(task_spec.dataset, LmEvalDataset):
            raise SpecError([Problem("suite", f"{task_spec.id}.scorers",
                                     "the lm_eval scorer needs an lm_eval dataset")])
        self.task = load_task(task_spec.dataset, base_dir)
        check_mean_aggregation(self.task)
        self.instances = instances_by_doc(self.task)

    def metric_names(self) -> list[str]:
        filters = [ensemble.name for ensemble in self.task._filters]
        return [metric_key(metric, name) for name in filters for metric in self.task.aggregation()]

    def names_in(self, records: Sequence[Any]) -> list[str]:
        """Metric names as recorded (the task itself need not be loadable when a report is made)."""
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record.scores))
        return list(names)

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        raise TypeError("the lm_eval scorer scores a backend result (score), not a prediction")

    def score(self, item: Item, result: Result, prediction: Any) -> dict[str, float]:
        """lm-eval's metrics for one document; all 0 for an error or a result the task cannot use."""
        zero = dict.fromkeys(self.metric_names(), 0.0)
        responses = self._responses(item, result)
        if responses is None:
            return zero
        instances = [copy.copy(inst) for inst in self.instances[item.fields[PAYLOAD]["doc_id"]]]
        for inst, response in zip(instances, responses, strict=True):
            inst.resps, inst.filtered_resps = [response], {}
        for ensemble in self.task._filters:
            ensemble.apply(instances)
        scores = {}
        for name in instances[0].filtered_resps:
            metrics = self.task.process_results(instances[0].doc, [inst.filtered_resps[name] for inst in instances])
            scores.update({metric_key(metric, name): float(value) for metric, value in metrics.items()})
        return scores

    @staticmethod
    def _responses(item: Item, result: Result) -> list[Any] | None:
        if result.error is not None:
            return None
        if item.fields[PAYLOAD]["type"] == "generate_until":
            return [result.text]
        if result.choice_logprobs is None:
            return None
        greedy = result.extra.get("choice_greedy") or [False] * len(result.choice_logprobs)
        return list(zip(result.choice_logprobs, greedy, strict=True))
