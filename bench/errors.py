"""Error hierarchy: every user-facing failure is a BenchError with a clear message."""

from __future__ import annotations

from dataclasses import dataclass


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
        return f"{where}{self.message}{hint}"


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
