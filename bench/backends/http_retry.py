"""Retrying an HTTP request the way the server asks, with every retry kept for the record (tenacity).

Policy: a `RetryableError` (HTTP 429/5xx, a broken or cut answer, a timeout, a refused connection) is tried
again up to `max_retries` times. The wait before try n+1 is the server's `Retry-After` (or `retry-after-ms`)
when it sent one, never less, else `backoff_s * 2**(n-1)` capped at `max_wait_s`. A server asking for more than
`max_wait_s` is not waited for: the item fails at once, marked retryable, so `bench run --resume` asks later.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")


class RetryableError(Exception):
    """The answer is not usable and asking again may help; `retry_after` is the server's wish in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, unreachable: bool = False,
                 timeout: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.unreachable = unreachable
        self.timeout = timeout

    def marks(self) -> dict[str, Any]:
        """What the record says about this failure: always retryable; unreachable / timeout when so."""
        marks: dict[str, Any] = {"retryable": True, "unreachable": self.unreachable}
        return marks | ({"timeout": True} if self.timeout else {})


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asks to wait: `retry-after-ms`, `Retry-After` in seconds or as an HTTP date (RFC 9110
    10.2.3); None when absent or unreadable."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds()) if when.tzinfo else None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    backoff_s: float
    max_wait_s: float


@dataclass
class RetryLog:
    """The waits (s) and reasons of the retries made for one item, for its record."""

    waits_s: list[float] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def note(self, state: tenacity.RetryCallState) -> None:
        assert state.next_action is not None and state.outcome is not None
        self.waits_s.append(round(state.next_action.sleep, 3))
        self.reasons.append(str(state.outcome.exception())[:200])

    def extra(self) -> dict[str, Any]:
        """{retries: n} plus, when n > 0, retry_waits_s and retry_reasons."""
        if not self.waits_s:
            return {"retries": 0}
        return {"retries": len(self.waits_s), "retry_waits_s": self.waits_s, "retry_reasons": self.reasons}

    def final_error(self, exc: RetryableError, policy: RetryPolicy) -> str:
        """The record's error: the last reason, how many retries were made, and why no more were."""
        asked, done = exc.retry_after, f"after {len(self.waits_s)} retr{'y' if len(self.waits_s) == 1 else 'ies'}"
        if asked is not None and asked > policy.max_wait_s:
            return (f"{exc} (the server asked to retry after {asked:g} s, more than max_retry_wait_s "
                    f"{policy.max_wait_s:g}: not waited for; {done})")
        return f"{exc} ({done})"


def _asked(state: tenacity.RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return exc.retry_after if isinstance(exc, RetryableError) else None


def _stop(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], bool]:
    def stop(state: tenacity.RetryCallState) -> bool:
        asked = _asked(state)
        return state.attempt_number > policy.max_retries or (asked is not None and asked > policy.max_wait_s)
    return stop


def _wait(policy: RetryPolicy) -> Callable[[tenacity.RetryCallState], float]:
    def wait(state: tenacity.RetryCallState) -> float:
        backoff = min(policy.backoff_s * 2.0 ** (state.attempt_number - 1), policy.max_wait_s)
        return max(_asked(state) or 0.0, backoff)
    return wait


def call_with_retries(policy: RetryPolicy, log: RetryLog, fn: Callable[[], T]) -> T:
    """fn() until it returns, retrying RetryableError per the policy; the last RetryableError is raised.
    Any other exception is raised at once."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RetryableError),
        stop=_stop(policy),
        wait=_wait(policy), before_sleep=log.note, reraise=True)
    return retrying(fn)
