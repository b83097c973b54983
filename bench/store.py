"""Run directories: manifest.json (atomic), records.jsonl and cells.jsonl (appended, flushed, fsynced)."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.errors import RunError
from bench.metrics.records import CellSegment, ItemRecord

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
CELLS = "cells.jsonl"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def new_run_dir(out_root: Path, suite_name: str) -> Path:
    """results/<suite>-<UTC timestamp>, with a numeric suffix if that name is taken."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_root.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = out_root / (f"{suite_name}-{stamp}" + (f"-{n}" if n else ""))
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"cannot create a run directory under {out_root}")


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
        except ValueError as exc:
            raise RunError(f"{file}: invalid JSON ({exc})") from None
        if data.get("schema_version") != SCHEMA_VERSION:
            raise RunError(f"{file}: schema_version {data.get('schema_version')} is not supported "
                           f"(this bench reads {SCHEMA_VERSION})")
        return dict(data)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_json_atomic(self.path / MANIFEST, manifest)

    def update_manifest(self, **changes: Any) -> None:
        self.write_manifest({**self.read_manifest(), **changes})

    def append_record(self, record: ItemRecord) -> None:
        self._append(RECORDS, record.model_dump_json())

    def append_segment(self, segment: CellSegment) -> None:
        self._append(CELLS, segment.model_dump_json())

    def _append(self, name: str, line: str) -> None:
        if name not in self._handles:
            repair_torn_tail(self.path / name)
            self._handles[name] = (self.path / name).open("a", encoding="utf-8")
        handle = self._handles[name]
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())

    def records(self) -> list[ItemRecord]:
        """Each item's latest record, in file order of those. A retried item (its earlier attempt failed with a
        retryable error) keeps the earlier line in the file, superseded here."""
        latest: dict[tuple[str, str, int], ItemRecord] = {}
        for row in self._read_lines(RECORDS):
            record = ItemRecord.model_validate(row)
            latest.pop(record.key, None)
            latest[record.key] = record
        return list(latest.values())

    def segments(self) -> list[CellSegment]:
        return [CellSegment.model_validate(row) for row in self._read_lines(CELLS)]

    def _read_lines(self, name: str) -> list[dict[str, Any]]:
        file = self.path / name
        if not file.exists():
            return []
        lines = file.read_text(encoding="utf-8").split("\n")
        rows = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError:
                if number == len(lines):  # torn final line of a killed run: that item is redone on resume
                    print(f"warning: {file}: ignoring incomplete last line {number}", file=sys.stderr)
                    continue
                raise RunError(f"{file}: line {number} is not valid JSON; the run is corrupt") from None
        return _validated(rows, file)

    def close(self) -> None:
        for handle in self._handles.values():
            handle.close()
        self._handles.clear()


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
    try:
        return store.records()
    except ValidationError as exc:
        raise RunError(f"{store.path / RECORDS}: a record does not match the schema: {exc.errors()[0]}") from None
