"""The process executor (default): each model's cells run in a worker process; this process alone writes the run.

As optimum-benchmark's process launcher: an engine's native crash (SIGSEGV in llama.cpp, SIGABRT, the OOM
killer's SIGKILL) ends only the worker. The cell it was running gets a recorded error naming the signal, the
engine and a hint; its items recorded so far are kept; the model's remaining cells start in a fresh worker and
the run goes on. Each model is also measured in a fresh process (no engine left over from an earlier model).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.backends.base import backend_class
from bench.errors import RunError
from bench.metrics.records import CellSegment, ItemRecord
from bench.results.store import RunStore
from bench.run.runner import Progress, done_keys, execute, prepare, skip_cell
from bench.run.worker import WorkOrder, worker_main
from bench.suite.plan import Cell, Plan
from bench.tasks.datasets import read_once

POLL_S = 0.2
STOP_WAIT_S = 10.0
SIGNAL_HINTS = {
    "SIGKILL": "SIGKILL usually means the kernel's OOM killer: check free memory (dmesg) or use a smaller model",
    "SIGTERM": "something outside bench stopped the worker (an out-of-memory daemon such as earlyoom or systemd-oomd "
               "sends SIGTERM first)",
    "SIGABRT": "the engine aborted (an assertion or an allocation failure in native code)",
}


@dataclass
class WorkerOutcome:
    """What one worker did: the cells it ended, the one it was in when it stopped, and how it stopped."""

    ended: set[str] = field(default_factory=set)
    current: str | None = None
    last: str | None = None
    finished: bool = False
    unavailable: str | None = None
    interrupted: bool = False
    failure: str | None = None
    exitcode: int | None = None


def execute_local(plan: Plan, store: RunStore, progress: Progress, address: str | None = None) -> None:
    """Every cell in this process (the `local` executor, for debugging)."""
    _no_address("local", address)
    execute(plan, store, progress)


def _no_address(name: str, address: str | None) -> None:
    if address:
        raise RunError(f"the {name} executor takes no address (got '{name}:{address}'); ray:ADDRESS does")


def execute_process(plan: Plan, store: RunStore, progress: Progress, address: str | None = None) -> None:
    """Run every cell with pending items, one worker per model (a fresh one after a crash). RunError when given
    an address; KeyboardInterrupt when a worker was interrupted (its records are stored)."""
    _no_address("process", address)
    done = done_keys(store.records())
    for group in model_groups(plan, done):
        remaining = list(group)
        while remaining:
            outcome = _run_worker(plan, remaining, store, progress)
            if outcome.interrupted:
                raise KeyboardInterrupt
            if outcome.finished:
                break
            rest = _from_stop(outcome, remaining)
            if not rest:  # it died after its last cell ended (at teardown): nothing was lost
                break
            if outcome.unavailable is not None:  # the model's server is gone: skip its cells, go on with the others
                for cell in rest:
                    skip_cell(store, progress, cell, outcome.unavailable)
                break
            progress.end_cell()
            skip_cell(store, progress, rest[0], crash_reason(rest[0], outcome))
            remaining = rest[1:]


def _from_stop(outcome: WorkerOutcome, cells: list[Cell]) -> list[Cell]:
    """The cells from the one the worker stopped in: the running one (a crash), the last started one (its server
    stopped answering: that cell ended with an error), else the first that never ended."""
    ids = [c.id for c in cells]
    at = outcome.current or (outcome.last if outcome.unavailable is not None else None)
    if at is None:
        at = next((i for i in ids if i not in outcome.ended), None)
    return [] if at is None else cells[ids.index(at):]


def model_groups(plan: Plan, done: set[tuple[str, str, int]]) -> Iterator[list[Cell]]:
    """Consecutive cells of one model (one backend configuration) that still have items to run."""
    group: list[Cell] = []
    for cell in plan.cells:
        if not prepare(cell, plan.suite, done).pending:
            continue
        if group and group[-1].model.backend != cell.model.backend:
            yield group
            group = []
        group.append(cell)
    if group:
        yield group


def _run_worker(plan: Plan, cells: list[Cell], store: RunStore, progress: Progress) -> WorkerOutcome:
    with read_once() as reads:  # the worker gets the items this run has read, rather than reading them again
        order = WorkOrder(plan.suite.text, str(plan.suite.path), asdict(plan.options), tuple(c.id for c in cells),
                          tuple(sorted(done_keys(store.records()))), dict(os.environ), os.getcwd(), dict(reads.items))
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=worker_main, args=(send, order), name="bench-worker")  # not daemonic: vLLM
    # starts its own engine process; the worker dies with bench anyway (PR_SET_PDEATHSIG)
    process.start()
    send.close()
    outcome = WorkerOutcome()
    by_id = {cell.id: cell for cell in cells}
    try:
        _pump(receive, process, _Handler(store, progress, by_id, outcome))
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM here: let the worker record its segment, then stop it
        _stop(process, receive, _Handler(store, progress, by_id, outcome))
        raise
    except BaseException:  # this process cannot go on (e.g. the disk is full): stop the worker, keep the error
        process.kill()
        process.join()
        raise
    finally:
        receive.close()
    process.join()
    outcome.exitcode = process.exitcode
    return outcome


def _context() -> Any:
    """forkserver where available: a clean server process (started once per bench process, bench preloaded)
    forks each worker in milliseconds. Forking bench itself would be faster still but is not safe: a process
    that already ran an engine (a library user, a test session) holds OpenMP thread pools, and a forked child
    that uses OpenMP then hangs. Elsewhere spawn. Workers get the parent's environment and folder explicitly."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["bench.run.worker"])
    return context


