"""The file and generator dataset kinds (jsonl, csv, generator) with configurable column names, and load_items
for any kind."""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from bench.errors import Problem, SpecError
from bench.suite.spec import CsvDataset, DatasetSpec, FieldMap, GeneratorDataset, JsonlDataset, TaskSpec
from bench.tasks.dataset_kinds import DatasetKind, Where, dataset_params, kind_of
from bench.tasks.generators import GENERATORS
from bench.tasks.items import Item


def resolve_path(path: str, base_dir: Path) -> Path:
    """A dataset path is relative to the suite file, or absolute."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else (base_dir / candidate)


@dataclass
class ReadOnce:
    """What one run has read: each dataset's items (by spec and folder) and each data file's sha256, taken from
    the same bytes the items were parsed from."""

    items: dict[str, list[Item]] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    held: dict[str, bytes] = field(default_factory=dict)
    """Bytes read for their hash before their items were needed (handed to the parser, then dropped)."""


_READS: ContextVar[ReadOnce | None] = ContextVar("bench_dataset_reads", default=None)


@contextmanager
def read_once(seed: ReadOnce | None = None) -> Iterator[ReadOnce]:
    """Within this block every dataset is read once: load_items hands out the items it read first (validation,
    the plan, the manifest's hashes and the cells share them). `seed`: what an earlier read (the parent of a
    worker process) already has. Inside an active block, the same ReadOnce is used."""
    reads = seed or _READS.get() or ReadOnce()
    token = _READS.set(reads)
    try:
        yield reads
    finally:
        _READS.reset(token)


P = ParamSpec("P")
R = TypeVar("R")


def reads_once(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator: `function` runs inside read_once() (a run, a plan, a validation: each dataset read once)."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with read_once():
            return function(*args, **kwargs)

    return wrapper


def load_items(spec: DatasetSpec, base_dir: Path) -> list[Item]:
    """Every item of the dataset, in file order, read by its kind (bench.tasks.dataset_kinds); SpecError names the
    file and line of a bad row. Inside read_once() a dataset is read the first time only."""
    return kind_items(kind_of(spec), dataset_params(spec), base_dir)


def kind_items(kind: DatasetKind, params: Any, base_dir: Path) -> list[Item]:
    """`kind.items(params, base_dir)`, read once inside read_once() (keyed by kind, params and folder)."""
    reads = _READS.get()
    if reads is None:
        return kind.items(params, base_dir)
    dumped = params.model_dump_json() if hasattr(params, "model_dump_json") else repr(params)
    key = f"{base_dir}|{type(kind).__qualname__}|{dumped}"
    if key not in reads.items:
        reads.items[key] = kind.items(params, base_dir)
    return list(reads.items[key])


def file_sha256(file: Path) -> str:
    """sha256 (hex) of a data file: of the bytes its items were (or will be) parsed from inside read_once();
    OSError when it cannot be read."""
    reads = _READS.get()
    if reads is None:
        return hashlib.sha256(_read_file(file)).hexdigest()
    if str(file) not in reads.sha256:
        reads.held[str(file)] = _file_bytes(file)
    return reads.sha256[str(file)]


def _read_file(file: Path) -> bytes:
    """The one place a data file is read."""
    return file.read_bytes()


def _file_bytes(file: Path) -> bytes:
    """A data file's bytes (held ones first); inside read_once() its sha256 is kept."""
    reads = _READS.get()
    if reads is not None and str(file) in reads.held:
        return reads.held.pop(str(file))
    data = _read_file(file)
    if reads is not None:
        reads.sha256[str(file)] = hashlib.sha256(data).hexdigest()
    return data


class JsonlKind(DatasetKind):
    """One JSON object per line."""

    Params = JsonlDataset

    def items(self, params: JsonlDataset, base_dir: Path) -> list[Item]:
        file = resolve_path(params.path, base_dir)
        return _file_items(_read_jsonl(file), params.fields, file)

    def data_files(self, params: JsonlDataset) -> dict[str, str]:
        return {"path": params.path}


class CsvKind(DatasetKind):
    """Rows of a delimited text file under a header."""

    Params = CsvDataset

    def items(self, params: CsvDataset, base_dir: Path) -> list[Item]:
        file = resolve_path(params.path, base_dir)
        return _file_items(_read_csv(file, params), params.fields, file)

    def data_files(self, params: CsvDataset) -> dict[str, str]:
        return {"path": params.path}


