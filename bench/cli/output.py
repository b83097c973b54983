"""What the CLI writes: exit codes, the stdout/stderr consoles (secrets masked), JSON and error lines."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.markup import escape

from bench.redact import MaskingStream, mask

EXIT_OK, EXIT_FAILURE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
_WIDTH = None if sys.stdout.isatty() else 160  # rich assumes 80 columns when piped, which wraps tables
# Both consoles mask secrets (bench.redact) on their way out; the streams are looked up at each write.
out = Console(width=_WIDTH, file=MaskingStream(lambda: sys.stdout))  # type: ignore[arg-type]
err = Console(soft_wrap=True, file=MaskingStream(lambda: sys.stderr))  # type: ignore[arg-type]  # one problem a line


def print_error(message: str) -> None:
    """One error line on stderr: the text as it is (never read as rich markup), secrets masked."""
    err.print(f"[red]error[/red]: {escape(message)}", markup=True, highlight=False)


def describe_os_error(exc: OSError) -> str:
    """'PATH: cause' for an OSError (its file name, then the system's words for the errno)."""
    where = exc.filename if exc.filename is not None else "file"
    return f"{where}: {exc.strerror or exc}"


def print_json(data: object) -> None:
    """Write `data` to stdout as indented JSON (str() for other types), secrets masked."""
    sys.stdout.write(mask(json.dumps(data, indent=2, default=str)) + "\n")
