"""Files written whole: through a temporary file and a rename (a reader sees the old file or the new one), with
secrets masked (bench.redact), and a reserve of disk space that a full disk frees for the last writes."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Any

from bench.errors import RunError
from bench.redact import mask

RESERVE = ".reserve"
RESERVE_BYTES = 256 << 10
"""Space set aside when a run starts and freed when the disk fills, so the manifest and reports still fit."""
NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


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
        replace_with(path, data)
    except OSError as exc:
        if exc.errno not in NO_SPACE or not free_reserve(path.parent):
            raise WriteError(path, exc) from None
        try:
            replace_with(path, data)
        except OSError as again:
            raise WriteError(path, again) from None


def replace_with(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync, rename over `path` (OSError as raised)."""
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


def make_reserve(folder: Path) -> None:
    """RESERVE_BYTES of zeros (really allocated, not sparse); best effort: without room for it, no reserve."""
    try:
        (folder / RESERVE).write_bytes(bytes(RESERVE_BYTES))
    except OSError:
        free_reserve(folder)


def free_reserve(folder: Path) -> bool:
    """Delete the folder's RESERVE file; True when it was there and is gone, False otherwise (no error)."""
    try:
        (folder / RESERVE).unlink()
        return True
    except OSError:
        return False
