"""Executing a plan: for each cell load the backend, warm up, stream results, score and append them."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bench.backends.base import Backend, Request, Result, backend_factory, now
from bench.errors import BackendError, BackendUnavailable
from bench.metrics.confidence import confidence, json_valid
from bench.metrics.monitors import ProcessMonitor
from bench.metrics.records import INPUT_TRUNCATED, CellSegment, ItemRecord
from bench.results.schema import Confidence
from bench.results.store import RunStore
from bench.run.load_modes import drive
from bench.run.truncate import fit_input
from bench.suite.plan import Cell, Plan
from bench.suite.spec import LoadedSuite, ModelSpec, TaskSpec
from bench.tasks.answers import parse_prediction
from bench.tasks.dataset_kinds import kind_of
from bench.tasks.datasets import load_items
from bench.tasks.items import Item
from bench.tasks.prompts import choice_texts, few_shot_candidates, render, shots_for
from bench.tasks.sampling import draw_sample, sample_kind
from bench.tasks.scorers import Scorer, build_scorer

MAX_UNREACHABLE = 3


class RecordSink(Protocol):
    """Where a cell's measurements go: the run store, or a queue back to the driver (Ray executor)."""

    def append_record(self, record: ItemRecord) -> None:
        """Keep one item record (durably, or sent on at once)."""

    def append_segment(self, segment: CellSegment) -> None:
        """Keep one segment: what a stretch of work on a cell measured, or why it failed."""


class Progress(Protocol):
    """What the runner reports to as it works (RichProgress on the CLI, SilentProgress in the library and
    tests, PipeSink in a worker)."""

    def start_cell(self, cell: Cell, total: int, done: int) -> None:
        """A cell starts with `done` of its `total` items (all repetitions) already settled."""

    def advance(self, record: ItemRecord) -> None:
        """One item's record was stored."""

    def end_cell(self) -> None:
        """The current cell ended (completed, failed or interrupted)."""

    def skip_cell(self, cell: Cell, reason: str) -> None:
        """A cell did not run, or stopped, for `reason` (one line)."""


@dataclass
class CellWork:
    """A cell's items, few-shot candidates (shots_for picks each item's k), scorers and what is left to do."""

    cell: Cell
    items: list[Item]
    shots: list[Item]
    scorers: list[Scorer]
    pending: list[tuple[Item, int]]
    total: int


def cell_items(cell: Cell, suite: LoadedSuite) -> list[Item]:
    """The items a cell evaluates: all of them, or a seeded sample of `limit` (see sampling.sample_kind)
    (lm-eval tasks: the first `limit` documents, as lm-eval's --limit)."""
    items = load_items(cell.task.dataset, suite.base_dir)
    if not cell.limit:
        return items
    if kind_of(cell.task.dataset).limit == "first":
        return items[: cell.limit]
    return draw_sample(items, cell.limit, cell.task.id, sample_kind(cell.task))


def prepare(cell: Cell, suite: LoadedSuite, done: set[tuple[str, str, int]]) -> CellWork:
    """The CellWork of a cell: its items, few-shot candidates, bound scorers and the (item, repetition) pairs not
    in `done`; total = items x repetitions. Dataset errors as load_items raises them (SpecError)."""
    task = cell.task
    items = cell_items(cell, suite)
    shots = few_shot_candidates(load_items(task.few_shot.dataset, suite.base_dir), task.few_shot) if task.few_shot \
        else []
    pending = [(item, rep) for rep in range(suite.spec.repetitions) for item in items
               if (cell.id, item.id, rep) not in done]
    scorers = [build_scorer(ref.model_dump()) for ref in task.scorers]
    for scorer in scorers:
        scorer.bind(task, suite.base_dir)
    return CellWork(cell, items, shots, scorers, pending, len(items) * suite.spec.repetitions)


