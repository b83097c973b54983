"""Reading chunks: shapes accepted and refused (the streams themselves: test_openai_faults.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.backends.http_retry import RetryableError
from bench.backends.openai_stream import Answer, Endpoint, join_text, take_chunk

CHAT = Endpoint("POST http://127.0.0.1:1/v1/chat/completions", chat=True, max_request_s=10)
COMPLETIONS = Endpoint("POST http://127.0.0.1:1/v1/completions", chat=False, max_request_s=10)


def test_a_surrogate_pair_split_over_two_chunks_is_one_character() -> None:
    assert join_text(["a", "\ud83d", "\ude00", "b"]) == "a😀b"
    assert join_text(["\ud83d", "x"]) == "\ufffdx"  # a lone surrogate cannot be written as UTF-8


def test_reasoning_then_content_with_the_first_token_time_at_the_first_of_either() -> None:
    answer = Answer()
    take_chunk({"choices": [{"index": 0, "delta": {"reasoning_content": "hm"}}]}, answer, CHAT)
    first = answer.t_first
    take_chunk({"choices": [{"index": 0, "delta": {"reasoning": " so", "content": "Par"}}]}, answer, CHAT)
    take_chunk({"choices": [{"index": 0, "delta": {"content": "is"}, "finish_reason": "stop"}]}, answer, CHAT)
    assert first is not None and answer.t_first == first
    assert (answer.text, answer.reasoning_text, answer.reasoning_chunks, answer.content_chunks) == (
        "Paris", "hm so", 2, 2)
    assert answer.finish_reason == "stop"


def test_only_the_first_choice_is_taken_and_completions_read_text() -> None:
    answer = Answer()
    take_chunk({"choices": [{"index": 1, "text": "other"}, {"index": 0, "text": "mine"}]}, answer, COMPLETIONS)
    assert answer.text == "mine" and answer.choices == 1


@pytest.mark.parametrize(("chunk", "reason"), [
    ([1, 2], "not a completion chunk"), ({"choices": "x"}, "not a completion chunk"),
    ({"choices": ["x"]}, "choice 'x'"), ({"choices": [{"delta": "x"}]}, "delta 'x'"),
    ({"choices": [{"delta": {"content": 5}}]}, "text is not a string"),
    ({"error": "engine died"}, "reported an error: engine died"),
    ({"choices": [{"delta": {}, "finish_reason": "abort"}]}, "finish_reason 'abort'")])
def test_bad_chunks_are_refused_naming_the_endpoint(chunk: Any, reason: str) -> None:
    with pytest.raises(RetryableError, match=reason) as caught:
        take_chunk(chunk, Answer(), CHAT)
    assert CHAT.where in str(caught.value)
