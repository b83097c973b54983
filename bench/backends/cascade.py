"""A live cascade (`kind: cascade`): the small model answers every item; an item whose confidence signal is below
the threshold is escalated to the large model, whose answer is then the cascade's.

    models:
      - {id: smollm2, backend: {kind: llama_cpp, model: "bundled:smollm2-135m-instruct"}}
      - {id: gemma3, backend: {kind: llama_cpp, model: "bundled:gemma3-270m"}}
      - id: hybrid
        backend: {kind: cascade, small: smollm2, large: gemma3, signal: max_prob, threshold: 0.5,
                  by_mode: {json: {signal: token_logprob_mean, threshold: -0.2}}}

`small` and `large` name other models of the suite (each with its own backend and generation settings); the
plan passes their specs in `resolved`. One request at a time: the small model, then (escalated) the large one,
so each item's latency is the real combined time (t_start of the small call to t_end of the answer) and the
cell's wall time, hence its cost per task, is both models' time. Both models stay loaded (peak RSS is both).

Signals are the item's router signals (bench.metrics.confidence, Record.confidence) computed from the small
model's result exactly as its own record would hold them; their direction and range are bench route's
(bench.route.signals), and so is the rule: `entropy` is lower when more confident, so it escalates above the
threshold; every other signal escalates below it (a value equal to the threshold stays with the small model).
A signal the small model did not give (it failed, or its engine returned no log-probabilities) escalates the
item, as in the offline replay. The record keeps both answers and the decision
in engine_extra["cascade"]; its prediction, scores and confidence are the answering model's.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bench.backends.base import BackendBase, BackendInfo, BackendParamsBase, Request, Result, backend_factory
from bench.suite.spec import ModelSpec, TaskSpec

Mode = Literal["choices", "json", "text"]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


FiniteFloat = Annotated[float, AfterValidator(_finite)]


SIGNAL_MODES: dict[str, frozenset[str]] = {
    "max_prob": frozenset({"choices"}), "margin": frozenset({"choices"}), "entropy": frozenset({"choices"}),
    "token_logprob_mean": frozenset({"generated"}), "token_logprob_min": frozenset({"generated"}),
    "json_valid": frozenset({"json"}),
}
"""Which answers carry each signal (bench.route.signals.SIGNALS: its direction and range): "choices" = options
scored by log-likelihood, "generated" = text, json, or choices by grammar, "json" = json answers."""


class Rule(BaseModel):
    """Which signal decides and where: escalate when the signal is below `threshold` (entropy: above)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: str
    threshold: FiniteFloat


class CascadeParams(BackendParamsBase):
    """kind: cascade. `small`, `large`: model ids of the suite; `signal`, `threshold`: the rule; `by_mode`: another
    rule for the tasks of an answer mode (choices / json / text), as signals differ by mode."""

    model_refs: ClassVar[tuple[str, ...]] = ("small", "large")
    kind: Literal["cascade"] = "cascade"
    small: str = Field(min_length=1)
    large: str = Field(min_length=1)
    signal: str
    threshold: FiniteFloat
    by_mode: dict[Mode, Rule] = Field(default_factory=dict)
    resolved: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Set by the plan (bench.suite.plan.resolve_refs): the specs of `small` and `large`; not written in a suite."""

    def rule(self, mode: str) -> Rule:
        """The rule for an answer mode: its by_mode entry, else signal + threshold."""
        found = self.by_mode.get(mode)  # type: ignore[call-overload]
        return found if isinstance(found, Rule) else Rule(signal=self.signal, threshold=self.threshold)

    def suite_problems(self, models: Mapping[str, ModelSpec], tasks: Sequence[TaskSpec]) -> list[tuple[str, str]]:
        """Each task's rule: a known signal, one the small model gives for the task's answer mode, a threshold
        inside the signal's range."""
        problems: list[tuple[str, str]] = []
        for task in tasks:
            mode = task.answer.mode
            prefix = f"by_mode.{mode}." if mode in self.by_mode else ""
            problems += [(field, f"{message} (task '{task.id}', answer mode {mode})")
                         for field, message in rule_problems(self.rule(mode), task, prefix)]
        return list(dict.fromkeys(problems))


def signal_kind(task: TaskSpec) -> str:
    """Which signals a task's answers carry: "choices" (options by log-likelihood) or "generated"."""
    answer = task.answer
    return "choices" if answer.mode == "choices" and answer.method == "loglik" else "generated"


def available(task: TaskSpec) -> list[str]:
    """The signals the small model gives on this task's answers."""
    kinds = {signal_kind(task)} | ({"json"} if task.answer.mode == "json" else set())
    return [name for name, modes in SIGNAL_MODES.items() if modes & kinds]


def rule_problems(rule: Rule, task: TaskSpec, prefix: str = "") -> list[tuple[str, str]]:
    """(field, message) for an unknown signal, one this task's answers do not carry, or a threshold outside the
    signal's range; fields are prefixed with `prefix` ("" or "by_mode.MODE.")."""
    from bench.route.signals import SIGNALS

    known = SIGNALS.get(rule.signal)
    if known is None:
        return [(f"{prefix}signal", f"unknown signal '{rule.signal}': one of {', '.join(SIGNALS)}")]
    if rule.signal not in available(task):
        return [(f"{prefix}signal", f"the small model gives no '{rule.signal}' on these answers: use one of "
                 f"{', '.join(available(task))}")]
    high = math.log(len(task.answer.choices)) if rule.signal == "entropy" and task.answer.choices else known.high
    if not known.low <= rule.threshold <= high:
        return [(f"{prefix}threshold", f"threshold {rule.threshold:g} is outside the range of {rule.signal} "
                 f"[{known.low:g}, {high:g}]" + (f" (ln of the task's {len(task.answer.choices or ())} options)"
                                                 if high != known.high else ""))]
    return []


