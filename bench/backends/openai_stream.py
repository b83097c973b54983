"""Reading one OpenAI-compatible answer: server-sent events framed by httpx-sse, or one JSON body when the server
does not stream.

An answer counts only when the server said it was complete: a `finish_reason` on the choice, or the `[DONE]`
event. Everything else raises `RetryableError` with a reason naming the endpoint (asked again like a 5xx): an
error event (`{"error": ...}` or `event: error`), a malformed event (quoted in the reason), a stream cut before
either signal, an answer without choices, a finish_reason of "error" or "abort", a body that is neither an event
stream nor JSON, a connection broken mid-answer, and an answer slower than `max_request_s` in all (a server
trickling keep-alive comments never ends otherwise).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx_sse

from bench.backends.base import now
from bench.backends.http_retry import RetryableError

FAILED_FINISH = {"error", "abort"}


@dataclass(frozen=True)
class Endpoint:
    """Where answers come from, as reasons name it ("POST http://host/v1/chat/completions"), and its shape."""

    where: str
    chat: bool
    max_request_s: float


@dataclass
class Answer:
    """What the server sent for choice 0. `t_first` is the arrival of the first token of any kind (reasoning
    included); None when the answer was not streamed."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    content_chunks: int = 0
    reasoning_chunks: int = 0
    t_first: float | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    done: bool = False
    choices: int = 0
    streamed: bool = True

    @property
    def text(self) -> str:
        return join_text(self.content)

    @property
    def reasoning_text(self) -> str:
        return join_text(self.reasoning)


def join_text(parts: list[str]) -> str:
    """The pieces joined; a UTF-16 surrogate pair split across two events (JSON "\\ud83d" then "\\ude00") is
    rejoined into its character, a lone surrogate becomes U+FFFD (records are written as UTF-8)."""
    text = "".join(parts)
    if not any("\ud800" <= ch <= "\udfff" for ch in text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def read_answer(response: httpx.Response, endpoint: Endpoint) -> Answer:
    """The complete answer in `response` (status already checked); RetryableError when it is not complete."""
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    try:
        if kind == "text/event-stream":
            answer = _read_events(response, endpoint)
        elif kind == "application/json" or kind.endswith("+json"):
            answer = _read_json(response, endpoint)
        else:
            raise RetryableError(f"{endpoint.where} answered HTTP {response.status_code} with content-type "
                                 f"{kind or 'none'!r}, neither an event stream nor JSON: {_peek(response)}")
    except httpx.TimeoutException as exc:
        raise RetryableError(f"{endpoint.where} went silent mid-answer ({type(exc).__name__})", timeout=True) from None
    except httpx.TransportError as exc:
        raise RetryableError(f"stream ended early: the connection to {endpoint.where} broke mid-answer "
                             f"({type(exc).__name__}: {exc})") from None
    except httpx.DecodingError as exc:
        raise RetryableError(f"malformed body from {endpoint.where}: cannot decode it ({exc})") from None
    _check_complete(answer, endpoint)
    return answer


def _peek(response: httpx.Response) -> str:
    return repr(" ".join(response.read()[:300].decode("utf-8", "replace").split())[:200])


def _read_events(response: httpx.Response, endpoint: Endpoint) -> Answer:
    answer = Answer()
    response.encoding = "utf-8-sig"  # an event stream is UTF-8, and a leading byte-order mark is not data
    for event in httpx_sse.EventSource(response).iter_sse():
        if event.event == "error":
            raise RetryableError(f"{endpoint.where} sent an error event: {_message(_json_or_text(event.data))}")
        if event.event != "message" or event.data == "":  # named events (ping); an empty data buffer is no event
            continue
        if event.data.strip() == "[DONE]":
            answer.done = True
            break
        take_chunk(_loads(event.data, endpoint), answer, endpoint)
    return answer


def _read_json(response: httpx.Response, endpoint: Endpoint) -> Answer:
    """A server that ignored stream: true answers with one completion object: complete, but with no TTFT."""
    body = response.read().decode("utf-8", "replace")
    answer = Answer(streamed=False, done=True)
    take_chunk(_loads(body, endpoint, "body"), answer, endpoint)
    answer.t_first = None
    return answer


def _json_or_text(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data


def _loads(data: str, endpoint: Endpoint, what: str = "event") -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise RetryableError(f"malformed {what} from {endpoint.where}: {exc} in {what} {data[:200]!r}") from None


def _message(error: Any) -> str:
    """The server's own words for an error object (OpenAI: {"error": {"message": ...}})."""
    inner = error.get("error", error) if isinstance(error, dict) else error
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])
    return str(inner)[:300]


