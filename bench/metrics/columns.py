"""records.jsonl read column by column with DuckDB: the summary path at any size, without one object per record.

`read_columns(path)` gives each item's latest record (the same ones as `RunStore.records()`: a retried item's
later line supersedes the earlier one), in file order of those, as numpy arrays. Optional fields that older runs
lack take ItemRecord's defaults. Anything the fast reader cannot take as it is (a corrupt line, a field of the
wrong type, a missing required field, another schema version, a torn last line of a killed run) falls back to
the record-by-record reader, which names the line and the field (or skips the torn line with a warning), so the
outcome is exactly that of `validate_records`: the whole numbers (RECORD_INTS) are read as raw JSON and a line where
one is not a JSON integer ("1", 1.0, true) falls back too, and so does a proportion score outside [0, 1]. One
difference: the fast reader does not see an unknown top-level field, which ItemRecord (extra="forbid") rejects
(finding one needs a second parse of every line, about as costly as the whole read: not done).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.metrics.records import FAILURE_KINDS, INPUT_TRUNCATED, OVER_CONTEXT, RECORD_SCHEMA_VERSION, ItemRecord
from bench.results.schema import RECORD_INTS, is_proportion
from bench.results.store import RECORDS, RunStore, validate_records

TEXT_COLUMNS = ("cell_id", "model_id", "task_id", "item_id", "segment", "status")
REQUIRED = ("cell_id", "model_id", "task_id", "task_version", "item_id", "segment", "prompt_sha256", "t_start",
            "t_end")
SQL_TYPES = {"schema_version": "BIGINT", "cell_id": "VARCHAR", "model_id": "VARCHAR", "task_id": "VARCHAR",
             "task_version": "VARCHAR", "item_id": "VARCHAR", "repetition": "BIGINT", "segment": "VARCHAR",
             "prompt_sha256": "VARCHAR", "prediction": "JSON", "reference": "JSON", "scores": "JSON",
             "status": "VARCHAR", "parse_error": "VARCHAR", "prompt_tokens": "BIGINT",
             "cached_prompt_tokens": "BIGINT", "completion_tokens": "BIGINT", "t_start": "DOUBLE",
             "t_first_token": "DOUBLE", "t_end": "DOUBLE", "t_arrival": "DOUBLE", "engine_extra": "JSON",
             "raw_output": "VARCHAR", "tags": "JSON"}
MEMORY_LIMIT = "600MB"
"""DuckDB's own buffer limit while it streams the file (its share of the 1.5 GB budget at a million records)."""


