"""A scripted backend for fast unit tests: no model, deterministic answers and timings."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence

from bench.backends.base import BackendBase, BackendInfo, Request, Result, TokenCounter, now
from bench.backends.params import FakeParams
from bench.metrics.records import OVER_CONTEXT


class FakeBackend(BackendBase):
    """Answers every request the same way; every `fail_every`-th request returns an error. Hooks: up to 256
    requests at once (threads of the driver); the other hooks keep their defaults."""

    Params = FakeParams
    max_parallel = 256

    def __init__(self, params: FakeParams) -> None:
        self.params = params
        self.calls = 0
        self._lock = threading.Lock()

    def info(self) -> BackendInfo:
        return BackendInfo(engine="fake", engine_version="0", model="fake",
                           settings=self.params.model_dump(exclude={"kind"}))

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        for request in requests:
            yield self._answer(request)

    def _answer(self, request: Request) -> Result:
        with self._lock:
            self.calls += 1
            call = self.calls
        self._maybe_crash(call)
        start = now()
        if self.params.delay_s:
            time.sleep(self.params.delay_s)
        if self.params.fail_every and call % self.params.fail_every == 0:
            extra = {"retryable": True} if self.params.fail_retryable else {}
            return Result(request.id, t_start=start, t_end=now(), error="scripted failure", extra=extra)
        over = self._over_context(request, start)
        if over is not None:
            return over
        scripted = self.params.answers.get(request.id.rsplit("#", 1)[0])
        logprobs = self._logprobs(request)
        index = min(self.params.choice_index, len(request.choices) - 1) if request.choices else None
        if logprobs is not None:
            index = logprobs.index(max(logprobs))
        if scripted is not None and scripted in request.choices:
            index = request.choices.index(scripted)
        text = self._text(request, index) if scripted is None or index is not None else scripted
        end = now()
        cut = request.mode != "choices" and self.params.completion_tokens >= request.generation.max_tokens
        return Result(request.id, text=text, choice_index=index, choice_logprobs=logprobs,
                      prompt_tokens=len(request.completion.split()),
                      completion_tokens=self.params.completion_tokens, t_start=start,
                      t_first_token=start + (end - start) / 2, t_end=end,
                      extra={"finish_reason": "length" if cut else "stop"})

    def _logprobs(self, request: Request) -> list[float] | None:
        """The scripted option log-likelihoods of this item (choices only, one per option), or None."""
        found = self.params.choice_logprobs.get(request.id.rsplit("#", 1)[0])
        return list(found) if found is not None and len(found) == len(request.choices) > 0 else None

    def _over_context(self, request: Request, start: float) -> Result | None:
        words = len(self.prompt_tokens(request))
        budget = 1 if request.mode == "choices" else request.generation.max_tokens
        if not self.params.n_ctx or words + budget <= self.params.n_ctx:
            return None
        return Result(request.id, prompt_tokens=words, t_start=start, t_end=now(), extra={OVER_CONTEXT: True},
                      error=f"prompt of {words} tokens + {budget} does not fit n_ctx={self.params.n_ctx}")

    def _maybe_crash(self, call: int) -> None:
        marker = self.params.crash_marker
        if self.params.crash_after and call > self.params.crash_after and marker and not os.path.exists(marker):
            with open(marker, "w") as handle:
                handle.write("crashed once\n")
            if self.params.crash_signal == "exit":
                os._exit(1)
            if self.params.crash_signal != "SIGKILL":  # as a native crash: no Python handler runs
                signal.signal(getattr(signal, self.params.crash_signal), signal.SIG_DFL)
            os.kill(os.getpid(), getattr(signal, self.params.crash_signal))

    def _text(self, request: Request, index: int | None) -> str:
        if index is not None:
            return request.choices[index]
        if request.mode == "json" and self.params.json_output is not None:
            return json.dumps(self.params.json_output)
        return self.params.text

    def token_counter(self) -> TokenCounter:
        """Itself: it counts prompts in its own tokens and knows its context window."""
        return self

    def context_window(self) -> int:
        """n_ctx in the fake's tokens (words); a very large window when unlimited."""
        return self.params.n_ctx or 1 << 30

    def prompt_tokens(self, request: Request) -> list[str]:
        return request.completion.split()

    def text_tokens(self, text: str) -> list[str]:
        return text.split()

    def text_of(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def close(self) -> None:
        return None
