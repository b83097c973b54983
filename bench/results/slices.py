"""`bench report RUN --by TAG`: a run's cells sliced by one item tag (bench.metrics.slices), from its records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.errors import BenchError
from bench.metrics.aggregate import CellIdent
from bench.metrics.columns import EMPTY, RecordColumns, load_columns
from bench.metrics.slices import ALPHA, Slice, cell_slices, tag_names, tested_metric
from bench.results.store import RunStore
from bench.results.summary import load_run_suite, primary_metric


@dataclass(frozen=True)
class SliceReport:
    """One run's slices by `tag`: every cell whose records carry it, and ('model × task') the cells none of whose
    records do."""

    run_id: str
    tag: str
    slices: list[Slice] = field(default_factory=list)
    cells_without_tag: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON form: run, tag, the test's level and correction, each slice, and the cells left out."""
        return {"run_id": self.run_id, "tag": self.tag, "alpha": ALPHA, "correction": "holm",
                "slices": [s.as_dict() for s in self.slices], "cells_without_tag": self.cells_without_tag}


def slice_run(store: RunStore, tag: str, columns: RecordColumns | None = None) -> SliceReport:
    """Every cell of the run sliced by `tag`. BenchError (exit 2) when no record of the run has the tag, naming
    the tags its records do have; RunError for a damaged run (as the summary)."""
    manifest = store.read_manifest()
    cols = columns if columns is not None else load_columns(store)
    known = tag_names(cols)
    if tag not in known:
        have = ", ".join(sorted(known)) if known else "none (the datasets' fields.tags lists none)"
        raise BenchError(f"{store.path}: no record has the tag '{tag}'; the tags in this run: {have}")
    tasks = {task.id: task for task in load_run_suite(store, manifest).spec.tasks}
    by_cell = cols.by_cell()
    found: list[Slice] = []
    without: list[str] = []
    for cell in manifest.cells:
        records = by_cell.get(cell.cell_id, EMPTY)
        task = tasks.get(cell.task_id)
        metric = tested_metric(primary_metric(task), records) if task else None
        if task is None or metric is None or tag not in tag_names(records):
            without.append(f"{cell.model_id} × {cell.task_id}" + (f" @ {cell.load}" if cell.load != "latency" else ""))
            continue
        ident: CellIdent = {"cell_id": cell.cell_id, "model_id": cell.model_id, "task_id": cell.task_id}
        found += cell_slices(task, records, tag, ident, metric)
    return SliceReport(manifest.run_id, tag, found, without)
