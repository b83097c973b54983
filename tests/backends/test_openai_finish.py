"""The finish_reason rule: which values say an answer is complete (streams: test_openai_faults.py)."""

from __future__ import annotations

import pytest

from bench.backends.openai_finish import finish_verdict


@pytest.mark.parametrize(("reason", "verdict"), [
    ("stop", "complete"), ("STOP", "complete"), (" Stop ", "complete"), ("eos_token", "complete"),
    ("stop_sequence", "complete"), ("end_turn", "complete"), ("tool_calls", "complete"),
    ("function_call", "complete"), ("length", "truncated"), ("MAX_TOKENS", "truncated"),
    ("model_length", "truncated"), ("content_filter", "filtered"), ("SAFETY", "filtered"),
    ("error", "failed"), ("ERROR", "failed"), ("abort", "failed"), ("cancelled", "failed"),
    ("something_new", "failed")])
def test_each_finish_reason_has_one_verdict_in_any_case(reason: str, verdict: str) -> None:
    assert finish_verdict(reason) == verdict
