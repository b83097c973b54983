"""Run directories: manifest.json (atomic), records.jsonl and cells.jsonl (appended, flushed, fsynced)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import RunError
from bench.metrics.records import CellSegment, ItemRecord
from bench.redact import mask_known, redact_config
from bench.results.atomic import NO_SPACE, WriteError, free_reserve, replace_with, write_json_atomic, write_text_atomic
from bench.run.folder import LOCK, LOCK_OWNER, MANIFEST, create_run_dir, new_run_dir, run_lock
from bench.suite.spec import CostSpec

__all__ = ["CELLS", "LOCK", "LOCK_OWNER", "MANIFEST", "RECORDS", "SCHEMA_VERSION", "SET_ASIDE", "RunStore",
           "WriteError", "create_run_dir", "new_run_dir", "repair_torn_tail", "run_lock", "validate_records",
           "write_json_atomic", "write_text_atomic"]

SCHEMA_VERSION = 1
RECORDS = "records.jsonl"
CELLS = "cells.jsonl"
SET_ASIDE = "unsegmented-records.jsonl"
"""Records of a segment whose cells.jsonl line was never written (SIGKILL): kept here, re-measured on resume."""


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _SuiteRef(_Open):
    name: str
    version: str = "1"
    path: str
    sha256: str


class _Options(_Open):
    limit: int | None
    models: list[str]
    tasks: list[str]


class _Cell(_Open):
    cell_id: str
    model_id: str
    task_id: str
    task_version: str = "1"
    load: str = "latency"
    rate_rps: float | None = None
    key: str | None = None
    limit: int | None = None
    n_items: int | None = None


class _TaskRef(_Open):
    version: str
    datasets: dict[str, str]


class ManifestShape(_Open):
    """What readers of manifest.json rely on (types checked on read; other keys are kept as they are)."""

    schema_version: int
    run_id: str
    status: str
    suite: _SuiteRef
    options: _Options
    cost: CostSpec
    tasks: dict[str, _TaskRef]
    cells: list[_Cell]
    models: dict[str, Any] = {}
    backends: dict[str, dict[str, Any]] = {}
    machine: dict[str, Any] = {}
    git: dict[str, Any] = {}
    calibration: dict[str, Any] | None = None


class RunStore:
    """One run directory. Appends are durable line by line; a torn last line is repaired on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handles: dict[str, Any] = {}

    def read_manifest(self) -> dict[str, Any]:
        file = self.path / MANIFEST
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"{self.path} is not a run directory (no {MANIFEST})") from None
        except OSError as exc:
            raise RunError(f"cannot read {file}: {exc.strerror or exc}") from None
        except (ValueError, RecursionError) as exc:
            raise RunError(f"{file}: invalid JSON ({str(exc)[:120]})") from None
        if not isinstance(data, dict):
            raise RunError(f"{file}: not a manifest (a JSON object is expected)")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise RunError(f"{file}: schema_version {data.get('schema_version')} is not supported "
                           f"(this bench reads {SCHEMA_VERSION})")
        try:
            ManifestShape.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise RunError(f"{file}: {'.'.join(map(str, first['loc']))}: {first['msg']} (the manifest was edited or "
                           "is damaged)") from None
        return dict(data)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.path / MANIFEST, manifest)

    def update_manifest(self, **changes: Any) -> None:
        self.write_manifest({**self.read_manifest(), **changes})

    def append_record(self, record: ItemRecord) -> None:
        self._append(RECORDS, mask_known(record.model_dump_json()))

    def append_segment(self, segment: CellSegment) -> None:
        segment = segment.model_copy(update={"backend": redact_config(segment.backend)})
        self._append(CELLS, mask_known(segment.model_dump_json()))

    def _append(self, name: str, line: str) -> None:
        file = self.path / name
        try:
            if name not in self._handles:
                repair_torn_tail(file)
                self._handles[name] = file.open("a", encoding="utf-8")
            handle = self._handles[name]
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            self._drop_handle(name)
            if exc.errno in NO_SPACE:
                free_reserve(self.path)  # room for the segment line, the manifest and the reports
            raise WriteError(file, exc, f"the items before it are saved; fix that, then: bench run --resume "
                             f"{self.path}") from None

    def _drop_handle(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            with contextlib.suppress(OSError):  # the unwritten buffer is the failed line itself
                handle.close()

    def records(self) -> list[ItemRecord]:
        """Each item's latest record, in file order of those; RunError names the first line that does not match
        the schema. A retried item (its earlier attempt failed with a retryable error) keeps the earlier line in
        the file, superseded here."""
        latest: dict[tuple[str, str, int], ItemRecord] = {}
        try:
            for row in self._read_lines(RECORDS):
                record = ItemRecord.model_validate(row)
                latest.pop(record.key, None)
                latest[record.key] = record
        except ValidationError as exc:
            raise RunError(f"{self.path / RECORDS}: a record does not match the schema: {exc.errors()[0]}") from None
        return list(latest.values())

    def segments(self) -> list[CellSegment]:
        """Every cells.jsonl line; RunError names the line of one that does not match the schema."""
        rows = self._read_lines(CELLS)
        try:
            return [CellSegment.model_validate(row) for row in rows]
        except ValidationError as exc:
            raise RunError(f"{self.path / CELLS}: a segment does not match the schema: {exc.errors()[0]['msg']} "
                           f"at {'.'.join(map(str, exc.errors()[0]['loc']))}") from None

    def _read_lines(self, name: str) -> list[dict[str, Any]]:
        file = self.path / name
        if not file.exists():
            return []
        try:
            lines = file.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise RunError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None
        rows = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except (ValueError, RecursionError):
                if number == len(lines):  # torn final line of a killed run: that item is redone on resume
                    print(f"warning: {file}: ignoring incomplete last line {number}", file=sys.stderr)
                    continue
                raise RunError(f"{file}: line {number} is not valid JSON; the run is corrupt") from None
            if not isinstance(row, dict):
                raise RunError(f"{file}: line {number} is not a JSON object; the run is corrupt")
            rows.append(row)
        return _validated(rows, file)

    def close(self) -> None:
        for name in list(self._handles):
            self._drop_handle(name)

    def release_reserve(self) -> None:
        """Free the space set aside for a full disk (RESERVE) once the run has ended."""
        free_reserve(self.path)

    def set_aside_unsegmented(self) -> int:
        """Move records whose segment has no cells.jsonl line to SET_ASIDE; return how many moved.

        A kill between a cell's last record and its segment line loses that stretch's wall time, load time and
        memory; resume then measures those items again in a new segment. Only under the run's lock.
        """
        segments = {segment.segment for segment in self.segments()}
        self.records()  # RunError for a record that does not match the schema
        rows = self._read_lines(RECORDS)
        orphans = [row for row in rows if row.get("segment") not in segments]
        if not orphans:
            return 0
        kept = [row for row in rows if row.get("segment") in segments]
        with (self.path / SET_ASIDE).open("a", encoding="utf-8") as handle:
            handle.writelines(_line(row) for row in orphans)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            replace_with(self.path / RECORDS, "".join(_line(row) for row in kept).encode("utf-8"))
        except OSError as exc:
            raise WriteError(self.path / RECORDS, exc) from None
        return len(orphans)


def _line(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n"


def _validated(rows: list[dict[str, Any]], file: Path) -> list[dict[str, Any]]:
    for number, row in enumerate(rows, start=1):
        if row.get("schema_version") != SCHEMA_VERSION:
            raise RunError(f"{file}: record {number} has schema_version {row.get('schema_version')}, "
                           f"expected {SCHEMA_VERSION}")
    return rows


def repair_torn_tail(file: Path) -> None:
    """Before appending: end a complete last line with its newline, or cut an incomplete one (SIGKILL mid-write).

    Readers keep a last line that parses and skip one that does not, so this agrees with what they saw.
    """
    if not file.exists() or file.stat().st_size == 0:
        return
    data = file.read_bytes()
    if data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:])
    except ValueError:
        with file.open("r+b") as handle:
            handle.truncate(cut)
        return
    with file.open("ab") as handle:
        handle.write(b"\n")


def validate_records(store: RunStore) -> list[ItemRecord]:
    """All records; RunError names the line of a record that does not match the schema."""
    return store.records()