class GeneratorKind(DatasetKind):
    """Items made by a registered generator (bench.tasks.generators) from a seed: no data file."""

    Params = GeneratorDataset

    def items(self, params: GeneratorDataset, base_dir: Path) -> list[Item]:
        return GENERATORS.get(params.name)(params.n, params.seed)

    def check(self, task: TaskSpec, params: GeneratorDataset, where: Where) -> list[Problem]:
        if params.name in GENERATORS:
            return []
        return [Problem(where.file, f"{where.location}.name", f"unknown generator '{params.name}'",
                        GENERATORS.hint(params.name))]


def _file_items(rows: list[tuple[int, dict[str, Any]]], fields: FieldMap, file: Path) -> list[Item]:
    items = [_to_item(row, line, fields, file) for line, row in rows]
    if not items:
        raise SpecError([Problem(str(file), "", "the dataset has no items", "add rows (one JSON object per line, or "
                                                                            "CSV rows under a header)")])
    _check_unique_ids(items, [line for line, _ in rows], file)
    return items


def _read_jsonl(file: Path) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a JSONL file, split on "\\n" only: U+2028 and other characters str.splitlines() breaks on are
    legal inside a JSON string (the JSON Lines format separates records with "\\n" alone)."""
    lines = enumerate(_open_text(file).split("\n"), start=1)
    return [(line_no, _json_row(line, f"line {line_no}", file)) for line_no, line in lines if line.strip()]


def _json_row(line: str, where: str, file: Path) -> dict[str, Any]:
    try:
        row = json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise SpecError([Problem(str(file), where, f"invalid JSON: {exc.msg}", _kind_hint(file))]) from None
    except DuplicateKey as exc:
        raise SpecError([Problem(str(file), where, f"duplicate key '{exc}' in one object",
                                 "JSON readers keep only one of the values: remove the other")]) from None
    if not isinstance(row, dict):
        raise SpecError([Problem(str(file), where, "each line must be a JSON object")])
    return row


def _no_constant(name: str) -> Any:
    """NaN, Infinity and -Infinity are not JSON (Python's json accepts them): refuse, as other readers do."""
    raise json.JSONDecodeError(f"{name} is not a JSON value (write null or a string)", name, 0)


def _finite(text: str) -> float:
    """A JSON number as a float; one beyond the float range (1e400) would silently become inf: refuse it."""
    value = float(text)
    if not math.isfinite(value):
        raise json.JSONDecodeError(f"the number {text[:24]} is too large for a float (write it as a string)", text, 0)
    return value


class DuplicateKey(ValueError):
    """A JSON object with the same key twice (json.loads would silently keep the last value)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in pairs:
        if key in row:
            raise DuplicateKey(key)
        row[key] = value
    return row


def _kind_hint(file: Path) -> str:
    if file.suffix.lower() in {".csv", ".tsv", ".txt"}:
        return "this looks like a delimited text file: set dataset kind: csv (and delimiter if not a comma)"
    return ""


_EXTRA = "\0extra"
"""DictReader's key for the fields beyond the header's (no real column has this name)."""


def _read_csv(file: Path, spec: CsvDataset) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV file by header name; a row with fewer or more fields than the header, a quote left open
    at the end of the file and text after a closing quote are refused."""
    text = _open_text(file)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))  # no field is longer than its file
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=spec.delimiter, restkey=_EXTRA,
                            strict=True)  # an unclosed quote would swallow the rest of the file into one field
    rows: list[tuple[int, dict[str, Any]]] = []
    last = 0  # the line where the last row read ends: a bad row starts after it (an open quote runs to the end)
    try:
        _check_header(list(reader.fieldnames or []), file)
        last = reader.line_num
        for row in reader:  # line_num is where the row ends, so quoted fields spanning lines count right
            _check_width(row, len(reader.fieldnames or []), f"line {reader.line_num}", file)
            rows.append((reader.line_num, dict(row)))
            last = reader.line_num
    except csv.Error as exc:
        raise SpecError([Problem(str(file), f"line {last + 1}", f"unreadable CSV: {exc}", _CSV_HINT)]) from None
    return rows


_CSV_HINT = ('a field that holds a quote, the delimiter or a line break is quoted, with its quotes doubled '
             '("say ""hi""")')


