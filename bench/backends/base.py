"""The backend contract: a batch of Requests in, Results streamed out, raw timings only."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bench.registry import Registry
from bench.spec import GenerationSpec

AnswerMode = Literal["choices", "json", "text"]
_EPOCH_OFFSET = time.time() - time.perf_counter()


def now() -> float:
    """Epoch seconds with perf_counter resolution: monotonic within a process, comparable across runs."""
    return _EPOCH_OFFSET + time.perf_counter()


@dataclass(frozen=True)
class Request:
    """One item to answer. `messages` suits chat models, `completion` base models."""

    id: str
    messages: tuple[dict[str, str], ...]
    completion: str
    mode: AnswerMode
    generation: GenerationSpec
    choices: tuple[str, ...] = ()
    choice_method: Literal["loglik", "grammar"] = "loglik"
    json_schema: dict[str, Any] | None = None
    prompt_format: Literal["auto", "chat", "completion"] = "auto"
    continuation_delimiter: str | None = None
    """Joins a completion prompt and each choice when scoring by log-likelihood; None: a space unless the prompt
    ends in whitespace. lm-eval tasks set "" because their choices carry the task's own target delimiter."""


@dataclass
class Result:
    """What the engine did for one request: text, token counts, raw timestamps, or an error."""

    request_id: str
    text: str = ""
    choice_index: int | None = None
    choice_logprobs: list[float] | None = None
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    t_start: float = 0.0
    t_first_token: float | None = None
    t_end: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class BackendInfo(BaseModel):
    """Provenance of what answered: engine and version, model file and hash, settings. No secrets."""

    model_config = ConfigDict(frozen=True)
    engine: str
    engine_version: str
    model: str
    model_path: str | None = None
    model_sha256: str | None = None
    settings: dict[str, Any] = {}


class BackendParamsBase(BaseModel):
    """Each backend declares its own strict params model, checked when the suite is validated."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    model_file_field: ClassVar[str | None] = None
    """The field holding a local model reference (bundled:NAME or a path) that validation checks exists."""
    kind: str


class Backend(Protocol):
    def info(self) -> BackendInfo: ...

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]: ...

    def close(self) -> None: ...


class BackendFactory(Protocol):
    Params: ClassVar[type[BackendParamsBase]]

    def __call__(self, params: Any) -> Backend: ...


BACKENDS: Registry[Any] = Registry("backend kind")
BACKENDS.add("llama_cpp", "bench.backends.llama_cpp:LlamaCppBackend")
BACKENDS.add("fake", "bench.backends.fake:FakeBackend")
BACKENDS.add("openai", "bench.backends.openai_http:OpenAIBackend")
BACKENDS.add("vllm", "bench.backends.vllm_offline:VllmBackend")
