"""A third-party plugin as a user would write one: a backend, a scorer and a dataset kind, nothing from bench's
insides but the public contract (Request in, Result out; a Params model; a scorer class; a DatasetKind with
Params and items). Installed by tests/test_plugins.py."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from bench.backends.base import BackendBase, BackendInfo, BackendParamsBase, Request, Result, now
from bench.tasks.dataset_kinds import DatasetKind
from bench.tasks.items import Item
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


class CountingParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["counting"] = "counting"
    n: int = Field(ge=1, le=100)
    labels: tuple[str, ...] = ("billing", "shipping")
    """Item i expects labels[i % len(labels)]."""


class CountingKind(DatasetKind):
    """n generated items ("item 0", "item 1", ...) whose expected labels cycle through `labels`."""

    Params = CountingParams

    def items(self, params: CountingParams, base_dir: Path) -> list[Item]:
        return [Item(id=f"c{i}", input=f"item {i}", expected=params.labels[i % len(params.labels)])
                for i in range(params.n)]