def build_request(work: CellWork, item: Item, repetition: int) -> Request:
    """The Request for one item and repetition, id "<item>#<repetition>" (-1 for warm-up): rendered from the
    task's prompt, answer mode and the item's few-shot examples, or the dataset kind's own request (lm-eval)."""
    task, cell = work.cell.task, work.cell
    kind = kind_of(task.dataset)
    if kind.builds_requests:  # the item carries the kind's own request (lm-eval)
        return kind.request(item, f"{item.id}#{repetition}", cell.model.generation)
    shots = shots_for(item, work.shots, task.few_shot.k if task.few_shot else 0)
    prompt = render(item, task.prompt, task.answer, shots)
    return Request(id=f"{item.id}#{repetition}", messages=prompt.messages, completion=prompt.completion,
                   mode=task.answer.mode, generation=cell.model.generation,
                   choices=tuple(choice_texts(task.answer).values()), choice_method=task.answer.method,
                   json_schema=task.answer.json_schema, prompt_format=task.prompt.format, input=item.input)


def is_final(record: ItemRecord) -> bool:
    """Whether a record settles its item: every ok or error record, except errors marked retryable (the server
    refused the connection, or said to come back later), which `--resume` asks again."""
    extra = record.engine_extra
    return record.status == "ok" or not (extra.get("unreachable") or extra.get("retryable"))


def done_keys(records: Iterable[ItemRecord]) -> set[tuple[str, str, int]]:
    """(cell, item, repetition) of the items that need no more work."""
    return {record.key for record in records if is_final(record)}


def execute(plan: Plan, store: RunStore, progress: Progress) -> None:
    """Run every cell of the plan in this process, skipping items already settled in the store (resume).
    A model whose backend stops answering has its remaining cells skipped; the other models still run."""
    done = done_keys(store.records())
    stopped: dict[str, str] = {}
    with BackendPool() as pool:
        for cell in plan.cells:
            work = prepare(cell, plan.suite, done)
            key = cell.model.backend.model_dump_json()
            if not work.pending:
                continue
            if key in stopped:
                skip_cell(store, progress, cell, stopped[key])
                continue
            pool.keep_only(cell.model)  # the previous model's teardown is not measured as this cell's
            try:
                run_cell(work, plan.suite, store, progress, pool)
            except BackendUnavailable as exc:
                stopped[key] = str(exc)
                skip_cell(store, progress, cell, str(exc))


def skip_cell(store: RecordSink, progress: Progress, cell: Cell, reason: str) -> None:
    """Say why a cell stopped or did not run: an error segment (its items stay pending for --resume)."""
    progress.skip_cell(cell, reason)
    store.append_segment(failure_segment(cell, reason))


def failure_segment(cell: Cell, reason: str) -> CellSegment:
    """A segment that measured nothing and says why (a crash, a backend that stopped answering)."""
    return CellSegment(
        cell_id=cell.id, model_id=cell.model.id, task_id=cell.task.id, segment=f"failed-{uuid.uuid4().hex[:8]}",
        backend={}, load_time_s=0.0, warmup_items=0, items_done=0, t_start=0.0, t_end=0.0, rss_before_bytes=0,
        peak_rss_bytes=0, cpu_user_s=0.0, cpu_system_s=0.0, completed=False, error=reason)


class BackendPool:
    """Keeps the last backend loaded, so consecutive cells of one model (its tasks and load modes) load it once:
    a vLLM engine or a large model takes minutes to start. A cell that fails or is interrupted closes it."""

    def __init__(self) -> None:
        self._key: str | None = None
        self._backend: Backend | None = None
        self.load_s = 0.0

    def keep_only(self, model: ModelSpec) -> None:
        """Close the loaded backend unless it is `model`'s."""
        if self._key != model.backend.model_dump_json():
            self.close()

    def acquire(self, model: ModelSpec) -> tuple[Backend, bool]:
        """The backend for `model` and whether it was already loaded (BackendError if it cannot be created)."""
        key = model.backend.model_dump_json()
        if self._backend is not None and key == self._key:
            return self._backend, True
        self.close()
        factory, params = backend_factory(model)
        start = now()
        self._backend = factory(params)
        self._key, self.load_s = key, now() - start
        return self._backend, False

    def close(self) -> None:
        """Close the loaded backend, if any (its own close errors propagate)."""
        backend, self._backend, self._key = self._backend, None, None
        if backend is not None:
            backend.close()

    def __enter__(self) -> BackendPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class SegmentState:
    """What one stretch of work on a cell has done so far (kept even when it is interrupted)."""

    id: str
    info: dict[str, Any] | None = None
    load_s: float = 0.0
    warm: int = 0
    done: int = 0
    t0: float = 0.0
    t1: float = 0.0
    completed: bool = False
    reused: bool = False
    error: str | None = None
    training: dict[str, Any] | None = None


