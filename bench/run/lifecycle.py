"""Starting and resuming runs: the manifest's life cycle around runner.execute()."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from bench.cost.section import CostOptions
from bench.errors import RUN_DIR_NOTE, RunError
from bench.machine.calibrate import calibrate_machine
from bench.machine.provenance import provenance
from bench.redact import REDACTED, redact_config
from bench.report.run_report import write_report
from bench.results.schema import Manifest, ManifestCell
from bench.results.store import SCHEMA_VERSION, SET_ASIDE, RunStore
from bench.results.summary import SUITE_COPY, load_run_suite
from bench.run.executors import EXECUTORS
from bench.run.folder import create_run_dir, run_lock
from bench.run.runner import Progress, cell_items, done_keys, prepare
from bench.suite.load import NoChecks, load_suite, parse_suite, sha256_text
from bench.suite.plan import Cell, Plan, PlanOptions, build_plan
from bench.suite.spec import CostSpec, LoadedSuite
from bench.tasks.dataset_kinds import dataset_params, kind_of
from bench.tasks.datasets import file_sha256, reads_once, resolve_path
from bench.tasks.sampling import sample_description


@dataclass(frozen=True)
class RunRequest:
    """What `bench run SUITE` asks for: the suite file, plan options (--limit, --models, --tasks), the folder
    run directories go in, an optional machine price (USD per hour, overriding the suite's cost), executor and
    report options."""

    suite_path: Path
    options: PlanOptions
    out_root: Path
    usd_per_hour: float | None = None
    executor: str = "local"
    """local (in this process: the library default, as an embedding program expects), process (each model's
    cells in a worker process: the CLI's default), or ray / ray:ADDRESS (a Ray cluster)."""
    report: CostOptions | None = None
    """The cost options of the summary and report written when the run ends (None: the defaults)."""


def redact(value: Any) -> Any:
    """Configuration with credentials redacted (bench.redact.redact_config; env variable names are kept)."""
    return redact_config(value)


@reads_once
def start_run(request: RunRequest, progress: Progress) -> RunStore:
    """Plan, calibrate and write the manifest, then create the run folder with it at once, lock it and run.
    Each dataset is read once (validation, plan, manifest hashes and cells share the items)."""
    check_executor(request.executor)
    suite = load_suite(request.suite_path)
    plan = build_plan(suite, request.options)
    cost = suite.spec.cost
    if request.usd_per_hour is not None:
        cost = CostSpec(usd_per_hour=request.usd_per_hour, basis="--usd-per-hour")
    manifest = new_manifest("", plan, cost)  # the machine calibration runs here, before any run folder exists
    store = RunStore(create_run_dir(request.out_root, suite.spec.name, {SUITE_COPY: suite.text}, manifest))
    with run_lock(store.path):
        run_plan(store, plan, progress, request.executor, request.report)
        store.release_reserve()
    return store


@reads_once
def resume_run(run_dir: Path, progress: Progress, executor: str = "local",
               report: CostOptions | None = None) -> RunStore:
    """Finish an interrupted or incomplete run: same suite, same options, only the missing items; one process at a
    time. `report`: the cost options of the summary written at its end. RunError (exit 2) for a folder that is not
    a run, one locked by another bench, a plan or data file that changed since the run started."""
    store = RunStore(run_dir)
    store.read_manifest()  # "not a run directory" before trying to lock it
    with run_lock(run_dir):
        manifest = store.read_manifest()
        suite = _resume_suite(store, manifest)
        saved = manifest.options
        plan = build_plan(suite, PlanOptions(limit=saved.limit, models=tuple(saved.models), tasks=tuple(saved.tasks)))
        if adopts_recorded_ids(plan, manifest):
            plan = build_plan(suite, replace(plan.options, cell_ids=tuple(c.cell_id for c in manifest.cells)))
        if [c.id for c in plan.cells] != [c.cell_id for c in manifest.cells]:
            raise RunError(f"{run_dir}: the plan no longer matches the manifest's cells; cannot resume"
                           + _redacted_copy_note(suite))
        _check_datasets_unchanged(suite, manifest, run_dir)
        _set_aside_unsegmented(store)
        run_plan(store, plan, progress, executor, report)
        store.release_reserve()
    return store


def _set_aside_unsegmented(store: RunStore) -> None:
    """A stretch killed before its segments line is measured again; its records are kept aside, and said so."""
    moved = store.set_aside_unsegmented()
    if moved:
        print(f"warning: {store.path}: {moved} records have no segment line (the run was killed before it was "
              f"written): moved to {SET_ASIDE} and measured again", file=sys.stderr)


def _resume_suite(store: RunStore, manifest: Manifest) -> LoadedSuite:
    """The original suite file while it is unchanged (the copy has its credentials redacted), else the copy."""
    original = Path(manifest.suite.path)
    try:
        text = original.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = None
    if text is not None and sha256_text(text) == manifest.suite.sha256:
        return parse_suite(text, original, NoChecks())
    try:
        return load_run_suite(store, manifest)
    except OSError as exc:
        raise RunError(f"cannot read {store.path / SUITE_COPY}: {exc.strerror or exc}") from None


def _redacted_copy_note(suite: LoadedSuite) -> str:
    if REDACTED not in suite.text:
        return ""
    return (f" (the run's suite copy has credentials redacted and the original {suite.path} is changed or gone: "
            "restore the original suite file to resume)")


def new_manifest(run_id: str, plan: Plan, cost: CostSpec) -> dict[str, Any]:
    """The manifest a run starts with, as the JSON it is written as (checked against bench.results.schema)."""
    suite = plan.suite
    return Manifest.model_validate({
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "status": "running",
        "suite": {"name": suite.spec.name, "version": suite.spec.version, "path": str(suite.path),
                  "sha256": suite.sha256},
        "options": _run_options(plan.options), "cost": cost.model_dump(),
        "repetitions": suite.spec.repetitions, "warmup": suite.spec.warmup,
        "tasks": {t.id: {"version": t.version, "datasets": dataset_hashes(suite, t.id)} for t in suite.spec.tasks},
        "models": {m.id: redact_config(m.model_dump(mode="json")) for m in suite.spec.models},
        "cells": [manifest_cell(c, suite) for c in plan.cells],
        **provenance(), "calibration": calibrate_machine(), "started_at": _utc_now(), "ended_at": None,
        "backends": {},
    }).model_dump(mode="json")


def _run_options(options: PlanOptions) -> dict[str, Any]:
    """The manifest's `options` (RunOptions): limit, models, tasks (a resume's recorded ids are not options)."""
    return {"limit": options.limit, "models": list(options.models), "tasks": list(options.tasks)}


def adopts_recorded_ids(plan: Plan, manifest: Manifest) -> bool:
    """Whether a resume keeps the cell ids the run recorded although the plan hashes them differently: only bench's
    own spec models changed since (a newer bench gave a task or backend a new setting with a default, which
    changes cell_id's hash), i.e. the suite is the run's copy (same sha256) and the cells are the same
    model/task/load keys with the same limits, in the same order. False: the plan is what it is (resume then
    refuses a plan whose ids differ)."""
    recorded = manifest.cells
    if [c.id for c in plan.cells] == [c.cell_id for c in recorded] or plan.suite.sha256 != manifest.suite.sha256:
        return False
    return len(recorded) == len(plan.cells) and all(
        _recorded_key(old) == cell.key and old.limit == cell.limit
        for old, cell in zip(recorded, plan.cells, strict=True))


def _recorded_key(cell: ManifestCell) -> str:
    """A manifest cell's plan key (older manifests may lack it: rebuilt from its model, task and load label)."""
    return cell.key or f"{cell.model_id}/{cell.task_id}" + ("" if cell.load == "latency" else f"/{cell.load}")


def manifest_cell(cell: Cell, suite: LoadedSuite) -> dict[str, Any]:
    """The manifest entry of one cell: ids, task version, load label and rate (requests/s, None without one),
    plan key, limit, sample description and n_items (the items it evaluates, per repetition)."""
    return {"cell_id": cell.id, "model_id": cell.model.id, "task_id": cell.task.id,
            "task_version": cell.task.version, "load": cell.load.label, "rate_rps": (cell.load.rates() or (None,))[0],
            "key": cell.key, "limit": cell.limit, "sample": sample_description(cell.task, cell.limit),
            "n_items": len(cell_items(cell, suite))}


def dataset_hashes(suite: LoadedSuite, task_id: str) -> dict[str, str]:
    """sha256 of each data file a task reads (generators are identified by name, n and seed; lm-eval tasks by
    the requests they build)."""
    task = next(t for t in suite.spec.tasks if t.id == task_id)
    specs = [task.dataset] + ([task.few_shot.dataset] if task.few_shot else []) + ([task.train] if task.train else [])
    hashes = {}
    for spec in specs:
        kind, params = kind_of(spec), dataset_params(spec)
        for path in kind.data_files(params).values():
            hashes[path] = _file_sha256(resolve_path(path, suite.base_dir), task_id)
        hashes.update(kind.fingerprint(params, suite.base_dir))  # e.g. lm-eval: what the model is asked
    return hashes


def _file_sha256(path: Path, task_id: str) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        raise RunError(f"cannot read {path} (a data file of task '{task_id}'): {exc.strerror or exc}; "
                       "restore it to resume") from None


def _check_datasets_unchanged(suite: LoadedSuite, manifest: Manifest, run_dir: Path) -> None:
    for task in suite.spec.tasks:
        saved = manifest.tasks.get(task.id)
        if saved is None or dataset_hashes(suite, task.id) != saved.datasets:
            raise RunError(f"{run_dir}: a data file of task '{task.id}' changed since the run started; "
                           "resuming would mix two datasets (start a new run)")


def run_plan(store: RunStore, plan: Plan, progress: Progress, executor: str = "local",
             report: CostOptions | None = None) -> None:
    """Execute with status bookkeeping: `complete` when every item of every cell is settled, `incomplete` when
    cells were skipped, crashed or left retryable errors (listed in the manifest's `unfinished`), `interrupted`
    after Ctrl-C or SIGTERM (the KeyboardInterrupt carries the run directory as a note). All three resume with
    --resume. The summary and report are computed and written once, at the end, with `report`'s cost options
    (read them back with bench.results.schema.read_summary)."""
    store.update_manifest(status="running", executor=executor)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    status, unfinished = "interrupted", []
    try:
        _execute(plan, store, progress, executor)
        unfinished = unfinished_cells(plan, store)
        status = "incomplete" if unfinished else "complete"
    except KeyboardInterrupt as exc:
        exc.add_note(f"{RUN_DIR_NOTE}{store.path}")
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
        store.close()
        backends = {s.model_id: s.backend for s in store.segments() if s.error is None}
        store.update_manifest(status=status, ended_at=_utc_now(), backends=backends, unfinished=unfinished)
        write_report(store, report)


def unfinished_cells(plan: Plan, store: RunStore) -> list[dict[str, Any]]:
    """Cells with items still to do after execution, with counts and the last reason recorded for the cell."""
    done = done_keys(store.records())
    reasons = {s.cell_id: s.error for s in store.segments() if s.error}
    rows = []
    for cell in plan.cells:
        work = prepare(cell, plan.suite, done)
        if work.pending:
            rows.append({"cell_id": cell.id, "cell": cell.label, "done": work.total - len(work.pending),
                         "total": work.total, "reason": reasons.get(cell.id) or _retry_reason(work.pending)})
    return rows


def _retry_reason(pending: list[Any]) -> str:
    return f"{len(pending)} items failed with retryable errors (connection refused or a busy server)"


def check_executor(executor: str) -> None:
    """RunError for an executor name no registry entry has (before any run directory is created)."""
    kind = executor.partition(":")[0]
    if kind not in EXECUTORS:
        raise RunError(f"unknown executor '{executor}' ({EXECUTORS.hint(kind)}; ray takes ray:ADDRESS)")


def _execute(plan: Plan, store: RunStore, progress: Progress, executor: str) -> None:
    check_executor(executor)
    kind, _, address = executor.partition(":")
    EXECUTORS.get(kind)(plan, store, progress, address or None)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
