"""Marks on a cell's row that every report format shows: failed work, no successful item, contention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench.metrics.contention import cell_contention
from bench.metrics.records import CellSegment, ItemRecord

NO_SUCCESS = "no_successful_items"
FAILED = "failed_items"
CONTENDED = "contended"
UNFINISHED = "unfinished"
LABELS = {NO_SUCCESS: "no successful item", FAILED: "failed items", CONTENDED: "contended",
          UNFINISHED: "unfinished"}
"""Short labels for table cells; the detail line says what was measured."""
SPEED_FLAGS = (CONTENDED,)
"""Flags under which speed and cost figures are not comparable."""


def cell_flags(records: Sequence[ItemRecord], segments: Sequence[CellSegment]) -> list[dict[str, str]]:
    """[{flag, detail}] for one cell: every item failed, some items failed, or measured under contention."""
    return count_flags(len(records), sum(r.status == "ok" for r in records), segments)


def count_flags(n: int, ok: int, segments: Sequence[CellSegment]) -> list[dict[str, str]]:
    """cell_flags from the cell's number of records and of successful ones."""
    flags = []
    if n and not ok:
        flags.append({"flag": NO_SUCCESS, "detail": f"0 of {n} items succeeded: throughput 0 tasks/s, "
                                                    "no cost per task"})
    elif ok < n:
        flags.append({"flag": FAILED, "detail": f"{n - ok} of {n} items failed: throughput and cost count the "
                                                f"{ok} successful ones"})
    contention = cell_contention(segments)
    if contention is not None and contention.contended:
        flags.append({"flag": CONTENDED, "detail": "measured under contention: " + contention.detail()})
    return flags


def unfinished_flag(cell_id: str, unfinished: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """[{flag, detail}] when the run left this cell with items to do (a crash, a skip, retryable errors)."""
    for row in unfinished:
        if row.get("cell_id") == cell_id:
            return [{"flag": UNFINISHED, "detail": f"{row['done']} of {row['total']} items done: {row['reason']} "
                                                   "(bench run --resume finishes it)"}]
    return []


def flags_by_cell(flags: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """cell_id -> its flags, from a summary's `flags` (empty for summaries written before flags existed)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for flag in flags:
        out.setdefault(str(flag["cell_id"]), []).append(flag)
    return out


def flag_labels(flags: Sequence[dict[str, Any]]) -> str:
    """'no successful item; contended' for a table cell ('' without flags)."""
    return "; ".join(LABELS.get(str(f["flag"]), str(f["flag"])) for f in flags)
