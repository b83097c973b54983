"""A scripted OpenAI-compatible fault server for tests: 127.0.0.1 only, and it stops by itself after `lifetime_s`.

Each request names its fault in the prompt ("fault:NAME" in the last chat message or the completion prompt) and
the server answers that fault. Faults that recover fail on odd attempts and answer on even ones (the attempt is
the count of requests with the same prompt), so answers do not depend on arrival order and any concurrency works.
`seen` keeps every request: fault, attempt, arrival time and body.

Run alone for a manual check: `python tests/backends/fault_server.py` prints its URL and serves for 120 s.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PARIS = ("Par", "is")
USAGE = {"prompt_tokens": 5, "completion_tokens": 2}
DONE = "data: [DONE]\n\n"


def chunk(content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    body = delta | ({"content": content} if content is not None else {})
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": body, "finish_reason": finish}]}


def event(payload: dict[str, Any] | str, prefix: str = "data: ") -> str:
    return f"{prefix}{payload if isinstance(payload, str) else json.dumps(payload)}\n\n"


def answer_events(pieces: tuple[str, ...] = PARIS, usage: dict[str, Any] | None = USAGE,
                  finish: str = "stop") -> list[str]:
    """The events of a good answer: one chunk per piece, the last with finish_reason, usage, then [DONE]."""
    chunks = [chunk("", role="assistant")] + [chunk(p, finish if i == len(pieces) - 1 else None)
                                              for i, p in enumerate(pieces)]
    usage_chunk = [{"object": "chat.completion.chunk", "choices": [], "usage": usage}] if usage else []
    return [event(c) for c in chunks + usage_chunk] + [DONE]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultServer
    chunked = True

    def log_message(self, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self.reply(200, {"object": "list", "data": [{"id": "fault-model", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fault, attempt = self.server.register(body)
        self.close_connection = True
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            getattr(self, f"fault_{fault}", self.unknown)(attempt)

    # --- writing -------------------------------------------------------------------------------------------
    def head(self, status: int = 200, ctype: str = "text/event-stream", chunked: bool = True,
             headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.chunked = chunked

    def write(self, data: str | bytes, pause_s: float = 0.0) -> None:
        """One TCP write (an HTTP chunk when chunked), flushed, then an optional pause."""
        raw = data.encode() if isinstance(data, str) else data
        self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n" if self.chunked else raw)
        self.wfile.flush()
        time.sleep(pause_s)

    def end(self) -> None:
        if self.chunked:
            self.wfile.write(b"0\r\n\r\n")

    def stream(self, events: list[str], pause_s: float = 0.0, ctype: str = "text/event-stream") -> None:
        self.head(ctype=ctype)
        for item in events:
            self.write(item, pause_s)
        self.end()

    def reply(self, status: int, body: dict[str, Any] | str, ctype: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.head(status, ctype, chunked=False, headers={"Content-Length": str(len(raw))} | (headers or {}))
        self.wfile.write(raw)

    def reset(self) -> None:
        """Close with a TCP reset (RST), as a crashed server or a dropped proxy connection does."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def unknown(self, attempt: int) -> None:
        self.reply(500, {"error": {"message": "the fault server knows no such fault"}})

    # --- answers that are good --------------------------------------------------------------------------------
    def fault_ok(self, attempt: int) -> None:
        self.stream(answer_events())

    def fault_done_no_space(self, attempt: int) -> None:
        """`data:[DONE]` and `data:{...}` without the optional space: legal SSE."""
        self.stream([e.replace("data: ", "data:") for e in answer_events()])

    def fault_bom_start(self, attempt: int) -> None:
        """A UTF-8 byte-order mark before the first event, "Par" (SSE: the mark is stripped, not data)."""
        first, *rest = answer_events()[1:]
        self.stream(["\ufeff" + first, *rest])

    def fault_done_with_spaces(self, attempt: int) -> None:
        self.stream([*answer_events()[:-1], "data:  [DONE]  \n\n"])

    def fault_crlf_lines(self, attempt: int) -> None:
        self.stream([e.replace("\n", "\r\n") for e in answer_events()])

    def fault_missing_usage(self, attempt: int) -> None:
        self.stream(answer_events(usage=None))

    def fault_usage_zero(self, attempt: int) -> None:
        """4 chunks of text, then a usage of 0 completion tokens."""
        self.stream(answer_events(("Pa", "r", "i", "s"), {"prompt_tokens": 5, "completion_tokens": 0}))

    def fault_usage_too_large(self, attempt: int) -> None:
        """"Par", "is", then a usage of 1,000,000 completion tokens for a request of max_tokens 16."""
        self.stream(answer_events(usage={"prompt_tokens": 5, "completion_tokens": 1_000_000}))

    def fault_usage_prompt_huge(self, attempt: int) -> None:
        """A usage of 10^9 prompt tokens for a prompt of a few dozen bytes."""
        self.stream(answer_events(usage={"prompt_tokens": 10**9, "completion_tokens": 2}))

    def fault_usage_cached_too_many(self, attempt: int) -> None:
        """9 cached prompt tokens of 5 prompt tokens."""
        self.stream(answer_events(usage=USAGE | {"prompt_tokens_details": {"cached_tokens": 9}}))

    def fault_usage_prompt_float(self, attempt: int) -> None:
        self.stream(answer_events(usage={"prompt_tokens": 5.5, "completion_tokens": 2}))

    def fault_finish_stop_upper(self, attempt: int) -> None:
        """finish_reason "STOP": a case variant of a complete answer."""
        self.stream(answer_events(finish="STOP"))

    def fault_done_no_finish(self, attempt: int) -> None:
        """No finish_reason at all; usage, then [DONE] (the server's end of the answer)."""
        self.stream([event(chunk(p)) for p in PARIS] + answer_events(())[-2:])

    def fault_finish_usage_hang(self, attempt: int) -> None:
        """finish_reason and usage, then the connection stays open without [DONE] for `slow_s`."""
        self.head()
        for item in answer_events()[:-1]:
            self.write(item)
        time.sleep(self.server.slow_s)
        self.end()

    def fault_finish_hang_no_usage(self, attempt: int) -> None:
        """finish_reason, then no usage and no [DONE]: the connection stays open for `slow_s`."""
        self.head()
        for item in answer_events(usage=None)[:-1]:
            self.write(item)
        time.sleep(self.server.slow_s)
        self.end()

    def fault_finish_then_reset(self, attempt: int) -> None:
        """finish_reason, then the connection is reset before the usage and [DONE]."""
        self.head()
        for item in answer_events(usage=None)[:-1]:
            self.write(item)
        time.sleep(0.05)
        self.reset()

    def fault_duplicate_done(self, attempt: int) -> None:
        self.stream([*answer_events(), DONE, event(chunk("AFTER DONE"))])

    def fault_ping_comments(self, attempt: int) -> None:
        """Keep-alive comments and a named `ping` event between the chunks."""
        pings = [": ping\n\n", "event: ping\ndata: {}\n\n"]
        self.stream([x for e in answer_events() for x in [*pings, e]])

    def fault_finish_length(self, attempt: int) -> None:
        self.stream(answer_events(("Par",), finish="length"))

    def fault_finish_no_done(self, attempt: int) -> None:
        """finish_reason says the answer is complete; the connection then closes without [DONE]."""
        self.stream(answer_events()[:-1])

    def fault_unicode_split_bytes(self, attempt: int) -> None:
        """"Café ☕" with the UTF-8 bytes of é and ☕ split across TCP writes."""
        raw = "".join(answer_events(("Café ☕",))).replace("Caf\\u00e9 \\u2615", "Café ☕").encode()
        cuts = [raw.index("é".encode()) + 1, raw.index("☕".encode()) + 2]
        self.head()
        for part in (raw[: cuts[0]], raw[cuts[0]: cuts[1]], raw[cuts[1]:]):
            self.write(part, 0.02)
        self.end()

    def fault_surrogate_split(self, attempt: int) -> None:
        """😀 as a UTF-16 surrogate pair split over two events (JSON "\\ud83d" then "\\ude00")."""
        self.stream(answer_events(("\ud83d", "\ude00"), usage={"prompt_tokens": 5, "completion_tokens": 2}))

    def fault_split_events(self, attempt: int) -> None:
        """Every event written in three TCP writes."""
        self.head()
        for item in answer_events():
            third = max(1, len(item) // 3)
            for part in (item[:third], item[third: 2 * third], item[2 * third:]):
                self.write(part, 0.01)
        self.end()

    def fault_not_streamed(self, attempt: int) -> None:
        """The server ignores stream: true and answers one chat.completion object."""
        self.reply(200, {"object": "chat.completion", "usage": USAGE, "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}]})

    def fault_stop_ignored(self, attempt: int) -> None:
        """The server ignores the stop strings it was sent."""
        self.stream(answer_events(("Paris", "\nQuestion: what is 2+2?", "\nAnswer: 4"),
                                  usage={"prompt_tokens": 5, "completion_tokens": 12}))

    def fault_reasoning(self, attempt: int) -> None:
        """5 reasoning chunks, then "Par", "is"; one chunk every 0.2 s; usage 7 completion tokens."""
        thoughts = [chunk(reasoning_content=t) for t in ("The", " capital", " of", " France", " is")]
        events = [event(c) for c in thoughts] + answer_events(usage={"prompt_tokens": 5, "completion_tokens": 7})
        self.head()
        for item in events[:7]:
            time.sleep(0.2)
            self.write(item)
        for item in events[7:]:
            self.write(item)
        self.end()

    def fault_multi_line_data(self, attempt: int) -> None:
        """Each chunk's JSON split over two `data:` lines of one event (SSE joins them with a line feed)."""
        self.stream([e.replace(', "choices"', ',\ndata: "choices"') for e in answer_events()])

    def fault_sse_fields(self, attempt: int) -> None:
        """`id:`, `retry:`, an explicit `event: message` and a line without a colon around every event."""
        self.stream([f"id: {i}\nretry: 1000\nevent: message\nnocolon\n{e}" for i, e in enumerate(answer_events())])

    def fault_reasoning_field(self, attempt: int) -> None:
        """2 chunks of `reasoning` (not `reasoning_content`), then "Par", "is"; usage 4 completion tokens."""
        thoughts = [event(chunk(reasoning=t)) for t in ("France", "'s capital")]
        self.stream(thoughts + answer_events(usage={"prompt_tokens": 5, "completion_tokens": 4}))

    def fault_usage_on_finish_chunk(self, attempt: int) -> None:
        """The usage rides on the chunk with the finish_reason; no separate usage chunk."""
        last = chunk("is", "stop") | {"usage": USAGE}
        self.stream([event(chunk("", role="assistant")), event(chunk("Par")), event(last), DONE])

    def fault_continuous_usage(self, attempt: int) -> None:
        """A usage on every chunk, counting up (vLLM's continuous_usage_stats), the last one on the finish chunk."""
        parts = [chunk("", role="assistant"), chunk("Par"), chunk("is", "stop")]
        self.stream([event(c | {"usage": {"prompt_tokens": 5, "completion_tokens": n}}) for n, c in enumerate(parts)]
                    + [DONE])

    def fault_charset_event_stream(self, attempt: int) -> None:
        self.stream(answer_events(), ctype="text/event-stream; charset=utf-8")

    def fault_only_done(self, attempt: int) -> None:
        """A 200 event stream that is only `data: [DONE]`: no answer at all."""
        self.stream([DONE])

    def fault_empty_stream(self, attempt: int) -> None:
        """A 200 event stream that closes without any event."""
        self.stream([])

    def fault_not_streamed_error_finish(self, attempt: int) -> None:
        """A non-streamed body whose choice ended with finish_reason "error"."""
        self.reply(200, {"object": "chat.completion", "usage": USAGE, "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Par"}, "finish_reason": "error"}]})

    def fault_not_streamed_error_object(self, attempt: int) -> None:
        """vLLM's error object as a whole 200 JSON body."""
        self.reply(200, {"object": "error", "message": "model not loaded", "type": "BadRequestError", "code": 400})

    # --- answers that recover on the next attempt -------------------------------------------------------------
    def fault_retry_after_date(self, attempt: int) -> None:
        """429 with Retry-After as an HTTP date 1 s ahead (RFC 9110), then the answer."""
        if attempt % 2:
            when = email.utils.formatdate(time.time() + 1, usegmt=True)
            self.reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": when})
        else:
            self.fault_ok(attempt)

    def fault_retry_after_garbage(self, attempt: int) -> None:
        """503 with an unreadable Retry-After ("soon"): the client's own backoff applies, then the answer."""
        if attempt % 2:
            self.reply(503, {"error": {"message": "warming up"}}, headers={"Retry-After": "soon"})
        else:
            self.fault_ok(attempt)

    def fault_rate_limited(self, attempt: int) -> None:
        if attempt % 2:
            self.reply(429, {"error": {"message": "rate limited"}},
                       headers={"Retry-After": f"{self.server.retry_after_s:g}"})
        else:
            self.fault_ok(attempt)

    def fault_busy_503(self, attempt: int) -> None:
        if attempt % 2:
            self.reply(503, "busy", ctype="text/plain", headers={"Retry-After": "1"})
        else:
            self.fault_ok(attempt)

    def fault_http500_then_ok(self, attempt: int) -> None:
        if attempt % 2:
            self.reply(500, {"error": {"message": "internal"}})
        else:
            self.fault_ok(attempt)

    def fault_malformed_then_ok(self, attempt: int) -> None:
        if attempt % 2:
            self.fault_malformed_chunk(attempt)
        else:
            self.fault_ok(attempt)

    # --- answers that are broken on every attempt -------------------------------------------------------------
    def fault_error_event(self, attempt: int) -> None:
        """"Par", then {"error": {"message": "overloaded"}}, then [DONE]."""
        self.stream([event(chunk("Par")), event({"error": {"message": "overloaded"}}), DONE])

    def fault_error_object_event(self, attempt: int) -> None:
        """vLLM's in-stream error: {"object": "error", "message": ..., "code": ...}, then [DONE]."""
        self.stream([event(chunk("Par")), event({"object": "error", "message": "KV cache exhausted", "code": 503}),
                     DONE])

    def fault_error_named_event(self, attempt: int) -> None:
        self.stream([event(chunk("Par")), event({"message": "model crashed"}, "event: error\ndata: ")])

    def fault_error_named_event_text(self, attempt: int) -> None:
        """`event: error` whose data is plain text, then [DONE]."""
        self.stream([event(chunk("Par")), event("GPU fell off the bus", "event: error\ndata: "), DONE])

    def fault_error_empty_object(self, attempt: int) -> None:
        """"bill", then {"error": {}} (an error without a message), then [DONE]."""
        self.stream([event(chunk("bill")), event({"error": {}}), DONE])

    def fault_choice_error(self, attempt: int) -> None:
        """"Par", then an error on the choice (OpenRouter's shape) with no finish_reason, then [DONE]."""
        broken = chunk("")
        broken["choices"][0]["error"] = {"message": "upstream provider died", "code": 502}
        self.stream([event(chunk("Par")), event(broken), DONE])

    def fault_finish_content_filter(self, attempt: int) -> None:
        self.stream(answer_events(("Par",), finish="content_filter"))

    def fault_finish_cancelled(self, attempt: int) -> None:
        self.stream(answer_events(("Par",), finish="cancelled"))

    def fault_finish_error_upper(self, attempt: int) -> None:
        self.stream(answer_events(("Par",), finish="ERROR"))

    def fault_content_after_finish(self, attempt: int) -> None:
        """"bill" with finish_reason stop, then "technical", then usage and [DONE]."""
        self.stream([event(chunk("bill", "stop")), event(chunk("technical")), *answer_events(())[-2:]])

    def fault_cut_early(self, attempt: int) -> None:
        """"bill", "ing", then the connection closes cleanly: no finish_reason, no [DONE]."""
        self.head(chunked=False)
        for piece in ("bill", "ing"):
            self.write(event(chunk(piece)))

    def fault_cut_chunked(self, attempt: int) -> None:
        """"Par", then the connection closes inside the chunked body (no terminating chunk)."""
        self.head()
        self.write(event(chunk("Par")))

    def fault_reset_mid_stream(self, attempt: int) -> None:
        self.head()
        self.write(event(chunk("Par")), 0.05)
        self.reset()

    def fault_malformed_chunk(self, attempt: int) -> None:
        self.stream([event(chunk("Par")), 'data: {"choices": [{"index": 0, "delta": {"content": "is\n\n', DONE])

    def fault_empty_choices(self, attempt: int) -> None:
        self.stream([event({"object": "chat.completion.chunk", "choices": []})] * 2 + answer_events(())[-2:])

    def fault_finish_error(self, attempt: int) -> None:
        self.stream(answer_events(("Par",), finish="error"))

    def fault_http502_html(self, attempt: int) -> None:
        self.reply(502, "<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1></body></html>",
                   ctype="text/html")

    def fault_http400(self, attempt: int) -> None:
        self.reply(400, {"error": {"message": "max_tokens is too large", "type": "invalid_request_error"}})

    def fault_retry_after_too_long(self, attempt: int) -> None:
        self.reply(429, {"error": {"message": "daily quota used"}}, headers={"Retry-After": "3600"})

    def fault_wrong_content_type(self, attempt: int) -> None:
        self.stream(answer_events(), ctype="text/plain")

    def fault_non_json_200(self, attempt: int) -> None:
        self.reply(200, "<html>upstream says hello</html>")

    def fault_bad_gzip(self, attempt: int) -> None:
        """Content-Encoding: gzip over bytes that are not gzip."""
        self.head(headers={"Content-Encoding": "gzip"})
        self.write(b"this is not gzip at all")
        self.end()

    def fault_error_json_200(self, attempt: int) -> None:
        self.reply(200, {"error": {"message": "quota exceeded", "code": 429}})

    def fault_slow_first_byte(self, attempt: int) -> None:
        time.sleep(self.server.slow_s)
        self.fault_ok(attempt)

    def fault_trickle_pings(self, attempt: int) -> None:
        """Only keep-alive comments, every 0.1 s, for `slow_s`: each read succeeds, the answer never comes."""
        self.head()
        deadline = time.monotonic() + self.server.slow_s
        while time.monotonic() < deadline:
            self.write(": ping\n\n", 0.1)
        self.end()


