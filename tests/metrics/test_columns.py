"""Tests for bench.metrics.columns: DuckDB's columnar reading keeps exactly the records RunStore.records() keeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from columnar_fixtures import fixture_rows, old, triage_row, write_records

from bench.errors import RunError
from bench.metrics.columns import from_records, load_columns, read_columns
from bench.results.store import RECORDS, RunStore

COLUMNS = ("cell_id", "model_id", "task_id", "item_id", "segment", "status", "repetition", "parse_error",
           "prompt_tokens", "cached_prompt_tokens", "completion_tokens", "t_start", "t_first_token", "t_end",
           "t_arrival", "option_tokens")


def assert_same(got: object, want: object) -> None:
    for name in COLUMNS:
        a, b = getattr(got, name), getattr(want, name)
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a.tolist() == b.tolist(), name
    assert list(got.scores) == list(want.scores)  # type: ignore[attr-defined]
    for name, values in want.scores.items():  # type: ignore[attr-defined]
        np.testing.assert_array_equal(got.scores[name], values, err_msg=name)  # type: ignore[attr-defined]
    assert got.decoded("prediction") == want.decoded("prediction")  # type: ignore[attr-defined]
    assert got.decoded("reference") == want.decoded("reference")  # type: ignore[attr-defined]


def test_columns_equal_the_record_reader_on_the_fixture_run(tmp_path: Path) -> None:
    file = write_records(tmp_path / RECORDS, fixture_rows())
    got = read_columns(file)
    assert got is not None  # DuckDB took the file as it is
    assert_same(got, from_records(RunStore(tmp_path).records()))


def test_a_retried_item_keeps_only_its_latest_record(tmp_path: Path) -> None:
    first = {**triage_row("A", 1), "status": "error", "error": "HTTP 503", "t_first_token": None}
    rows = [first, triage_row("A", 2), triage_row("A", 1), {**triage_row("A", 1), "repetition": 1}]
    got = read_columns(write_records(tmp_path / RECORDS, rows))
    assert got is not None
    assert got.item_id.tolist() == ["t002", "t001", "t001"]  # file order of the latest lines
    assert got.repetition.tolist() == [0, 0, 1]
    assert got.status.tolist() == ["ok", "ok", "ok"]  # the error of the first attempt is superseded


def test_old_records_get_the_defaults_of_the_newer_fields(tmp_path: Path) -> None:
    got = read_columns(write_records(tmp_path / RECORDS, [old(triage_row("A", i)) for i in range(3)]))
    assert got is not None
    assert got.repetition.tolist() == [0, 0, 0] and got.cached_prompt_tokens.tolist() == [0, 0, 0]
    assert np.isnan(got.t_arrival).all() and np.isnan(got.option_tokens).all()
    assert not got.parse_error.any()


def test_a_corrupt_line_is_named_by_the_record_reader(tmp_path: Path) -> None:
    rows = [json.dumps(triage_row("A", i)) for i in range(3)]
    (tmp_path / RECORDS).write_text(rows[0] + "\n{not json\n" + rows[2] + "\n", encoding="utf-8")
    assert read_columns(tmp_path / RECORDS) is None
    with pytest.raises(RunError, match="line 2 is not valid JSON"):
        load_columns(RunStore(tmp_path))


def test_a_wrong_type_is_named_by_the_record_reader(tmp_path: Path) -> None:
    write_records(tmp_path / RECORDS, [triage_row("A", 0), {**triage_row("A", 1), "prompt_tokens": "many"}])
    with pytest.raises(RunError, match=r"records.jsonl: line 2: prompt_tokens: .*does not match the schema"):
        load_columns(RunStore(tmp_path))


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    write_records(tmp_path / RECORDS, [triage_row("A", 0), {**triage_row("A", 1), "schema_version": 9}])
    with pytest.raises(RunError, match="line 2: schema_version 9 is not supported"):
        load_columns(RunStore(tmp_path))


def test_a_torn_last_line_is_skipped_like_the_record_reader(tmp_path: Path, capsys: pytest.CaptureFixture[str]) \
        -> None:
    rows = [json.dumps(triage_row("A", i)) for i in range(3)]
    (tmp_path / RECORDS).write_text("\n".join(rows) + "\n" + rows[0][:40], encoding="utf-8")
    got = load_columns(RunStore(tmp_path))
    assert got.item_id.tolist() == ["t000", "t001", "t002"]
    assert "ignoring incomplete last line 4" in capsys.readouterr().err


def test_a_run_without_records_has_no_rows(tmp_path: Path) -> None:
    assert len(load_columns(RunStore(tmp_path))) == 0


def test_records_of_columns_round_trip_the_fields_the_summary_reads(tmp_path: Path) -> None:
    write_records(tmp_path / RECORDS, fixture_rows(6))
    records = RunStore(tmp_path).records()
    rebuilt = list(load_columns(RunStore(tmp_path)).records())
    assert [(r.key, r.status, r.t_first_token, r.scores, r.decode_steps) for r in rebuilt] == \
        [(r.key, r.status, r.t_first_token, r.scores, r.decode_steps) for r in records]


BAD_VALUES = [("schema_version", "1"), ("schema_version", True), ("schema_version", 1.0), ("repetition", "0"),
              ("prompt_tokens", 1.4), ("prompt_tokens", 12.0), ("completion_tokens", "3"),
              ("cached_prompt_tokens", False),
              ("scores", {"accuracy": 5.0}), ("scores", {"accuracy": -0.5}), ("scores", {"field.x": 1.5})]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES)
def test_both_readers_refuse_the_same_bad_line_naming_it(field: str, value: object, tmp_path: Path) -> None:
    """The outside test's finding: the columnar reader cast what the record reader refuses (a string or
    fractional whole number, a proportion score out of range). Both now refuse it, naming file, line and field."""
    write_records(tmp_path / RECORDS, [triage_row("A", 0), {**triage_row("A", 1), field: value}, triage_row("A", 2)])
    assert read_columns(tmp_path / RECORDS) is None  # DuckDB hands the file to the record reader
    with pytest.raises(RunError, match=rf"records.jsonl: line 2: (scores\.)?{field}") as typed:
        RunStore(tmp_path).records()
    with pytest.raises(RunError) as columnar:
        load_columns(RunStore(tmp_path))
    assert str(columnar.value) == str(typed.value) and "\n" not in str(typed.value)


def test_scores_that_are_not_proportions_may_exceed_one(tmp_path: Path) -> None:
    """Only bench's proportion scores are bounded: an lm-eval or plugin score (perplexity, BLEU) is not."""
    rows = [{**triage_row("A", i), "scores": {"accuracy": 1.0, "word_perplexity,none": 37.5}} for i in range(3)]
    got = read_columns(write_records(tmp_path / RECORDS, rows))
    assert got is not None and got.scores["word_perplexity,none"].tolist() == [37.5] * 3
    assert len(RunStore(tmp_path).records()) == 3
def test_take_of_every_row_is_the_columns_themselves_and_cells_split_once() -> None:
    from bench.metrics.records import ItemRecord

    def record(cell: str, item: str) -> ItemRecord:
        return ItemRecord(cell_id=cell, model_id="m", task_id="t", task_version="1", item_id=item, segment="s",
                          prompt_sha256="x", prediction="a", reference="a", scores={"accuracy": 1.0},
                          t_start=0.0, t_end=1.0)

    cols = from_records([record("c1", "i1"), record("c2", "i1"), record("c1", "i2")])
    assert cols.take(np.ones(3, dtype=bool)) is cols
    assert cols.take(np.array([True, False, True])).item_id.tolist() == ["i1", "i2"]
    cells = cols.by_cell()
    assert {k: v.item_id.tolist() for k, v in cells.items()} == {"c1": ["i1", "i2"], "c2": ["i1"]}
    assert cols.by_cell()["c1"] is cells["c1"]  # split once, shared
    assert from_records([record("c1", "i1")]).by_cell()["c1"].item_id.tolist() == ["i1"]
