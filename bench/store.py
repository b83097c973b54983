"""Run directories: manifest.json (atomic), records.jsonl and cells.jsonl (appended, flushed, fsynced)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from bench.errors import RunError
from bench.metrics.records import CellSegment, ItemRecord
from bench.redact import mask, mask_known, redact_config
from bench.spec import CostSpec

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
RECORDS = "records.jsonl"
CELLS = "cells.jsonl"
SET_ASIDE = "unsegmented-records.jsonl"
"""Records of a segment whose cells.jsonl line was never written (SIGKILL): kept here, re-measured on resume."""
LOCK = ".lock"
LOCK_OWNER = ".lock-owner"
RESERVE = ".reserve"
RESERVE_BYTES = 256 << 10
"""Space set aside when a run starts and freed when the disk fills, so the manifest and reports still fit."""
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


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


class WriteError(RunError):
    """A file could not be written (read-only folder, full disk, file-size limit); names the path and cause."""

    def __init__(self, path: Path, exc: OSError, advice: str = "") -> None:
        self.path = path
        self.errno = exc.errno
        super().__init__(f"cannot write {path}: {exc.strerror or exc}" + (f"; {advice}" if advice else ""))


def write_text_atomic(path: Path, text: str) -> None:
    """Write text (secrets masked) through a temporary file and rename, so a reader never sees half a file.

    On a full disk the run folder's reserve (RESERVE) is freed and the write tried once more. WriteError
    otherwise; the previous file, if any, is left as it was.
    """
    data = mask(text).encode("utf-8")
    try:
        _replace_with(path, data)
    except OSError as exc:
        if exc.errno not in _NO_SPACE or not _free_reserve(path.parent):
            raise WriteError(path, exc) from None
        try:
            _replace_with(path, data)
        except OSError as again:
            raise WriteError(path, again) from None


def _replace_with(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON atomically (see write_text_atomic)."""
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _make_reserve(folder: Path) -> None:
    """RESERVE_BYTES of zeros (really allocated, not sparse); best effort: without room for it, no reserve."""
    try:
        (folder / RESERVE).write_bytes(bytes(RESERVE_BYTES))
    except OSError:
        _free_reserve(folder)


def _free_reserve(folder: Path) -> bool:
    try:
        (folder / RESERVE).unlink()
        return True
    except OSError:
        return False


def new_run_dir(out_root: Path, suite_name: str) -> Path:
    """results/<suite>-<UTC timestamp>, with a numeric suffix if that name is taken."""
    return create_run_dir(out_root, suite_name, {})


def create_run_dir(out_root: Path, suite_name: str, files: dict[str, str], manifest: dict[str, Any] | None = None
                   ) -> Path:
    """results/<suite>-<UTC timestamp>[-n], appearing at once with its first files and manifest.

    Everything is written in a hidden staging folder that is then renamed, so a run folder without its
    manifest never exists (a kill before the rename leaves only the hidden folder). `manifest["run_id"]`
    is set to the folder's name. RunError names --out and the cause when it cannot be created.
    """
    staging = _staging_dir(out_root, suite_name)
    try:
        for name, text in files.items():
            write_text_atomic(staging / name, text)
        _make_reserve(staging)
        return _publish(staging, out_root, suite_name, manifest)
    except BaseException:
        _remove_tree(staging)
        raise


def _staging_dir(out_root: Path, suite_name: str) -> Path:
    if out_root.exists() and not out_root.is_dir():
        raise RunError(f"--out {out_root}: is not a folder")
    staging = out_root / f".{suite_name}.{os.getpid()}.partial"
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        _remove_tree(staging)
        staging.mkdir()
    except OSError as exc:
        raise RunError(f"--out {out_root}: cannot create a run folder there ({exc.strerror or exc})") from None
    return staging


def _publish(staging: Path, out_root: Path, suite_name: str, manifest: dict[str, Any] | None) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        path = out_root / (f"{suite_name}-{stamp}" + (f"-{n}" if n else ""))
        if path.exists():
            continue
        if manifest is not None:
            write_json_atomic(staging / MANIFEST, {**manifest, "run_id": path.name})
        try:
            os.rename(staging, path)
            return path
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise RunError(f"cannot create {path}: {exc.strerror or exc}") from None
    raise RunError(f"cannot create a run directory under {out_root}")


def _remove_tree(folder: Path) -> None:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold the run folder's exclusive lock (filelock, an OS lock released even on SIGKILL) for one writer.

    RunError when another process holds it, naming that process (pid, since when).
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(path / LOCK))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise RunError(f"{path} is in use by another bench process ({_holder(path)}); "
                       "wait for it to finish or stop it, then resume") from None
    except OSError as exc:
        raise RunError(f"cannot lock {path / LOCK}: {exc.strerror or exc}") from None
    try:
        _write_owner(path)
        yield
    finally:
        with contextlib.suppress(OSError):
            (path / LOCK_OWNER).unlink()
        lock.release()


def _write_owner(path: Path) -> None:
    owner = {"pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
    with contextlib.suppress(OSError):  # the lock itself protects the run; the owner note only helps the message
        (path / LOCK_OWNER).write_text(json.dumps(owner) + "\n", encoding="utf-8")


def _holder(path: Path) -> str:
    try:
        owner = json.loads((path / LOCK_OWNER).read_text(encoding="utf-8"))
        return f"pid {owner['pid']}, since {owner['since']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


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
            if exc.errno in _NO_SPACE:
                _free_reserve(self.path)  # room for the segment line, the manifest and the reports
            raise WriteError(file, exc, f"the items before it are saved; fix that, then: bench run --resume "
                             f"{self.path}") from None

    def _drop_handle(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        if handle is not None:
            with contextlib.suppress(OSError):  # the unwritten buffer is the failed line itself
                handle.close()

    def records(self) -> list[ItemRecord]:
        """Every records.jsonl line; RunError names the first that does not match the schema."""
        rows = self._read_lines(RECORDS)
        try:
            return [ItemRecord.model_validate(row) for row in rows]
        except ValidationError as exc:
            raise RunError(f"{self.path / RECORDS}: a record does not match the schema: {exc.errors()[0]}") from None

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
        _free_reserve(self.path)

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
            _replace_with(self.path / RECORDS, "".join(_line(row) for row in kept).encode("utf-8"))
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