def run_cell(work: CellWork, suite: LoadedSuite, store: RecordSink, progress: Progress,
             pool: BackendPool | None = None) -> None:
    """Load (or reuse), warm up, measure; the segment facts are written even if the cell is interrupted. A backend
    that cannot load (BackendError) skips the cell; BackendUnavailable after MAX_UNREACHABLE (3) unreachable
    requests in a row."""
    state = SegmentState(id=uuid.uuid4().hex[:12])
    progress.start_cell(work.cell, work.total, work.total - len(work.pending))
    monitor = ProcessMonitor()
    own_pool = pool is None
    pool = pool or BackendPool()
    try:
        with monitor:
            try:
                monitor.pause()
                _prepare_files(work.cell.model)  # e.g. a one-off model conversion: not this cell's memory
                monitor.resume()
                backend = _load_backend(work, state, pool)
                monitor.pause()  # e.g. a trained model fitting on the task: not the cell's memory
                state.training = backend.prepare_task(work.cell.task, suite.base_dir)
                monitor.resume()
            except BackendError as exc:  # e.g. an API key not set: skip this cell, run the others
                state.info, state.error = {}, str(exc)
                progress.skip_cell(work.cell, str(exc))
                return
            try:
                state.warm = _warm_up(backend, work, suite.spec.warmup)
                monitor.mark()  # CPU time and energy count the measured items only
                state.t0 = now()
                unreachable = 0
                for record in _records(backend, work, state.id):
                    store.append_record(record)
                    state.done += 1
                    progress.advance(record)
                    unreachable = unreachable + 1 if record.engine_extra.get("unreachable") else 0
                    if unreachable >= MAX_UNREACHABLE:
                        raise BackendUnavailable(
                            f"{work.cell.model.id} stopped answering ({unreachable} requests in a row could not "
                            "connect); its items so far are recorded, its remaining cells skipped")
                state.completed = True
            finally:
                state.t1 = now()
                if own_pool or not state.completed:
                    pool.close()
    finally:
        progress.end_cell()
        if state.info is not None:
            store.append_segment(_segment(work, state, monitor))


def _prepare_files(model: ModelSpec) -> None:
    """A backend's one-off file work before loading (vLLM: convert a GGUF to an HF folder once)."""
    factory, params = backend_factory(model)
    factory.prepare_files(params)


def _load_backend(work: CellWork, state: SegmentState, pool: BackendPool) -> Backend:
    backend, state.reused = pool.acquire(work.cell.model)
    state.load_s = pool.load_s
    state.info = backend.info().model_dump()
    return backend


def _warm_up(backend: Backend, work: CellWork, count: int) -> int:
    """Run the first `count` items unrecorded, so allocations and compiled kernels settle before measuring;
    then empty the engine's prompt cache, so no measured item (nor a reused backend's next cell) starts with
    its prompt already cached by the warm-up or an earlier cell."""
    warm = [build_request(work, item, -1) for item in work.items[:count]]
    for _ in backend.generate(warm):
        pass
    backend.reset_cache()
    return len(warm)


def _records(backend: Backend, work: CellWork, segment: str) -> Iterator[ItemRecord]:
    by_id = {f"{item.id}#{rep}": (item, rep) for item, rep in work.pending}
    fitted = [_fitted(backend, work, item, rep) for item, rep in work.pending]
    requests = [request for request, _ in fitted]
    prompts = {r.id: _prompt_hash(r) for r in requests}
    removed = {request.id: n for request, n in fitted if n}
    for result in drive(backend, requests, work.cell.load):
        item, rep = by_id[result.request_id]
        if result.request_id in removed:
            result.extra |= {INPUT_TRUNCATED: removed[result.request_id], "truncate": work.cell.task.prompt.truncate}
        yield make_record(work, item, rep, result, segment, prompts[result.request_id])


