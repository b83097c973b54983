"""ItemRecord: one line of records.jsonl, the source of truth every summary is derived from."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

RECORD_SCHEMA_VERSION = 1


class ItemRecord(BaseModel):
    """Raw measurements for one item of one cell (one repetition)."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = RECORD_SCHEMA_VERSION
    cell_id: str
    model_id: str
    task_id: str
    task_version: str
    item_id: str
    repetition: int = 0
    segment: str
    prompt_sha256: str
    prediction: Any = None
    raw_output: str = ""
    reference: Any = None
    scores: dict[str, float] = {}
    status: Literal["ok", "error", "timeout"] = "ok"
    error: str | None = None
    parse_error: str | None = None
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    t_start: float
    t_first_token: float | None = None
    t_end: float
    t_arrival: float | None = None
    """Intended arrival time (rate mode): latencies are measured from it, so queueing is included."""
    choice_logprobs: list[float] | None = None
    engine_extra: dict[str, Any] = {}
    tags: dict[str, str] = {}

    @property
    def decode_steps(self) -> int:
        """Single-token forward passes after the prompt: generated tokens after the first, or option tokens."""
        if "option_tokens_evaluated" in self.engine_extra:
            return int(self.engine_extra["option_tokens_evaluated"])
        return max(self.completion_tokens - 1, 0)

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.cell_id, self.item_id, self.repetition)


class CellSegment(BaseModel):
    """One uninterrupted stretch of work on a cell: load time and peak RSS (whole segment); CPU time, energy
    and wall time (measured items only, after warm-up)."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = RECORD_SCHEMA_VERSION
    cell_id: str
    model_id: str
    task_id: str
    segment: str
    backend: dict[str, Any]
    load_time_s: float
    warmup_items: int
    items_done: int
    t_start: float
    t_end: float
    rss_before_bytes: int
    peak_rss_bytes: int
    cpu_user_s: float
    cpu_system_s: float
    energy_j: float | None = None
    energy_source: str = "none"
    gpu: dict[str, float | None] = {}
    """GPU peak memory, mean power and utilisation over the segment (empty without an NVIDIA driver)."""
    completed: bool
    backend_reused: bool = False
    """The backend stayed loaded from the previous cell of the same model; load_time_s is that one load."""
    error: str | None = None
    """Why the cell did not run (its backend could not be created); its items stay pending for --resume."""
    contention_window_s: float | None = None
    """Wall time over which other_cpu_s and steal_s were measured (the measured items, after warm-up).
    None in runs made before contention was measured (then the cell is not judged for contention)."""
    logical_cpus: int | None = None
    other_cpu_s: float | None = None
    """CPU seconds used by processes outside this run's process tree (and outside local servers it talked to)
    during the window: system-wide busy time minus the tree's CPU time (bench/metrics/contention.py)."""
    steal_s: float | None = None
    """CPU seconds the hypervisor gave to other guests during the window (summed over CPUs; 0 on bare metal)."""
    other_processes: dict[str, float] = {}
    """The busiest other processes in the window: process name -> CPU seconds (at most 3)."""


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
