"""Older names of the records and segments models (which live in bench/results/schema.py, typed and versioned), and
the failure kinds a record shows on its own (the failure columns of the report)."""

from __future__ import annotations

from bench.results.schema import RECORD_VERSION as RECORD_SCHEMA_VERSION
from bench.results.schema import Record as ItemRecord
from bench.results.schema import Segment as CellSegment

__all__ = ["FAILURE_KINDS", "INPUT_TRUNCATED", "OVER_CONTEXT", "RECORD_SCHEMA_VERSION", "CellSegment", "ItemRecord",
           "is_cut_at_max_tokens", "is_empty_answer", "is_input_truncated", "is_over_context"]

OVER_CONTEXT = "over_context"
"""engine_extra key a backend sets (True) when it refused an item because prompt + token budget exceed its
context window (llama.cpp's n_ctx)."""
INPUT_TRUNCATED = "input_truncated_tokens"
"""engine_extra key: tokens cut from the item's input to fit the context (the task's `truncate` mode)."""
WHITESPACE = " \t\n\r\f\v"


def is_empty_answer(r: ItemRecord) -> bool:
    """A completed answer with no text (e.g. a stop sequence hit at once): status ok, the raw output blank and
    nothing predicted. Counted apart from wrong answers so it does not vanish into the accuracy."""
    return r.status == "ok" and r.raw_output.strip(WHITESPACE) == "" and r.prediction in (None, "")


def is_cut_at_max_tokens(r: ItemRecord) -> bool:
    """A completed answer the engine stopped at the token budget (finish_reason "length")."""
    return r.status == "ok" and r.engine_extra.get("finish_reason") == "length"


def is_over_context(r: ItemRecord) -> bool:
    """An item the backend refused because its prompt + token budget exceed the context window."""
    return r.engine_extra.get(OVER_CONTEXT) is True


def is_input_truncated(r: ItemRecord) -> bool:
    """An item whose input was shortened to fit the context (its task's `truncate` mode)."""
    return int(r.engine_extra.get(INPUT_TRUNCATED) or 0) > 0


FAILURE_KINDS = {"empty_answer_rate": is_empty_answer, "cut_at_max_tokens_rate": is_cut_at_max_tokens,
                 "over_context_rate": is_over_context, "input_truncated_rate": is_input_truncated}
"""Metric name -> which records it counts: the failure columns of the report (records.jsonl is the source)."""
