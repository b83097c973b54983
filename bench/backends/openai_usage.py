"""Token counts for one OpenAI-compatible answer, on the one definition the time window uses.

completion_tokens = every token the server generated for the answer, reasoning included (as OpenAI's and vLLM's
usage count them), so TPOT = (t_end - t_first_token) / (completion_tokens - 1) divides the window from the first
token of any kind by the tokens in it. Reasoning tokens are also reported on their own (`reasoning_tokens`).

The server's usage is trusted only when plausible:
- completion_tokens an integer no smaller than the number of chunks that carried text (each carries at least one
  token) and no larger than the max_tokens the request sent (the server generates no more, reasoning included);
- prompt_tokens an integer >= 1 and no larger than the prompt's UTF-8 bytes plus PROMPT_TEMPLATE_TOKENS (a token
  covers at least one byte with byte-level BPE or SentencePiece's byte fallback; the chat template's special
  tokens and the server's own preamble come on top);
- cached_tokens and reasoning_tokens no larger than the figure they are part of.
Otherwise the tokens received are counted, with the served model's tokenizer when one is configured, else one per
chunk with text, and the record says so (`usage_implausible`, with the server's figures in `usage_reported`).
Prompt tokens that cannot be known (no plausible usage, no tokenizer) are recorded as 0 with
`prompt_tokens_unknown: true`, so that nothing priced or projected takes the 0 for a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.backends.base import Request
from bench.backends.openai_stream import Answer
from bench.backends.token_counter import TokenCounter

PROMPT_TEMPLATE_TOKENS = 1024
"""Tokens a chat template or server preamble may add to the prompt's text (generous: special tokens, role headers,
a default system prompt)."""


@dataclass(frozen=True)
class Counting:
    """How to count what was received: the tokenizer (and its name) when configured, and the endpoint shape;
    `max_tokens`: the limit every request sends when the backend's extra_body sets one, else the request's own."""

    counter: TokenCounter | None
    tokenizer: str | None
    chat: bool
    max_tokens: int | None = None


@dataclass
class Counts:
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _int(values: Any, key: str) -> int | None:
    value = values.get(key) if isinstance(values, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _completion_problem(usage: dict[str, Any], answer: Answer, max_tokens: int) -> str | None:
    chunks = answer.content_chunks + answer.reasoning_chunks
    completion = _int(usage, "completion_tokens")
    if completion is None or completion < chunks:
        return f"completion_tokens {usage.get('completion_tokens')!r} with {chunks} chunks of text received"
    if completion > max_tokens:
        return f"completion_tokens {completion} above the request's max_tokens {max_tokens}"
    return None


def _prompt_problem(usage: dict[str, Any], request: Request, chat: bool) -> str | None:
    prompt, most = _int(usage, "prompt_tokens"), prompt_bytes(request, chat) + PROMPT_TEMPLATE_TOKENS
    if prompt is None or prompt < 1:
        return f"prompt_tokens {usage.get('prompt_tokens')!r} for a non-empty prompt"
    if prompt > most:
        return (f"prompt_tokens {prompt} above {most} (the prompt's UTF-8 bytes + {PROMPT_TEMPLATE_TOKENS} for the "
                "template)")
    return None


def prompt_bytes(request: Request, chat: bool) -> int:
    """UTF-8 bytes of the prompt text sent (the messages' roles and contents, or the completion prompt)."""
    if not chat:
        return len(request.completion.encode())
    return sum(len(str(m.get("role", "")).encode()) + len(str(m.get("content", "")).encode())
               for m in request.messages)


def _plausible(usage: dict[str, Any], answer: Answer, request: Request, how: Counting) -> tuple[bool, bool, list[str]]:
    """(completion_tokens plausible, prompt_tokens plausible, the problems found) for a usage object."""
    if not usage:
        return False, False, []
    completion = _completion_problem(usage, answer, how.max_tokens or request.generation.max_tokens)
    prompt = _prompt_problem(usage, request, how.chat)
    return completion is None, prompt is None, [p for p in (completion, prompt) if p]


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
    completion_ok, prompt_ok, problems = _plausible(usage, answer, request, how)
    counts = Counts(prompt=usage["prompt_tokens"] if prompt_ok else _prompt_counted(request, how))
    counts.cached = _part(usage.get("prompt_tokens_details"), "cached_tokens", counts.prompt, problems) or 0
    if completion_ok:
        counts.completion, source = usage["completion_tokens"], "usage"
        reasoning = _part(usage.get("completion_tokens_details"), "reasoning_tokens", counts.completion, problems)
        reasoning = reasoning if reasoning is not None else _received(answer, how)[1]
    else:
        counts.completion, reasoning, source = _received(answer, how)
        source += " (usage implausible)" if usage else " (the endpoint sent no usage)"
    counts.extra = {"token_count_source": source, "reasoning_tokens": reasoning}
    if not prompt_ok and how.counter is None:
        counts.extra["token_count_source"] += "; prompt tokens unknown"
        counts.extra["prompt_tokens_unknown"] = True
    if problems:
        counts.extra |= {"usage_implausible": "; ".join(problems), "usage_reported": _reported(usage)}
    return counts


def _part(details: Any, key: str, whole: int, problems: list[str]) -> int | None:
    """A part of a count (cached of prompt, reasoning of completion) when sent and plausible, else None (a problem
    noted when it is larger than the whole)."""
    value = _int(details, key)
    if value is not None and value > whole:
        problems.append(f"{key} {value} above the {whole} tokens it is part of")
        return None
    return value


def _reported(usage: dict[str, Any]) -> dict[str, Any]:
    """The server's figures as sent (the details when it sent them)."""
    keys = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
    return {k: usage.get(k) for k in keys[:2]} | {k: usage[k] for k in keys[2:] if k in usage}


def _prompt_counted(request: Request, how: Counting) -> int:
    return how.counter.prompt(request, how.chat) if how.counter is not None else 0
