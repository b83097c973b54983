"""Tests for bench.metrics.records: the strict per-item and per-segment record models."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bench.metrics.records import RECORD_SCHEMA_VERSION, CellSegment, ItemRecord


def record_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"cell_id": "c1", "model_id": "m", "task_id": "t", "task_version": "1",
                              "item_id": "i1", "segment": "s", "prompt_sha256": "ab", "t_start": 1.0,
                              "t_end": 2.0}
    fields.update(overrides)
    return fields


def test_extra_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="hostname"):
        ItemRecord(**record_fields(hostname="box"))
    with pytest.raises(ValidationError):
        ItemRecord.model_validate_json('{"cell_id": "c", "surprise": 1}')


def test_required_fields_are_required() -> None:
    fields = record_fields()
    del fields["t_end"]
    with pytest.raises(ValidationError, match="t_end"):
        ItemRecord(**fields)


def test_status_must_be_known() -> None:
    with pytest.raises(ValidationError):
        ItemRecord(**record_fields(status="crashed"))


def test_defaults() -> None:
    r = ItemRecord(**record_fields())
    assert r.schema_version == RECORD_SCHEMA_VERSION
    assert r.repetition == 0
    assert r.status == "ok"
    assert r.error is None
    assert r.cached_prompt_tokens == 0
    assert r.t_first_token is None
    assert r.scores == {}


def test_key_is_cell_item_repetition() -> None:
    r = ItemRecord(**record_fields(cell_id="cx", item_id="it", repetition=3))
    assert r.key == ("cx", "it", 3)
    assert ItemRecord(**record_fields(repetition=0)).key != ItemRecord(**record_fields(repetition=1)).key


def test_json_round_trip() -> None:
    r = ItemRecord(**record_fields(prediction={"a": 1}, reference={"a": 2}, scores={"x": 0.5},
                                   status="error", error="boom", t_first_token=1.5, choice_logprobs=[-0.1]))
    assert ItemRecord.model_validate_json(r.model_dump_json()) == r


def test_segment_rejects_extra_keys() -> None:
    fields: dict[str, Any] = {"cell_id": "c", "model_id": "m", "task_id": "t", "segment": "s", "backend": {},
                              "load_time_s": 0.1, "warmup_items": 0, "items_done": 1, "t_start": 0.0,
                              "t_end": 1.0, "rss_before_bytes": 1, "peak_rss_bytes": 2, "cpu_user_s": 0.0,
                              "cpu_system_s": 0.0, "completed": True}
    assert CellSegment(**fields).schema_version == RECORD_SCHEMA_VERSION
    with pytest.raises(ValidationError):
        CellSegment(**fields, pid=123)


@pytest.mark.parametrize(("overrides", "kinds"), [
    ({"raw_output": "", "prediction": ""}, {"empty_answer_rate"}),  # a stop sequence hit at once
    ({"raw_output": " \n\t", "prediction": None, "parse_error": "not JSON"}, {"empty_answer_rate"}),
    ({"raw_output": "billing", "prediction": "billing"}, set()),
    ({"raw_output": "", "prediction": "billing"}, set()),  # an older record without raw_output
    ({"raw_output": '{"total": "12', "prediction": None, "parse_error": "not JSON",
      "engine_extra": {"finish_reason": "length"}}, {"cut_at_max_tokens_rate"}),
    ({"status": "error", "error": "prompt of 11678 tokens + 128 does not fit n_ctx=4096",
      "engine_extra": {"over_context": True}}, {"over_context_rate"}),
    ({"status": "error", "raw_output": "", "engine_extra": {"over_context": "yes"}}, set()),
    ({"raw_output": "x", "prediction": "x", "engine_extra": {"input_truncated_tokens": 7}}, {"input_truncated_rate"}),
])
def test_failure_kinds_come_from_the_record(overrides: dict[str, Any], kinds: set[str]) -> None:
    from bench.metrics.records import FAILURE_KINDS

    record = ItemRecord(**record_fields(**overrides))
    assert {name for name, kind in FAILURE_KINDS.items() if kind(record)} == kinds
