"""Loading a suite: read the file (bounded), parse YAML strictly, validate the schema and the semantic checks,
and report every problem at once as a SpecError naming file, field path and hint."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Protocol

from pydantic import (
    ValidationError,
)

from bench.errors import Problem, SpecError
from bench.suite.problems import pydantic_problems
from bench.suite.spec import LoadedSuite, SuiteSpec
from bench.suite.yaml_io import YamlLoadError, load_yaml_strict


class SuiteChecks(Protocol):
    """Semantic checks beyond the schema: on the raw mapping (when the schema fails) and on the spec."""

    def raw(self, raw: dict[str, Any], file: Path) -> list[Problem]:
        """Problems found in the raw mapping of a suite whose schema failed (`file` names them)."""

    def full(self, suite: LoadedSuite) -> list[Problem]:
        """Problems of a schema-valid suite (empty list: it may run)."""


class NoChecks:
    """No semantic checks: for a worker that rebuilds a suite its parent validated already."""

    def raw(self, raw: dict[str, Any], file: Path) -> list[Problem]:
        """No problems ([])."""
        return []

    def full(self, suite: LoadedSuite) -> list[Problem]:
        """No problems ([])."""
        return []


MAX_SUITE_BYTES = 4 << 20
"""Suites are small; a larger file is refused before it is parsed."""


def load_suite(path: str | Path) -> LoadedSuite:
    """Parse and fully validate a suite; raise SpecError listing every problem found."""
    from bench.suite.checks import SemanticChecks

    file = Path(path)
    return parse_suite(read_text_file(file, "suite"), file, SemanticChecks())


def read_text_file(file: Path, what: str, max_bytes: int = MAX_SUITE_BYTES) -> str:
    """A small UTF-8 text file; SpecError names the file and the cause (missing, a folder, too large, not UTF-8)."""
    try:
        data = _read_bounded(file, max_bytes + 1)
    except TimeoutError:
        raise SpecError([Problem(str(file), "", f"cannot read {what}: nothing arrived in {PIPE_WAIT_S:g} s "
                                 "(a pipe with no writer?)")]) from None
    except OSError as exc:
        raise SpecError([Problem(str(file), "", f"cannot read {what}: {exc.strerror or exc}")]) from None
    if len(data) > max_bytes:
        raise SpecError([Problem(str(file), "", f"{what} is larger than {max_bytes >> 20} MiB")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SpecError([Problem(str(file), f"line {line}", f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                                 "save the file as UTF-8")]) from None


PIPE_WAIT_S = 3.0
"""How long a pipe (`bench validate <(generate-suite)`, a FIFO) may stay silent before reading gives up."""


def _read_bounded(file: Path, limit: int) -> bytes:
    """Up to `limit` bytes; a pipe or device is opened without blocking and read with a timeout (TimeoutError),
    so a FIFO with no writer cannot hang bench."""
    import os
    import select
    import stat

    fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.set_blocking(fd, True)
            with os.fdopen(os.dup(fd), "rb") as handle:
                return handle.read(limit)
        chunks: list[bytes] = []
        while sum(map(len, chunks)) < limit:
            if not select.select([fd], [], [], PIPE_WAIT_S)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)[:limit]
    finally:
        os.close(fd)


def parse_suite(text: str, file: Path, checks: SuiteChecks) -> LoadedSuite:
    """Validate suite text: schema errors and semantic problems are reported together."""
    from bench.redact import register_config

    try:
        raw = load_yaml_strict(text)
    except YamlLoadError as exc:
        raise SpecError([Problem(str(file), f"line {exc.line}", exc.message)]) from None
    register_config(raw.get("models") if isinstance(raw, dict) else None)  # credentials live in backend blocks;
    # from here on they are masked in everything bench writes or prints
    if not isinstance(raw, dict):
        raise SpecError([Problem(str(file), "", "a suite must be a mapping with name, models and tasks")])
    try:
        spec = SuiteSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecError(pydantic_problems(exc, str(file), raw) + checks.raw(raw, file)) from None
    loaded = LoadedSuite(spec=spec, path=file.resolve(), sha256=sha256_text(text), text=text)
    problems = checks.full(loaded)
    if problems:
        raise SpecError(problems)
    return loaded


def sha256_text(text: str) -> str:
    """Hex sha256 of `text` encoded as UTF-8 (64 characters)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