def _fitted(backend: Backend, work: CellWork, item: Item, rep: int) -> tuple[Request, int]:
    """The item's request with its input cut to fit the context (the task's prompt.truncate), and the tokens cut."""
    if kind_of(work.cell.task.dataset).builds_requests:  # the kind's own request (lm-eval): nothing to cut
        return build_request(work, item, rep), 0
    return fit_input(backend, item, lambda it: build_request(work, it, rep), work.cell.task.prompt.truncate)


def _prompt_hash(request: Request) -> str:
    payload = json.dumps([request.messages, request.completion, request.choices], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def make_record(work: CellWork, item: Item, repetition: int, result: Result, segment: str,
                prompt_sha: str) -> ItemRecord:
    """The ItemRecord of one result: the parsed prediction, every scorer's scores, status, tokens and timings
    (t_* in perf-counter seconds) as the backend gave them; its t_arrival (rate mode) moves from result.extra."""
    task: TaskSpec = work.cell.task
    prediction, parse_error = _prediction(item, result, task)
    scores: dict[str, float] = {}
    for scorer in work.scorers:
        scores.update(scorer.score(item, result, prediction))
    undefined = sorted(name for name, value in scores.items() if not math.isfinite(value))
    if undefined:  # NaN/inf cannot be stored as JSON: the item is not counted for these metrics, and says so
        scores = {name: value for name, value in scores.items() if name not in undefined}
        result.extra["undefined_scores"] = undefined
    return ItemRecord(
        cell_id=work.cell.id, model_id=work.cell.model.id, task_id=task.id, task_version=task.version,
        item_id=item.id, repetition=repetition, segment=segment, prompt_sha256=prompt_sha,
        prediction=prediction, raw_output=result.text, reference=item.expected, scores=scores,
        status=_status(result), error=result.error, parse_error=parse_error,
        prompt_tokens=result.prompt_tokens, cached_prompt_tokens=result.cached_prompt_tokens,
        completion_tokens=result.completion_tokens, t_start=result.t_start,
        t_first_token=result.t_first_token, t_end=result.t_end, t_arrival=result.extra.pop("t_arrival", None),
        choice_logprobs=result.choice_logprobs, confidence=_confidence(result, prediction, task),
        engine_extra=result.extra, tags=item.tags)


def _confidence(result: Result, prediction: Any, task: TaskSpec) -> Confidence | None:
    """The item's router signals (bench.metrics.confidence); none for an item that failed."""
    if result.error is not None:
        return None
    valid = json_valid(prediction, task.answer.json_schema) if task.answer.mode == "json" else None
    return confidence(result.choice_logprobs, result.token_logprobs, valid)


def _prediction(item: Item, result: Result, task: TaskSpec) -> tuple[Any, str | None]:
    if result.error is not None:
        return None, None
    if kind_of(task.dataset).builds_requests:  # the chosen continuation or the generated text; the kind's
        return result.text.strip(), None       # scorer (lm-eval's filters) scores it
    return parse_prediction(result, task.answer)


def _segment(work: CellWork, state: SegmentState, monitor: ProcessMonitor) -> CellSegment:
    return CellSegment(
        cell_id=work.cell.id, model_id=work.cell.model.id, task_id=work.cell.task.id, segment=state.id,
        backend=state.info or {}, load_time_s=state.load_s, warmup_items=state.warm, items_done=state.done,
        t_start=state.t0, t_end=state.t1, rss_before_bytes=monitor.rss_before_bytes,
        peak_rss_bytes=monitor.peak_rss_bytes, cpu_user_s=monitor.cpu_user_s, cpu_system_s=monitor.cpu_system_s,
        energy_j=monitor.energy_j, energy_source=monitor.energy_source, error=state.error,
        gpu=monitor.gpu.stats.summary() if monitor.gpu.available else {},
        completed=state.completed, backend_reused=state.reused, training=state.training or {},
        **monitor.contention_fields())


def _status(result: Result) -> Literal["ok", "error", "timeout"]:
    """ok, or how the item failed: `timeout` when the backend marked its failure as one, else `error`."""
    if result.error is None:
        return "ok"
    return "timeout" if result.extra.get("timeout") else "error"
