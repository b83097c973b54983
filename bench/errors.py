"""Error hierarchy: every user-facing failure is a BenchError with a clear message."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path

RUN_DIR_NOTE = "run directory: "
"""Prefix of the note an interrupted run adds to its KeyboardInterrupt, so the CLI can name the folder."""


class BenchError(Exception):
    """Base class; the CLI maps it to an exit code and prints its message, never a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One problem in an input file: where it is, what is wrong, how to fix it."""

    file: str
    location: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}: " if self.location else f"{self.file}: "
        hint = f" ({self.hint})" if self.hint else ""
        return one_line(f"{where}{self.message}{hint}")


def one_line(text: str) -> str:
    """`text` with line breaks written as escapes (\\n, \\r, U+2028...), so a problem stays one line even when a
    key or value it quotes holds one."""
    return text.translate(_LINE_BREAKS)


_LINE_BREAKS = {ord(c): repr(c)[1:-1] if c.isascii() else f"\\u{ord(c):04x}"
                for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class SpecError(BenchError):
    """A suite (or other input file) is invalid; carries every problem found, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class BackendError(BenchError):
    """A backend could not be created or failed as a whole (missing engine, unreadable model)."""


class RunError(BenchError):
    """A run directory is missing, corrupt, or cannot be resumed."""


class BackendUnavailable(BenchError):
    """The backend stopped answering mid-run: its model's remaining cells are skipped (the run ends incomplete
    and can be resumed); the other models still run."""

    exit_code = 1


def file_problem(path: Path, what: str) -> str | None:
    """None when `path` is a regular file; else why not, in words: "{what} not found: PATH", "... is a directory",
    or the system's cause (a name too long, a NUL byte, no permission)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return f"{what} not found: {path}"
    except (OSError, ValueError) as exc:
        return f"{what} {path} cannot be used: {getattr(exc, 'strerror', None) or exc}"
    if stat.S_ISDIR(mode):
        return f"{what} {path} is a directory; give the file inside it"
    return None if stat.S_ISREG(mode) else f"{what} {path} is not a regular file"
