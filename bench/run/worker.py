"""The engine side of the process executor: a child process that runs one model's cells and streams back.

The child rebuilds the plan from the suite text (no checks: the parent validated it), runs the cells it is
given with one backend pool (a model's cells share one load), and sends every record, segment and progress
event through a pipe as soon as it exists. It never writes the run directory: the parent is its one writer.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BackendUnavailable
from bench.metrics.records import CellSegment, ItemRecord
from bench.run.runner import BackendPool, prepare, run_cell
from bench.suite.load import NoChecks, parse_suite
from bench.suite.plan import Cell, PlanOptions, build_plan
from bench.tasks.datasets import ReadOnce, read_once
from bench.tasks.items import Item

PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class WorkOrder:
    """What the parent asks one worker to do: these cells of this suite, skipping the items already recorded."""

    suite_text: str
    suite_path: str
    options: dict[str, Any]
    cell_ids: tuple[str, ...]
    done: tuple[tuple[str, str, int], ...]
    env: dict[str, str] = field(default_factory=dict)
    cwd: str = "."
    items: dict[str, list[Item]] = field(default_factory=dict)
    """The datasets' items the parent already read (bench.tasks.datasets.ReadOnce.items): not read again."""


class MessageSink:
    """A RecordSink that sends every record and segment as a (kind, JSON payload) message the moment it exists:
    to the parent through a pipe (process executor) or to the driver through a Ray queue."""

    def __init__(self, send: Callable[[tuple[str, Any]], None]) -> None:
        self.send = send

    def append_record(self, record: ItemRecord) -> None:
        """Send ("record", the record as JSON data)."""
        self.send(("record", record.model_dump(mode="json")))

    def append_segment(self, segment: CellSegment) -> None:
        """Send ("segment", the segment as JSON data)."""
        self.send(("segment", segment.model_dump(mode="json")))


class PipeSink(MessageSink):
    """RecordSink and Progress for run_cell in a worker: progress events go to the parent as messages too."""

    def __init__(self, conn: Any) -> None:
        super().__init__(conn.send)

    def start_cell(self, cell: Cell, total: int, done: int) -> None:
        """Send ("start", (cell id, total, done))."""
        self.send(("start", (cell.id, total, done)))

    def advance(self, record: ItemRecord) -> None:
        """Nothing: the parent advances its progress when it stores the record."""
        return None  # the parent advances its progress when it stores the record

    def end_cell(self) -> None:
        """Send ("end", None)."""
        self.send(("end", None))

    def skip_cell(self, cell: Cell, reason: str) -> None:
        """Send ("skip", (cell id, reason))."""
        self.send(("skip", (cell.id, reason)))


def worker_main(conn: Any, order: WorkOrder) -> None:
    """Entry point of the child process. Exits 0 after ("done", None); 130 after Ctrl-C; a native crash ends
    it by a signal, which the parent turns into the running cell's error."""
    _die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a SIGTERM to the worker alone ends it, as a crash of its cell
    os.environ.clear()
    os.environ.update(order.env)  # as the parent sees it now (a fork server may have started earlier)
    os.chdir(order.cwd)
    sink = PipeSink(conn)
    try:
        run_cells(order, sink)
        conn.send(("done", None))
    except BackendUnavailable as exc:
        _last_word(conn, ("unavailable", str(exc)), 0)
    except KeyboardInterrupt:
        _last_word(conn, ("interrupted", None), 130)
    except Exception as exc:  # a bug or an engine's Python error: the running cell's error, not a traceback
        _last_word(conn, ("failed", f"{type(exc).__name__}: {exc}"), 1)
    finally:
        conn.close()


def _last_word(conn: Any, message: tuple[str, Any], code: int) -> None:
    """Tell the parent how the work ended and exit; a parent already gone (its pipe broken) is not an error."""
    try:
        conn.send(message)
    except OSError:
        os._exit(code)
    if code:
        sys.exit(code)


def run_cells(order: WorkOrder, sink: PipeSink) -> None:
    """Rebuild the plan from the order's suite text (unchecked) and run the ordered cells that have items
    pending, with one backend pool and the items the parent already read; BackendUnavailable propagates."""
    suite = parse_suite(order.suite_text, Path(order.suite_path), NoChecks())
    options = PlanOptions.from_dict(order.options)
    cells = {cell.id: cell for cell in build_plan(suite, options).cells}
    done = set(order.done)
    with read_once(ReadOnce(items=dict(order.items))), BackendPool() as pool:
        for cell_id in order.cell_ids:
            work = prepare(cells[cell_id], suite, done)
            if work.pending:
                run_cell(work, suite, sink, sink, pool)


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGKILL to this worker when the parent dies (kill -9), so no engine is orphaned."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