def take_chunk(chunk: Any, answer: Answer, endpoint: Endpoint) -> None:
    """Add one parsed event (or the whole non-streamed body) to `answer`; RetryableError if it is an error or is
    not shaped like a completion chunk."""
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices", []), list | None):
        raise RetryableError(f"malformed event from {endpoint.where}: not a completion chunk: {str(chunk)[:200]!r}")
    if chunk.get("error") or chunk.get("object") == "error":  # OpenAI, TGI / vLLM's {"object": "error", ...}
        raise RetryableError(f"{endpoint.where} reported an error: {_message(chunk)}")
    if isinstance(chunk.get("usage"), dict):
        answer.usage = chunk["usage"]
    for choice in _first_choices(chunk.get("choices") or [], endpoint):
        _take_choice(choice, answer, endpoint)


def _first_choices(choices: list[Any], endpoint: Endpoint) -> Iterator[dict[str, Any]]:
    for choice in choices:
        if not isinstance(choice, dict):
            raise RetryableError(f"malformed event from {endpoint.where}: choice {str(choice)[:100]!r}")
        if choice.get("index", 0) == 0:
            yield choice


def _take_choice(choice: dict[str, Any], answer: Answer, endpoint: Endpoint) -> None:
    answer.choices += 1
    part = (choice.get("delta") or choice.get("message") or {}) if endpoint.chat else choice
    if not isinstance(part, dict):
        raise RetryableError(f"malformed event from {endpoint.where}: delta {str(part)[:200]!r}")
    content = part.get("content") if endpoint.chat else part.get("text")
    reasoning = (part.get("reasoning_content") or part.get("reasoning")) if endpoint.chat else None
    if not isinstance(content, str | None) or not isinstance(reasoning, str | None):
        raise RetryableError(f"malformed event from {endpoint.where}: text is not a string in {str(choice)[:200]!r}")
    if (content or reasoning) and answer.t_first is None:
        answer.t_first = now()
    if reasoning:
        answer.reasoning.append(reasoning)
        answer.reasoning_chunks += 1
    if content:
        answer.content.append(content)
        answer.content_chunks += 1
    _take_finish(choice.get("finish_reason"), endpoint, answer)


def _take_finish(reason: Any, endpoint: Endpoint, answer: Answer) -> None:
    if not reason:
        return
    if reason in FAILED_FINISH:
        raise RetryableError(f"{endpoint.where} ended the answer with finish_reason {reason!r}")
    answer.finish_reason = str(reason)


def _check_complete(answer: Answer, endpoint: Endpoint) -> None:
    if answer.choices == 0:
        raise RetryableError(f"{endpoint.where} sent no choices" + (" (only usage)" if answer.usage else ""))
    if answer.finish_reason is None and not answer.done:
        raise RetryableError(f"stream ended early: {endpoint.where} sent no finish_reason and no [DONE] "
                             f"({answer.content_chunks + answer.reasoning_chunks} chunks with text received)")


class _Deadline(httpx.SyncByteStream):
    """The response body, cut off `max_request_s` after the attempt started."""

    def __init__(self, inner: httpx.SyncByteStream, endpoint: Endpoint, deadline: float) -> None:
        self.inner, self.endpoint, self.deadline = inner, endpoint, deadline

    def __iter__(self) -> Iterator[bytes]:
        for part in self.inner:
            if now() > self.deadline:
                raise RetryableError(f"{self.endpoint.where} took longer than max_request_s "
                                     f"{self.endpoint.max_request_s:g} s", timeout=True)
            yield part

    def close(self) -> None:
        self.inner.close()


def limit_duration(response: httpx.Response, endpoint: Endpoint, start: float) -> None:
    """Make reading `response` raise RetryableError (timeout) past start + max_request_s."""
    if isinstance(response.stream, httpx.SyncByteStream):
        response.stream = _Deadline(response.stream, endpoint, start + endpoint.max_request_s)