@dataclass(frozen=True)
class RecordColumns:
    """Records as aligned numpy arrays (one row per record). Optional timings are NaN where the record has
    None; `scores[name]` is NaN where a record has no such score; prediction / reference hold JSON text."""

    cell_id: np.ndarray
    model_id: np.ndarray
    task_id: np.ndarray
    item_id: np.ndarray
    segment: np.ndarray
    status: np.ndarray
    repetition: np.ndarray
    parse_error: np.ndarray
    prompt_tokens: np.ndarray
    cached_prompt_tokens: np.ndarray
    completion_tokens: np.ndarray
    t_start: np.ndarray
    t_first_token: np.ndarray
    t_end: np.ndarray
    t_arrival: np.ndarray
    option_tokens: np.ndarray
    """engine_extra.option_tokens_evaluated (choices scored by log-likelihood); NaN where absent."""
    empty_answer: np.ndarray
    cut_at_max_tokens: np.ndarray
    over_context: np.ndarray
    input_truncated: np.ndarray
    """The failure kinds of bench.metrics.records (is_empty_answer, ...), one bool per row."""
    prediction: np.ndarray
    reference: np.ndarray
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    """Score name -> values, names in order of first appearance (in file order, then within a record)."""
    tags: np.ndarray | None = None
    """Each record's item tags as JSON text (None where a record has none); None for columns built without them."""

    def __len__(self) -> int:
        return int(self.t_end.size)

    def take(self, index: np.ndarray) -> RecordColumns:
        """The rows at `index` (integer positions or a boolean mask), in that order; these columns themselves
        (no copy) for a mask that keeps every row."""
        if index.dtype == bool and index.size == len(self) and bool(index.all()):
            return self
        arrays = {f.name: getattr(self, f.name)[index] for f in fields(self)
                  if f.name != "scores" and getattr(self, f.name) is not None}
        return replace(self, **arrays, scores={k: v[index] for k, v in self.scores.items()})

    def sorted(self) -> RecordColumns:
        """Ordered by (cell id, item id, repetition): aggregate.record_key's order."""
        return self.take(np.lexsort((self.repetition, self.item_id.astype(str), self.cell_id.astype(str))))

    @cached_property
    def ok(self) -> np.ndarray:
        return np.asarray(self.status == "ok")

    def by_cell(self) -> dict[str, RecordColumns]:
        """cell_id -> that cell's rows (file order kept within a cell); split once, shared by later calls."""
        return dict(self._cells)

    @cached_property
    def _cells(self) -> dict[str, RecordColumns]:
        codes, names = _codes(self.cell_id)
        if len(names) == 1:
            return {str(names[0]): self}
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        return {str(name): self.take(order[bounds[i]:bounds[i + 1]]) for i, name in enumerate(names)}

    def score(self, name: str, default: float = np.nan) -> np.ndarray:
        values = self.scores.get(name)
        if values is None:
            return np.full(len(self), default)
        return np.where(np.isnan(values), default, values)

    def decoded(self, column: str, transform: Callable[[Any], Any] | None = None) -> list[Any]:
        """Python values of a JSON column (prediction or reference); each distinct text is parsed (and
        transformed) once, and rows with the same text share the value."""
        codes, texts = self.codes_of(column)
        values = self.parse(texts)
        if transform is not None:
            values = [transform(v) for v in values]
        return [values[c] for c in codes.tolist()]

    def decoded_at(self, column: str, i: int) -> Any:
        return self.parse([getattr(self, column)[i]])[0]

    def codes_of(self, column: str) -> tuple[np.ndarray, list[Any]]:
        """Dense codes of a JSON column and its distinct texts."""
        return _codes(getattr(self, column))

    @staticmethod
    def parse(texts: list[Any]) -> list[Any]:
        return [json.loads(text) if isinstance(text, str) else None for text in texts]

    def records(self) -> Iterator[ItemRecord]:
        """ItemRecords of these rows (for callers that need objects, on small selections)."""
        for i in range(len(self)):
            yield self.record(i)

    def record(self, i: int) -> ItemRecord:
        return ItemRecord.model_construct(**self._row(i))

    def _row(self, i: int) -> dict[str, Any]:
        def opt(a: np.ndarray) -> float | None:
            return None if np.isnan(a[i]) else float(a[i])

        extra: dict[str, Any] = {} if np.isnan(self.option_tokens[i]) else {
            "option_tokens_evaluated": int(self.option_tokens[i])}
        extra |= {"finish_reason": "length"} if self.cut_at_max_tokens[i] else {}
        extra |= {OVER_CONTEXT: True} if self.over_context[i] else {}
        extra |= {INPUT_TRUNCATED: 1} if self.input_truncated[i] else {}
        return {"cell_id": self.cell_id[i], "model_id": self.model_id[i], "task_id": self.task_id[i],
                "item_id": self.item_id[i], "segment": self.segment[i], "status": self.status[i],
                "repetition": int(self.repetition[i]), "parse_error": "" if self.parse_error[i] else None,
                "prompt_tokens": int(self.prompt_tokens[i]), "completion_tokens": int(self.completion_tokens[i]),
                "cached_prompt_tokens": int(self.cached_prompt_tokens[i]), "t_start": float(self.t_start[i]),
                "t_first_token": opt(self.t_first_token), "t_end": float(self.t_end[i]),
                "t_arrival": opt(self.t_arrival), "engine_extra": extra,
                "scores": {k: float(v[i]) for k, v in self.scores.items() if not np.isnan(v[i])}}


