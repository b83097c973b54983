"""Tests for bench.tasks.datasets: JSONL, CSV and generator datasets with field maps."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.errors import SpecError
from bench.suite.spec import CsvDataset, GeneratorDataset, JsonlDataset, TaskSpec
from bench.tasks.datasets import ReadOnce, file_sha256, item_columns, load_items, read_once, resolve_path
from bench.tasks.items import Item


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def jsonl(path: str, **fields: Any) -> JsonlDataset:
    return JsonlDataset.model_validate({"path": path, "fields": fields})


def csv_spec(path: str, delimiter: str = ",", **fields: Any) -> CsvDataset:
    return CsvDataset.model_validate({"kind": "csv", "path": path, "delimiter": delimiter, "fields": fields})


# ------------------------------------------------------------------------------------------- paths


def test_resolve_path_relative_and_absolute(tmp_path: Path) -> None:
    assert resolve_path("data/x.jsonl", tmp_path) == tmp_path / "data" / "x.jsonl"
    assert resolve_path(str(tmp_path / "abs.jsonl"), Path("/elsewhere")) == tmp_path / "abs.jsonl"


def test_relative_dataset_path_is_read_from_base_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_jsonl(tmp_path / "data" / "d.jsonl", [{"id": "1", "input": "hello", "expected": "x"}])
    [item] = load_items(jsonl("data/d.jsonl"), tmp_path)
    assert (item.id, item.input, item.expected) == ("1", "hello", "x")


# ------------------------------------------------------------------------------------------- JSONL


def test_jsonl_with_field_map_and_tags(labels_jsonl: Path) -> None:
    items = load_items(jsonl(labels_jsonl.name, input="text", expected="label", tags=["label"]), labels_jsonl.parent)
    assert len(items) == 6
    first = items[0]
    assert first == Item(id="a1", input="the invoice total is wrong", expected="billing",
                         tags={"label": "billing"},
                         fields={"id": "a1", "text": "the invoice total is wrong", "label": "billing"})
    assert [i.id for i in items] == ["a1", "a2", "a3", "a4", "a5", "a6"]


def test_jsonl_dict_expected_keeps_value_types(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "e.jsonl", [{"id": "e1", "body": "server down", "dept": "it", "urgent": True,
                                        "subject": "Outage"}])
    [item] = load_items(jsonl("e.jsonl", input="body", expected={"department": "dept", "urgent": "urgent"}),
                        tmp_path)
    assert item.expected == {"department": "it", "urgent": True}
    assert item.input == "server down"
    assert item.fields["subject"] == "Outage"
    assert item.fields["body"] == "server down"  # the input column is usable as {body} too


def test_jsonl_tags_are_strings_and_missing_tags_are_empty(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "t.jsonl", [{"input": "a", "expected": "x", "priority": 3}, {"input": "b", "expected": "y"}])
    items = load_items(jsonl("t.jsonl", tags=["priority"]), tmp_path)
    assert [i.tags for i in items] == [{"priority": "3"}, {"priority": ""}]


def test_ids_fall_back_to_row_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    path.write_text('{"input": "a", "expected": "x"}\n\n{"input": "b", "expected": "y", "id": ""}\n'
                    '{"input": "c", "expected": "z", "id": 7}\n')
    assert [i.id for i in load_items(jsonl("n.jsonl"), tmp_path)] == ["row-1", "row-3", "7"]


def test_no_id_column_uses_line_numbers(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "n.jsonl", [{"input": "a", "expected": "x", "id": "same"},
                                       {"input": "b", "expected": "y", "id": "same"}])
    assert [i.id for i in load_items(jsonl("n.jsonl", id=None), tmp_path)] == ["row-1", "row-2"]


def test_duplicate_ids_are_an_error(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "x1", "input": "a", "expected": "p"},
                                              {"id": "x1", "input": "b", "expected": "q"}])
    with pytest.raises(SpecError) as info:
        load_items(jsonl("d.jsonl"), tmp_path)
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert "duplicate item id 'x1'" in problem.message


def test_bad_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"input": "a", "expected": "x"}\n{"input": \n')
    with pytest.raises(SpecError) as info:
        load_items(jsonl("bad.jsonl"), tmp_path)
    [problem] = info.value.problems
    assert (problem.file, problem.location) == (str(path), "line 2")
    assert "invalid JSON" in problem.message


def test_missing_column_names_line_and_present_columns(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "m.jsonl", [{"text": "a", "label": "x"}])
    with pytest.raises(SpecError) as info:
        load_items(jsonl("m.jsonl"), tmp_path)
    [problem] = info.value.problems
    assert problem.location == "line 1"
    assert "missing column(s) input, expected" in problem.message
    assert "text, label" in problem.hint


def test_missing_column_of_a_dict_expected(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "m.jsonl", [{"input": "a", "dept": "it"}])
    with pytest.raises(SpecError, match="missing column"):
        load_items(jsonl("m.jsonl", expected={"department": "dept", "urgent": "urgent"}), tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="dataset file not found"):
        load_items(jsonl("absent.jsonl"), tmp_path)


# --------------------------------------------------------------------------------------------- CSV


def test_csv_with_field_map_tags_and_line_numbers(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("ticket,category,priority\nit broke,technical,high\nrefund?,billing,low\n")
    items = load_items(csv_spec("d.csv", input="ticket", expected="category", id=None, tags=["priority"]), tmp_path)
    assert [(i.id, i.input, i.expected, i.tags) for i in items] == [
        ("row-2", "it broke", "technical", {"priority": "high"}),
        ("row-3", "refund?", "billing", {"priority": "low"}),
    ]


def test_csv_custom_delimiter_and_dict_expected(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id;body;dept;urgent\ne1;help;hr;true\n")
    [item] = load_items(csv_spec("d.csv", ";", input="body", expected={"department": "dept", "urgent": "urgent"}),
                        tmp_path)
    assert item.id == "e1"
    assert item.expected == {"department": "hr", "urgent": "true"}


def test_csv_missing_column_names_the_row_line(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("input,label\na,x\n")
    with pytest.raises(SpecError) as info:
        load_items(csv_spec("d.csv"), tmp_path)
    assert info.value.problems[0].location == "line 2"


def test_csv_quoted_field_keeps_its_line_break(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text('id,input,expected\n1,"line one\nline two",billing\n2,plain,technical\n')
    items = load_items(csv_spec("d.csv"), tmp_path)
    assert [i.id for i in items] == ["1", "2"]
    assert items[0].input == "line one\nline two"


# --------------------------------------------------- data read as written, or refused (issue #10 class 7, #16 class 6)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_utf8_byte_order_mark_keeps_the_id_column(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bom.{suffix}"
    text = ("id,input,expected\nt1,where is my parcel,shipping\nt2,charged twice,billing\n" if suffix == "csv" else
            '{"id": "t1", "input": "where is my parcel", "expected": "shipping"}\n'
            '{"id": "t2", "input": "charged twice", "expected": "billing"}\n')
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    spec = csv_spec(path.name) if suffix == "csv" else jsonl(path.name)
    items = load_items(spec, tmp_path)
    assert [(i.id, i.input, i.expected) for i in items] == [("t1", "where is my parcel", "shipping"),
                                                             ("t2", "charged twice", "billing")]
    assert "id" in items[0].fields and "\ufeffid" not in items[0].fields


@pytest.mark.parametrize(("row", "got"), [("t2,charged twice", 2), ("t2,charged twice,billing,extra", 4),
                                          ("t2,charged, twice,billing", 4)])
def test_a_csv_row_with_too_few_or_too_many_fields_names_file_and_line(tmp_path: Path, row: str, got: int) -> None:
    path = tmp_path / "d.csv"
    path.write_text(f"id,input,expected\nt1,where is my parcel,shipping\n{row}\nt3,ok,billing\n")
    with pytest.raises(SpecError) as info:
        load_items(csv_spec("d.csv"), tmp_path)
    [problem] = info.value.problems
    assert (problem.file, problem.location) == (str(path), "line 3")
    assert problem.message == f"row has {got} fields, the header has 3"


@pytest.mark.parametrize(("row", "got"), [("t1,where is my parcel", 2), ("t1,where is my parcel,shipping,x", 4)])
def test_a_csv_row_with_too_few_or_too_many_fields_exits_2_from_validate_and_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, got: int) -> None:
    import yaml

    from bench.cli.main import main

    (tmp_path / "d.csv").write_text(f"id,text,label\n{row}\n")
    suite = {"name": "s", "models": [{"id": "m", "backend": {"kind": "fake"}}],
             "tasks": [{"id": "t", "dataset": {"kind": "csv", "path": "d.csv",
                                               "fields": {"input": "text", "expected": "label"}},
                        "answer": {"mode": "choices", "choices": ["shipping"]}, "scorers": ["accuracy"]}]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite))
    for command in (["validate"], ["run", "--out", str(tmp_path / "out")]):
        assert main([*command, str(tmp_path / "suite.yaml")]) == 2
        err = capsys.readouterr().err
        assert f"{tmp_path / 'd.csv'}: line 2: row has {got} fields, the header has 3" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing run, nothing half-kept


@pytest.mark.parametrize("row", [{"id": "1", "input": None, "expected": "x"},
                                 {"id": "1", "input": "a", "expected": None}])
def test_a_null_input_or_expected_is_refused_not_read_as_none(tmp_path: Path, row: dict[str, Any]) -> None:
    path = write_jsonl(tmp_path / "n.jsonl", [{"id": "0", "input": "ok", "expected": "y"}, row])
    with pytest.raises(SpecError) as info:
        load_items(jsonl("n.jsonl"), tmp_path)
    [problem] = info.value.problems
    assert (problem.file, problem.location) == (str(path), "line 2")
    assert problem.message.startswith("null value in column(s)")


@pytest.mark.parametrize(("suffix", "text"), [("csv", "id,input,expected\nt1,where is my parcel,\nt2,b,x\n"),
                                              ("csv", 'id,input,expected\nt1,where is my parcel,"  "\nt2,b,x\n'),
                                              ("jsonl", '{"id": "t1", "input": "parcel", "expected": ""}\n')])
def test_an_empty_expected_answer_is_refused_not_scored(tmp_path: Path, suffix: str, text: str) -> None:
    """An empty CSV cell is CSV's null: scored, it would make an empty answer right."""
    path = tmp_path / f"e.{suffix}"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_items(csv_spec(path.name) if suffix == "csv" else jsonl(path.name), tmp_path)
    [problem] = info.value.problems
    assert (problem.file, problem.location) == (str(path), f"line {2 if suffix == 'csv' else 1}")
    assert problem.message == "column 'expected' is empty: the item has no expected answer"


