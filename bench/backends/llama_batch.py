"""Several sequences per `llama_decode` for the llama.cpp backend (concurrency, throughput and rate modes).

A second llama context on the same loaded model holds one KV stream per slot (`n_seq_max` = slots,
`kv_unified` off) of `seq_ctx` tokens, the longest prompt + token budget of the workload (at most n_ctx). A
sequence's cells then sit where they would in a context of its own, so its logits are bit-identical to
single-stream decoding (ggml's matrix products are row-independent); in one unified cache its cells land
after other sequences' and the masked attention sums in another order, which moved SmolLM2's label
log-likelihoods by up to 0.34 nats (Q4_1 weights, activations re-quantized to 8 bits per layer). Prompt
chunks of several sequences in one batch were not always bit-identical either (llama.cpp splits such a batch
into ubatches of equal tokens per sequence), so each step decodes one `llama_batch` with the single next
token of every sequence in sequence-id order, then one prompt chunk (at most `n_batch` tokens) of one newly
admitted sequence alone, and samples or scores each sequence from its own logits row.
Like llama-server's slots, a slot keeps its last prompt's KV entries and a new request reuses the longest
common prefix (`llama_memory_seq_rm` drops the rest); when another slot holds a longer one (sequences admitted
together share a system prompt), its KV stream is copied in (`llama_memory_seq_cp`) before the first chunk.

Per-item timings stay each sequence's own: t_start when it enters a slot, t_first_token after the step that
produced its first token (generation) or evaluated its prompt (choice scoring), t_end after its last step.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bench.backends.base import Request, Result, now
from bench.backends.llama_sampling import TokenSampler
from bench.metrics.records import OVER_CONTEXT

if TYPE_CHECKING:
    from bench.backends.llama_cpp import LlamaCppBackend


BORROW_MIN = 16
"""Prompt tokens another slot must share beyond a slot's own cache for its KV stream to be copied: the copy moves
the whole stream (23 kB per cell for SmolLM2 with 256+ cells), worth it once it saves a few tokens of prefill."""


@dataclass
class SeqState:
    """One request in a slot: tokens still to feed, what it produced so far, its own timings."""

    request: Request
    prompt: list[int]
    result: Result
    feed: list[int]
    pos: int
    sampler: TokenSampler | None = None
    out: list[int] = field(default_factory=list)
    options: list[list[int]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    greedy: list[bool] = field(default_factory=list)
    option_at: tuple[int, int] = (0, 0)
    """(option, token) whose logits the next step yields, once the prompt is in."""


@dataclass
class Slot:
    seq_id: int
    cached: list[int] = field(default_factory=list)
    seq: SeqState | None = None


def token_budget(request: Request) -> int:
    """KV entries a request may need beyond its prompt: the token budget, or for scored choices a bound on the
    longest option (a token covers at least one UTF-8 byte; +2 for a delimiter)."""
    if request.mode == "choices" and request.choice_method == "loglik":
        return max((len(c.encode("utf-8")) for c in request.choices), default=0) + 2
    return request.generation.max_tokens


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log-softmax of one logits row, in float64."""
    shifted: np.ndarray = logits.astype(np.float64) - float(logits.max())
    return shifted - float(np.log(np.exp(shifted).sum()))


