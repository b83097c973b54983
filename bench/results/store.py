"""Run directories: manifest.json (atomic), records.jsonl and segments.jsonl (appended, flushed, fsynced)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bench.errors import RunError
from bench.redact import mask_known, redact_config
from bench.results.atomic import NO_SPACE, WriteError, free_reserve, replace_with, write_json_atomic, write_text_atomic
from bench.results.schema import (
    MANIFEST_VERSION,
    OLD_SEGMENTS,
    SEGMENTS,
    Manifest,
    Record,
    Segment,
    json_line,
    read_record,
    read_segment,
)
from bench.results.schema import read_manifest as read_manifest_file
from bench.results.schema import write_manifest as write_manifest_file
from bench.run.folder import LOCK, LOCK_OWNER, MANIFEST, create_run_dir, new_run_dir, run_lock

__all__ = ["LOCK", "LOCK_OWNER", "MANIFEST", "OLD_SEGMENTS", "RECORDS", "SCHEMA_VERSION", "SEGMENTS", "SET_ASIDE",
           "RunStore", "WriteError", "create_run_dir", "new_run_dir", "repair_torn_tail", "run_lock",
           "validate_records", "write_json_atomic", "write_text_atomic"]

SCHEMA_VERSION = MANIFEST_VERSION
"""The manifest version new runs are written with (2: segments in segments.jsonl)."""
RECORDS = "records.jsonl"
SET_ASIDE = "unsegmented-records.jsonl"
"""Records of a segment whose segments.jsonl line was never written (SIGKILL): kept here, re-measured on resume."""


class RunStore:
    """One run directory. Appends are durable line by line; a torn last line is repaired on open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handles: dict[str, Any] = {}
        self._segments_name: str | None = None

    def read_manifest(self) -> Manifest:
        """The run's manifest (v1 or v2); RunError when it is missing, damaged or written by a newer bench."""
        return read_manifest_file(self.path / MANIFEST)

    def write_manifest(self, manifest: Manifest) -> None:
        """Replace manifest.json atomically."""
        write_manifest_file(self.path / MANIFEST, manifest)

    def update_manifest(self, **changes: Any) -> None:
        """Change top-level fields (status, ended_at, ...); the schema_version, and so the files, stay as they are.
        RunError for a change that does not fit the Manifest model (a bug: the file is left as it was)."""
        data = {**self.read_manifest().model_dump(mode="json"), **changes}
        try:
            manifest = Manifest.model_validate(data)
        except ValidationError as exc:
            raise RunError(f"{self.path / MANIFEST}: cannot set {sorted(changes)}: {exc.errors()[0]['msg']}") from None
        self.write_manifest(manifest)

    @property
    def segments_file(self) -> str:
        """segments.jsonl, or cells.jsonl in a run started by bench before #12 (manifest v1): a resumed old run
        keeps appending to the file it has."""
        if self._segments_name is None:
            if (self.path / MANIFEST).exists():
                self._segments_name = self.read_manifest().segments_file
            else:  # a bare folder (tests, tools): whichever file is there
                old = (self.path / OLD_SEGMENTS).exists() and not (self.path / SEGMENTS).exists()
                self._segments_name = OLD_SEGMENTS if old else SEGMENTS
        return self._segments_name

    def append_record(self, record: Record) -> None:
        """Append one record line to records.jsonl (secrets masked), flushed and fsynced; WriteError naming
        the file and how to resume when the disk refuses it."""
        self._append(RECORDS, mask_known(json_line(record)))

    def append_segment(self, segment: Segment) -> None:
        """Append one segment line (its backend settings redacted, secrets masked) to the run's segments file,
        flushed and fsynced; WriteError as append_record."""
        segment = segment.model_copy(update={"backend": redact_config(segment.backend)})
        self._append(self.segments_file, mask_known(json_line(segment)))

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

    def records(self) -> list[Record]:
        """Each item's latest record, in file order of those; RunError names the first line that does not match
        the schema. A retried item (its earlier attempt failed with a retryable error) keeps the earlier line in
        the file, superseded here."""
        latest: dict[tuple[str, str, int], Record] = {}
        for number, row in self._read_lines(RECORDS):
            record = read_record(row, f"{self.path / RECORDS}: line {number}")
            latest.pop(record.key, None)
            latest[record.key] = record
        return list(latest.values())

    def segments(self) -> list[Segment]:
        """Every line of the segments file; RunError names the line of one that does not match the schema, or the
        other version's segments file when it is there (a renamed file would otherwise read as no segments)."""
        name = self.segments_file
        self._check_segments_name(name)
        return [read_segment(row, f"{self.path / name}: line {number}") for number, row in self._read_lines(name)]

    def _check_segments_name(self, name: str) -> None:
        other = OLD_SEGMENTS if name == SEGMENTS else SEGMENTS
        if not (self.path / other).exists():
            return
        version = 1 if name == OLD_SEGMENTS else SCHEMA_VERSION
        if (self.path / name).exists():
            raise RunError(f"{self.path}: holds both {name} and {other}; a run with a version {version} manifest keeps "
                           f"its segments in {name} only: move {other} out of the folder")
        raise RunError(f"{self.path / other}: a run with a version {version} manifest keeps its segments in {name}; "
                       f"rename {other} back to {name}")

    def _read_lines(self, name: str) -> list[tuple[int, dict[str, Any]]]:
        """(line number, parsed object) for each non-blank line; a torn last line is skipped with a warning."""
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
            rows.append((number, row))
        return rows

    def close(self) -> None:
        """Close the open append handles (errors on close ignored: the lines were fsynced already)."""
        for name in list(self._handles):
            self._drop_handle(name)

    def release_reserve(self) -> None:
        """Free the space set aside for a full disk (RESERVE) once the run has ended."""
        free_reserve(self.path)

    def set_aside_unsegmented(self) -> int:
        """Move records whose segment has no segments.jsonl line to SET_ASIDE; return how many moved.

        A kill between a cell's last record and its segment line loses that stretch's wall time, load time and
        memory; resume then measures those items again in a new segment. Only under the run's lock.
        """
        segments = {segment.segment for segment in self.segments()}
        self.records()  # RunError for a record that does not match the schema
        rows = [row for _, row in self._read_lines(RECORDS)]
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


def validate_records(store: RunStore) -> list[Record]:
    """All records; RunError names the line of a record that does not match the schema."""
    return store.records()
