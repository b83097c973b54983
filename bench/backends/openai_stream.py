"""Reading one OpenAI-compatible answer: server-sent events framed by httpx-sse, or one JSON body when the server
does not stream.

An answer counts only when the server said it was complete: a `finish_reason` that says so on the choice
(openai_finish.py), or the `[DONE]` event with no finish_reason at all. Everything else raises `RetryableError`
with a reason naming the endpoint (asked again like a 5xx): an error event (`{"error": ...}` even with an empty
object, an error on the choice, `event: error`), a malformed event (quoted in the reason), a stream cut before
either signal, an answer without choices, a failing or unknown finish_reason, text arriving after the choice
finished, a body that is neither an event stream nor JSON, a connection broken mid-answer, and an answer slower
than `max_request_s` in all (a server trickling keep-alive comments never ends otherwise). A finish_reason of a
content filter raises `BackendError` (not retried).

Once the choice has finished and the usage has arrived with or after the finish, reading stops: the answer is
complete even if the server then keeps the connection open without `[DONE]`. After a finish without usage, the
usage is waited for `grace_s` at most; a stream that then breaks, stalls or closes loses nothing. `t_end` is the
arrival of the event that completed the answer: the finish_reason, else `[DONE]`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import httpx_sse

from bench.backends.base import now
from bench.backends.http_retry import RetryableError
from bench.backends.openai_finish import finish_verdict
from bench.errors import BackendError


@dataclass(frozen=True)
class Endpoint:
    """Where answers come from, as reasons name it ("POST http://host/v1/chat/completions"), and its shape."""

    where: str
    chat: bool
    max_request_s: float
    grace_s: float = 1.0
    """How long to wait for the usage after the choice finished (the backend uses min(1 s, timeout_s))."""


@dataclass
class Answer:
    """What the server sent for choice 0. `t_first` is the arrival of the first token of any kind (reasoning
    included), None when the answer was not streamed; `t_end` the arrival of the event that completed it.
    `settled`: the choice finished and the usage came with or after the finish, so nothing more is needed."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    content_chunks: int = 0
    reasoning_chunks: int = 0
    t_first: float | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    truncated: bool = False
    t_end: float | None = None
    settled: bool = False
    done: bool = False
    choices: int = 0
    streamed: bool = True
    logprobs: list[float] = field(default_factory=list)
    """The generated tokens' log-probabilities (nats), when the server sent them (`logprobs` requested)."""
    logprobs_missing: bool = False
    """A piece of text came without its log-probabilities: the answer has none (never a partial list)."""

    @property
    def token_logprobs(self) -> list[float] | None:
        """Every generated token's log-probability, or None when the server sent none or only some."""
        return None if self.logprobs_missing or not self.logprobs else self.logprobs

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
    """Events until [DONE], the end of the body, or the answer settled; a break, stall or close after the choice
    finished ends the answer (the server said it was complete), a watchdog cutting a stall at `grace_s`."""
    answer, watchdog = Answer(), None
    response.encoding = "utf-8-sig"  # an event stream is UTF-8, and a leading byte-order mark is not data
    try:
        for event in httpx_sse.EventSource(response).iter_sse():
            if _take_event(event, answer, endpoint):
                break
            if answer.finish_reason is not None and watchdog is None:
                watchdog = _cut_after(response, endpoint.grace_s)
    except (httpx.TransportError, RetryableError) as exc:
        if answer.finish_reason is None or (isinstance(exc, RetryableError) and not exc.timeout):
            raise
    finally:
        if watchdog is not None:
            watchdog.cancel()
    return answer


def _take_event(event: httpx_sse.ServerSentEvent, answer: Answer, endpoint: Endpoint) -> bool:
    """Add one event to `answer`; True when nothing more is to be read ([DONE], or the answer settled)."""
    if event.event == "error":
        raise RetryableError(f"{endpoint.where} sent an error event: {_message(_json_or_text(event.data))}")
    if event.event != "message" or event.data == "":  # named events (ping); an empty data buffer is no event
        return False
    if event.data.strip() == "[DONE]":
        answer.done = True
        answer.t_end = answer.t_end or now()
        return True
    take_chunk(_loads(event.data, endpoint), answer, endpoint)
    return answer.settled