def signal_value(result: Result, request: Request, signal: str) -> float | None:
    """The small model's value of `signal` for one result, as its record's confidence holds it (None: missing)."""
    from bench.metrics.confidence import confidence, json_valid
    from bench.tasks.answers import parse_json_object

    if result.error is not None:
        return None
    valid = json_valid(parse_json_object(result.text)[0], request.json_schema) if request.mode == "json" else None
    found = confidence(result.choice_logprobs, result.token_logprobs, valid)
    value = getattr(found, signal, None) if found is not None else None
    return None if value is None else float(value)


def escalates(value: float | None, rule: Rule) -> bool:
    """Whether an item goes to the large model: its signal is missing, or on the unconfident side."""
    from bench.route.signals import SIGNALS

    if value is None:
        return True
    confident_up = SIGNALS[rule.signal].higher_is_confident
    return value < rule.threshold if confident_up else value > rule.threshold


class CascadeBackend(BackendBase):
    """Both models loaded; each request goes to the small model, and on to the large one when it escalates."""

    Params = CascadeParams

    def __init__(self, params: CascadeParams) -> None:
        self.params = params
        self.small, self.large = (_load(params, "small"), None)
        try:
            self.large = _load(params, "large")
        except BaseException:
            self.small.close()
            raise

    def info(self) -> BackendInfo:
        small, large = self.small.info(), self._large().info()
        rules = {"signal": self.params.signal, "threshold": self.params.threshold,
                 "by_mode": {k: v.model_dump() for k, v in self.params.by_mode.items()}}
        return BackendInfo(engine="cascade", engine_version="1", model=f"{self.params.small} -> {self.params.large}",
                           settings={"small": {"id": self.params.small, **small.model_dump()},
                                     "large": {"id": self.params.large, **large.model_dump()}, **rules})

    def _large(self) -> BackendBase:
        assert self.large is not None
        return self.large

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        for request in requests:
            yield self._answer(request)

    def _answer(self, request: Request) -> Result:
        rule = self.params.rule(request.mode)
        (small,) = list(self.small.generate([_for(request, self.params, "small")]))
        value = signal_value(small, request, rule.signal)
        if not escalates(value, rule):
            return combine(request, small, None, decision(rule, value, False))
        (large,) = list(self._large().generate([_for(request, self.params, "large")]))
        return combine(request, small, large, decision(rule, value, True))

    def prepare_task(self, task: TaskSpec, base_dir: Path) -> dict[str, Any]:
        """Both models readied for the task (a trained model fits here); the cascade's training is the sum of
        theirs (train_s, train_cpu_s: both fits ran on this machine), each model's own report kept by role."""
        done = {which: backend.prepare_task(task, base_dir)
                for which, backend in (("small", self.small), ("large", self._large()))}
        done = {which: report for which, report in done.items() if report}
        if not done:
            return {}
        totals = {key: sum(float(report.get(key, 0.0)) for report in done.values())
                  for key in ("train_s", "train_cpu_s")}
        return {**totals, **done}

    def reset_cache(self) -> None:
        self.small.reset_cache()
        self._large().reset_cache()

    def close(self) -> None:
        try:
            self.small.close()
        finally:
            if self.large is not None:
                self.large.close()


def _load(params: CascadeParams, which: str) -> BackendBase:
    """The backend of the small or large model, from the spec the plan resolved."""
    from bench.errors import BackendError

    spec = params.resolved.get(which)
    if spec is None:
        raise BackendError(f"cascade: the {which} model '{getattr(params, which)}' was not resolved (the cascade must "
                           "run from a suite that defines it)")
    model = ModelSpec.model_validate(spec)
    factory, inner = backend_factory(model)
    factory.prepare_files(inner)
    return factory(inner)


def _for(request: Request, params: CascadeParams, which: str) -> Request:
    """The request with that model's own generation settings."""
    from dataclasses import replace

    model = ModelSpec.model_validate(params.resolved[which])
    return replace(request, generation=model.generation)


def decision(rule: Rule, value: float | None, escalated: bool) -> dict[str, Any]:
    return {"signal": rule.signal, "threshold": rule.threshold, "value": value, "escalated": escalated}


ANSWER_FIELDS = ("text", "choice_index", "error", "prompt_tokens", "completion_tokens", "t_start", "t_end")


def _answer_of(result: Result) -> dict[str, Any]:
    return {name: getattr(result, name) for name in ANSWER_FIELDS}


def combine(request: Request, small: Result, large: Result | None, decided: dict[str, Any]) -> Result:
    """The cascade's result: the answering model's output; tokens of both calls; t_start of the small call,
    t_end of the answer (the real combined latency); no first-token time (two models' tokens: no TTFT/TPOT)."""
    final = large or small
    extra = {key: value for key, value in final.extra.items() if key != "option_tokens_evaluated"}
    steps = [r.extra.get("option_tokens_evaluated") for r in (small, large) if r is not None]
    if any(s is not None for s in steps):
        extra["option_tokens_evaluated"] = sum(int(s or 0) for s in steps)
    extra["cascade"] = {**decided, "small": _answer_of(small), "large": _answer_of(large) if large else None}
    combined = Result(request.id, text=final.text, choice_index=final.choice_index,
                      choice_logprobs=final.choice_logprobs, t_start=small.t_start, t_end=final.t_end,
                      prompt_tokens=small.prompt_tokens + (large.prompt_tokens if large else 0),
                      cached_prompt_tokens=small.cached_prompt_tokens + (large.cached_prompt_tokens if large else 0),
                      completion_tokens=small.completion_tokens + (large.completion_tokens if large else 0),
                      token_logprobs=final.token_logprobs, error=final.error, extra=extra)
    return combined
