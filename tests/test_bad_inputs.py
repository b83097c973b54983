"""Issue 11, class 1: every bad suite or data file ends in exit 2 and clear lines naming the file, never a
traceback or a hang. Each example of the issue is one case; `bench validate` and `bench run --dry-run` run
in process through the CLI's main function."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from suite_factory import fake_suite

from bench.cli.main import main

Capsys = pytest.CaptureFixture[str]
HANG_S = 10.0
"""A case that takes longer than this is a hang (the speed itself is measured in benchmarks/bad_inputs.py)."""


def check(argv: list[str], capsys: Capsys, *expected: str) -> list[str]:
    """Run the CLI; assert exit 2, no traceback, each expected text in the error lines; return those lines."""
    start = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - start
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert code == 2, captured.err
    assert elapsed < HANG_S
    assert "Traceback" not in captured.err + captured.out
    assert lines and all(line.startswith("error: ") for line in lines), lines
    for text in expected:
        assert any(text in line for line in lines), (text, lines)
    return lines


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


def alias_bomb(inside: str = "") -> str:
    """The classic 'billion laughs': 9 levels of 9 aliases each (9^9 strings), under 1 KB of YAML."""
    lines = [f'{inside}a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{inside}{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture
def valid(labels_jsonl: Path) -> dict[str, Any]:
    return fake_suite(labels_jsonl)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str | bytes], Path]:
    def write_file(content: str | bytes) -> Path:
        path = tmp_path / "suite.yaml"
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return path

    return write_file


def dump(suite: dict[str, Any]) -> str:
    return yaml.safe_dump(suite, sort_keys=False)


def test_yaml_nested_600_levels(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write(f"name: x\ndescription: {deep(600)}\n"))], capsys,
          "suite.yaml: line 2: nested more than 64 levels deep")


def test_jsonl_line_nested_600_levels(valid: dict[str, Any], labels_jsonl: Path, write: Callable[[str], Path],
                                      capsys: Capsys) -> None:
    with labels_jsonl.open("a") as handle:
        handle.write('{"id": "deep", "text": "t", "label": "billing", "extra": ' + deep(600) + "}\n")
    check(["validate", str(write(dump(valid)))], capsys, "items.jsonl: item deep: a value is nested more than 64")


def test_jsonl_line_nested_beyond_the_json_parser(valid: dict[str, Any], labels_jsonl: Path,
                                                  write: Callable[[str], Path], capsys: Capsys) -> None:
    with labels_jsonl.open("a") as handle:
        handle.write('{"id": "deep", "text": ' + deep(100_000) + ', "label": "billing"}\n')
    check(["validate", str(write(dump(valid)))], capsys, "items.jsonl: cannot read dataset")


def test_suite_not_utf8(write: Callable[[bytes], Path], capsys: Capsys) -> None:
    check(["validate", str(write(b"name: caf\xe9\nmodels: []\n"))], capsys,
          "suite.yaml: line 1: not UTF-8 text (byte 0xe9)")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\ufffe"])
def test_nul_or_control_character_in_yaml(char: str, write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write(f"name: x\ndescription: a{char}b\n"))], capsys, "line 2: character", "not allowed")


def test_escaped_nul_in_a_value(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write('name: x\ndescription: "a\\0b"\n'))], capsys, "line 2: a NUL character")


def test_list_as_mapping_key(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write("name: x\n? [a, b]\n: 1\n"))], capsys,
          "line 2: a mapping key must be a plain value")


@pytest.mark.parametrize("tag", ["!!set", "!!map", "!!seq"])
def test_a_key_tagged_as_a_collection(tag: str, write: Callable[[str], Path], capsys: Capsys) -> None:
    """Found by the fuzz test: `!!set name: x` used to end in a TypeError traceback."""
    check(["validate", str(write(f"{tag} name: x\n"))], capsys, "line 1: a mapping key must be a plain value")


def test_5000_digit_integer(valid: dict[str, Any], write: Callable[[str], Path], capsys: Capsys) -> None:
    text = dump(valid).replace("warmup: 0", "warmup: " + "9" * 5000)
    check(["validate", str(write(text))], capsys, "an integer of 5000 digits is too long")


def test_5000_digit_integer_in_a_data_file(valid: dict[str, Any], labels_jsonl: Path, write: Callable[[str], Path],
                                           capsys: Capsys) -> None:
    with labels_jsonl.open("a") as handle:
        handle.write('{"id": "big", "text": "t", "label": "billing", "n": ' + "7" * 5000 + "}\n")
    check(["validate", str(write(dump(valid)))], capsys, "items.jsonl: cannot read dataset")


def test_rich_markup_in_a_path_is_printed_as_written(valid: dict[str, Any], write: Callable[[str], Path],
                                                     capsys: Capsys) -> None:
    valid["tasks"][0]["dataset"]["path"] = "missing[/]x[red].jsonl"
    check(["validate", str(write(dump(valid)))], capsys, "missing[/]x[red].jsonl")


def test_scorers_as_a_string_beside_another_schema_error(valid: dict[str, Any], write: Callable[[str], Path],
                                                         capsys: Capsys) -> None:
    valid["tasks"][0]["scorers"] = "accuracy"
    valid["warmup"] = -1
    check(["validate", str(write(dump(valid)))], capsys, "tasks[0].scorers", "warmup")


@pytest.mark.parametrize("scorers", ["accuracy", 7, {"name": "accuracy"}, [None], [["accuracy"]]])
def test_scorers_of_any_wrong_shape(scorers: Any, valid: dict[str, Any], write: Callable[[str], Path],
                                    capsys: Capsys) -> None:
    valid["tasks"][0]["scorers"] = scorers
    valid["models"][0]["backend"]["kind"] = "nope"
    check(["validate", str(write(dump(valid)))], capsys, "tasks[0].scorers")


def test_dataset_path_over_255_bytes(valid: dict[str, Any], write: Callable[[str], Path], capsys: Capsys) -> None:
    valid["tasks"][0]["dataset"]["path"] = "d" * 300 + ".jsonl"
    check(["validate", str(write(dump(valid)))], capsys, "tasks[0].dataset.path", "File name too long")


def test_suite_path_over_255_bytes(tmp_path: Path, capsys: Capsys) -> None:
    check(["validate", str(tmp_path / ("s" * 300 + ".yaml"))], capsys, "cannot read suite: File name too long")


def test_suite_name_over_100_characters(valid: dict[str, Any], write: Callable[[str], Path], capsys: Capsys) -> None:
    valid["name"] = "n" * 300  # it names the run folder
    check(["validate", str(write(dump(valid)))], capsys, "name: String should have at most 100 characters")


def test_model_path_that_is_a_directory(valid: dict[str, Any], tmp_path: Path, write: Callable[[str], Path],
                                        capsys: Capsys) -> None:
    (tmp_path / "model_dir").mkdir()
    valid["models"][0]["backend"] = {"kind": "llama_cpp", "model": "model_dir"}
    check(["validate", str(write(dump(valid)))], capsys, "model_dir is a directory")


def lm_eval_suite(valid: dict[str, Any], include_path: str) -> str:
    task = {"id": "lm", "dataset": {"kind": "lm_eval", "task": "t", "include_path": include_path},
            "answer": {"mode": "choices"}, "scorers": ["lm_eval"]}
    return dump({**valid, "tasks": [task]})


def test_nul_byte_in_include_path(valid: dict[str, Any], write: Callable[[str], Path], capsys: Capsys) -> None:
    text = lm_eval_suite(valid, "tasks").replace("include_path: tasks", 'include_path: "tas\\0ks"')
    check(["validate", str(write(text))], capsys, "a NUL character")


def test_alias_bomb(write: Callable[[str], Path], capsys: Capsys) -> None:
    text = "name: x\n" + alias_bomb()
    assert len(text) < 800
    check(["validate", str(write(text))], capsys, "more than 200000 values once aliases")


def test_alias_bomb_inside_json_output(valid: dict[str, Any], write: Callable[[str], Path], capsys: Capsys) -> None:
    model = "models:\n- id: bomb\n  backend:\n    kind: fake\n    json_output:\n" + alias_bomb("      ")
    text = dump({k: v for k, v in valid.items() if k != "models"}) + model
    check(["validate", str(write(text))], capsys, "more than 200000 values once aliases")


def test_aliases_that_nest_deeper_than_the_limit(write: Callable[[str], Path], capsys: Capsys) -> None:
    lines = ["name: x", "a0: &a0 " + deep(40)]
    lines += [f"a{n}: &a{n} [[[[[[[[[[*a{n - 1}]]]]]]]]]]" for n in range(1, 10)]
    check(["validate", str(write("\n".join(lines) + "\n"))], capsys, "nested more than 64 levels deep")


def test_include_path_root_is_refused_without_scanning_the_disk(valid: dict[str, Any], write: Callable[[str], Path],
                                                                capsys: Capsys) -> None:
    check(["validate", str(write(lm_eval_suite(valid, "/")))], capsys,
          "tasks[0].dataset.include_path", "holds more than 2000 files and folders")


def test_generator_n_at_the_schema_maximum(valid: dict[str, Any], write: Callable[[str], Path],
                                           capsys: Capsys) -> None:
    valid["tasks"][0]["dataset"] = {"kind": "generator", "name": "invoices", "n": 100_000}
    check(["validate", str(write(dump(valid)))], capsys,
          "tasks[0].dataset.n: Input should be less than or equal to 5000")


def test_generator_n_at_the_new_maximum_validates(valid: dict[str, Any], write: Callable[[str], Path],
                                                  capsys: Capsys) -> None:
    valid["tasks"][0] = {"id": "inv", "dataset": {"kind": "generator", "name": "invoices", "n": 5000},
                         "answer": {"mode": "text"}, "scorers": ["exact_match"]}
    start = time.perf_counter()
    assert main(["validate", str(write(dump(valid)))]) == 0, capsys.readouterr().err
    assert time.perf_counter() - start < HANG_S


def test_valid_suite_still_passes(valid: dict[str, Any], write: Callable[[str], Path], capsys: Capsys) -> None:
    assert main(["validate", str(write(dump(valid)))]) == 0
    assert "ok (1 models, 1 tasks)" in capsys.readouterr().err


def test_dry_run_of_a_bad_file_is_exit_2_too(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["run", "--dry-run", str(write("name: x\n" + alias_bomb()))], capsys, "more than 200000 values")


def test_an_error_json_dump_is_one_line_per_problem(write: Callable[[str], Path], capsys: Capsys) -> None:
    lines = check(["validate", str(write(json.dumps({"name": "x", "models": [], "tasks": []})))], capsys)
    assert len(lines) == 2  # models and tasks, each too short


def test_a_suite_over_4_mib_is_refused_before_parsing(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write("name: x\ndescription: " + "a" * (5 << 20) + "\n"))], capsys,
          "suite is larger than 4 MiB")


def test_a_recursive_alias_is_refused(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write("name: x\ndescription: &a [1, *a]\n"))], capsys,
          "line 2: alias *a is not defined before it, or refers to the list or mapping that contains it")


def test_a_fifo_with_no_writer_does_not_hang(tmp_path: Path, capsys: Capsys) -> None:
    os.mkfifo(tmp_path / "suite.yaml")
    check(["validate", str(tmp_path / "suite.yaml")], capsys, "cannot read suite: nothing arrived in 3 s")


def test_a_device_as_suite_is_read_no_further_than_the_limit(capsys: Capsys) -> None:
    check(["validate", "/dev/zero"], capsys, "/dev/zero: suite is larger than 4 MiB")


# ------------------------------------------------------------------------------------------ more members of class 1


def test_a_tab_indented_mapping_is_named_by_line(valid: dict[str, Any], write: Callable[[str], Path],
                                                 capsys: Capsys) -> None:
    check(["validate", str(write(dump(valid).replace("\n  ", "\n\t", 3)))], capsys,
          "suite.yaml: line 5: invalid YAML: found character '\\t' that cannot start any token")


@pytest.mark.parametrize("variant", ["bom", "crlf", "bom+crlf"])
def test_a_bom_or_crlf_suite_reads_as_the_same_suite(variant: str, valid: dict[str, Any], labels_jsonl: Path,
                                                     write: Callable[[str], Path], capsys: Capsys) -> None:
    text = dump(valid)
    text = ("\ufeff" if "bom" in variant else "") + (text.replace("\n", "\r\n") if "crlf" in variant else text)
    rows = labels_jsonl.read_text()
    labels_jsonl.write_text(("\ufeff" if "bom" in variant else "") + rows.replace("\n", "\r\n" if "crlf" in variant
                                                                                     else "\n"))
    assert main(["validate", str(write(text))]) == 0, capsys.readouterr().err
    assert "ok (1 models, 1 tasks)" in capsys.readouterr().err


def test_a_10_mb_single_line_suite_is_refused_before_parsing(write: Callable[[str], Path], capsys: Capsys) -> None:
    check(["validate", str(write("name: x\ndescription: " + "a" * (10 << 20) + "\n"))], capsys,
          "suite is larger than 4 MiB")


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e999", "2.5"])
def test_a_float_where_a_whole_number_is_expected(value: str, valid: dict[str, Any], write: Callable[[str], Path],
                                                  capsys: Capsys) -> None:
    check(["validate", str(write(dump(valid).replace("warmup: 0", f"warmup: {value}")))], capsys,
          "warmup: Input should be a valid integer")


def test_a_symlink_loop_as_data_path(valid: dict[str, Any], tmp_path: Path, write: Callable[[str], Path],
                                     capsys: Capsys) -> None:
    (tmp_path / "loop1.jsonl").symlink_to(tmp_path / "loop2.jsonl")
    (tmp_path / "loop2.jsonl").symlink_to(tmp_path / "loop1.jsonl")
    valid["tasks"][0]["dataset"]["path"] = "loop1.jsonl"
    check(["validate", str(write(dump(valid)))], capsys, "tasks[0].dataset.path", "Too many levels of symbolic links")


@pytest.mark.parametrize("where", ["dataset", "few_shot", "model"])
def test_a_fifo_as_data_few_shot_or_model_path_does_not_hang(where: str, valid: dict[str, Any], tmp_path: Path,
                                                             write: Callable[[str], Path], capsys: Capsys) -> None:
    os.mkfifo(tmp_path / "pipe")
    if where == "dataset":
        valid["tasks"][0]["dataset"]["path"] = "pipe"
    elif where == "few_shot":
        valid["tasks"][0]["few_shot"] = {"k": 1, "dataset": {"path": "pipe", "fields": {"input": "text",
                                                                                        "expected": "label"}}}
    else:
        valid["models"][0]["backend"] = {"kind": "llama_cpp", "model": "pipe"}
    check(["run", str(write(dump(valid))), "--out", str(tmp_path / "out")], capsys, "pipe is not a regular file")
    assert not (tmp_path / "out").exists()


def test_a_number_beyond_the_float_range_in_a_data_file(valid: dict[str, Any], labels_jsonl: Path,
                                                        write: Callable[[str], Path], capsys: Capsys) -> None:
    """1e400 silently became inf (Python's json); NaN and Infinity were refused already."""
    with labels_jsonl.open("a") as handle:
        handle.write('{"id": "big", "text": 1e400, "label": "billing"}\n')
    check(["validate", str(write(dump(valid)))], capsys, "items.jsonl: line 7: invalid JSON: the number 1e400 is "
          "too large for a float")
