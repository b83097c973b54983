"""Retry policy: the server's Retry-After (seconds, milliseconds, HTTP date) is honoured, capped, and recorded."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable

import pytest

from bench.backends.http_retry import RetryableError, RetryLog, RetryPolicy, call_with_retries, retry_after_s


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "4"}, 4.0), ({"retry-after": "0.5"}, 0.5), ({"retry-after-ms": "1500"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25), ({"retry-after": "-3"}, 0.0),
    ({"retry-after": "soon"}, None), ({}, None)])
def test_retry_after_in_seconds_and_milliseconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_s(headers) == seconds


def test_retry_after_as_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert retry_after_s({"retry-after": when}) == pytest.approx(30, abs=1.5)


def flaky(failures: list[RetryableError]) -> Callable[[], str]:
    def call() -> str:
        if failures:
            raise failures.pop(0)
        return "answer"
    return call


def test_waits_what_the_server_asks_never_less_and_logs_each_retry() -> None:
    log = RetryLog()
    policy = RetryPolicy(max_retries=3, backoff_s=0.5, max_wait_s=60)
    failures = [RetryableError("HTTP 429", retry_after=0.2), RetryableError("HTTP 500")]
    start = time.monotonic()
    assert call_with_retries(policy, log, flaky(failures)) == "answer"
    assert time.monotonic() - start >= 0.2 + 1.0  # max(0.2 asked, 0.5 backoff), then 0.5 * 2
    assert log.extra() == {"retries": 2, "retry_waits_s": [0.5, 1.0], "retry_reasons": ["HTTP 429", "HTTP 500"]}


def test_gives_up_after_max_retries_with_the_last_reason() -> None:
    log, policy = RetryLog(), RetryPolicy(max_retries=2, backoff_s=0.0, max_wait_s=60)
    with pytest.raises(RetryableError, match="third") as caught:
        call_with_retries(policy, log, flaky([RetryableError(n) for n in ("first", "second", "third", "x")]))
    assert log.final_error(caught.value, policy) == "third (after 2 retries)"


def test_a_wait_beyond_the_cap_is_not_waited_for() -> None:
    log, policy = RetryLog(), RetryPolicy(max_retries=5, backoff_s=0.0, max_wait_s=10)
    with pytest.raises(RetryableError) as caught:
        call_with_retries(policy, log, flaky([RetryableError("HTTP 429", retry_after=11)]))
    assert log.extra() == {"retries": 0}
    assert "asked to retry after 11 s, more than max_retry_wait_s 10" in log.final_error(caught.value, policy)


def test_other_errors_are_not_retried() -> None:
    log = RetryLog()
    calls: list[int] = []

    def broken() -> str:
        calls.append(1)
        raise ValueError("not retryable")
    with pytest.raises(ValueError):
        call_with_retries(RetryPolicy(3, 0.0, 60), log, broken)
    assert calls == [1] and log.extra() == {"retries": 0}