def _codes(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Dense integer codes of an object array and its distinct values in order of first appearance."""
    import pandas as pd

    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return np.asarray(codes, dtype=np.int64), list(uniques)


def latest_positions(cell_id: np.ndarray, item_id: np.ndarray, repetition: np.ndarray) -> np.ndarray:
    """Positions of each (cell, item, repetition) key's last line, ascending: RunStore.records()'s selection."""
    import pandas as pd

    frame = pd.DataFrame({"c": cell_id, "i": item_id, "r": repetition})
    keep = ~frame.duplicated(keep="last").to_numpy()
    return np.flatnonzero(keep)


class FallBack(Exception):
    """The fast reader cannot take this file as it is; the record-by-record reader decides (and names why)."""


def read_columns(file: Path) -> RecordColumns | None:
    """The latest record of each key as columns; None when the file needs the record-by-record reader."""
    if not file.exists():
        return _from_records([])
    try:
        return _read_duckdb(file)
    except FallBack:
        return None


def load_columns(store: RunStore) -> RecordColumns:
    """The run's latest records as columns: DuckDB's reader, or (for a file it cannot take as it is) the
    record-by-record reader with its errors (RunError naming the line or field)."""
    columns = read_columns(store.path / RECORDS)
    return columns if columns is not None else from_records(validate_records(store))


def as_columns(records: RecordColumns | Sequence[ItemRecord]) -> RecordColumns:
    """Columns as they are, or of a list of ItemRecords."""
    return records if isinstance(records, RecordColumns) else from_records(list(records))


def from_records(records: list[ItemRecord]) -> RecordColumns:
    """Columns of already-validated records (small runs, tests, and the fallback path)."""
    return _from_records(records)


def _from_records(records: list[ItemRecord]) -> RecordColumns:
    def col(name: str, dtype: Any = object) -> np.ndarray:
        return np.array([getattr(r, name) for r in records], dtype=dtype)

    def opt(name: str) -> np.ndarray:
        return np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in records], dtype=float)

    names: dict[str, None] = {}
    for r in records:
        names.update(dict.fromkeys(r.scores))
    return RecordColumns(
        **{name: col(name) for name in TEXT_COLUMNS}, repetition=col("repetition", np.int64),
        parse_error=np.array([r.parse_error is not None for r in records], dtype=bool),
        prompt_tokens=col("prompt_tokens", np.int64), cached_prompt_tokens=col("cached_prompt_tokens", np.int64),
        completion_tokens=col("completion_tokens", np.int64), t_start=col("t_start", float),
        t_first_token=opt("t_first_token"), t_end=col("t_end", float), t_arrival=opt("t_arrival"),
        option_tokens=np.array([float(r.engine_extra.get("option_tokens_evaluated", np.nan)) for r in records]),
        **{name.removesuffix("_rate"): np.array([bool(kind(r)) for r in records], dtype=bool)
           for name, kind in FAILURE_KINDS.items()},
        prediction=np.array([json.dumps(r.prediction) for r in records], dtype=object),
        reference=np.array([json.dumps(r.reference) for r in records], dtype=object),
        scores={k: np.array([r.scores.get(k, np.nan) for r in records], dtype=float) for k in names},
        tags=np.array([json.dumps(r.tags) for r in records], dtype=object))


# --- DuckDB -----------------------------------------------------------------------------------------------------

FETCHED = ("cell_id", "model_id", "task_id", "item_id", "segment", "status", "repetition", "prompt_tokens",
           "cached_prompt_tokens", "completion_tokens", "t_start", "t_first_token", "t_end", "t_arrival",
           "prediction", "reference", "tags")
DEFAULTS = {"repetition": 0, "prompt_tokens": 0, "cached_prompt_tokens": 0, "completion_tokens": 0,
            "status": "'ok'"}
BATCH_ROWS = 200_000
FAILURE_SQL = (
    "coalesce(coalesce(status, 'ok') = 'ok' AND regexp_full_match(coalesce(raw_output, ''), '[ \\t\\n\\r\\f\\v]*')"
    " AND (prediction IS NULL OR CAST(prediction AS VARCHAR) IN ('null', '\"\"')), false) AS empty_answer",
    "coalesce(status, 'ok') = 'ok' AND "
    "coalesce(json_extract_string(engine_extra, '$.finish_reason') = 'length', false) AS cut_at_max_tokens",
    f"coalesce(json_type(engine_extra, '$.{OVER_CONTEXT}') = 'BOOLEAN' AND "
    f"json_extract_string(engine_extra, '$.{OVER_CONTEXT}') = 'true', false) AS over_context",
    f"coalesce(CAST(json_extract(engine_extra, '$.{INPUT_TRUNCATED}') AS DOUBLE), 0) > 0 AS input_truncated")
"""records.FAILURE_KINDS in SQL, row for row the same verdicts (tests/metrics/test_columns.py)."""


def _query(file: Path) -> str:
    """One pass over the file, lines in file order (DuckDB keeps insertion order for a plain scan): the fields
    the summary needs, scores as a map, and whether the record needs the record reader's schema check."""
    columns = {**SQL_TYPES, "scores": "MAP(VARCHAR, DOUBLE)", **dict.fromkeys(RECORD_INTS, "JSON")}
    select = [_fetched(c) for c in FETCHED]
    missing = " OR ".join(f"{name} IS NULL" for name in REQUIRED)
    not_ints = " OR ".join(f"coalesce(json_type({name}) NOT IN ('UBIGINT', 'BIGINT'), false)" for name in RECORD_INTS)
    select += ["parse_error IS NOT NULL AS parse_error", "scores",
               "CAST(json_extract(engine_extra, '$.option_tokens_evaluated') AS DOUBLE) AS option_tokens",
               *FAILURE_SQL,
               f"(CAST(schema_version AS VARCHAR) IS DISTINCT FROM '{RECORD_SCHEMA_VERSION}' OR {not_ints} OR "
               f"coalesce(status, 'ok') NOT IN ('ok', 'error', 'timeout') OR {missing}) AS needs_check"]
    path = str(file).replace("'", "''")
    return (f"SELECT {', '.join(select)} FROM read_json('{path}', format='newline_delimited', "
            f"columns={columns!r})")


def _fetched(column: str) -> str:
    """The select expression of a fetched column: whole numbers (read as raw JSON) cast back, defaults filled."""
    value = f"CAST({column} AS BIGINT)" if column in RECORD_INTS else column
    return f"coalesce({value}, {DEFAULTS[column]}) AS {column}" if column in DEFAULTS else value


def _read_duckdb(file: Path) -> RecordColumns:
    """Batches of the query as numpy arrays, concatenated; then each key's latest line. Any line that does not
    parse or convert (DuckDB raises), or needs the schema check, makes it FallBack."""
    import duckdb

    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "threads": 2})
    try:
        con.execute("SET enable_progress_bar = false")  # else a scan over 2 s draws a bar on stderr
        batches = [_batch(b) for b in con.sql(_query(file)).to_arrow_reader(BATCH_ROWS)]
    except duckdb.Error as exc:
        raise FallBack(str(exc)) from None
    finally:
        con.close()
    if not batches:
        return _from_records([])
    return _latest(_concat(batches))


