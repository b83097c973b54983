"""Expanding a suite into run cells (model x task): a pure function of the suite and the options."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from bench.errors import Problem, SpecError
from bench.registry import suggest
from bench.suite.spec import BackendParams, LoadedSuite, LoadSpec, ModelSpec, TaskSpec

Entry = TypeVar("Entry", ModelSpec, TaskSpec)


@dataclass(frozen=True)
class PlanOptions:
    """What `bench run` narrows the suite to; stored in the manifest so a resume plans the same cells."""

    limit: int | None = None
    models: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    cell_ids: tuple[str, ...] = ()
    """A resumed run's recorded cell ids, given in plan order in place of the computed ones (a newer bench may hash
    the same cell differently: bench.run.lifecycle.with_recorded_ids); () computes them."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanOptions:
        """From `dataclasses.asdict` of one (as a worker process or Ray task receives it)."""
        return cls(limit=data["limit"], models=tuple(data["models"]), tasks=tuple(data["tasks"]),
                   cell_ids=tuple(data.get("cell_ids", ())))


@dataclass(frozen=True)
class Cell:
    """One model x task (x load mode) to run: `id` a 12-hex-digit hash of what it measures (cell_id), `limit`
    at most that many items (None: all)."""

    id: str
    model: ModelSpec
    task: TaskSpec
    limit: int | None
    load: LoadSpec = field(default_factory=LoadSpec)

    @property
    def label(self) -> str:
        """How progress and errors name the cell: "<model> × <task>", plus " @ <load label>" outside latency mode."""
        suffix = "" if self.load.mode == "latency" else f" @ {self.load.label}"
        return f"{self.model.id} × {self.task.id}{suffix}"

    @property
    def key(self) -> str:
        """model/task[/load]: how cells are matched across runs."""
        suffix = "" if self.load.mode == "latency" else f"/{self.load.label}"
        return f"{self.model.id}/{self.task.id}{suffix}"


@dataclass(frozen=True)
class Plan:
    """A loaded suite, the options it was narrowed with, and its cells in model-then-task order."""

    suite: LoadedSuite
    options: PlanOptions
    cells: tuple[Cell, ...] = field(default_factory=tuple)


def cell_id(model: ModelSpec, task: TaskSpec, limit: int | None, load: LoadSpec | None = None) -> str:
    """A stable hash of everything that defines what a cell measures (the default latency mode adds nothing)."""
    identity: dict[str, object] = {"model": model.model_dump(mode="json"), "task": task.model_dump(mode="json"),
                                   "limit": limit}
    if load is not None and load.mode != "latency":
        identity["load"] = load.model_dump(mode="json")
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def build_plan(suite: LoadedSuite, options: PlanOptions) -> Plan:
    """Cells for every selected model x task; unknown names in the filters are input errors."""
    models = [resolve_refs(m, suite.spec.models) for m in _select("--models", suite.spec.models, options.models,
                                                                 str(suite.path))]
    tasks = _select("--tasks", suite.spec.tasks, options.tasks, str(suite.path))
    cells = []
    for model in models:
        for task in tasks:
            limit = min(x for x in (options.limit, task.limit) if x is not None) if (
                options.limit or task.limit) else None
            cells += [Cell(cell_id(model, task, limit, load), model, task, limit, load)
                      for spec in suite.spec.load for load in spec.expand()]
    if options.cell_ids and len(options.cell_ids) == len(cells):
        cells = [replace(cell, id=recorded) for cell, recorded in zip(cells, options.cell_ids, strict=True)]
    return Plan(suite=suite, options=options, cells=tuple(cells))


def resolve_refs(model: ModelSpec, models: tuple[ModelSpec, ...]) -> ModelSpec:
    """The model with the specs of the models its backend runs (Params.model_refs: a cascade's small and large)
    in its block's `resolved` field, so the backend can load them; any other model as it is."""
    from bench.backends.base import BACKENDS

    refs = BACKENDS.params(model.backend.kind).model_refs if model.backend.kind in BACKENDS else ()
    if not refs:
        return model
    by_id = {m.id: m for m in models}
    block = model.backend.model_dump()
    resolved = {field: by_id[block[field]].model_dump(mode="json") for field in refs if block.get(field) in by_id}
    return model.model_copy(update={"backend": BackendParams(**{**block, "resolved": resolved})})


def _select(flag: str, entries: tuple[Entry, ...], wanted: tuple[str, ...], file: str) -> list[Entry]:
    ids = [entry.id for entry in entries]
    unknown = [name for name in wanted if name not in ids]
    if unknown:
        raise SpecError([Problem(file, flag, f"no entry with id '{name}'", suggest(name, ids)) for name in unknown])
    return [entry for entry in entries if not wanted or entry.id in wanted]