class _Handler:
    """Applies the worker's messages: records and segments to the store, events to the progress display."""

    def __init__(self, store: RunStore, progress: Progress, cells: dict[str, Cell], outcome: WorkerOutcome) -> None:
        self.store, self.progress, self.cells, self.outcome = store, progress, cells, outcome
        self.seen = done_keys(store.records())

    def __call__(self, kind: str, payload: Any) -> None:
        getattr(self, f"_on_{kind}")(payload)

    def _on_record(self, payload: dict[str, Any]) -> None:
        record = ItemRecord.model_validate(payload)
        self.store.append_record(record)
        self.progress.advance(record)

    def _on_segment(self, payload: dict[str, Any]) -> None:
        self.store.append_segment(CellSegment.model_validate(payload))

    def _on_start(self, payload: tuple[str, int, int]) -> None:
        cell_id, total, done = payload
        self.outcome.current = self.outcome.last = cell_id
        self.progress.start_cell(self.cells[cell_id], total, done)

    def _on_end(self, payload: None) -> None:
        if self.outcome.current is not None:
            self.outcome.ended.add(self.outcome.current)
        self.outcome.current = None
        self.progress.end_cell()

    def _on_skip(self, payload: tuple[str, str]) -> None:
        cell_id, reason = payload
        self.progress.skip_cell(self.cells[cell_id], reason)

    def _on_done(self, payload: None) -> None:
        self.outcome.finished = True

    def _on_unavailable(self, payload: str) -> None:
        self.outcome.unavailable = payload

    def _on_interrupted(self, payload: None) -> None:
        self.outcome.interrupted = True

    def _on_failed(self, payload: str) -> None:
        self.outcome.failure = payload


def _pump(receive: Any, process: Any, handle: _Handler) -> None:
    """Apply messages until the worker closes its end (it finished, or died)."""
    while True:
        if receive.poll(POLL_S):
            try:
                kind, payload = receive.recv()
            except (EOFError, OSError):
                return
            handle(kind, payload)
        elif not process.is_alive() and not receive.poll(0):
            return


def _stop(process: Any, receive: Any, handle: _Handler) -> None:
    """Interrupt the worker (SIGINT: it records its segment and exits), keep what it sends, then make sure it ends."""
    if process.is_alive() and process.pid is not None:
        os.kill(process.pid, signal.SIGINT)
    process.join(STOP_WAIT_S)
    try:
        while receive.poll(0):
            handle(*receive.recv())
    except (EOFError, OSError):
        pass
    if process.is_alive():
        process.kill()
        process.join()


def crash_reason(cell: Cell, outcome: WorkerOutcome) -> str:
    """One line: which engine died, by which signal (or Python error), and what to try."""
    kind, exitcode = cell.model.backend.kind, outcome.exitcode
    engine = backend_class(kind).engine_name or kind
    if outcome.failure is not None:
        how, hint = f"failed with {outcome.failure}", "the items before it are kept; fix the cause and resume"
    elif exitcode is not None and exitcode < 0:
        name = _signal_name(-exitcode)
        how = f"crashed with {name} (signal {-exitcode})"
        hint = _hint(kind, name)
    else:
        how, hint = f"exited with code {exitcode} without finishing", "see the messages above"
    return f"{engine} ({kind} backend) {how} in the worker process while running this cell; {hint}"


def _signal_name(number: int) -> str:
    """SIGSEGV, SIGKILL...; real-time signals have no name in the enum (SIGRTMIN+1...)."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _hint(kind: str, name: str) -> str:
    hint = backend_class(kind).crash_hints.get(name)
    return hint or SIGNAL_HINTS.get(name) or "a native crash in the engine"


