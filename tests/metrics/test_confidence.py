"""Router signals from hand-computed log-probabilities."""

from __future__ import annotations

import math

import pytest

from bench.metrics.confidence import confidence, json_valid, option_signals, token_signals
from bench.results.schema import Record


def test_option_signals_by_hand() -> None:
    # probabilities 0.5, 0.3, 0.2 given as log-likelihoods shifted by a constant (softmax ignores it)
    signals = option_signals([math.log(0.5) - 3, math.log(0.3) - 3, math.log(0.2) - 3])
    assert signals["option_probs"] == pytest.approx([0.5, 0.3, 0.2])
    assert signals["max_prob"] == pytest.approx(0.5)
    assert signals["margin"] == pytest.approx(0.2)
    expected = -(0.5 * math.log(0.5) + 0.3 * math.log(0.3) + 0.2 * math.log(0.2))
    assert signals["entropy"] == pytest.approx(expected)  # 1.0297 nats


def test_impossible_option_and_single_option() -> None:
    signals = option_signals([0.0, -math.inf])
    assert signals["option_probs"] == [1.0, 0.0] and signals["entropy"] == 0.0 and signals["margin"] == 1.0
    assert option_signals([-2.0])["margin"] == 1.0


@pytest.mark.parametrize("bad", [None, [], [-math.inf, -math.inf], [math.nan, 0.0]])
def test_no_option_signal_is_missing_not_zero(bad: list[float] | None) -> None:
    assert option_signals(bad) == {}


def test_token_signals() -> None:
    assert token_signals([-0.1, -2.0, -0.3]) == {"token_logprob_mean": pytest.approx(-0.8), "token_logprob_min": -2.0}
    assert token_signals([]) == {} and token_signals(None) == {}


def test_json_valid_against_schema() -> None:
    schema = {"type": "object", "properties": {"dept": {"enum": ["sales", "it"]}}, "required": ["dept"]}
    assert json_valid({"dept": "it"}, schema)
    assert not json_valid({"dept": "hr"}, schema)
    assert not json_valid({}, schema)
    assert not json_valid(None, schema)
    assert json_valid({"x": 1}, None)


def test_confidence_missing_signals_stay_none() -> None:
    assert confidence(None, None) is None
    only_tokens = confidence(None, [-1.0, -3.0], valid=False)
    assert only_tokens is not None
    assert only_tokens.max_prob is None and only_tokens.option_probs is None
    assert only_tokens.token_logprob_mean == -2.0 and only_tokens.json_valid is False


def test_record_round_trip_and_old_records_read() -> None:
    base = {"cell_id": "c", "model_id": "m", "task_id": "t", "task_version": "1", "item_id": "i", "segment": "s",
            "prompt_sha256": "x", "t_start": 0.0, "t_end": 1.0}
    assert Record.model_validate(base).confidence is None  # a record written before #15
    record = Record.model_validate(base | {"confidence": {"max_prob": 0.9, "margin": 0.8}})
    again = Record.model_validate_json(record.model_dump_json())
    assert again.confidence is not None and again.confidence.max_prob == 0.9 and again.confidence.entropy is None
