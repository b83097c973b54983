"""Reading chunks: shapes accepted and refused (the streams themselves: test_openai_faults.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bench.backends.http_retry import RetryableError
from bench.backends.openai_stream import Answer, Endpoint, join_text, take_chunk
from bench.errors import BackendError

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
    ({"error": {}}, r"reported an error: an error without a message \(\{\}\)"),
    ({"error": ""}, "reported an error: an error without a message"),
    ({"choices": [{"delta": {}, "error": {"message": "provider down"}}]}, "on the answer: provider down"),
    ({"choices": [{"delta": {}, "finish_reason": "abort"}]}, "finish_reason 'abort'"),
    ({"choices": [{"delta": {}, "finish_reason": "Error"}]}, "finish_reason 'Error'"),
    ({"choices": [{"delta": {}, "finish_reason": "cancelled"}]}, "finish_reason 'cancelled'")])
def test_bad_chunks_are_refused_naming_the_endpoint(chunk: Any, reason: str) -> None:
    with pytest.raises(RetryableError, match=reason) as caught:
        take_chunk(chunk, Answer(), CHAT)
    assert CHAT.where in str(caught.value)


def test_null_or_false_error_fields_are_no_error() -> None:
    answer = Answer()
    take_chunk({"error": None, "choices": [{"index": 0, "delta": {"content": "a"}, "error": False}]}, answer, CHAT)
    assert answer.text == "a"


def test_a_content_filter_finish_is_an_error_that_is_not_retried() -> None:
    with pytest.raises(BackendError, match="content filter"):
        take_chunk({"choices": [{"delta": {"content": "x"}, "finish_reason": "content_filter"}]}, Answer(), CHAT)


def test_text_after_the_finish_is_a_protocol_error_and_an_empty_repeat_is_not() -> None:
    answer = Answer()
    take_chunk({"choices": [{"delta": {"content": "bill"}, "finish_reason": "stop"}]}, answer, CHAT)
    take_chunk({"choices": [{"delta": {"content": ""}, "finish_reason": "stop"}]}, answer, CHAT)
    with pytest.raises(RetryableError, match="text 'technical' after the answer finished"):
        take_chunk({"choices": [{"delta": {"content": "technical"}}]}, answer, CHAT)
    assert answer.text == "bill"


def test_the_answer_settles_with_usage_at_or_after_the_finish_and_ends_at_the_finish() -> None:
    answer = Answer()
    take_chunk({"choices": [{"delta": {"content": "a"}}], "usage": {"completion_tokens": 1}}, answer, CHAT)
    assert not answer.settled and answer.t_end is None  # usage on every chunk (continuous usage): not the last
    take_chunk({"choices": [{"delta": {"content": "b"}, "finish_reason": "Length"}]}, answer, CHAT)
    finished = answer.t_end
    assert finished is not None and answer.truncated and not answer.settled
    take_chunk({"choices": [], "usage": {"completion_tokens": 2}}, answer, CHAT)
    assert answer.settled and answer.t_end == finished and answer.finish_reason == "Length"


def test_token_logprobs_from_chat_and_completions_shapes() -> None:
    chat = Answer()
    for text, lp in (("Par", -0.25), ("is", -1.5)):
        take_chunk({"choices": [{"index": 0, "delta": {"content": text},
                                 "logprobs": {"content": [{"token": text, "logprob": lp, "top_logprobs": []}]}}]},
                   chat, CHAT)
    assert chat.token_logprobs == [-0.25, -1.5]
    completions = Answer()
    take_chunk({"choices": [{"index": 0, "text": "ab", "logprobs": {"tokens": ["a", "b"],
                                                                   "token_logprobs": [-0.5, 0]}}]},
               completions, COMPLETIONS)
    assert completions.token_logprobs == [-0.5, 0.0]


@pytest.mark.parametrize("second", [None, {"content": None}, {"content": [{"logprob": "x"}]},
                                    {"content": [{"logprob": 0.5}]}])
def test_a_piece_without_logprobs_leaves_the_answer_without_any(second: Any) -> None:
    answer = Answer()
    take_chunk({"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"logprob": -1.0}]}}]},
               answer, CHAT)
    take_chunk({"choices": [{"index": 0, "delta": {"content": "b"}, "logprobs": second}]}, answer, CHAT)
    assert answer.token_logprobs is None
    assert Answer().token_logprobs is None  # a server that sends none