FAULTS = sorted(name[len("fault_"):] for name in vars(Handler) if name.startswith("fault_"))


class FaultServer(ThreadingHTTPServer):
    """`with FaultServer() as server:` serves on 127.0.0.1 at `server.url` until the block ends or `lifetime_s`
    has passed, whichever comes first. `slow_s`: how long the slow faults take (beyond the client's timeouts);
    `retry_after_s`: the Retry-After of the rate_limited fault; `port`: 0 for any free one."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, lifetime_s: float = 120.0, slow_s: float = 3.0, retry_after_s: float = 1.0,
                 port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.lifetime_s, self.slow_s, self.retry_after_s = lifetime_s, slow_s, retry_after_s
        self.lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.seen: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def register(self, body: dict[str, Any]) -> tuple[str, int]:
        """(the fault the request names, its attempt number)."""
        prompt = body["messages"][-1]["content"] if "messages" in body else str(body.get("prompt", ""))
        fault = m.group(1) if (m := re.search(r"fault:(\w+)", prompt)) else "unknown"
        with self.lock:
            self.attempts[prompt] += 1
            attempt = self.attempts[prompt]
            self.seen.append({"fault": fault, "attempt": attempt, "t": time.time(), "body": body})
        return fault, attempt

    def requests_for(self, fault: str) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.seen if s["fault"] == fault]

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()  # shuts down in 0.05 s
        self.timer = threading.Timer(self.lifetime_s, self.shutdown)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timer.cancel()
        self.shutdown()
        self.server_close()


if __name__ == "__main__":
    with FaultServer() as fault_server:
        print(fault_server.url, "faults:", ", ".join(FAULTS), flush=True)
        time.sleep(fault_server.lifetime_s)
