"""Fitting an over-long input into the context window: the task's `prompt.truncate` mode.

- `none` (default): the prompt is sent as rendered; one that does not fit is refused by the backend (an item
  error, counted as over ctx).
- `left`: drop tokens from the start of the input (keep its end), as a tokenizer's truncation_side="left".
- `right`: drop tokens from the end of the input (keep its start).
- `middle`: drop tokens from the middle of the input (keep its start and end, the longer half at the start).

Only the input field ({input}) is cut, by the backend's own tokens, so that the rendered prompt + the token
budget (max_tokens; 1 for choices) fits the backend's context window. Re-tokenizing the rendered prompt may merge
tokens differently at the cut, so the prompt is measured again and cut further if needed (MAX_ROUNDS). The number
of input tokens removed is recorded per item (engine_extra.input_truncated_tokens). A backend that cannot count
tokens (its `token_counter()` hook returns None, the default) gets the prompt unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Literal, TypeVar

from bench.backends.base import Backend, Request, TokenCounter
from bench.tasks.items import Item

TruncateMode = Literal["none", "left", "right", "middle"]
MAX_ROUNDS = 4
T = TypeVar("T")


def cut(tokens: Sequence[T], n: int, mode: TruncateMode) -> list[T]:
    """`tokens` without `n` of them, taken from the left, the right or the middle (mode none: unchanged)."""
    if mode == "none" or n <= 0:
        return list(tokens)
    keep = max(len(tokens) - n, 0)
    if mode == "left":
        return list(tokens[len(tokens) - keep:]) if keep else []
    if mode == "right":
        return list(tokens[:keep])
    head, tail = keep - keep // 2, keep // 2
    return [*tokens[:head], *(tokens[len(tokens) - tail:] if tail else [])]


def token_budget(request: Request) -> int:
    """Tokens the answer may take: 1 for choices (one forward pass per option token), else max_tokens."""
    return 1 if request.mode == "choices" else request.generation.max_tokens


def fit_input(backend: Backend, item: Item, build: Callable[[Item], Request],
              mode: TruncateMode) -> tuple[Request, int]:
    """(the request, input tokens removed): the item's request with its input cut by `mode` until the prompt +
    token budget fits the backend's context window; unchanged (0) when it fits, the mode is none, the backend
    cannot count tokens, or even an empty input would not fit (the backend then refuses it)."""
    request = build(item)
    counter = backend.token_counter() if mode != "none" else None
    if counter is None:
        return request, 0
    excess = _excess(counter, request)
    if excess <= 0:
        return request, 0
    tokens = list(counter.text_tokens(item.input))
    n = excess
    for _ in range(MAX_ROUNDS):
        if n >= len(tokens):
            break
        shorter = build(replace(item, input=counter.text_of(cut(tokens, n, mode))))
        over = _excess(counter, shorter)
        if over <= 0:
            return shorter, n
        n += over
    return request, 0


def _excess(counter: TokenCounter, request: Request) -> int:
    """Tokens by which prompt + budget exceed the context window (≤ 0: it fits)."""
    return len(counter.prompt_tokens(request)) + token_budget(request) - int(counter.context_window())
