"""Token counts for one OpenAI-compatible answer, on the one definition the time window uses.

completion_tokens = every token the server generated for the answer, reasoning included (as OpenAI's and vLLM's
usage count them), so TPOT = (t_end - t_first_token) / (completion_tokens - 1) divides the window from the first
token of any kind by the tokens in it. Reasoning tokens are also reported on their own (`reasoning_tokens`).

The server's usage is trusted only when plausible: completion_tokens an integer no smaller than the number of
chunks that carried text (each carries at least one token), prompt_tokens an integer >= 1. Otherwise the tokens
received are counted, with the served model's tokenizer when one is configured, else one per chunk with text, and
the record says so (`usage_implausible`, with the server's figures in `usage_reported`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import Request
from bench.backends.openai_stream import Answer
from bench.backends.token_counter import TokenCounter


@dataclass(frozen=True)
class Counting:
    """How to count what was received: the tokenizer (and its name) when configured, and the endpoint shape."""

    counter: TokenCounter | None
    tokenizer: str | None
    chat: bool


@dataclass
class Counts:
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _int(values: Any, key: str) -> int | None:
    value = values.get(key) if isinstance(values, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _plausible(usage: dict[str, Any], answer: Answer) -> tuple[bool, bool, list[str]]:
    """(completion_tokens plausible, prompt_tokens plausible, the problems found) for a usage object."""
    chunks = answer.content_chunks + answer.reasoning_chunks
    completion, prompt = _int(usage, "completion_tokens"), _int(usage, "prompt_tokens")
    completion_ok, prompt_ok = completion is not None and completion >= chunks, prompt is not None and prompt >= 1
    problems = [] if completion_ok else [
        f"completion_tokens {usage.get('completion_tokens')!r} with {chunks} chunks of text received"]
    problems += [] if prompt_ok else [f"prompt_tokens {usage.get('prompt_tokens')!r} for a non-empty prompt"]
    return completion_ok, prompt_ok, problems if usage else []


def _received(answer: Answer, how: Counting) -> tuple[int, int, str]:
    """(completion tokens, reasoning tokens, source) counted from what arrived."""
    if how.counter is not None:
        reasoning = how.counter.completion(answer.reasoning_text) if answer.reasoning else 0
        return how.counter.completion(answer.text) + reasoning, reasoning, f"tokenizer {how.tokenizer}"
    return answer.content_chunks + answer.reasoning_chunks, answer.reasoning_chunks, "stream chunks (one token each)"


def count_tokens(answer: Answer, request: Request, how: Counting) -> Counts:
    """Prompt, completion and cached prompt tokens, plus the record's token_count_source, reasoning_tokens and,
    when some of the usage was not trusted, usage_implausible and usage_reported (the server's figures)."""
    usage = answer.usage or {}
    completion_ok, prompt_ok, problems = _plausible(usage, answer)
    counts = Counts(cached=_int(usage.get("prompt_tokens_details"), "cached_tokens") or 0)
    counts.prompt = usage["prompt_tokens"] if prompt_ok else _prompt_counted(request, how)
    if completion_ok:
        counts.completion, source = usage["completion_tokens"], "usage"
        reasoning = _int(usage.get("completion_tokens_details"), "reasoning_tokens")
        reasoning = reasoning if reasoning is not None else _received(answer, how)[1]
    else:
        counts.completion, reasoning, source = _received(answer, how)
        source += " (usage implausible)" if usage else " (the endpoint sent no usage)"
    if not prompt_ok and how.counter is None:
        source += "; prompt tokens unknown"
    counts.extra = {"token_count_source": source, "reasoning_tokens": reasoning}
    if problems:
        counts.extra |= {"usage_implausible": "; ".join(problems),
                         "usage_reported": {k: usage.get(k) for k in ("prompt_tokens", "completion_tokens")}}
    return counts


def _prompt_counted(request: Request, how: Counting) -> int:
    return how.counter.prompt(request, how.chat) if how.counter is not None else 0
