"""A third-party plugin as a user would write one: a backend and a scorer, nothing from bench's insides but the
public contract (Request in, Result out; a Params model; a scorer class). Installed by tests/test_plugins.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Literal

from bench.backends.base import BackendBase, BackendInfo, BackendParamsBase, Request, Result, now
from bench.tasks.scorers import Scorer


class EchoParams(BackendParamsBase):
    kind: Literal["echo"] = "echo"
    pick: int = 0
    """Which choice to answer."""


class EchoBackend(BackendBase):
    """Answers every choices request with choice number `pick`; every optional hook keeps its default."""

    Params = EchoParams

    def __init__(self, params: EchoParams) -> None:
        self.params = params

    def info(self) -> BackendInfo:
        return BackendInfo(engine="echo-plugin", engine_version="0.1", model="echo",
                           settings={"pick": self.params.pick})

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        for request in requests:
            start = now()
            index = min(self.params.pick, len(request.choices) - 1)
            yield Result(request.id, text=request.choices[index], choice_index=index, prompt_tokens=1,
                         t_start=start, t_first_token=now(), t_end=now())

    def close(self) -> None:
        return None


class AnswerLength(Scorer):
    """Characters in the prediction (a plugin scorer: continuous, lower is better)."""

    higher_is_better: ClassVar[bool] = False

    def item(self, prediction: Any, reference: Any) -> dict[str, float]:
        return {"answer_length": float(len(str(prediction or "")))}