def _check_header(names: list[str], file: Path) -> None:
    """Every column name once (DictReader would keep only the last column of a repeated name)."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise SpecError([Problem(str(file), "line 1", f"column name(s) repeated in the header: {', '.join(repeated)}",
                                 "give every column its own name")])


def _check_width(row: dict[str, Any], width: int, where: str, file: Path) -> None:
    """The row has exactly as many fields as the header (DictReader pads short rows with None)."""
    got = width + len(row.get(_EXTRA, [])) - sum(value is None for value in row.values())
    if got != width:
        raise SpecError([Problem(str(file), where, f"row has {got} fields, the header has {width}",
                                 "fix the row (quote fields that contain the delimiter), or set dataset.delimiter")])


def _open_text(file: Path) -> str:
    """The file as text, newlines translated as open() does (CRLF and CR become LF)."""
    try:
        text = _file_bytes(file).decode("utf-8-sig")  # a byte-order mark is not part of the first column name
        return text.replace("\r\n", "\n").replace("\r", "\n")
    except FileNotFoundError:
        raise SpecError([Problem(str(file), "", "dataset file not found",
                                 "paths are relative to the suite file")]) from None
    except UnicodeDecodeError as exc:
        raise SpecError([Problem(str(file), "", f"not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x})",
                                 "save the file as UTF-8 (in Excel: CSV UTF-8)")]) from None
    except OSError as exc:
        raise SpecError([Problem(str(file), "", f"cannot read dataset: {exc}")]) from None


def _to_item(row: dict[str, Any], line: int, fields: FieldMap, file: Path) -> Item:
    _check_columns(row, fields, f"line {line}", file)
    expected = (row[fields.expected] if isinstance(fields.expected, str)
                else {key: row[col] for key, col in fields.expected.items()})
    item_id = str(row[fields.id]) if fields.id and row.get(fields.id) not in (None, "") else f"row-{line}"
    tags = {name: str(row.get(name, "")) for name in fields.tags}
    text = _text(row[fields.input], fields.input, line, file)
    if isinstance(expected, str) and not expected.strip():  # an empty CSV cell is CSV's null
        raise SpecError([Problem(str(file), f"line {line}", f"column '{fields.expected}' is empty: the item has no "
                                 "expected answer", "fill in its expected answer, or leave the item out")])
    return Item(id=item_id, input=text, expected=expected, tags=tags, fields=dict(row))


def _text(value: Any, column: str, line: int, file: Path) -> str:
    """The input as text: strings as they are, numbers and JSON objects/lists as JSON (never a Python repr);
    an empty input is refused (an Excel-style empty row `,,` would otherwise be scored)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if not text.strip():
        raise SpecError([Problem(str(file), f"line {line}", f"column '{column}' is empty",
                                 "remove the empty row, or fill in its input")])
    return text


def _check_columns(row: dict[str, Any], fields: FieldMap, where: str, file: Path) -> None:
    """The input and expected columns are present; the input and a single expected column are not null (a null
    would be read as the text "None", or as a reference no answer can match)."""
    missing = [name for name in [fields.input, *_expected_columns(fields)] if name not in row]
    if missing:
        raise SpecError([Problem(str(file), where, f"missing column(s) {', '.join(missing)}",
                                 f"columns present: {', '.join(row)}; {_columns_hint(row)}")])
    single = [fields.expected] if isinstance(fields.expected, str) else []
    nulls = [name for name in [fields.input, *single] if row[name] is None]
    if nulls:
        raise SpecError([Problem(str(file), where, f"null value in column(s) {', '.join(nulls)}",
                                 "give every item its input and expected answer, or leave the item out")])


def _columns_hint(row: dict[str, Any]) -> str:
    """A single CSV column whose name holds ; or a tab is a file read with the wrong delimiter."""
    names = [name for name in row if isinstance(name, str)]
    for mark, shown in ((";", ";"), ("\t", "\\t"), ("|", "|")):
        if len(names) == 1 and mark in names[0]:
            return f'set dataset.delimiter: "{shown}"'
    return "set dataset.fields"


def _expected_columns(fields: FieldMap) -> list[str]:
    return [fields.expected] if isinstance(fields.expected, str) else list(fields.expected.values())


def _check_unique_ids(items: list[Item], lines: list[int], file: Path) -> None:
    """Every item id once (records are keyed by it); the second use is named by its line and the first's."""
    seen: dict[str, int] = {}
    for item, line in zip(items, lines, strict=True):
        if item.id in seen:
            raise SpecError([Problem(str(file), f"line {line}",
                                     f"duplicate item id '{item.id}' (first on line {seen[item.id]})",
                                     "ids must be unique; fix the id column or set fields.id")])
        seen[item.id] = line


def item_columns(items: list[Item]) -> set[str]:
    """Template variables every item can provide."""
    if not items:
        return {"input"}
    return {"input"} | set.intersection(*(set(item.fields) for item in items))
