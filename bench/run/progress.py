"""A progress bar per cell on stderr (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bench.metrics.records import ItemRecord
from bench.suite.plan import Cell


class RichProgress:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self.errors = 0

    def start_cell(self, cell: Cell, total: int, done: int) -> None:
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("errors {task.fields[errors]}"), TimeElapsedColumn(),
                             console=self.console, transient=False)
        self._bar.start()
        self.errors = 0
        self._task = self._bar.add_task(cell.label, total=total, completed=done, errors=0)

    def advance(self, record: ItemRecord) -> None:
        if self._bar is not None and self._task is not None:
            self.errors += record.status != "ok"
            self._bar.update(self._task, advance=1, errors=self.errors)

    def end_cell(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def skip_cell(self, cell: Cell, reason: str) -> None:
        self.end_cell()
        self.console.print(f"[yellow]skipped[/yellow] {escape(cell.label)}: {escape(reason)}", highlight=False)


class SilentProgress:
    """For library use and tests: counts, prints nothing."""

    def __init__(self) -> None:
        self.advanced = 0
        self.skipped: list[tuple[str, str]] = []

    def start_cell(self, cell: Cell, total: int, done: int) -> None:
        return None

    def advance(self, record: ItemRecord) -> None:
        self.advanced += 1

    def end_cell(self) -> None:
        return None

    def skip_cell(self, cell: Cell, reason: str) -> None:
        self.skipped.append((cell.id, reason))
