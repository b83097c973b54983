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
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from bench import optional
from bench.backends.base import (
    BackendBase,
    BackendInfo,
    Request,
    Result,
    TokenCounter,
    choice_text,
    now,
    pick_format,
    split_continuation,
)
from bench.backends.context_size import FALLBACK_N_CTX, auto_n_ctx
from bench.backends.llama_batch import BatchEngine, token_budget
from bench.backends.llama_load import load_llama, resolve_repack, system_info
from bench.backends.llama_sampling import SamplingSettings, TokenSampler
from bench.backends.model_files import file_sha256, resolve_model
from bench.backends.params import LlamaCppParams
from bench.errors import BackendError
from bench.machine.detect import physical_cores
from bench.metrics.records import OVER_CONTEXT


def default_n_ctx(path: Path) -> tuple[int, str]:
    """(n_ctx, why): context_size.auto_n_ctx, or FALLBACK_N_CTX when the file's header cannot be read."""
    try:
        return auto_n_ctx(path)
    except (ValueError, OSError, KeyError, ImportError) as exc:  # ImportError: the gguf package (extra llama)
        return FALLBACK_N_CTX, f"auto: fallback {FALLBACK_N_CTX}, the GGUF header could not be read ({exc})"


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


def json_schema_to_gbnf(schema: str) -> str:
    """llama-cpp-python's JSON-schema to GBNF conversion (properties in the schema's order)."""
    from llama_cpp.llama_grammar import json_schema_to_gbnf as convert

    return str(convert(schema))


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


