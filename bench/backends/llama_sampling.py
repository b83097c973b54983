"""Per-sequence token sampling for the llama.cpp backend, with a grammar checked only on the sampled token.

llama-cpp-python puts the grammar sampler in front of the sampling chain, so it filters the whole vocabulary
(262k tokens for Gemma 3) at every step. llama.cpp's own `common_sampler_sample` (common/sampling.cpp, the
sampler of llama-cli and llama-server) samples as if unconstrained first, checks that one token against the
grammar and filters the vocabulary only when it is rejected. This module does the same through
llama-cpp-python's low-level API (`llama_sampler_*`).

Equivalence with the full-vocabulary filter:
- greedy: the unconstrained argmax, when the grammar allows it, is also the argmax over the allowed tokens
  (ties break to the lowest id in both), and a rejection falls back to exactly the full-filter pick.
- temperature sampling (top_p = 1): accepting a draw from p with probability 1[allowed] and otherwise drawing
  from p restricted to the allowed set A gives p(t) + (1 - p(A)) p(t) / p(A) = p(t) / p(A): the filtered
  distribution. With top_p < 1 the nucleus is cut before the check instead of after the filter, as llama.cpp
  does; the seeded draws differ from the full-filter path's.

Greedy without the chain: llama.cpp's greedy sampler copies the whole vocabulary's logits into a token array
and keeps the first largest (1.4 ms per token for Gemma 3's 262,144 tokens on 2 cores). For temperature 0 the
free pick is `np.argmax` of the logits row read in place, which is the same token (the first largest logit,
i.e. the lowest id among ties); llama.cpp's greedy sampler keeps no state, so nothing needs accepting.

Token log-probabilities (the router signal of docs/routing.md): after each pick, the chosen token's
log-probability under the model's own distribution (log-softmax of the raw logits row: temperature 1, before any
sampling setting or grammar, as vLLM's default raw logprobs) is appended to `logprobs`: one max, one subtraction,
one exp and one sum over the row, in float32 into a reused buffer (benchmarks/token_logprobs.py measures the decode
overhead).
"""

from __future__ import annotations

import ctypes
import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SamplingSettings:
    """One request's sampling: temperature 0 is greedy; `grammar` is GBNF text (root rule `root`) or None."""

    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    grammar: str | None = None