def test_a_null_field_of_a_dict_expected_is_kept(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "n.jsonl", [{"input": "receipt", "total": "12.50", "due": None}])
    [item] = load_items(jsonl("n.jsonl", expected={"total": "total", "due": "due"}), tmp_path)
    assert item.expected == {"total": "12.50", "due": None}


def test_a_repeated_csv_column_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,input,expected,input\nt1,a,x,b\n")
    with pytest.raises(SpecError) as info:
        load_items(csv_spec("d.csv"), tmp_path)
    [problem] = info.value.problems
    assert (problem.location, problem.message) == ("line 1", "column name(s) repeated in the header: input")


def test_a_repeated_json_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"input": "a", "expected": "x"}\n{"input": "a", "expected": "x", '
                                      '"expected": "y"}\n')
    with pytest.raises(SpecError) as info:
        load_items(jsonl("d.jsonl"), tmp_path)
    [problem] = info.value.problems
    assert (problem.location, problem.message) == ("line 2", "duplicate key 'expected' in one object")


@pytest.mark.parametrize(("header", "hint"), [("id;input;expected", 'set dataset.delimiter: ";"'),
                                              ("id\tinput\texpected", 'set dataset.delimiter: "\\t"')])
def test_a_file_read_with_the_wrong_delimiter_says_which(tmp_path: Path, header: str, hint: str) -> None:
    sep = ";" if ";" in header else "\t"
    (tmp_path / "d.csv").write_text(f"{header}\nt1{sep}a{sep}x\n")
    with pytest.raises(SpecError) as info:
        load_items(csv_spec("d.csv"), tmp_path)
    assert info.value.problems[0].hint.endswith(hint)


