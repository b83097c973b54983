"""Token counts: the server's usage when plausible, else what was received, and the record says which."""

from __future__ import annotations

from typing import Any

from bench.backends.base import Request
from bench.backends.openai_stream import Answer
from bench.backends.openai_usage import Counting, count_tokens
from bench.spec import GenerationSpec

REQUEST = Request(id="r", messages=({"role": "user", "content": "hi"},), completion="hi", mode="text",
                  generation=GenerationSpec())
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
