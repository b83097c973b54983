"""Any OpenAI-compatible endpoint (vllm serve, llama.cpp / llama-cpp-python servers, Ollama, TGI, SGLang,
hosted APIs) over httpx, streamed so TTFT and token times are measured per request.

The API key is read from the environment variable named in the suite (`api_key_env`) and never stored.
Retries with exponential backoff on 429, 5xx and connection errors only; other 4xx fail the item at once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Literal

from pydantic import Field

from bench.backends.base import BackendInfo, BackendParamsBase, Request, Result, now
from bench.backends.token_counter import load_counter
from bench.errors import BackendError
from bench.optional import require

RETRY_STATUS = {429, 500, 502, 503, 504}


class OpenAIParams(BackendParamsBase):
    kind: Literal["openai"] = "openai"
    base_url: str = Field(pattern=r"^https?://")
    model: str | None = None
    """Served model name; default: the first one the endpoint lists."""
    endpoint: Literal["chat", "completions"] = "chat"
    api_key_env: str | None = None
    json_style: Literal["openai", "llama_cpp_python"] = "openai"
    """How to ask for schema-constrained JSON: response_format json_schema (OpenAI, vLLM) or json_object+schema."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Engine-specific request fields, e.g. {repeat_penalty: 1.0} for llama-cpp-python's server (default 1.1)."""
    concurrency: int = Field(1, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    backoff_s: float = Field(0.5, ge=0)
    tokenizer: str | None = None
    """The served model's tokenizer (bundled:NAME, a GGUF path or an HF folder) to count tokens when the endpoint
    sends no usage; without it completion tokens are counted as stream chunks and prompt tokens are unknown."""


class RetryableError(Exception):
    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def _answer_label(text: str) -> str:
    """The label of a choices answer sent as {"answer": "..."}; the raw text if it is not that."""
    try:
        value = json.loads(text)
    except ValueError:
        return text.strip()
    return str(value.get("answer", "")) if isinstance(value, dict) else text.strip()


class OpenAIBackend:
    """Streams each request; `concurrency` requests are in flight at once (results arrive as they finish)."""

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
        self.counter = load_counter(params.tokenizer) if params.tokenizer else None

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
        except (self.httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
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
        start = now()
        if request.mode == "choices" and request.continuation_delimiter is not None:
            return Result(request.id, t_start=start, t_end=now(), error=(
                "the openai backend cannot score choices by log-likelihood (lm-eval multiple choice): "
                "use the llama_cpp or vllm backend for this task"))
        for attempt in range(self.params.max_retries + 1):
            try:
                return self._stream(request, now())
            except RetryableError as exc:
                if attempt == self.params.max_retries:
                    return Result(request.id, t_start=start, t_end=now(), error=f"{exc} (after {attempt} retries)",
                                  extra={"unreachable": exc.unreachable})
                time.sleep(self.params.backoff_s * 2**attempt)
            except Exception as exc:  # one item's failure is recorded, never fatal to the run
                return Result(request.id, t_start=start, t_end=now(), error=f"{type(exc).__name__}: {exc}")
        raise AssertionError("unreachable")

    def _stream(self, request: Request, start: float) -> Result:
        path = "/chat/completions" if self.params.endpoint == "chat" else "/completions"
        state: dict[str, Any] = {"text": [], "first": None, "chunks": 0, "usage": None, "end": None}
        try:
            with self.client.stream("POST", path, json=self.body(request)) as response:
                self._check_status(response)
                for line in response.iter_lines():
                    self._consume(line, state)
            state["end"] = now()  # before any token counting, which is not the endpoint's time
        except (self.httpx.ConnectError, self.httpx.ConnectTimeout) as exc:
            raise RetryableError(f"cannot connect: {exc}", unreachable=True) from None
        except (self.httpx.TransportError, self.httpx.RemoteProtocolError) as exc:
            raise RetryableError(f"connection error: {exc}") from None
        return self._result(request, start, state)

    def _check_status(self, response: Any) -> None:
        if response.status_code in RETRY_STATUS:
            response.read()
            raise RetryableError(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            response.read()
            raise BackendError(f"HTTP {response.status_code}: {response.text[:300]}")

    def _consume(self, line: str, state: dict[str, Any]) -> None:
        if not line.startswith("data:") or line.strip() == "data: [DONE]":
            return
        chunk = json.loads(line[5:])
        if chunk.get("usage"):
            state["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or []:
            piece = (choice.get("delta") or {}).get("content") if self.params.endpoint == "chat" \
                else choice.get("text")
            if piece:
                state["first"] = state["first"] or now()
                state["text"].append(piece)
                state["chunks"] += 1

    def _result(self, request: Request, start: float, state: dict[str, Any]) -> Result:
        usage = state["usage"] or {}
        text = "".join(state["text"])
        label = _answer_label(text) if request.mode == "choices" else text.strip()
        index = request.choices.index(label) if label in request.choices else None
        prompt_tokens, completion_tokens, source = self._token_counts(request, text, usage, state["chunks"])
        return Result(request.id, text=text, choice_index=index, prompt_tokens=prompt_tokens,
                      completion_tokens=completion_tokens, t_start=start, t_first_token=state["first"],
                      t_end=state["end"] or now(),
                      extra={"token_count_source": source})

    def _token_counts(self, request: Request, text: str, usage: dict[str, Any], chunks: int) -> tuple[int, int, str]:
        """(prompt, completion, source): the endpoint's usage, else the model's tokenizer, else stream chunks."""
        if usage:
            return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", chunks)), "usage"
        if self.counter is not None:
            chat = self.params.endpoint == "chat"
            return (self.counter.prompt(request, chat), self.counter.completion(text),
                    f"tokenizer {self.params.tokenizer} (the endpoint sent no usage)")
        return 0, chunks, "stream chunks (one token each; the endpoint sent no usage; prompt tokens unknown)"

    def body(self, request: Request) -> dict[str, Any]:
        gen = request.generation
        body: dict[str, Any] = {"model": self.model, "max_tokens": gen.max_tokens, "temperature": gen.temperature,
                                "top_p": gen.top_p, "seed": gen.seed, "stream": True,
                                "stream_options": {"include_usage": True}}
        if gen.stop:
            body["stop"] = list(gen.stop)
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