class TokenSampler:
    """Samples one sequence's next token from a llama context's logits row; owns its llama.cpp samplers.

    `free` is the chain llama-cpp-python builds for these settings (greedy, or top-k 0 / typical 1 / top-p /
    min-p 0 / temperature / seeded dist); `filtered` is the grammar followed by the same chain.
    grammar_first=True filters the whole vocabulary at every step (llama-cpp-python's way) and samples through
    llama.cpp's chain even when greedy, for comparisons.
    """

    def __init__(self, lib: Any, vocab: Any, settings: SamplingSettings, grammar_first: bool = False,
                 record_logprobs: bool = True) -> None:
        self.lib = lib
        self.grammar_first = grammar_first
        self.record_logprobs = record_logprobs
        self.logprobs: list[float] = []
        """Each sampled token's log-probability (nats) under the raw logits row, when record_logprobs."""
        self.steps = 0
        self.rejections = 0
        self.n_vocab = int(lib.llama_vocab_n_tokens(vocab))
        self._scratch = np.empty(self.n_vocab, dtype=np.float32) if record_logprobs else None
        self.argmax = settings.temperature == 0.0 and not grammar_first
        self.free = self._chain(settings, None, vocab)
        self.filtered = self._chain(settings, settings.grammar, vocab) if settings.grammar is not None else None
        self.grammar = lib.llama_sampler_chain_get(self.filtered, 0) if self.filtered is not None else None
        self._one = lib.llama_token_data(0, 0.0, 0.0)
        self._one_array = lib.llama_token_data_array(ctypes.pointer(self._one), 1, -1, False)

    def _chain(self, settings: SamplingSettings, grammar: str | None, vocab: Any) -> Any:
        lib = self.lib
        chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        parts = [] if grammar is None else [self._grammar_sampler(vocab, grammar, chain)]
        if settings.temperature == 0.0:
            parts.append(lib.llama_sampler_init_greedy())
        else:
            parts += [lib.llama_sampler_init_top_k(0), lib.llama_sampler_init_typical(1.0, 1),
                      lib.llama_sampler_init_top_p(settings.top_p, 1), lib.llama_sampler_init_min_p(0.0, 1),
                      lib.llama_sampler_init_temp(settings.temperature),
                      lib.llama_sampler_init_dist(settings.seed & 0xFFFFFFFF)]
        for part in parts:
            lib.llama_sampler_chain_add(chain, part)
        return chain

    def _grammar_sampler(self, vocab: Any, grammar: str, chain: Any) -> Any:
        sampler = self.lib.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
        if not sampler:
            self.lib.llama_sampler_free(chain)
            raise ValueError("llama.cpp cannot parse the grammar built for this request")
        return sampler

    def sample(self, ctx: Any, idx: int) -> int:
        """The next token from logits row `idx` of `ctx` (-1: the last), already accepted by the samplers; its
        log-probability is appended to `logprobs` (when record_logprobs)."""
        self.steps += 1
        token = self._pick(ctx, idx)
        if self.record_logprobs:
            self.logprobs.append(token_logprob(self.row(ctx, idx), token, self._scratch))
        return token

    def _pick(self, ctx: Any, idx: int) -> int:
        if self.grammar_first and self.filtered is not None:
            return int(self.lib.llama_sampler_sample(self.filtered, ctx, idx))
        token = self.greedy(ctx, idx) if self.argmax else int(self.lib.llama_sampler_sample(self.free, ctx, idx))
        if self.filtered is None:
            return token
        if self.allows(token):
            self.lib.llama_sampler_accept(self.filtered, token)
            return token
        self.rejections += 1
        return int(self.lib.llama_sampler_sample(self.filtered, ctx, idx))

    def greedy(self, ctx: Any, idx: int) -> int:
        """The id of the first largest logit of row `idx` (what llama.cpp's greedy sampler picks), read in place."""
        return int(np.argmax(self.row(ctx, idx)))

    def row(self, ctx: Any, idx: int) -> np.ndarray:
        """Logits row `idx` of `ctx` (-1: the last), a float32 view of llama.cpp's buffer (no copy)."""
        return np.ctypeslib.as_array(self.lib.llama_get_logits_ith(ctx, idx), shape=(self.n_vocab,))

    def allows(self, token: int) -> bool:
        """Whether the grammar, in its current state, accepts `token` next (the state is not advanced)."""
        self._one.id, self._one.logit, self._one.p = token, 1.0, 0.0
        self._one_array.selected, self._one_array.sorted = -1, False
        self.lib.llama_sampler_apply(self.grammar, ctypes.byref(self._one_array))
        return not math.isinf(self._one.logit)

    def close(self) -> None:
        for chain in (self.free, self.filtered):
            if chain is not None:
                self.lib.llama_sampler_free(chain)
        self.free = self.filtered = self.grammar = None


def token_logprob(logits: np.ndarray, token: int, scratch: np.ndarray | None = None) -> float:
    """log-softmax of a logits row at `token` (nats): logits[token] - max - ln(sum(exp(logits - max))).

    `scratch`: a float32 array of the row's size reused for exp (no allocation per token). The sum is float32
    (numpy's pairwise summation: relative error ~1e-7 over 262,144 terms each <= 1, well below 1e-5 nats)."""
    out = scratch if scratch is not None else np.empty(logits.shape, dtype=np.float32)
    top = float(logits.max())
    np.subtract(logits, np.float32(top), out=out)
    np.exp(out, out=out)
    return float(logits[token]) - top - math.log(float(out.sum()))
