"""The openai backend against the scripted fault server (tests/backends/fault_server.py): every fault kind at
concurrency 1 and 4, through the backend and through `bench run`: no faulty answer recorded ok, none lost, none
duplicated; and the examples of issue #10 with their exact values."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from backends.fault_server import FAULTS, FaultServer

from bench.backends.base import Request, Result
from bench.backends.openai_http import OpenAIBackend, OpenAIParams
from bench.metrics.aggregate import tpot_s, ttft_s
from bench.metrics.records import ItemRecord
from bench.suite.spec import GenerationSpec

REPO = Path(__file__).resolve().parents[2]
STOP = ("\n", "###")
MAX_RETRIES = 1


@dataclass(frozen=True)
class Expect:
    text: str | None = None
    """The right answer when the item must be ok."""
    error: str | None = None
    """A part of the right reason when the item must fail."""
    attempts: int = 1


def ok(text: str = "Paris", attempts: int = 1) -> Expect:
    return Expect(text=text, attempts=attempts)


def failed(reason: str, attempts: int = MAX_RETRIES + 1) -> Expect:
    return Expect(error=reason, attempts=attempts)


EXPECTED: dict[str, Expect] = {
    "ok": ok(), "done_no_space": ok(), "done_with_spaces": ok(), "bom_start": ok(), "crlf_lines": ok(),
    "missing_usage": ok(), "usage_zero": ok(), "usage_too_large": ok(), "usage_prompt_huge": ok(),
    "usage_prompt_float": ok(), "usage_cached_too_many": ok(), "finish_stop_upper": ok(), "done_no_finish": ok(),
    "finish_usage_hang": ok(), "finish_hang_no_usage": ok(), "finish_then_reset": ok(),
    "duplicate_done": ok(), "ping_comments": ok(), "finish_length": ok("Par"), "finish_no_done": ok(),
    "unicode_split_bytes": ok("Café ☕"), "surrogate_split": ok("😀"), "split_events": ok(),
    "not_streamed": ok(), "stop_ignored": ok(), "reasoning": ok(),
    "multi_line_data": ok(), "sse_fields": ok(), "reasoning_field": ok(), "usage_on_finish_chunk": ok(),
    "charset_event_stream": ok(), "continuous_usage": ok(),
    "rate_limited": ok(attempts=2), "busy_503": ok(attempts=2), "http500_then_ok": ok(attempts=2),
    "malformed_then_ok": ok(attempts=2), "retry_after_date": ok(attempts=2), "retry_after_garbage": ok(attempts=2),
    "only_done": failed("sent no choices"), "empty_stream": failed("sent no choices"),
    "not_streamed_error_finish": failed("finish_reason 'error'"),
    "not_streamed_error_object": failed("reported an error: model not loaded"),
    "error_event": failed("overloaded"), "error_named_event": failed("model crashed"),
    "error_named_event_text": failed("sent an error event: GPU fell off the bus"),
    "error_object_event": failed("KV cache exhausted"),
    "error_empty_object": failed("reported an error: an error without a message ({})"),
    "choice_error": failed("reported an error on the answer: upstream provider died"),
    "finish_content_filter": failed("content filter (finish_reason 'content_filter')", attempts=1),
    "finish_cancelled": failed("finish_reason 'cancelled', which does not say it is complete"),
    "finish_error_upper": failed("finish_reason 'ERROR'"),
    "content_after_finish": failed("text 'technical' after the answer finished with finish_reason 'stop'"),
    "cut_early": failed("stream ended early"), "cut_chunked": failed("stream ended early"),
    "reset_mid_stream": failed("stream ended early"), "malformed_chunk": failed("malformed event from POST http"),
    "empty_choices": failed("sent no choices"), "finish_error": failed("finish_reason 'error'"),
    "http502_html": failed("HTTP 502"), "http400": failed("max_tokens is too large", attempts=1),
    "retry_after_too_long": failed("more than max_retry_wait_s", attempts=1),
    "wrong_content_type": failed("content-type 'text/plain'"), "non_json_200": failed("malformed body"),
    "bad_gzip": failed("malformed body"),
    "error_json_200": failed("quota exceeded"), "slow_first_byte": failed("within timeout_s"),
    "trickle_pings": failed("longer than max_request_s"),
}
BACKEND = {"max_retries": MAX_RETRIES, "backoff_s": 0.01, "timeout_s": 1.0, "max_request_s": 2.0}
"""max_request_s: above the reasoning fault's 1.4 s with room for a busy machine, below the trickle's slow_s."""


def test_every_fault_kind_has_an_expected_outcome() -> None:
    assert sorted(EXPECTED) == FAULTS and len(FAULTS) >= 15


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(lifetime_s=120, slow_s=3.0) as running:
        yield running


def request(fault: str, rid: str | None = None, stop: tuple[str, ...] = STOP) -> Request:
    prompt = f"Answer in one word. fault:{fault}"
    return Request(id=rid or fault, messages=({"role": "user", "content": prompt},), completion=prompt, mode="text",
                   generation=GenerationSpec(max_tokens=16, stop=stop))


def backend(server: FaultServer, **params: Any) -> OpenAIBackend:
    return OpenAIBackend(OpenAIParams(base_url=server.url, **BACKEND | params))


def one(server: FaultServer, fault: str, **params: Any) -> Result:
    return next(iter(backend(server, **params).generate([request(fault)])))


def check(fault: str, result: Result) -> None:
    """The result is what EXPECTED says: ok with the right text, or an error with the right reason."""
    want = EXPECTED[fault]
    if want.error is not None:
        assert result.error is not None and want.error in result.error, (fault, result.error)
    else:
        assert result.error is None and result.text == want.text, (fault, result.error, result.text)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_every_fault_through_the_backend(server: FaultServer, concurrency: int) -> None:
    results = list(backend(server, concurrency=concurrency).generate([request(f) for f in FAULTS]))
    assert Counter(r.request_id for r in results) == Counter(FAULTS)  # none lost, none duplicated
    for result in results:
        check(result.request_id, result)
        attempts = EXPECTED[result.request_id].attempts
        assert len(server.requests_for(result.request_id)) == attempts, (result.request_id, result.extra)
        assert result.extra["retries"] == attempts - 1, (result.request_id, result.extra)
    faulty_ok = [r.request_id for r in results if EXPECTED[r.request_id].error and r.error is None]
    assert faulty_ok == []


# --- class 1: an answer is ok only when the server said it was complete ------------------------------------------

def test_done_without_a_space_gives_the_full_text(server: FaultServer) -> None:
    result = one(server, "done_no_space")
    assert (result.error, result.text, result.completion_tokens) == (None, "Paris", 2)


def test_an_error_event_in_the_stream_is_an_error_with_the_servers_message(server: FaultServer) -> None:
    result = one(server, "error_event", max_retries=0)
    assert result.error is not None and result.text == ""
    assert result.error.startswith(f"POST {server.url}/chat/completions reported an error: overloaded")


def test_a_stream_cut_before_finish_and_done_is_an_error_not_its_partial_text(server: FaultServer) -> None:
    result = one(server, "cut_early", max_retries=0)
    assert result.error is not None and result.error.startswith("stream ended early")
    assert result.text == "" and "billing" not in result.error


def test_a_malformed_chunk_names_the_endpoint_and_event_and_is_retried_like_a_5xx(server: FaultServer) -> None:
    result = one(server, "malformed_chunk", max_retries=2)
    assert result.error is not None
    assert f"malformed event from POST {server.url}/chat/completions: Unterminated string" in result.error
    assert '{"choices": [{"index": 0, "delta": {"content": "is' in result.error  # the event itself
    assert len(server.requests_for("malformed_chunk")) == 3 and result.extra["retries"] == 2
    assert result.extra["retryable"] is True and "after 2 retries" in result.error


def test_usage_of_zero_tokens_after_four_chunks_is_counted_and_flagged(server: FaultServer) -> None:
    result = one(server, "usage_zero")
    assert (result.error, result.text, result.completion_tokens) == (None, "Paris", 4)
    assert "completion_tokens 0 with 4 chunks" in result.extra["usage_implausible"]
    assert result.extra["usage_reported"] == {"prompt_tokens": 5, "completion_tokens": 0}
    assert result.prompt_tokens == 5 and "usage implausible" in result.extra["token_count_source"]


def test_completion_tokens_above_max_tokens_are_counted_and_flagged(server: FaultServer) -> None:
    result = one(server, "usage_too_large")
    assert (result.error, result.text, result.completion_tokens, result.prompt_tokens) == (None, "Paris", 2, 5)
    assert result.extra["usage_implausible"] == "completion_tokens 1000000 above the request's max_tokens 16"
    assert result.extra["usage_reported"] == {"prompt_tokens": 5, "completion_tokens": 1_000_000}


@pytest.mark.parametrize(("fault", "reported"), [("usage_prompt_huge", "1000000000"), ("usage_prompt_float", "5.5")])
def test_an_impossible_prompt_count_is_unknown_not_trusted(server: FaultServer, fault: str, reported: str) -> None:
    result = one(server, fault)
    assert (result.error, result.text, result.completion_tokens, result.prompt_tokens) == (None, "Paris", 2, 0)
    assert result.extra["usage_implausible"].startswith(f"prompt_tokens {reported}")
    assert result.extra["prompt_tokens_unknown"] is True


def test_cached_tokens_above_the_prompt_are_not_trusted(server: FaultServer) -> None:
    result = one(server, "usage_cached_too_many")
    assert (result.error, result.prompt_tokens, result.cached_prompt_tokens) == (None, 5, 0)
    assert result.extra["usage_implausible"] == "cached_tokens 9 above the 5 tokens it is part of"


def test_an_empty_error_object_mid_stream_is_an_error_not_bill(server: FaultServer) -> None:
    result = one(server, "error_empty_object", max_retries=0)
    assert result.text == "" and result.error is not None and result.extra["retryable"] is True
    assert result.error.startswith(f"POST {server.url}/chat/completions reported an error: an error without a message")


def test_content_after_the_finish_is_a_retried_protocol_error_not_billtechnical(server: FaultServer) -> None:
    result = one(server, "content_after_finish")
    assert result.text == "" and result.error is not None and "billtechnical" not in result.error
    assert "protocol error" in result.error and result.extra["retries"] == 1 and result.extra["retryable"] is True


def test_a_content_filter_is_an_error_naming_it_and_not_retried(server: FaultServer) -> None:
    result = one(server, "finish_content_filter", max_retries=3)
    assert result.text == "" and result.error is not None and "content filter" in result.error
    assert len(server.requests_for("finish_content_filter")) == 1 and "retryable" not in result.extra


def test_finish_and_usage_then_an_open_connection_is_complete_at_the_finish(server: FaultServer) -> None:
    result = one(server, "finish_usage_hang", timeout_s=5.0)
    assert (result.error, result.text, result.completion_tokens) == (None, "Paris", 2)
    assert result.t_end - result.t_start < 0.5  # not the server's 3 s, nor timeout_s


def test_finish_without_usage_then_an_open_connection_ends_after_the_grace(server: FaultServer) -> None:
    backend_ = backend(server, timeout_s=5.0)
    t0 = time.monotonic()
    result = next(iter(backend_.generate([request("finish_hang_no_usage")])))
    waited = time.monotonic() - t0
    assert (result.error, result.text, result.completion_tokens) == (None, "Paris", 2)
    assert 1.0 <= waited < 2.5  # the 1 s grace for the usage, not the server's 3 s nor timeout_s 5
    assert result.t_end - result.t_start < 0.5  # t_end is the finish event's arrival


def test_a_finished_length_answer_is_ok_and_marked_truncated(server: FaultServer) -> None:
    result = one(server, "finish_length")
    assert (result.error, result.text, result.extra["finish_reason"], result.extra["truncated"]) == (
        None, "Par", "length", True)


def test_a_non_streamed_answer_is_complete_but_has_no_time_to_first_token(server: FaultServer) -> None:
    result = one(server, "not_streamed")
    assert (result.error, result.text, result.completion_tokens, result.t_first_token) == (None, "Paris", 2, None)
    assert result.extra["streamed"] is False


# --- class 2: retries follow the server and stay visible ---------------------------------------------------------

def test_429_with_retry_after_4_waits_at_least_4_s_then_succeeds() -> None:
    with FaultServer(retry_after_s=4) as server:
        result = one(server, "rate_limited", max_retries=3, backoff_s=0.5)
        first, second = server.requests_for("rate_limited")
    assert result.error is None and result.text == "Paris"
    assert second["t"] - first["t"] >= 4.0
    assert (result.extra["retries"], result.extra["retry_waits_s"]) == (1, [4.0])
    assert "HTTP 429" in result.extra["retry_reasons"][0] and "rate limited" in result.extra["retry_reasons"][0]
    assert result.extra["t_first_attempt"] + 4.0 <= result.t_start


def test_503_retry_after_is_honoured_too(server: FaultServer) -> None:
    result = one(server, "busy_503")
    first, second = server.requests_for("busy_503")
    assert result.error is None and second["t"] - first["t"] >= 1.0 and result.extra["retry_waits_s"] == [1.0]


def test_a_retry_after_http_date_is_waited_for_and_an_unreadable_one_falls_back_to_the_backoff(
        server: FaultServer) -> None:
    dated = one(server, "retry_after_date", backoff_s=0.01)
    first, second = server.requests_for("retry_after_date")
    assert dated.error is None and dated.text == "Paris" and dated.extra["retries"] == 1
    assert 0.0 < dated.extra["retry_waits_s"][0] <= 1.0 and second["t"] - first["t"] >= dated.extra["retry_waits_s"][0]
    garbled = one(server, "retry_after_garbage", backoff_s=0.01)
    assert garbled.error is None and garbled.extra["retry_waits_s"] == [0.01]
    assert "HTTP 503" in garbled.extra["retry_reasons"][0] and "warming up" in garbled.extra["retry_reasons"][0]


def test_a_retry_after_beyond_the_cap_fails_at_once_marked_retryable(server: FaultServer) -> None:
    result = one(server, "retry_after_too_long", max_retries=3, max_retry_wait_s=60)
    assert result.error is not None and "asked to retry after 3600 s" in result.error
    assert result.extra["retryable"] is True and len(server.requests_for("retry_after_too_long")) == 1


def test_other_4xx_fail_at_once_and_are_not_marked_retryable(server: FaultServer) -> None:
    result = one(server, "http400", max_retries=3)
    assert result.error is not None and "HTTP 400" in result.error and "max_tokens is too large" in result.error
    assert "retryable" not in result.extra and len(server.requests_for("http400")) == 1


def test_a_refused_connection_is_marked_unreachable_and_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        b = OpenAIBackend(OpenAIParams(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=1,
                                       backoff_s=0.0))
        result = next(iter(b.generate([request("ok")])))
    assert result.error is not None and result.error.startswith("cannot connect")
    assert result.extra["unreachable"] is True and result.extra["retryable"] is True
    assert result.extra["retries"] == 1


def test_a_timeout_is_marked_as_one(server: FaultServer) -> None:
    result = one(server, "slow_first_byte", max_retries=0, timeout_s=0.5)
    assert result.error is not None and result.extra["timeout"] is True and result.extra["retryable"] is True


# --- class 3: one definition of time and tokens ------------------------------------------------------------------

def test_reasoning_counts_as_the_first_token_and_in_tpot_and_on_its_own(server: FaultServer) -> None:
    result = one(server, "reasoning")
    assert result.error is None and result.text == "Paris" and result.completion_tokens == 7
    assert result.t_first_token is not None
    ttft = result.t_first_token - result.t_start
    tpot = (result.t_end - result.t_first_token) / (result.completion_tokens - 1)
    assert ttft == pytest.approx(0.2, abs=0.08)
    assert tpot == pytest.approx((1.4 - 0.2) / 6, abs=0.015)
    assert result.extra["reasoning_tokens"] == 5


def test_reasoning_under_the_reasoning_key_is_counted_like_reasoning_content(server: FaultServer) -> None:
    result = one(server, "reasoning_field")
    assert (result.error, result.text, result.completion_tokens) == (None, "Paris", 4)
    assert result.extra["reasoning_tokens"] == 2 and result.extra["token_count_source"] == "usage"


@pytest.mark.parametrize("fault", ["multi_line_data", "sse_fields", "usage_on_finish_chunk", "charset_event_stream",
                                   "continuous_usage"])
def test_legal_sse_framings_give_the_full_answer_and_its_usage(server: FaultServer, fault: str) -> None:
    result = one(server, fault)
    assert (result.error, result.text, result.completion_tokens, result.prompt_tokens) == (None, "Paris", 2, 5)
    assert result.extra["token_count_source"] == "usage" and "usage_implausible" not in result.extra


# --- class 6: stop strings are applied to what the server returns ------------------------------------------------

def test_stop_strings_are_sent_and_applied_to_what_the_server_returns(server: FaultServer) -> None:
    result = one(server, "stop_ignored")
    assert (result.error, result.text) == (None, "Paris")
    assert result.extra["stop_applied_client_side"] is True
    assert server.requests_for("stop_ignored")[0]["body"]["stop"] == ["\n", "###"]
    assert result.completion_tokens == 12  # the server generated them, in the measured time window


# --- end to end: `bench run` on a small suite ----------------------------------------------------------------------

PARTIAL = {"cut_early": "billing", "error_empty_object": "bill", "content_after_finish": "bill"}


def reference(fault: str) -> str:
    """The right answer of an ok fault; for a failing one, the partial text its server sent before failing, so
    that a broken answer scored from what arrived would score 1.0."""
    want = EXPECTED[fault]
    return want.text if want.text is not None else PARTIAL.get(fault, "Par")


def fault_suite(tmp_path: Path, url: str, faults: list[str] = FAULTS, model: str | None = None) -> Path:
    data = tmp_path / "faults.jsonl"
    data.write_text("".join(json.dumps({"id": f, "text": f"fault:{f}", "answer": reference(f)}) + "\n"
                            for f in faults))
    suite = {"name": "faults", "warmup": 0,
             "load": [{"mode": "latency"}, {"mode": "concurrency", "concurrency": 4}],
             "models": [{"id": "faulty", "backend": {"kind": "openai", "base_url": url, **BACKEND,
                                                     **({"model": model} if model else {})},
                         "generation": {"max_tokens": 16, "stop": list(STOP)}}],
             "tasks": [{"id": "capital", "dataset": {"path": str(data),
                                                     "fields": {"input": "text", "expected": "answer"}},
                        "prompt": {"user": "Answer in one word. {input}"}, "answer": {"mode": "text"},
                        "scorers": ["exact_match"]}]}
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def test_bench_run_records_every_fault_once_and_no_faulty_answer_ok(server: FaultServer, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "run", str(fault_suite(tmp_path, server.url)),
                           "--out", str(tmp_path / "runs"), "--profiles", "nvidia-l4"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    records = [json.loads(line) for line in (run_dir / "records.jsonl").read_text().splitlines()]
    cells = {r["cell_id"] for r in records}
    assert len(cells) == 2
    for cell in cells:
        mine = [r for r in records if r["cell_id"] == cell]
        assert Counter(r["item_id"] for r in mine) == Counter(FAULTS)
    for r in records:
        want = EXPECTED[r["item_id"]]
        if want.error is not None:
            status = "timeout" if r["engine_extra"].get("timeout") else "error"
            assert r["status"] == status and want.error in r["error"] and r["prediction"] is None, r
            assert r["scores"] == {"exact_match": 0.0}, r  # never scored from its partial text
        else:
            assert r["status"] == "ok" and r["prediction"] == want.text and r["scores"]["exact_match"] == 1.0, r
    for r in (ItemRecord.model_validate(r) for r in records if r["item_id"] == "reasoning"):
        assert r.engine_extra["reasoning_tokens"] == 5 and r.completion_tokens == 7
        assert ttft_s(r) == pytest.approx(0.2, abs=0.08) and tpot_s(r) == pytest.approx(0.2, abs=0.015)


REFUSED = ["ok", "reasoning_field", "done_no_space", "multi_line_data", "sse_fields"]


@pytest.mark.parametrize(("model", "reason"), [(None, "cannot list models"), ("fault-model", "stopped answering")])
def test_a_run_against_a_down_server_is_incomplete_and_its_resume_asks_every_item_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, model: str | None,
        reason: str) -> None:
    """Classes 2 and 4: a run against a server that refuses connections (cells skipped at load when the model
    must be listed, items refused when it is named) exits 1, `incomplete`, listing each unfinished cell and why;
    its resume asks every refused item again and ends `complete` with exit 0, each item recorded ok once."""
    import bench.run.lifecycle
    from bench.cli.main import main
    from bench.results.store import RunStore

    monkeypatch.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"bandwidth_gb_s": 30.0,
                                                                           "sgemm_gflops": 100.0})
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: refused until the server below takes the port
        suite = fault_suite(tmp_path, f"http://127.0.0.1:{port}/v1", REFUSED, model)
        assert main(["run", str(suite), "--out", str(tmp_path / "runs"), "--profiles", "nvidia-l4"]) == 1
    err = capsys.readouterr().err
    (run_dir,) = (tmp_path / "runs").iterdir()
    manifest = RunStore(run_dir).read_manifest()
    assert manifest.status == "incomplete" and f"--resume {run_dir}" in err and reason in err
    assert [(c["done"], c["total"]) for c in manifest.unfinished] == [(0, 5), (0, 5)]
    assert err.count("unfinished: faulty × capital") == 2
    assert all(r.status == "error" and r.error and r.error.startswith("cannot connect")
               for r in RunStore(run_dir).records())
    with FaultServer(lifetime_s=60, port=port):
        assert main(["run", "--resume", str(run_dir)]) == 0
    final = RunStore(run_dir)
    records = final.records()
    assert final.read_manifest().status == "complete" and not final.read_manifest().unfinished
    cells = {r.cell_id for r in records}
    assert len(cells) == 2 and all(r.status == "ok" for r in records)
    assert Counter((r.cell_id, r.item_id) for r in records) == Counter((c, i) for c in cells for i in REFUSED)
