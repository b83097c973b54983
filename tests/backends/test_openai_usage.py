"""Token counts: the server's usage when plausible, else what was received, and the record says which."""

from __future__ import annotations

from typing import Any

import pytest

from bench.backends.base import Request
from bench.backends.openai_stream import Answer
from bench.backends.openai_usage import Counting, count_tokens, prompt_bytes
from bench.suite.spec import GenerationSpec

REQUEST = Request(id="r", messages=({"role": "user", "content": "hi"},), completion="hi", mode="text",
                  generation=GenerationSpec(max_tokens=16))
CHUNKS = Counting(counter=None, tokenizer=None, chat=True)


class WordCounter:
    """A stand-in tokenizer: one token per word."""

    def prompt(self, request: Request, chat: bool) -> int:
        return 3

    def completion(self, text: str) -> int:
        return len(text.split())


def answer(content: list[str], reasoning: list[str] | None = None, usage: dict[str, Any] | None = None) -> Answer:
    return Answer(content=content, reasoning=reasoning or [], content_chunks=len(content),
                  reasoning_chunks=len(reasoning or []), usage=usage)


def test_plausible_usage_is_used_with_reasoning_and_cached_details() -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 4},
             "completion_tokens_details": {"reasoning_tokens": 5}}
    counts = count_tokens(answer(["Par", "is"], ["a"] * 5, usage), REQUEST, CHUNKS)
    assert (counts.prompt, counts.completion, counts.cached) == (9, 7, 4)
    assert counts.extra == {"token_count_source": "usage", "reasoning_tokens": 5}


def test_reasoning_tokens_are_counted_when_usage_has_no_details() -> None:
    counts = count_tokens(answer(["Par", "is"], ["a"] * 5, {"prompt_tokens": 9, "completion_tokens": 7}),
                          REQUEST, CHUNKS)
    assert (counts.completion, counts.extra["reasoning_tokens"]) == (7, 5)


def test_zero_completion_tokens_after_four_chunks_is_implausible() -> None:
    counts = count_tokens(answer(["Pa", "r", "i", "s"], usage={"prompt_tokens": 5, "completion_tokens": 0}),
                          REQUEST, CHUNKS)
    assert (counts.prompt, counts.completion) == (5, 4)
    assert counts.extra["usage_implausible"] == "completion_tokens 0 with 4 chunks of text received"
    assert counts.extra["usage_reported"] == {"prompt_tokens": 5, "completion_tokens": 0}


def test_missing_or_odd_usage_fields_are_implausible_and_the_tokenizer_counts() -> None:
    usage = {"prompt_tokens": 0, "completion_tokens": "12"}
    counts = count_tokens(answer(["The invoice", " was paid"], ["I think"], usage), REQUEST,
                          Counting(WordCounter(), "bundled:x", chat=True))
    assert (counts.prompt, counts.completion, counts.extra["reasoning_tokens"]) == (3, 6, 2)
    assert "completion_tokens '12'" in counts.extra["usage_implausible"]
    assert "prompt_tokens 0" in counts.extra["usage_implausible"]
    assert counts.extra["token_count_source"] == "tokenizer bundled:x (usage implausible)"


def test_without_usage_chunks_are_counted_and_the_prompt_is_unknown() -> None:
    counts = count_tokens(answer(["a", "b", "c"]), REQUEST, CHUNKS)
    assert (counts.prompt, counts.completion) == (0, 3) and "usage_implausible" not in counts.extra
    assert counts.extra["token_count_source"] == ("stream chunks (one token each) (the endpoint sent no usage); "
                                                  "prompt tokens unknown")
    assert counts.extra["prompt_tokens_unknown"] is True


def test_a_tokenizer_makes_the_prompt_known() -> None:
    counts = count_tokens(answer(["a b"]), REQUEST, Counting(WordCounter(), "bundled:x", chat=True))
    assert (counts.prompt, counts.completion) == (3, 2) and "prompt_tokens_unknown" not in counts.extra


def test_completion_tokens_above_max_tokens_are_implausible_reasoning_included() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 1_000_000}
    counts = count_tokens(answer(["Par", "is"], usage=usage), REQUEST, CHUNKS)
    assert (counts.prompt, counts.completion) == (5, 2)
    assert counts.extra["usage_implausible"] == "completion_tokens 1000000 above the request's max_tokens 16"
    at_limit = count_tokens(answer(["Par", "is"], ["a"] * 3, {"prompt_tokens": 5, "completion_tokens": 16}),
                            REQUEST, CHUNKS)
    assert at_limit.completion == 16 and "usage_implausible" not in at_limit.extra
    over = count_tokens(answer(["Par", "is"], ["a"] * 3, {"prompt_tokens": 5, "completion_tokens": 17}),
                        REQUEST, CHUNKS)
    assert (over.completion, over.extra["reasoning_tokens"]) == (5, 3)


def test_the_max_tokens_sent_by_extra_body_is_the_limit() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 100}
    counts = count_tokens(answer(["Par", "is"], usage=usage), REQUEST, Counting(None, None, True, max_tokens=200))
    assert counts.completion == 100 and "usage_implausible" not in counts.extra


@pytest.mark.parametrize("prompt_tokens", [-1, 5.0, True, 1031, 10**9])
def test_prompt_tokens_beyond_what_the_prompt_can_hold_are_implausible(prompt_tokens: Any) -> None:
    # "user" + "hi": 6 bytes; at most 6 + 1024 tokens
    counts = count_tokens(answer(["a"], usage={"prompt_tokens": prompt_tokens, "completion_tokens": 1}),
                          REQUEST, CHUNKS)
    assert counts.prompt == 0 and counts.extra["prompt_tokens_unknown"] is True
    assert counts.extra["usage_implausible"].startswith(f"prompt_tokens {prompt_tokens!r}")
    assert counts.completion == 1 and counts.extra["token_count_source"].startswith("usage")


def test_the_prompt_bound_counts_utf8_bytes_and_the_completion_prompt() -> None:
    assert prompt_bytes(REQUEST, chat=True) == 6
    cafe = Request(id="c", messages=(), completion="café", mode="text", generation=GenerationSpec())
    assert prompt_bytes(cafe, chat=False) == 5
    counts = count_tokens(answer(["a"], usage={"prompt_tokens": 1030, "completion_tokens": 1}), REQUEST, CHUNKS)
    assert counts.prompt == 1030 and "usage_implausible" not in counts.extra


def test_parts_larger_than_their_whole_are_not_trusted() -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 9},
             "completion_tokens_details": {"reasoning_tokens": 4}}
    counts = count_tokens(answer(["a", "b"], ["r"], usage), REQUEST, CHUNKS)
    assert (counts.prompt, counts.cached, counts.completion, counts.extra["reasoning_tokens"]) == (5, 0, 3, 1)
    assert counts.extra["usage_implausible"] == ("cached_tokens 9 above the 5 tokens it is part of; "
                                                 "reasoning_tokens 4 above the 3 tokens it is part of")
    assert counts.extra["usage_reported"]["prompt_tokens_details"] == {"cached_tokens": 9}
