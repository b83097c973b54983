"""In-process llama.cpp through llama-cpp-python: streamed generation with raw timestamps,
JSON-schema constrained output, and label log-likelihood on the evaluated prompt state."""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field, field_validator

from bench import optional
from bench.backends.base import (
    BackendInfo,
    BackendParamsBase,
    Request,
    Result,
    choice_text,
    now,
    pick_format,
    split_continuation,
)
from bench.backends.llama_load import RepackSetting, load_llama, resolve_repack, system_info
from bench.errors import BackendError
from bench.hardware import physical_cores
from bench.models import file_sha256, resolve_model


class LlamaCppParams(BackendParamsBase):
    model_file_field: ClassVar[str | None] = "model"
    kind: Literal["llama_cpp"] = "llama_cpp"
    model: str
    n_threads: int | None = None
    n_ctx: int = 4096
    n_batch: int = 512
    flash_attn: bool = False
    prompt_format: Literal["auto", "chat", "completion"] = "auto"
    prefix_cache: bool = True
    """Reuse the KV cache of the longest common prompt prefix (llama.cpp server's cache_prompt)."""
    kv_overrides: dict[str, bool | int | float | str] = Field(default_factory=dict)
    """GGUF metadata overrides, as llama.cpp's --override-kv (e.g. tokenizer.ggml.add_bos_token: true)."""
    repack: RepackSetting = "auto"
    """llama.cpp's weight repacking (`--repack`, `use_extra_bufts`): auto = off on CPUs with AMX (llama.cpp#20824)."""

    @field_validator("repack", mode="before")
    @classmethod
    def _repack_value(cls, value: object) -> object:
        if value == "auto" or value is True or value is False:
            return value
        raise ValueError(f"{value!r} is not allowed; use auto, true or false")


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C-level writes) for the duration; Python exceptions still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def chat_formatter(llm: Any) -> Any:
    """The GGUF's own chat template (Jinja2, as llama-cpp-python's server renders it), or None."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    special = {"bos": llm.token_bos(), "eos": llm.token_eos()}
    text = {k: llm.detokenize([v], special=True).decode("utf-8", "replace") if v >= 0 else ""
            for k, v in special.items()}
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=text["eos"], bos_token=text["bos"])


class LlamaCppBackend:
    """One loaded GGUF model; requests run one at a time, each from an empty KV cache."""

    Params = LlamaCppParams
    engine_name = "llama.cpp"
    crash_hints: ClassVar[dict[str, str]] = {
        "SIGSEGV": "on an Intel CPU with AMX, llama.cpp's AMX kernels crash on repacked weights: set `repack: false` "
                   "in the model's backend (llama.cpp#20824)"}
    max_parallel = 1  # one llama context: requests run one after another
    ray_resources: ClassVar[dict[str, float]] = {"num_cpus": 2}  # its threads take the cores

    def __init__(self, params: LlamaCppParams) -> None:
        self.llama_cpp = optional.llama_cpp()
        self.params = params
        self.path = resolve_model(params.model)
        self.n_threads = params.n_threads or physical_cores()
        self.repack, self.repack_reason = resolve_repack(params.repack)
        self.llm = self._load()
        self.vocab = self.llama_cpp.llama_model_get_vocab(self.llm.model)
        self.chat_format = self._chat_formatter()
        self._grammars: dict[str, Any] = {}

    def _load(self) -> Any:
        try:
            with quiet_stderr():  # llama.cpp prints context notes straight to fd 2 even with verbose=False
                return load_llama(
                    self.llama_cpp, self.repack, model_path=str(self.path), n_ctx=self.params.n_ctx,
                    n_batch=self.params.n_batch,
                    n_threads=self.n_threads, n_threads_batch=self.n_threads,
                    flash_attn=self.params.flash_attn, kv_overrides=dict(self.params.kv_overrides) or None,
                    seed=0, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llama.cpp cannot load {self.path}: {exc}") from None

    def _chat_formatter(self) -> Any:
        return chat_formatter(self.llm)

    def default_format(self) -> Literal["chat", "completion"]:
        return pick_format(self.params.prompt_format, self.chat_format is not None, self.params.model)

    def info(self) -> BackendInfo:
        settings = {"n_threads": self.n_threads, "n_ctx": self.params.n_ctx, "n_batch": self.params.n_batch,
                    "flash_attn": self.params.flash_attn, "prefix_cache": self.params.prefix_cache,
                    "prompt_format": self.default_format(), "kv_overrides": dict(self.params.kv_overrides),
                    "model_params": int(self.llama_cpp.llama_model_n_params(self.llm.model)),
                    "model_size_bytes": int(self.llama_cpp.llama_model_size(self.llm.model)),
                    "arch": self.architecture(), "repack": self.repack, "repack_reason": self.repack_reason,
                    "system_info": system_info(self.llama_cpp)}
        return BackendInfo(engine="llama.cpp (llama-cpp-python)", engine_version=self.llama_cpp.__version__,
                           model=self.params.model, model_path=str(self.path),
                           model_sha256=file_sha256(self.path), settings=settings)

    def architecture(self) -> dict[str, int]:
        """Shape facts the cost projection needs (layers, widths, heads, vocabulary)."""
        lib, model = self.llama_cpp, self.llm.model
        n_embd, n_head = int(lib.llama_model_n_embd(model)), int(lib.llama_model_n_head(model))
        arch = self.llm.metadata.get("general.architecture", "")
        head_dim = int(self.llm.metadata.get(f"{arch}.attention.key_length", n_embd // max(n_head, 1)))
        return {"n_layer": int(lib.llama_model_n_layer(model)), "n_embd": n_embd, "n_head": n_head,
                "n_head_kv": int(lib.llama_model_n_head_kv(model)), "head_dim": head_dim,
                "n_vocab": int(lib.llama_vocab_n_tokens(self.vocab))}

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        for request in requests:
            start = now()
            try:
                yield self._run(request, start)
            except Exception as exc:  # one item's failure is recorded, never fatal to the run
                yield Result(request.id, t_start=start, t_end=now(), error=f"{type(exc).__name__}: {exc}")

    def _run(self, request: Request, start: float) -> Result:
        prompt = self.prompt_tokens(request)
        budget = 1 if request.mode == "choices" else request.generation.max_tokens
        if len(prompt) + budget > self.params.n_ctx:
            return Result(request.id, prompt_tokens=len(prompt), t_start=start, t_end=now(),
                          error=f"prompt of {len(prompt)} tokens + {budget} does not fit n_ctx={self.params.n_ctx}")
        if request.mode == "choices" and request.choice_method == "loglik":
            return self._choose_by_loglik(request, prompt, start)
        return self._stream(request, prompt, start)

    def prompt_text(self, request: Request) -> tuple[str, bool]:
        """The prompt string and whether it already holds the BOS token."""
        fmt = self.default_format() if request.prompt_format == "auto" else request.prompt_format
        if fmt == "completion" or self.chat_format is None:
            return request.completion, False
        rendered = self.chat_format(messages=list(request.messages))
        return rendered.prompt, bool(rendered.added_special)

    def prompt_tokens(self, request: Request) -> list[int]:
        text, has_bos = self.prompt_text(request)
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=not has_bos, special=True))

    def _stream(self, request: Request, prompt: list[int], start: float) -> Result:
        gen = request.generation
        cached = self._reuse_prefix(prompt)
        self.llm.set_seed(gen.seed)
        out: list[int] = []
        first: float | None = None
        for token in self.llm.generate(prompt, temp=gen.temperature, top_p=gen.top_p, top_k=0, min_p=0.0,
                                       repeat_penalty=1.0, grammar=self._grammar(request)):
            first = first or now()
            out.append(token)
            if self.llama_cpp.llama_vocab_is_eog(self.vocab, token) or len(out) >= gen.max_tokens:
                break
            if gen.stop and any(s in self._detok(out) for s in gen.stop):
                break
        text = self._detok([t for t in out if not self.llama_cpp.llama_vocab_is_eog(self.vocab, t)])
        for stop in gen.stop:
            text = text.split(stop)[0]
        index = request.choices.index(text.strip()) if text.strip() in request.choices else None
        return Result(request.id, text=text, choice_index=index, prompt_tokens=len(prompt), completion_tokens=len(out),
                      cached_prompt_tokens=cached, t_start=start, t_first_token=first, t_end=now())

    def _reuse_prefix(self, prompt: list[int]) -> int:
        """Keep the KV entries of the longest prefix shared with the previous prompt; return its length.

        At least one prompt token is always evaluated so that fresh logits exist.
        """
        if not self.params.prefix_cache:
            self.llm.reset()
            return 0
        previous = self.llm.input_ids[: self.llm.n_tokens]
        shared = 0
        for a, b in zip(previous, prompt, strict=False):
            if a != b:
                break
            shared += 1
        shared = min(shared, len(prompt) - 1)
        self.llm.n_tokens = shared  # eval()/generate() drop the KV entries from here on
        return shared

    def _detok(self, tokens: list[int]) -> str:
        return str(self.llm.detokenize(tokens).decode("utf-8", errors="replace"))

    def _grammar(self, request: Request) -> Any:
        """GBNF for json (from the schema, properties in the suite's order, as servers build it) or choices."""
        if request.mode == "json" and request.json_schema is not None:
            key, source = json.dumps(request.json_schema, sort_keys=True), json.dumps(request.json_schema)
            build = "json"
        elif request.mode == "choices":
            key = source = '" "? (' + " | ".join(json.dumps(c) for c in request.choices) + ")"
            build = "choices"
        else:
            return None
        if key not in self._grammars:
            grammar_cls = self.llama_cpp.LlamaGrammar
            self._grammars[key] = (grammar_cls.from_json_schema(source, verbose=False) if build == "json"
                                   else grammar_cls.from_string(f"root ::= {source}", verbose=False))
        return self._grammars[key]

    def _choose_by_loglik(self, request: Request, prompt: list[int], start: float) -> Result:
        """Evaluate the prompt once, then each option's tokens on that cached state."""
        cached = self._reuse_prefix(prompt)
        self.llm.eval(prompt[cached:])
        first = now()
        last = self._logprobs()
        scores, greedy, evaluated = [], [], 0
        for option in request.choices:
            tokens = self._continuation_tokens(request, prompt, option)
            score, is_greedy = self._option_logprob(tokens, len(prompt), last)
            scores.append(score)
            greedy.append(is_greedy)
            evaluated += len(tokens) - 1
        best = int(np.argmax(scores))
        return Result(request.id, text=request.choices[best], choice_index=best, choice_logprobs=scores,
                      prompt_tokens=len(prompt), cached_prompt_tokens=cached, completion_tokens=0, t_start=start,
                      t_first_token=first, t_end=now(),
                      extra={"option_tokens_evaluated": evaluated, "choice_greedy": greedy})

    def _continuation_tokens(self, request: Request, prompt: list[int], option: str) -> list[int]:
        """Tokens of `option` after the prompt, split from the joint tokenization like lm-eval does."""
        text, has_bos = self.prompt_text(request)
        option = choice_text(request, option, text, plain_completion=not has_bos and text == request.completion)
        whole = list(self.llm.tokenize((text + option).encode("utf-8"), add_bos=not has_bos, special=True))
        return split_continuation(whole, prompt, lambda: list(self.llm.tokenize(option.encode("utf-8"),
                                                                                add_bos=False, special=False)))

    def _option_logprob(self, tokens: list[int], n_prompt: int, first_logprobs: np.ndarray) -> tuple[float, bool]:
        """Sum of the option's token log-probabilities, and whether greedy decoding would produce it."""
        total = float(first_logprobs[tokens[0]])
        greedy = int(np.argmax(first_logprobs)) == tokens[0]
        for current, following in itertools.pairwise(tokens):
            self.llm.eval([current])
            logprobs = self._logprobs()
            total += float(logprobs[following])
            greedy = greedy and int(np.argmax(logprobs)) == following
        self.llm.n_tokens = n_prompt  # roll back; the next eval() drops the option's KV entries
        return total, greedy

    def _logprobs(self) -> np.ndarray:
        """log-softmax of the logits of the last evaluated position."""
        pointer = self.llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
        shifted: np.ndarray = logits - logits.max()
        return shifted - math.log(float(np.exp(shifted).sum()))

    def reset_cache(self) -> None:
        """Forget the cached prompt (the next request evaluates its whole prompt)."""
        self.llm.reset()

    def close(self) -> None:
        self.llm.close()
