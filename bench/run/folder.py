"""Run folders: created at once with their manifest (staged, then renamed), and locked for one writer."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import RunError
from bench.results.atomic import make_reserve, write_json_atomic, write_text_atomic

MANIFEST = "manifest.json"
LOCK = ".lock"
LOCK_OWNER = ".lock-owner"


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
        make_reserve(staging)
        return _publish(staging, out_root, suite_name, manifest)
    except BaseException:
        _remove_tree(staging)
        raise


def _staging_dir(out_root: Path, suite_name: str) -> Path:
    staging = out_root / f".{suite_name}.{os.getpid()}.partial"
    try:
        if out_root.exists() and not out_root.is_dir():  # exists() raises EACCES in a folder without x permission
            raise RunError(f"--out {out_root}: is not a folder")
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
