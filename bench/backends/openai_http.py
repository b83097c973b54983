"""Any OpenAI-compatible endpoint (vllm serve, llama.cpp / llama-cpp-python servers, Ollama, TGI, SGLang,
hosted APIs) over httpx, streamed so TTFT and token times are measured per request.

An answer is `ok` only when the server said it was complete (openai_stream.py); a broken one is asked again
like a 5xx. Retries (http_retry.py): HTTP 408, 409, 429 and 5xx, broken or cut answers, timeouts and refused
connections, waiting the server's Retry-After (never less; beyond `max_retry_wait_s` the item fails at once),
else exponential backoff; every retry is in the record (retries, retry_waits_s, retry_reasons) and an item that
failed after them is marked `retryable` (and `unreachable` when the connection was refused). Other 4xx fail the
item at once. A successful item's timings are those of the attempt that succeeded; `t_first_attempt` says when
the first one started. Stop strings are sent to the server and applied again to what it returns.

The API key is read from the environment variable named in the suite (`api_key_env`) and never stored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from bench.backends.base import BackendBase, BackendInfo, Request, Result, now
from bench.backends.http_retry import RetryableError, RetryLog, RetryPolicy, call_with_retries, retry_after_s
from bench.backends.openai_stream import Answer, Endpoint, limit_duration, read_answer
from bench.backends.openai_usage import Counting, count_tokens
from bench.backends.params import OpenAIParams
from bench.backends.stops import cut_at_stops
from bench.backends.token_counter import load_counter
from bench.errors import BackendError
from bench.optional import require

RETRY_STATUS = {408, 409, 429}
"""Retried besides every 5xx (the statuses OpenAI's own client retries)."""


def _answer_label(text: str) -> str:
    """The label of a choices answer sent as {"answer": "..."}; the raw text if it is not that."""
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()
    return str(value.get("answer", "")) if isinstance(value, dict) else text.strip()


def _sent_max_tokens(params: OpenAIParams) -> int | None:
    """The max_tokens every request sends when extra_body sets it (it overrides generation.max_tokens)."""
    values = [params.extra_body.get(k) for k in ("max_tokens", "max_completion_tokens")]
    ints = [v for v in values if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    return max(ints) if ints else None


def _server_message(text: str) -> str:
    """An error body in the server's own words: the OpenAI error message, else the text, whitespace collapsed."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("error"), dict) and value["error"].get("message"):
        return str(value["error"]["message"])[:300]
    return " ".join(text.split())[:200]


class OpenAIBackend(BackendBase):
    """Streams each request; `concurrency` requests are in flight at once (results arrive as they finish).
    Hooks: max_parallel 1024 (the driver's threads; the server queues or batches); the rest keep their defaults
    (the server's prompt cache is not bench's to reset)."""

    Params = OpenAIParams
    max_parallel = 1024  # the server queues or batches; httpx.Client is thread-safe

    def __init__(self, params: OpenAIParams) -> None:
        self.httpx = require("httpx", "the openai backend", "pip install httpx")
        self.params = params
        headers = {"Authorization": f"Bearer {self._api_key()}"} if params.api_key_env else {}
        # httpx's default pool (100 connections, 20 kept alive) would cap concurrency and put reconnects in TTFT
        limits = self.httpx.Limits(max_connections=self.max_parallel, max_keepalive_connections=self.max_parallel)
        self.client = self.httpx.Client(base_url=params.base_url.rstrip("/"), headers=headers,
                                        timeout=params.timeout_s, limits=limits)
        self.model = params.model or self._first_model()
        self.path = "/chat/completions" if params.endpoint == "chat" else "/completions"
        self.endpoint = Endpoint(f"POST {params.base_url.rstrip('/')}{self.path}", params.endpoint == "chat",
                                 params.max_request_s, grace_s=min(1.0, params.timeout_s))
        self.policy = RetryPolicy(params.max_retries, params.backoff_s, params.max_retry_wait_s)
        counter = load_counter(params.tokenizer) if params.tokenizer else None
        self.counting = Counting(counter, params.tokenizer, params.endpoint == "chat", _sent_max_tokens(params))

    def _api_key(self) -> str:
        assert self.params.api_key_env is not None
        key = os.environ.get(self.params.api_key_env)
        if not key:
            raise BackendError(f"environment variable {self.params.api_key_env} is not set (the API key for "
                               f"{self.params.base_url}); set it or remove api_key_env")
        return key

    def _first_model(self) -> str:
        try:
            response = self.client.get("/models")
            response.raise_for_status()
            return str(response.json()["data"][0]["id"])
        except (self.httpx.HTTPError, KeyError, IndexError, ValueError, TypeError) as exc:
            raise BackendError(f"cannot list models at {self.params.base_url}/models ({exc}); "
                               "set model: in the suite") from None

    def info(self) -> BackendInfo:
        settings = self.params.model_dump(exclude={"kind", "api_key_env"}) | {
            "api_key_env": self.params.api_key_env}  # the variable's name, never its value
        return BackendInfo(engine=f"openai-compatible HTTP ({self.params.base_url})", engine_version="httpx "
                           + str(self.httpx.__version__), model=self.model, settings=settings)

    def generate(self, requests: Sequence[Request]) -> Iterator[Result]:
        if self.params.concurrency == 1:
            yield from (self._request(r) for r in requests)
            return
        with ThreadPoolExecutor(max_workers=self.params.concurrency) as pool:
            futures = [pool.submit(self._request, r) for r in requests]
            for future in as_completed(futures):
                yield future.result()

    def _request(self, request: Request) -> Result:
        """One item's result: the answer of the attempt that succeeded, or the last failure; never raises."""
        start = now()
        if request.mode == "choices" and request.continuation_delimiter is not None:
            return Result(request.id, t_start=start, t_end=now(), error=(
                "the openai backend cannot score choices by log-likelihood (lm-eval multiple choice): "
                "use the llama_cpp or vllm backend for this task"))
        log = RetryLog()
        try:
            result = call_with_retries(self.policy, log, lambda: self._attempt(request))
        except RetryableError as exc:
            result = Result(request.id, t_start=start, t_end=now(), error=log.final_error(exc, self.policy),
                            extra=exc.marks())
        except BackendError as exc:
            result = Result(request.id, t_start=start, t_end=now(), error=str(exc))
        except Exception as exc:  # one item's failure is recorded, never fatal to the run
            result = Result(request.id, t_start=start, t_end=now(), error=f"{type(exc).__name__}: {exc}")
        result.extra |= log.extra() | ({"t_first_attempt": start} if log.waits_s else {})
        return result

    def _attempt(self, request: Request) -> Result:
        start = now()
        try:
            with self.client.stream("POST", self.path, json=self.body(request)) as response:
                limit_duration(response, self.endpoint, start)
                self._check_status(response)
                answer = read_answer(response, self.endpoint)
                end = answer.t_end or now()  # the event that completed the answer
        except (self.httpx.ConnectError, self.httpx.ConnectTimeout) as exc:
            raise RetryableError(f"cannot connect to {self.endpoint.where}: {exc}", unreachable=True) from None
        except self.httpx.TimeoutException as exc:
            raise RetryableError(f"no answer from {self.endpoint.where} within timeout_s {self.params.timeout_s:g}"
                                 f" ({type(exc).__name__})", timeout=True) from None
        except self.httpx.RequestError as exc:  # other transport errors; an undecodable error body
            raise RetryableError(f"connection error with {self.endpoint.where}: {type(exc).__name__}: {exc}") from None
        return self._result(request, start, end, answer)

    def _check_status(self, response: Any) -> None:
        code = response.status_code
        if code < 400:
            return
        response.read()
        message = f"HTTP {code} from {self.endpoint.where}: {_server_message(response.text)}"
        if code in RETRY_STATUS or code >= 500:
            raise RetryableError(message, retry_after=retry_after_s(response.headers))
        raise BackendError(message)

    def _result(self, request: Request, start: float, end: float, answer: Answer) -> Result:
        counts = count_tokens(answer, request, self.counting)
        text, cut = cut_at_stops(answer.text, request.generation.stop)
        label = _answer_label(text) if request.mode == "choices" else text.strip()
        index = request.choices.index(label) if label in request.choices else None
        extra = counts.extra | {"finish_reason": answer.finish_reason} | ({"stop_applied_client_side": True}
                                                                           if cut else {})
        if answer.truncated:
            extra["truncated"] = True  # complete, but ended by the token limit
        if not answer.streamed:
            extra["streamed"] = False  # the server ignored stream: true; no time to first token
        return Result(request.id, text=text, choice_index=index, prompt_tokens=counts.prompt,
                      completion_tokens=counts.completion, cached_prompt_tokens=counts.cached, t_start=start,
                      t_first_token=answer.t_first, t_end=end, extra=extra,
                      token_logprobs=answer.token_logprobs if self.params.logprobs else None)

    def body(self, request: Request) -> dict[str, Any]:
        gen = request.generation
        body: dict[str, Any] = {"model": self.model, "max_tokens": gen.max_tokens, "temperature": gen.temperature,
                                "top_p": gen.top_p, "seed": gen.seed, "stream": True,
                                "stream_options": {"include_usage": True}}
        if gen.stop:
            body["stop"] = list(gen.stop)
        if self.params.logprobs:  # chat: a flag; completions: how many top tokens (1: the sampled one comes too)
            body["logprobs"] = True if self.params.endpoint == "chat" else 1
        body.update(self.params.extra_body)
        if self.params.endpoint == "chat":
            body["messages"] = list(request.messages)
        else:
            body["prompt"] = request.completion
        schema = self._schema(request)
        if schema is not None:
            body["response_format"] = (
                {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}
                if self.params.json_style == "openai" else {"type": "json_object", "schema": schema})
        return body

    @staticmethod
    def _schema(request: Request) -> dict[str, Any] | None:
        if request.mode == "json":
            return request.json_schema
        if request.mode == "choices":  # no log-likelihoods over HTTP: constrain the answer to the labels
            return {"type": "object", "properties": {"answer": {"type": "string", "enum": list(request.choices)}},
                    "required": ["answer"], "additionalProperties": False}
        return None

    def close(self) -> None:
        self.client.close()
