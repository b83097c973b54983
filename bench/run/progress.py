"""A progress bar per cell on stderr (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from bench.metrics.records import ItemRecord
from bench.suite.plan import Cell


class RichProgress:
    """Progress on a rich console: one bar per cell (items done of total, errors, elapsed time), a line per
    skipped cell; `errors` counts the current cell's records whose status is not ok."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self.errors = 0

    def start_cell(self, cell: Cell, total: int, done: int) -> None:
        """Start a bar for `cell` at `done` of `total` items (pending + already settled, all repetitions)."""
        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn("errors {task.fields[errors]}"), TimeElapsedColumn(),
                             console=self.console, transient=False)
        self._bar.start()
        self.errors = 0
        self._task = self._bar.add_task(cell.label, total=total, completed=done, errors=0)

    def advance(self, record: ItemRecord) -> None:
        """Advance the bar by one item, counting it as an error unless its status is ok."""
        if self._bar is not None and self._task is not None:
            self.errors += record.status != "ok"
            self._bar.update(self._task, advance=1, errors=self.errors)

    def end_cell(self) -> None:
        """Stop the current bar (kept on screen); nothing when none is running."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def skip_cell(self, cell: Cell, reason: str) -> None:
        """End the bar and print "skipped <cell>: <reason>"."""
        self.end_cell()
        self.console.print(f"[yellow]skipped[/yellow] {escape(cell.label)}: {escape(reason)}", highlight=False)


class SilentProgress:
    """For library use and tests: counts, prints nothing."""

    def __init__(self) -> None:
        self.advanced = 0
        self.skipped: list[tuple[str, str]] = []

    def start_cell(self, cell: Cell, total: int, done: int) -> None:
        """Nothing."""
        return None

    def advance(self, record: ItemRecord) -> None:
        """Count the item in `advanced`."""
        self.advanced += 1

    def end_cell(self) -> None:
        """Nothing."""
        return None

    def skip_cell(self, cell: Cell, reason: str) -> None:
        """Record (cell id, reason) in `skipped`."""
        self.skipped.append((cell.id, reason))