def _batch(batch: Any) -> dict[str, Any]:
    if batch.column("needs_check").to_numpy(zero_copy_only=False).any():
        raise FallBack("a record needs the schema check")
    arrays: dict[str, Any] = {name: _numpy(batch.column(name)) for name in batch.schema.names
                              if name not in ("scores", "needs_check")}
    arrays["scores"] = _score_arrays(batch.column("scores"))
    for name, values in arrays["scores"].items():
        if is_proportion(name) and ((values < 0.0) | (values > 1.0)).any():
            raise FallBack(f"a {name} score outside [0, 1]")
    return arrays


def _score_arrays(column: Any) -> dict[str, np.ndarray]:
    """name -> values (NaN where a row has no such score) of a map column, names in order of first appearance."""
    import pyarrow.compute as pc

    rows = len(column)
    offsets = column.offsets.to_numpy()
    start, stop = int(offsets[0]), int(offsets[-1])
    if stop == start:
        return {}
    row_of = np.repeat(np.arange(rows), np.diff(offsets))
    keys = pc.dictionary_encode(column.keys.slice(start, stop - start))
    codes = keys.indices.to_numpy()
    values = np.asarray(column.items.slice(start, stop - start).to_numpy(zero_copy_only=False), dtype=float)
    out = {}
    for code, name in enumerate(keys.dictionary.to_pylist()):
        at = codes == code
        filled = np.full(rows, np.nan)
        filled[row_of[at]] = values[at]
        out[str(name)] = filled
    return out


def _concat(batches: list[dict[str, Any]]) -> RecordColumns:
    """One array per column, each batch's part released as soon as its column is joined (peak memory: the
    columns once plus one column, not twice)."""
    names: dict[str, None] = {}
    for batch in batches:
        names.update(dict.fromkeys(batch["scores"]))
    sizes = [len(b["t_end"]) for b in batches]
    scores = {name: _join([b["scores"] for b in batches], name, sizes) for name in names}
    arrays = {key: _join(batches, key, sizes) for key in list(batches[0]) if key != "scores"}
    return RecordColumns(**arrays, scores=scores)


def _join(parts: list[dict[str, Any]], key: str, sizes: list[int]) -> np.ndarray:
    """The parts' `key` arrays concatenated (NaN rows for a part without it), popped from the parts."""
    return np.concatenate([part.pop(key, None) if key in part else np.full(n, np.nan)
                           for part, n in zip(parts, sizes, strict=True)])


def _latest(cols: RecordColumns) -> RecordColumns:
    keep = latest_positions(cols.cell_id, cols.item_id, cols.repetition)
    return cols if keep.size == len(cols) else cols.take(keep)


def _numpy(column: Any) -> np.ndarray:
    """A numpy array of an Arrow column: numbers as they are (NULL -> NaN), text as an object array whose
    equal values share one Python string."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        encoded = pc.dictionary_encode(column)
        values = np.array([*encoded.dictionary.to_pylist(), None], dtype=object)
        return np.asarray(values[encoded.indices.fill_null(len(values) - 1).to_numpy()])
    if pa.types.is_floating(column.type):
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=float)
    return np.asarray(column.to_numpy(zero_copy_only=False))


EMPTY = from_records([])
"""A cell without records."""