class LlamaCppBackend(BackendBase):
    """One loaded GGUF model: one request at a time on its own context, or several per llama_decode on a second
    context (BatchEngine) in concurrency, throughput and rate modes. Hooks: engine_name, crash_hints (AMX),
    ray_resources (2 CPUs), max_parallel (params.parallel), generate_load (its own batching), reset_cache."""

    Params = LlamaCppParams
    engine_name = "llama.cpp"
    crash_hints: ClassVar[dict[str, str]] = {
        "SIGSEGV": "on an Intel CPU with AMX, llama.cpp's AMX kernels crash on repacked weights: set `repack: false` "
                   "in the model's backend (llama.cpp#20824)"}
    max_parallel = 1  # set from params.parallel: sequences decoded together by generate_load

    @classmethod
    def ray_resources(cls, params: LlamaCppParams) -> dict[str, float]:
        """Two CPUs: its threads take the cores."""
        return {"num_cpus": 2.0}

    def __init__(self, params: LlamaCppParams) -> None:
        self.llama_cpp = optional.llama_cpp()
        self.path = resolve_model(params.model)
        self.n_ctx_reason = "set in the suite"
        if params.n_ctx == 0:
            n_ctx, self.n_ctx_reason = default_n_ctx(self.path)
            params = params.model_copy(update={"n_ctx": n_ctx})
        self.params = params
        self.n_threads = params.n_threads or physical_cores()
        self.repack, self.repack_reason = resolve_repack(params.repack)
        self.llm = self._load()
        self.vocab = self.llama_cpp.llama_model_get_vocab(self.llm.model)
        self.chat_format = self._chat_formatter()
        self._grammars: dict[str, str] = {}
        self.max_parallel = params.parallel
        self._batched: BatchEngine | None = None
        self.grammar_first = False  # True: the grammar filters the whole vocabulary each step (for comparisons)
        self.record_logprobs = True  # False: no per-token log-probabilities (benchmarks/token_logprobs.py)

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
        settings = {"n_threads": self.n_threads, "n_ctx": self.params.n_ctx, "n_ctx_reason": self.n_ctx_reason,
                    "n_batch": self.params.n_batch,
                    "flash_attn": self.params.flash_attn, "prefix_cache": self.params.prefix_cache,
                    "parallel": self.params.parallel,
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

    def generate_load(self, requests: Sequence[Request], parallel: int,
                      arrivals: Sequence[float] | None) -> Iterator[Result]:
        """Load modes: one at a time (latency), else up to `parallel` sequences per llama_decode."""
        if parallel <= 1 and arrivals is None:
            return self.generate(requests)
        prompts = self._tokenized(requests)
        need = max((len(prompts[r.id]) + token_budget(r) for r in requests if r.id in prompts), default=1)
        seq_ctx = min(self.params.n_ctx, -(-need // 256) * 256)  # rounded up to llama.cpp's KV padding
        if self._batched is None or self._batched.seq_ctx < seq_ctx:
            if self._batched is not None:
                self._batched.close()
            with quiet_stderr():
                self._batched = BatchEngine(self, self.params.parallel, seq_ctx)
        return self._batched.run(requests, parallel, arrivals, prompts)

    def _tokenized(self, requests: Sequence[Request]) -> dict[str, list[int]]:
        """Prompt tokens by request id; a request whose prompt cannot be built is left out (it fails when run)."""
        prompts = {}
        for request in requests:
            try:
                prompts[request.id] = self.prompt_tokens(request)
            except Exception:  # recorded as that item's error when the engine builds it again
                continue
        return prompts

    def _run(self, request: Request, start: float) -> Result:
        prompt = self.prompt_tokens(request)
        budget = 1 if request.mode == "choices" else request.generation.max_tokens
        if len(prompt) + budget > self.params.n_ctx:
            return Result(request.id, prompt_tokens=len(prompt), t_start=start, t_end=now(), extra={OVER_CONTEXT: True},
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

    def token_counter(self) -> TokenCounter:
        """Itself: it counts prompts in its own tokens and knows its context window."""
        return self

    def prompt_tokens(self, request: Request) -> list[int]:
        text, has_bos = self.prompt_text(request)
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=not has_bos, special=True))

    def context_window(self) -> int:
        """The context this backend was loaded with (n_ctx): prompt + answer tokens of one request."""
        return self.params.n_ctx

    def text_tokens(self, text: str) -> list[int]:
        """A piece of text (an input field) as this model's tokens, without BOS or special tokens."""
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def text_of(self, tokens: list[int]) -> str:
        return self._detok(tokens)

    def _stream(self, request: Request, prompt: list[int], start: float) -> Result:
        cached = self._reuse_prefix(prompt)
        sampler = self.sampler(request)
        try:
            self.llm.eval(prompt[cached:])
            out: list[int] = []
            first: float | None = None
            while True:
                out.append(sampler.sample(self.llm.ctx, -1))
                first = first or now()
                if self._finished(request, out):
                    break
                self.llm.eval(out[-1:])
        finally:
            sampler.close()
        return self._text_result(request, out, Result(
            request.id, prompt_tokens=len(prompt), completion_tokens=len(out), cached_prompt_tokens=cached,
            t_start=start, t_first_token=first, token_logprobs=sampler.logprobs or None,
            extra={"grammar_rejections": sampler.rejections}))

    def sampler(self, request: Request) -> TokenSampler:
        """This request's token sampler (greedy or seeded; its grammar checked on the sampled token only)."""
        gen = request.generation
        settings = SamplingSettings(gen.temperature, gen.top_p, gen.seed, self._grammar(request))
        return TokenSampler(self.llama_cpp, self.vocab, settings, grammar_first=self.grammar_first,
                            record_logprobs=self.record_logprobs)

    def _finished(self, request: Request, out: list[int]) -> bool:
        """End of generation, the token budget, or a stop string in the text so far."""
        stop = request.generation.stop
        return (bool(self.llama_cpp.llama_vocab_is_eog(self.vocab, out[-1]))
                or len(out) >= request.generation.max_tokens
                or bool(stop and any(s in self._detok(out) for s in stop)))

    def _text_result(self, request: Request, out: list[int], result: Result) -> Result:
        """Fill the text (end-of-generation tokens dropped, cut at the first stop string), end time and
        finish_reason ("length" when the token budget ended it, as OpenAI-compatible servers say)."""
        ended = bool(out) and bool(self.llama_cpp.llama_vocab_is_eog(self.vocab, out[-1]))
        result.extra["finish_reason"] = "length" if not ended and len(out) >= request.generation.max_tokens \
            and not any(s in self._detok(out) for s in request.generation.stop) else "stop"
        text = self._detok([t for t in out if not self.llama_cpp.llama_vocab_is_eog(self.vocab, t)])
        for stop in request.generation.stop:
            text = text.split(stop)[0]
        result.text = text
        result.choice_index = request.choices.index(text.strip()) if text.strip() in request.choices else None
        result.t_end = now()
        return result

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

    def _grammar(self, request: Request) -> str | None:
        """GBNF for json (from the schema, properties in the suite's order, as servers build it) or choices."""
        if request.mode == "json" and request.json_schema is not None:
            key = json.dumps(request.json_schema)
            if key not in self._grammars:
                self._grammars[key] = json_schema_to_gbnf(key)
            return self._grammars[key]
        if request.mode == "choices":
            return 'root ::= " "? (' + " | ".join(json.dumps(c) for c in request.choices) + ")"
        return None

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
        """Forget the cached prompts (the next request evaluates its whole prompt)."""
        self.llm.reset()
        if self._batched is not None:
            self._batched.reset_cache()

    def close(self) -> None:
        if self._batched is not None:
            self._batched.close()
            self._batched = None
        self.llm.close()
