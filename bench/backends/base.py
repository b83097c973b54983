"""The backend contract: a batch of Requests in, Results streamed out, raw timings only."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from bench.backends.model_files import is_instruct
from bench.errors import BackendError
from bench.registry import Registry
from bench.suite.spec import GenerationSpec, ModelSpec, TaskSpec
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
    input: str = ""
    """The item's input field as the dataset gives it (before any prompt template): what a trained classifier
    (backend kind `trained`) reads."""


@dataclass
class Result:
    """What the engine did for one request: text, token counts, raw timestamps, or an error."""

    request_id: str
    text: str = ""
    choice_index: int | None = None
    choice_logprobs: list[float] | None = None
    token_logprobs: list[float] | None = None
    """Generation: the log-probability (nats) of each generated token under the model's unconstrained distribution
    at temperature 1; None when the engine gives none."""
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
    model_refs: ClassVar[tuple[str, ...]] = ()
    """Fields naming other models of the suite by id (a cascade's small and large). Validation checks that each
    names a model that itself references none; the plan passes their specs in the block's `resolved` field
    ({field: model spec as JSON}), which such a Params model declares."""
    kind: str

    def suite_problems(self, models: Mapping[str, ModelSpec], tasks: Sequence[TaskSpec]) -> list[tuple[str, str]]:
        """Problems of this block that only the whole suite shows, as (field, message): e.g. a setting that does
        not suit one of the tasks the model runs. Called with the suite's models by id (its `model_refs` already
        checked) and its tasks. Default: none."""
        return []

    def task_refusals(self, task: TaskSpec, base_dir: Path) -> list[TaskRefusal]:
        """Why this backend cannot answer `task` (paths relative to `base_dir`, the suite's folder), checked by
        `bench validate` for every model x task pair. Default: none (a language model answers any task)."""
        return []


@dataclass(frozen=True)
class TaskRefusal:
    """Why a backend cannot answer a task: the field at fault, under the model (`on="model"`, a field of its
    backend block, e.g. "labels") or under the task (`on="task"`, e.g. "answer.mode"), what is wrong, what to do."""

    on: Literal["model", "task"]
    field: str
    message: str
    hint: str = ""


class Backend(Protocol):
    """A loaded model as the runner drives it. `info`, `generate` and `close` are required; `max_parallel`,
    `generate_load`, `reset_cache`, `token_counter` and `prepare_task` are optional hooks whose defaults
    BackendBase declares. The class-level hooks (Params, engine_name, crash_hints, prepare_files, ray_resources)
    are on BackendBase too."""

    max_parallel: int

    def info(self) -> BackendInfo: ...

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]: ...

    def generate_load(self, requests: Sequence[Request], parallel: int,
                      arrivals: Sequence[float] | None) -> Iterator[Result] | None: ...

    def reset_cache(self) -> None: ...

    def token_counter(self) -> TokenCounter | None: ...

    def prepare_task(self, task: TaskSpec, base_dir: Path) -> dict[str, Any]: ...

    def close(self) -> None: ...


class TokenCounter(Protocol):
    """What fitting an input into a context window needs of a backend (bench.run.truncate)."""

    def context_window(self) -> int:
        """Tokens one request may take in all: its prompt plus its answer (n_ctx)."""
        ...

    def prompt_tokens(self, request: Request) -> Sequence[Any]:
        """The request's whole rendered prompt as the model's tokens (what the engine evaluates)."""
        ...

    def text_tokens(self, text: str) -> Sequence[Any]:
        """A piece of text (an input field) as the model's tokens, without BOS or special tokens."""
        ...

    def text_of(self, tokens: list[Any]) -> str:
        """Tokens back to text."""
        ...


class BackendBase(ABC):
    """What every backend inherits: the required methods (abstract) and every optional hook with its default.

    A backend (a built-in or a plugin, registered under its `kind`) sets `Params` and implements `info`,
    `generate` and `close`; it overrides a hook only where its engine does something else. Shared code calls
    the hooks directly (never probes for them), so a backend that inherits this class gets every default.

    Class-level hooks (called before or without a loaded backend):
      Params        the strict params model of the backend block (a BackendParamsBase subclass)
      engine_name   the engine named in crash messages (default None: the backend kind)
      crash_hints   signal name (SIGSEGV...) -> what to try, shown when the engine dies (default: none, the
                    generic hints of the process executor apply)
      prepare_files one-off file work before loading, not measured (default: nothing)
      ray_resources what a Ray task running this backend requests (default {"num_cpus": 1.0})
    Instance hooks (on a loaded backend):
      max_parallel  requests the backend takes at once (default 1: the driver never overlaps requests)
      generate_load the whole load shape in the engine's own loop (default None: the driver schedules)
      reset_cache   forget cached prompts between warm-up and measurement (default: nothing to forget)
      token_counter its own tokens and context window, to fit over-long inputs (default None: cannot count)
      prepare_task  ready the loaded backend for a cell's task before its items (a trained model fits here);
                    returns facts for the cell's segment (default: nothing to do, {})
    Params-level hook: task_refusals (BackendParamsBase): why the backend cannot answer a task (`bench validate`).
    """

    Params: ClassVar[type[BackendParamsBase]]
    engine_name: ClassVar[str | None] = None
    """The engine named in crash messages ("llama.cpp"); None: the backend kind."""
    crash_hints: ClassVar[Mapping[str, str]] = {}
    """Signal name -> a hint for a native crash of this engine (e.g. SIGSEGV -> a setting to change)."""
    max_parallel: int = 1
    """How many requests the backend takes at once (threads of the driver, or sequences in its engine); more
    concurrency than this queues in the driver. 1: one at a time."""

    def __init__(self, params: Any) -> None:
        """Load the engine for `params` (an instance of `Params`); BackendError when it cannot (a missing engine,
        an unreadable model, a credential not set). The default does nothing."""
        return None

    @classmethod
    def prepare_files(cls, params: Any) -> None:
        """One-off file work before the backend loads (e.g. vLLM converting a GGUF once), outside the cell's
        memory measurement. `params` is an instance of `Params`. Default: nothing."""
        return None

    @classmethod
    def ray_resources(cls, params: Any) -> dict[str, float]:
        """Resources a Ray task running this backend requests, as Ray's task options (`num_cpus`, `num_gpus`:
        counts of logical CPUs / GPUs, fractions allowed). `params` is an instance of `Params`.
        Default: {"num_cpus": 1.0}."""
        return {"num_cpus": 1.0}

    @abstractmethod
    def info(self) -> BackendInfo:
        """Provenance of what answers: engine, version, model (file and sha256), settings; no secrets."""

    @abstractmethod
    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        """One Result per request (in any order), each with its raw timings (epoch seconds from `now()`) or its
        `error`; one request's failure is a Result with `error` set, never an exception."""

    def generate_load(self, requests: Sequence[Request], parallel: int,
                      arrivals: Sequence[float] | None) -> Iterator[Result] | None:
        """Run a whole cell's load shape in the engine's own step loop (an in-process batching engine: a thread
        per request would not batch). `parallel`: at most this many requests in flight (>= 1); `arrivals`:
        the epoch second at which each request arrives (rate mode; each Result then carries
        extra["t_arrival"]), None: all at once. Returns the Results as they finish, or None (the default) when
        the driver should schedule the requests itself through `generate` (bench.run.load_modes)."""
        return None

    def reset_cache(self) -> None:
        """Forget cached prompt state, so no measured item starts with its prompt cached by the warm-up or an
        earlier cell. Default: nothing (a backend without a prompt cache)."""
        return None

    def prepare_task(self, task: TaskSpec, base_dir: Path) -> dict[str, Any]:
        """Ready the loaded backend for `task` (relative paths from `base_dir`, the suite's folder) before its
        cell's warm-up: a trained model fits on the task's train split here (not measured as the cell's memory or
        CPU). Returns what it did, kept in the cell's segment as `training` (seconds, CPU seconds...); {} when
        there was nothing to do (the default). BackendError when the backend cannot answer the task."""
        return {}

    def token_counter(self) -> TokenCounter | None:
        """The backend's own tokens and context window, used to cut an over-long input to fit (the task's
        `prompt.truncate`, bench.run.truncate). Default None: the backend cannot count its tokens, so inputs go
        as rendered and one over the context is refused by the engine."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Release the engine (memory, processes, connections); the backend is not used afterwards."""


def backend_class(kind: str) -> type[BackendBase]:
    """The backend class registered under `kind` (a built-in or a plugin); KeyError for an unknown kind,
    PluginError for a plugin that cannot load, BackendError for a class that does not inherit BackendBase."""
    found = BACKENDS.get(kind)
    if not (isinstance(found, type) and issubclass(found, BackendBase)):
        raise BackendError(f"backend kind '{kind}' ({found!r}) does not inherit bench.backends.base.BackendBase, "
                           "which declares the hooks bench calls: derive the backend class from it")
    return found


def backend_factory(model: ModelSpec) -> tuple[type[BackendBase], BackendParamsBase]:
    """The backend class for a model and its params, checked by the backend's own Params model."""
    factory = backend_class(model.backend.kind)
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


BACKENDS: Registry[type[BackendBase]] = Registry("backend kind", "bench.backends")
BACKENDS.add("llama_cpp", "bench.backends.llama_cpp:LlamaCppBackend", "bench.backends.params:LlamaCppParams")
BACKENDS.add("fake", "bench.backends.fake:FakeBackend", "bench.backends.params:FakeParams")
BACKENDS.add("openai", "bench.backends.openai_http:OpenAIBackend", "bench.backends.params:OpenAIParams")
BACKENDS.add("vllm", "bench.backends.vllm_offline:VllmBackend", "bench.backends.params:VllmParams")
BACKENDS.add("cascade", "bench.backends.cascade:CascadeBackend", "bench.backends.cascade:CascadeParams")
BACKENDS.add("trained", "bench.backends.trained:TrainedBackend", "bench.backends.params:TrainedParams")