def test_a_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_bytes("id,input,expected\nt1,Gr\u00fc\u00dfe,x\n".encode("cp1252"))
    with pytest.raises(SpecError) as info:
        load_items(csv_spec("d.csv"), tmp_path)
    [problem] = info.value.problems
    assert problem.message == "not UTF-8 text (byte 23 is 0xfc)"
    assert "UTF-8" in problem.hint


@pytest.mark.parametrize(("text", "line", "message"), [
    ('id,input,expected\nt1,where is my parcel,"shipping\nt2,charged twice,billing\nt3,ok,billing\n', 2,
     "unexpected end of data"),  # used to load t1 with the next two rows as its expected answer
    ('id,input,expected\nt1,ok,billing\nt2,"charged" twice,billing\n', 3, "',' expected after '\"'"),
    ('id,"input,expected\nt1,ok,billing\n', 1, "unexpected end of data"),
])
def test_a_quote_left_open_or_text_after_a_closing_quote_is_refused_naming_the_line(
        tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "q.csv"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_items(csv_spec("q.csv"), tmp_path)
    [problem] = info.value.problems
    assert (problem.file, problem.location, problem.message) == (str(path), f"line {line}",
                                                                 f"unreadable CSV: {message}")
    assert "quoted" in problem.hint


def test_quotes_inside_an_unquoted_field_and_doubled_quotes_are_read_as_written(tmp_path: Path) -> None:
    (tmp_path / "q.csv").write_text('id,input,expected\nt1,say "hi" now,billing\nt2,"a ""b"", c",x\n')
    assert [i.input for i in load_items(csv_spec("q.csv"), tmp_path)] == ['say "hi" now', 'a "b", c']


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_a_duplicate_id_names_its_line_and_the_first(tmp_path: Path, suffix: str) -> None:
    text = ("id,input,expected\nt1,a,x\nt2,b,y\nt1,c,z\n" if suffix == "csv" else
            '{"id": "t1", "input": "a", "expected": "x"}\n{"id": "t2", "input": "b", "expected": "y"}\n'
            '{"id": "t1", "input": "c", "expected": "z"}\n')
    path = tmp_path / f"d.{suffix}"
    path.write_text(text)
    with pytest.raises(SpecError) as info:
        load_items(csv_spec(path.name) if suffix == "csv" else jsonl(path.name), tmp_path)
    [problem] = info.value.problems
    second, first = (4, 2) if suffix == "csv" else (3, 1)
    assert (problem.file, problem.location, problem.message) == (
        str(path), f"line {second}", f"duplicate item id 't1' (first on line {first})")


def test_a_csv_field_over_131072_characters_loads(tmp_path: Path) -> None:
    body = "x" * 200_000
    (tmp_path / "long.csv").write_text(f'id,input,expected\nt1,"{body}",billing\n')
    [item] = load_items(csv_spec("long.csv"), tmp_path)
    assert len(item.input) == 200_000


def test_a_csv_error_is_a_spec_error_naming_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Were the field size limit not raised, the csv module's own error becomes a clear problem."""
    import csv

    real_limit = csv.field_size_limit
    old = real_limit(131_072)  # the default; an earlier read may have raised this process-wide limit
    monkeypatch.setattr(csv, "field_size_limit", lambda *limit: 131_072)  # the loader cannot raise it
    path = tmp_path / "long.csv"
    path.write_text(f'id,input,expected\nt1,short,x\nt2,"{"x" * 200_000}",billing\n')
    try:
        with pytest.raises(SpecError) as info:
            load_items(csv_spec("long.csv"), tmp_path)
    finally:
        real_limit(old)
    [problem] = info.value.problems
    assert (problem.file, problem.location) == (str(path), "line 3")
    assert problem.message.startswith("unreadable CSV: field larger than field limit")


def test_a_jsonl_line_with_a_raw_u2028_loads(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl"
    path.write_text('{"id": "1", "input": "first\u2028second", "expected": "a"}\n'
                    '{"id": "2", "input": "next\u0085line\u2029x", "expected": "b"}\n', encoding="utf-8")
    items = load_items(jsonl("u.jsonl"), tmp_path)
    assert [i.input for i in items] == ["first\u2028second", "next\u0085line\u2029x"]
    assert "\u2028" in path.read_text(encoding="utf-8")  # raw, not escaped: the line really contains it


def test_jsonl_line_numbers_count_newlines_only(tmp_path: Path) -> None:
    (tmp_path / "n.jsonl").write_text('{"input": "a\u2028b", "expected": "x"}\n{"input": "c", "expected": "y"}\n',
                                      encoding="utf-8")
    assert [i.id for i in load_items(jsonl("n.jsonl"), tmp_path)] == ["row-1", "row-2"]


def test_a_csv_path_without_kind_is_read_as_csv(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("id,input,expected\nt1,hello,x\n")
    spec = TaskSpec.model_validate({"id": "t", "dataset": {"path": "d.csv"}, "answer": {"mode": "text"},
                                    "scorers": ["exact_match"]}).dataset
    assert isinstance(spec, CsvDataset)
    assert [(i.id, i.input) for i in load_items(spec, tmp_path)] == [("t1", "hello")]


def test_a_delimited_file_read_as_jsonl_says_use_kind_csv(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("id\tinput\texpected\nt1\thello\tx\n")
    with pytest.raises(SpecError) as info:
        load_items(jsonl("d.tsv"), tmp_path)
    assert "kind: csv" in info.value.problems[0].hint


def test_a_semicolon_csv_with_the_delimiter_option(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text('id;input;expected\nt1;"Preis: 1,50 €; bezahlt";billing\n', encoding="utf-8")
    spec = TaskSpec.model_validate({"id": "t", "dataset": {"path": "d.csv", "delimiter": ";"},
                                    "answer": {"mode": "text"}, "scorers": ["exact_match"]}).dataset
    [item] = load_items(spec, tmp_path)
    assert (item.id, item.input, item.expected) == ("t1", "Preis: 1,50 €; bezahlt", "billing")


# --------------------------------------------------------------------------------------- generator


def test_generator_dataset_is_seeded() -> None:
    spec = GeneratorDataset(kind="generator", name="invoices", n=4, seed=3)
    first = load_items(spec, Path("/nonexistent"))
    second = load_items(spec, Path("/nonexistent"))
    assert len(first) == 4
    assert first == second
    assert len({i.id for i in first}) == 4
    assert all(isinstance(i.expected, dict) and {"vendor", "total", "currency"} <= set(i.expected) for i in first)
    other = load_items(GeneratorDataset(kind="generator", name="invoices", n=4, seed=4), Path("."))
    assert [i.input for i in other] != [i.input for i in first]


# ---------------------------------------------------------------------------------------- columns


def test_item_columns_are_those_every_item_has() -> None:
    items = [Item("1", "a", "x", fields={"subject": "s", "id": "1"}), Item("2", "b", "y", fields={"id": "2"})]
    assert item_columns(items) == {"input", "id"}
    assert item_columns([]) == {"input"}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_refused_with_the_line(tmp_path: Path, constant: str) -> None:
    path = tmp_path / "d.jsonl"
    bad = '{"id": "b", "text": ' + constant + ', "label": "x"}'
    path.write_text('{"id": "a", "text": "ok", "label": "x"}\n' + bad + "\n")
    with pytest.raises(SpecError) as caught:
        load_items(jsonl(str(path), input="text", expected="label"), tmp_path)
    assert "line 2" in str(caught.value) and f"{constant} is not a JSON value" in str(caught.value)


def test_a_json_object_input_is_sent_as_json_not_a_python_repr(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": {"k": 1, "name": "Zoë"}, "label": "x"}])
    (item,) = load_items(jsonl(str(path), input="text", expected="label"), tmp_path)
    assert item.input == '{"k": 1, "name": "Zoë"}'


def test_an_empty_csv_row_is_refused_not_scored(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("id,text,label\n1,hello,x\n,,\n")
    with pytest.raises(SpecError) as caught:
        load_items(csv_spec(str(path), input="text", expected="label"), tmp_path)
    assert "line 3" in str(caught.value) and "column 'text' is empty" in str(caught.value)


@pytest.mark.parametrize("content", ["", "\n\n", "id,text,label\n"])
def test_a_dataset_without_items_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / ("d.csv" if "," in content else "d.jsonl")
    path.write_text(content)
    spec = csv_spec(str(path)) if "," in content else jsonl(str(path))
    with pytest.raises(SpecError, match="the dataset has no items"):
        load_items(spec, tmp_path)


# ------------------------------------------------------------------------------------------- read once


def test_inside_read_once_a_file_is_read_once_for_its_items_and_its_hash(labels_jsonl: Path,
                                                                         dataset_reads: Counter[str]) -> None:
    spec = jsonl(labels_jsonl.name, input="text", expected="label")
    with read_once():
        first = load_items(spec, labels_jsonl.parent)
        first.clear()  # a caller's list is its own
        again = load_items(spec, labels_jsonl.parent)
        digest = file_sha256(labels_jsonl)
    assert len(again) == 6 and dataset_reads == {"items.jsonl": 1}
    assert digest == hashlib.sha256(labels_jsonl.read_bytes()).hexdigest()


def test_a_hash_taken_first_hands_its_bytes_to_the_items(labels_jsonl: Path, dataset_reads: Counter[str]) -> None:
    with read_once():
        digest = file_sha256(labels_jsonl)
        items = load_items(jsonl(str(labels_jsonl), input="text", expected="label"), labels_jsonl.parent)
    assert dataset_reads == {"items.jsonl": 1} and len(items) == 6
    assert digest == hashlib.sha256(labels_jsonl.read_bytes()).hexdigest()


def test_outside_read_once_every_call_reads(labels_jsonl: Path, dataset_reads: Counter[str]) -> None:
    spec = jsonl(str(labels_jsonl), input="text", expected="label")
    load_items(spec, labels_jsonl.parent)
    load_items(spec, labels_jsonl.parent)
    assert dataset_reads == {"items.jsonl": 2}


def test_items_read_in_one_process_seed_another_read(labels_jsonl: Path, dataset_reads: Counter[str]) -> None:
    spec = jsonl(str(labels_jsonl), input="text", expected="label")
    with read_once() as parent:
        load_items(spec, labels_jsonl.parent)
    with read_once(ReadOnce(items=dict(parent.items))):  # what a worker process gets in its WorkOrder
        assert len(load_items(spec, labels_jsonl.parent)) == 6
    assert dataset_reads == {"items.jsonl": 1}


def test_crlf_files_read_as_before(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\r\n\"two\r\nlines\",a\r\nb,c\r\n")
    items = load_items(csv_spec(str(path), input="text", expected="label"), tmp_path)
    assert [(i.input, i.expected) for i in items] == [("two\nlines", "a"), ("b", "c")]
