"""The backend contract: a batch of Requests in, Results streamed out, raw timings only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bench.backends.model_files import is_instruct
from bench.registry import Registry
from bench.suite.spec import GenerationSpec, ModelSpec
from bench.tasks.prompts import continuation_prefix

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


def backend_factory(model: ModelSpec) -> tuple[Any, Any]:
    """The backend class for a model and its params, checked by the backend's own Params model."""
    factory = BACKENDS.get(model.backend.kind)
    return factory, factory.Params.model_validate(model.backend.model_dump())


def pick_format(prompt_format: Literal["auto", "chat", "completion"], has_template: bool,
                model: str) -> Literal["chat", "completion"]:
    """auto: chat for an instruction-tuned model with a chat template, plain completion otherwise."""
    if prompt_format != "auto":
        return prompt_format
    return "chat" if has_template and is_instruct(model) is not False else "completion"


def choice_text(request: Request, option: str, prompt: str, plain_completion: bool) -> str:
    """What follows the prompt when a choice is scored: the request's delimiter, else a space after a plain
    completion prompt that does not end in whitespace (a chat template ends where the answer starts)."""
    if request.continuation_delimiter is not None:
        return request.continuation_delimiter + option
    return continuation_prefix(prompt) + option if plain_completion else option


def split_continuation(whole: list[int], prompt: list[int], alone: Callable[[], list[int]]) -> list[int]:
    """A choice's tokens: the joint tokenization past the prompt (as lm-eval splits it), or the choice tokenized
    alone when the joint tokens do not start with the prompt's."""
    if whole[: len(prompt)] == prompt and len(whole) > len(prompt):
        return whole[len(prompt):]
    return alone()


BACKENDS: Registry[Any] = Registry("backend kind", "bench.backends")
BACKENDS.add("llama_cpp", "bench.backends.llama_cpp:LlamaCppBackend", "bench.backends.params:LlamaCppParams")
BACKENDS.add("fake", "bench.backends.fake:FakeBackend", "bench.backends.params:FakeParams")
BACKENDS.add("openai", "bench.backends.openai_http:OpenAIBackend", "bench.backends.params:OpenAIParams")
BACKENDS.add("vllm", "bench.backends.vllm_offline:VllmBackend", "bench.backends.params:VllmParams")