def shared_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class BatchEngine:
    """Decodes up to `n_seq` requests together; owns its llama context, batch and slots."""

    def __init__(self, backend: LlamaCppBackend, n_seq: int, seq_ctx: int) -> None:
        self.backend, self.lib, self.n_seq, self.seq_ctx = backend, backend.llama_cpp, n_seq, seq_ctx
        self.n_batch = int(backend.params.n_batch)
        params = self.lib.llama_context_params.from_buffer_copy(backend.llm.context_params)
        params.n_seq_max, params.kv_unified, params.n_ctx = n_seq, False, seq_ctx * n_seq
        self.ctx = self.lib.llama_init_from_model(backend.llm.model, params)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp cannot create a context for {n_seq} sequences of {seq_ctx} tokens")
        self.memory = self.lib.llama_get_memory(self.ctx)
        self.batch = self.lib.llama_batch_init(self.n_batch + n_seq, 0, 1)
        self.slots = [Slot(i) for i in range(n_seq)]
        self.n_vocab = int(self.lib.llama_vocab_n_tokens(backend.vocab))

    # ---- the step loop

    def run(self, requests: Sequence[Request], parallel: int, arrivals: Sequence[float] | None,
            prompts: dict[str, list[int]]) -> Iterator[Result]:
        """Results as each request finishes; at most `parallel` (<= n_seq) in slots; admitted at `arrivals`.
        `prompts`: request id -> prompt tokens, where already tokenized."""
        times: Sequence[float | None] = arrivals if arrivals is not None else [None] * len(requests)
        queue = deque(zip(requests, times, strict=True))
        self.prompts = prompts
        try:
            while queue or self._active():
                yield from self._admit(queue, min(parallel, self.n_seq))
                if not self._active():
                    if queue:
                        time.sleep(max(min((queue[0][1] or now()) - now(), 0.05), 0.0))
                    continue
                yield from self._step()
        finally:
            for slot in self.slots:
                self._release(slot)

    def _active(self) -> list[Slot]:
        return [slot for slot in self.slots if slot.seq is not None]

    def _admit(self, queue: deque[tuple[Request, float | None]], parallel: int) -> Iterator[Result]:
        while queue and len(self._active()) < parallel and (queue[0][1] is None or now() >= queue[0][1]):
            request, arrival = queue.popleft()
            start = now()
            try:
                seq = self._sequence(request, start)
            except Exception as exc:  # one item's failure is recorded, never fatal to the others
                seq = None
                result = Result(request.id, t_start=start, t_end=now(), error=f"{type(exc).__name__}: {exc}")
            if arrival is not None:
                (seq.result if seq else result).extra["t_arrival"] = arrival
            if seq is None:
                yield result
            elif seq.result.error is not None:
                yield seq.result
            else:
                self._assign(seq)

    def _sequence(self, request: Request, start: float) -> SeqState:
        backend = self.backend
        prompt = self.prompts.pop(request.id, None) or backend.prompt_tokens(request)
        result = Result(request.id, prompt_tokens=len(prompt), t_start=start)
        seq = SeqState(request, prompt, result, feed=list(prompt), pos=0)
        if len(prompt) + token_budget(request) > min(backend.params.n_ctx, self.seq_ctx):
            result.error = (f"prompt of {len(prompt)} tokens + {token_budget(request)} does not fit "
                            f"n_ctx={backend.params.n_ctx}")
            result.t_end, result.extra[OVER_CONTEXT] = now(), True
        elif request.mode == "choices" and request.choice_method == "loglik":
            seq.options = [backend._continuation_tokens(request, prompt, o) for o in request.choices]
        else:
            seq.sampler = backend.sampler(request)
        return seq

    def _assign(self, seq: SeqState) -> None:
        """Into the free slot whose cached tokens share the longest prefix with the prompt (before its first prompt
        chunk, _borrow may copy in another slot's longer one)."""
        free = [slot for slot in self.slots if slot.seq is None]
        caching = bool(self.backend.params.prefix_cache)
        slot = max(free, key=lambda s: shared_prefix(s.cached, seq.prompt) if caching else 0)
        keep = min(shared_prefix(slot.cached, seq.prompt), len(seq.prompt) - 1) if caching else 0
        self.lib.llama_memory_seq_rm(self.memory, slot.seq_id, keep, -1)
        slot.cached = seq.prompt[:keep]
        seq.feed, seq.pos, seq.result.cached_prompt_tokens = seq.prompt[keep:], keep, keep
        slot.seq = seq

    def _borrow(self, slot: Slot) -> None:
        """Before a sequence's first prompt chunk: when another slot's evaluated tokens share at least BORROW_MIN
        more of its prompt than its own slot kept, copy that slot's KV stream in and skip those tokens. Sequences
        admitted together (a throughput run's first wave) thus evaluate a common prefix (chat template, system
        prompt, few-shot examples) once, as single-stream decoding does with its prefix cache. llama.cpp copies
        the whole stream (cells at the same indices and positions, so the same attention as in the donor) at the
        start of the next llama_decode."""
        seq = slot.seq
        assert seq is not None
        keep = seq.pos
        donor = max(self.slots, key=lambda s: shared_prefix(s.cached, seq.prompt))
        shared = min(shared_prefix(donor.cached, seq.prompt), len(seq.prompt) - 1)
        if donor is slot or shared < keep + BORROW_MIN:
            return
        self.lib.llama_memory_seq_cp(self.memory, donor.seq_id, slot.seq_id, -1, -1)
        self.lib.llama_memory_seq_rm(self.memory, slot.seq_id, shared, -1)
        slot.cached = seq.prompt[:shared]
        seq.feed, seq.pos, seq.result.cached_prompt_tokens = seq.prompt[shared:], shared, shared

    def _step(self) -> Iterator[Result]:
        """One llama_decode of every sequence's single next token, then one of a prompt chunk of one sequence."""
        active = self._active()
        singles = sorted((s for s in active if s.seq is not None and len(s.seq.feed) == 1), key=lambda s: s.seq_id)
        prefilling = [s for s in active if s.seq is not None and len(s.seq.feed) > 1]
        if singles:
            yield from self._decode(singles)
        if prefilling:
            first = prefilling[0]
            assert first.seq is not None
            if self.backend.params.prefix_cache and first.seq.pos == first.seq.result.cached_prompt_tokens:
                self._borrow(first)  # its prompt is untouched since admission
            yield from self._decode(prefilling[:1])

    def _decode(self, slots: list[Slot]) -> Iterator[Result]:
        rows = self._fill(slots)
        status = self.lib.llama_decode(self.ctx, self.batch)
        if status != 0:
            yield from self._fail_all(f"llama_decode returned {status}")
            return
        for slot, row in rows:
            try:
                done = self._advance(slot, row)
            except Exception as exc:  # one item's failure is recorded, never fatal to the others
                done = self._failed(slot, f"{type(exc).__name__}: {exc}")
            if done is not None:
                yield done

    def _fill(self, slots: list[Slot]) -> list[tuple[Slot, int]]:
        """Put the slots' next tokens in the batch (at most n_batch); the slots whose logits row it yields."""
        self.batch.n_tokens = 0
        rows: list[tuple[Slot, int]] = []
        for slot in slots:
            seq = slot.seq
            assert seq is not None
            chunk = seq.feed[: self.n_batch - self.batch.n_tokens]
            last = len(chunk) == len(seq.feed)
            for offset, token in enumerate(chunk):
                self._add(token, seq.pos + offset, slot.seq_id, last and offset == len(chunk) - 1)
            if last:
                rows.append((slot, self.batch.n_tokens - 1))
            seq.pos += len(chunk)
            slot.cached += chunk
            seq.feed = seq.feed[len(chunk):]
        return rows

    def _add(self, token: int, pos: int, seq_id: int, logits: bool) -> None:
        i = self.batch.n_tokens
        self.batch.token[i], self.batch.pos[i], self.batch.n_seq_id[i] = token, pos, 1
        self.batch.seq_id[i][0], self.batch.logits[i] = seq_id, int(logits)
        self.batch.n_tokens = i + 1

    # ---- after a step

    def _advance(self, slot: Slot, row: int) -> Result | None:
        seq = slot.seq
        assert seq is not None
        if seq.sampler is not None:
            return self._sampled(slot, seq, row)
        return self._scored(slot, seq, row)

    def _sampled(self, slot: Slot, seq: SeqState, row: int) -> Result | None:
        assert seq.sampler is not None
        seq.out.append(seq.sampler.sample(self.ctx, row))
        seq.result.t_first_token = seq.result.t_first_token or now()
        if self.backend._finished(seq.request, seq.out):
            seq.result.completion_tokens = len(seq.out)
            seq.result.extra["grammar_rejections"] = seq.sampler.rejections
            seq.result.token_logprobs = seq.sampler.logprobs or None
            return self._finish(slot, self.backend._text_result(seq.request, seq.out, seq.result))
        seq.feed = seq.out[-1:]
        return None

    def _scored(self, slot: Slot, seq: SeqState, row: int) -> Result | None:
        """Add this row's log-probability to the option being scored; set up the next option token."""
        logprobs = log_softmax(self._logits(row))
        if seq.result.t_first_token is None:  # the prompt's row: every option's first token
            seq.result.t_first_token = now()
            seq.scores = [float(logprobs[o[0]]) for o in seq.options]
            seq.greedy = [int(np.argmax(logprobs)) == o[0] for o in seq.options]
            return self._next_option(slot, seq, 0)
        option, index = seq.option_at
        following = seq.options[option][index + 1]
        seq.scores[option] += float(logprobs[following])
        seq.greedy[option] = seq.greedy[option] and int(np.argmax(logprobs)) == following
        if index + 2 < len(seq.options[option]):
            return self._feed_option(seq, option, index + 1)
        return self._next_option(slot, seq, option + 1)

    def _next_option(self, slot: Slot, seq: SeqState, option: int) -> Result | None:
        """Start the next option longer than one token on the prompt's KV entries, or finish the item."""
        while option < len(seq.options) and len(seq.options[option]) < 2:
            option += 1
        if option == len(seq.options):
            return self._finish(slot, self._choice_result(seq))
        n_prompt = len(seq.prompt)
        self.lib.llama_memory_seq_rm(self.memory, slot.seq_id, n_prompt, -1)
        slot.cached = slot.cached[:n_prompt]
        seq.pos = n_prompt
        return self._feed_option(seq, option, 0)

    def _feed_option(self, seq: SeqState, option: int, index: int) -> Result | None:
        """Feed the option's token `index` next (the item is not finished: None)."""
        seq.option_at = (option, index)
        seq.feed = [seq.options[option][index]]
        return None

    def _choice_result(self, seq: SeqState) -> Result:
        best = int(np.argmax(seq.scores))
        result = seq.result
        result.text, result.choice_index, result.choice_logprobs = seq.request.choices[best], best, seq.scores
        result.extra.update(option_tokens_evaluated=sum(len(o) - 1 for o in seq.options), choice_greedy=seq.greedy)
        result.t_end = now()
        return result

    def _logits(self, row: int) -> np.ndarray:
        pointer = self.lib.llama_get_logits_ith(self.ctx, row)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def _finish(self, slot: Slot, result: Result) -> Result:
        self._release(slot, keep_cache=True)
        return result

    def _release(self, slot: Slot, keep_cache: bool = False) -> None:
        if slot.seq is not None and slot.seq.sampler is not None:
            slot.seq.sampler.close()
        if slot.seq is not None and not keep_cache:  # an unfinished sequence: its KV entries are unknown
            self.lib.llama_memory_seq_rm(self.memory, slot.seq_id, 0, -1)
            slot.cached = []
        slot.seq = None

    def _fail_all(self, error: str) -> Iterator[Result]:
        for slot in self._active():
            yield self._failed(slot, error)

    def _failed(self, slot: Slot, error: str) -> Result:
        assert slot.seq is not None
        result = slot.seq.result
        result.error, result.t_end = error, now()
        self._release(slot)
        return result

    def reset_cache(self) -> None:
        """Forget every slot's cached prompt."""
        self.lib.llama_memory_clear(self.memory, True)
        for slot in self.slots:
            slot.cached = []

    def close(self) -> None:
        self.lib.llama_batch_free(self.batch)
        self.lib.llama_free(self.ctx)
        self.ctx = None