def _cut_after(response: httpx.Response, grace_s: float) -> threading.Timer | None:
    """A timer that shuts the answer's socket after `grace_s` (a blocked read then ends); None when the
    transport exposes no socket (then the read timeout ends a stall, and the answer is still complete)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if not isinstance(sock, socket.socket):
        return None
    timer = threading.Timer(grace_s, _shut, (sock,))
    timer.daemon = True
    timer.start()
    return timer


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: the answer ended meanwhile
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's, under TLS too


def _read_json(response: httpx.Response, endpoint: Endpoint) -> Answer:
    """A server that ignored stream: true answers with one completion object: complete, but with no TTFT."""
    body = response.read().decode("utf-8", "replace")
    answer = Answer(streamed=False, done=True)
    take_chunk(_loads(body, endpoint, "body"), answer, endpoint)
    answer.t_first, answer.t_end = None, now()
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
    if inner in ({}, "", [], None):
        return f"an error without a message ({json.dumps(inner)})"
    return str(inner)[:300]


def _is_error(value: Any) -> bool:
    """An `error` field that reports one: any value but null and false, an empty object included."""
    return value is not None and value is not False


def take_chunk(chunk: Any, answer: Answer, endpoint: Endpoint) -> None:
    """Add one parsed event (or the whole non-streamed body) to `answer`; RetryableError if it is an error or is
    not shaped like a completion chunk (BackendError for a content filter's finish_reason)."""
    if not isinstance(chunk, dict) or not isinstance(chunk.get("choices", []), list | None):
        raise RetryableError(f"malformed event from {endpoint.where}: not a completion chunk: {str(chunk)[:200]!r}")
    if _is_error(chunk.get("error")) or chunk.get("object") == "error":  # OpenAI; TGI / vLLM's {"object": "error"}
        raise RetryableError(f"{endpoint.where} reported an error: {_message(chunk)}")
    for choice in _first_choices(chunk.get("choices") or [], endpoint):
        _take_choice(choice, answer, endpoint)
    if isinstance(chunk.get("usage"), dict):
        answer.usage = chunk["usage"]
        answer.settled = answer.finish_reason is not None  # the usage came with or after the finish


def _first_choices(choices: list[Any], endpoint: Endpoint) -> Iterator[dict[str, Any]]:
    for choice in choices:
        if not isinstance(choice, dict):
            raise RetryableError(f"malformed event from {endpoint.where}: choice {str(choice)[:100]!r}")
        if choice.get("index", 0) == 0:
            yield choice


def _take_choice(choice: dict[str, Any], answer: Answer, endpoint: Endpoint) -> None:
    if _is_error(choice.get("error")):  # OpenRouter and proxies: the error on the choice, finish_reason "error"
        raise RetryableError(f"{endpoint.where} reported an error on the answer: {_message(choice['error'])}")
    answer.choices += 1
    part = (choice.get("delta") or choice.get("message") or {}) if endpoint.chat else choice
    if not isinstance(part, dict):
        raise RetryableError(f"malformed event from {endpoint.where}: delta {str(part)[:200]!r}")
    content = part.get("content") if endpoint.chat else part.get("text")
    reasoning = (part.get("reasoning_content") or part.get("reasoning")) if endpoint.chat else None
    if not isinstance(content, str | None) or not isinstance(reasoning, str | None):
        raise RetryableError(f"malformed event from {endpoint.where}: text is not a string in {str(choice)[:200]!r}")
    if (content or reasoning) and answer.finish_reason is not None:
        late = (content or reasoning or "")[:50]
        raise RetryableError(f"protocol error from {endpoint.where}: text {late!r} after the answer finished with "
                             f"finish_reason {answer.finish_reason!r}")
    if (content or reasoning) and answer.t_first is None:
        answer.t_first = now()
    if reasoning:
        answer.reasoning.append(reasoning)
        answer.reasoning_chunks += 1
    if content:
        answer.content.append(content)
        answer.content_chunks += 1
        _take_logprobs(choice.get("logprobs"), answer, endpoint.chat)
    _take_finish(choice.get("finish_reason"), endpoint, answer)


def _take_logprobs(block: Any, answer: Answer, chat: bool) -> None:
    """The log-probabilities of a piece of text: chat `logprobs.content[].logprob`, completions
    `logprobs.token_logprobs[]` (OpenAI's two shapes, also vLLM's and llama.cpp's servers'). A piece without
    them, or with a value that is not a number, marks the answer as having none."""
    values = _logprob_values(block, chat)
    if values is None:
        answer.logprobs_missing = True
    else:
        answer.logprobs.extend(values)


def _logprob_values(block: Any, chat: bool) -> list[float] | None:
    if not isinstance(block, dict):
        return None
    if chat:
        entries = block.get("content")
        raw = [e.get("logprob") for e in entries if isinstance(e, dict)] if isinstance(entries, list) else None
    else:
        raw = block.get("token_logprobs")
    if not isinstance(raw, list) or not raw or not all(isinstance(v, int | float) and v <= 0 for v in raw):
        return None
    return [float(v) for v in raw]


def _take_finish(reason: Any, endpoint: Endpoint, answer: Answer) -> None:
    """Note the first finish_reason and when it came; raise when one does not say the answer is complete."""
    if not reason:
        return
    verdict = finish_verdict(str(reason))
    if verdict == "filtered":
        raise BackendError(f"{endpoint.where} stopped the answer by its content filter (finish_reason {reason!r})")
    if verdict == "failed":
        raise RetryableError(f"{endpoint.where} ended the answer with finish_reason {reason!r}, which does not say "
                             "it is complete")
    if answer.finish_reason is None:  # a repeated good finish (no text with it) changes nothing
        answer.finish_reason, answer.truncated, answer.t_end = str(reason), verdict == "truncated", now()


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
