"""Tests for bench.suite.spec and bench.suite.yaml_io: strict, frozen models and schema errors with field paths."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from bench.errors import Problem, SpecError
from bench.suite.load import NoChecks, load_suite, parse_suite, sha256_text
from bench.suite.problems import format_location
from bench.suite.spec import (
    CsvDataset,
    FieldMap,
    GenerationSpec,
    GeneratorDataset,
    JsonlDataset,
    LoadSpec,
    PluginDataset,
    PromptSpec,
    ScorerRef,
    SuiteSpec,
    TaskSpec,
)
from bench.suite.yaml_io import YamlLoadError, load_yaml_strict

WriteSuite = Callable[[dict[str, Any] | str], Path]


def minimal_suite(**overrides: Any) -> dict[str, Any]:
    """A schema-valid suite (its dataset file need not exist: these tests check the schema only)."""
    suite: dict[str, Any] = {
        "name": "unit",
        "models": [{"id": "fake-a", "backend": {"kind": "fake"}}],
        "tasks": [{"id": "t1", "dataset": {"path": "items.jsonl"}, "answer": {"mode": "text"},
                   "scorers": ["exact_match"]}],
    }
    suite.update(overrides)
    return suite


def schema_problems(raw: dict[str, Any] | str, file: str = "suite.yaml") -> list[Problem]:
    """Problems parse_suite reports with semantic checks switched off."""
    text = raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False)
    with pytest.raises(SpecError) as info:
        parse_suite(text, Path(file), NoChecks())
    return info.value.problems


def locations(problems: list[Problem]) -> list[str]:
    return [p.location for p in problems]


# ------------------------------------------------------------------------------------------ yaml_io


def test_yaml_duplicate_top_level_key_reports_both_lines() -> None:
    with pytest.raises(YamlLoadError) as info:
        load_yaml_strict("name: a\nversion: '1'\nname: b\n")
    assert info.value.line == 3
    assert "duplicate key 'name'" in info.value.message
    assert "first defined on line 1" in info.value.message


def test_yaml_duplicate_nested_key_reports_its_line() -> None:
    text = "models:\n  - id: m\n    backend: {kind: fake}\n    id: n\n"
    with pytest.raises(YamlLoadError) as info:
        load_yaml_strict(text)
    assert info.value.line == 4
    assert "first defined on line 2" in info.value.message


def test_yaml_same_key_in_sibling_mappings_is_fine() -> None:
    assert load_yaml_strict("a: {id: 1}\nb: {id: 2}\n") == {"a": {"id": 1}, "b": {"id": 2}}


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(YamlLoadError) as info:
        load_yaml_strict("name: a\nmodels: [\n")
    assert info.value.line >= 2
    assert "invalid YAML" in info.value.message


def test_yaml_python_tags_are_refused_not_executed() -> None:
    with pytest.raises(YamlLoadError, match="could not determine a constructor"):
        load_yaml_strict("name: !!python/object/apply:os.system ['echo pwned']\n")


def test_duplicate_key_in_suite_becomes_spec_error_with_line(write_suite: WriteSuite) -> None:
    path = write_suite("name: a\nname: b\nmodels: []\ntasks: []\n")
    with pytest.raises(SpecError) as info:
        load_suite(path)
    [problem] = info.value.problems
    assert problem.file == str(path)
    assert problem.location == "line 2"
    assert "duplicate key 'name'" in problem.message
    assert str(problem).startswith(f"{path}: line 2: ")


def test_suite_that_is_not_a_mapping_is_an_error() -> None:
    [problem] = schema_problems("- a\n- b\n")
    assert "must be a mapping" in problem.message


def test_missing_suite_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read suite"):
        load_suite(tmp_path / "absent.yaml")


# ------------------------------------------------------------------------------- strict keys, types


def test_valid_suite_parses_with_no_checks() -> None:
    loaded = parse_suite(yaml.safe_dump(minimal_suite()), Path("suite.yaml"), NoChecks())
    assert loaded.spec.name == "unit"
    assert loaded.sha256 == sha256_text(loaded.text)
    assert loaded.base_dir == Path("suite.yaml").resolve().parent


def test_unknown_top_level_key_with_did_you_mean() -> None:
    [problem] = schema_problems(minimal_suite(warmpu=2))
    assert problem.location == "warmpu"
    assert problem.message == "unknown key"
    assert problem.hint == "did you mean 'warmup'?"


def test_unknown_nested_key_has_full_path_and_hint() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["promt"] = {"user": "{input}"}
    [problem] = schema_problems(suite)
    assert problem.location == "tasks[0].promt"
    assert problem.hint == "did you mean 'prompt'?"


def test_unknown_key_deep_in_dataset_fields() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["dataset"]["fields"] = {"expectd": "label"}
    [problem] = schema_problems(suite)
    assert problem.location == "tasks[0].dataset.fields.expectd"
    assert problem.hint == "did you mean 'expected'?"


def test_unknown_key_in_csv_dataset_suggests_csv_fields() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["dataset"] = {"kind": "csv", "path": "x.csv", "delimter": ";"}
    [problem] = schema_problems(suite)
    assert problem.location == "tasks[0].dataset.delimter"
    assert problem.hint == "did you mean 'delimiter'?"


def test_unknown_key_in_generation() -> None:
    suite = minimal_suite()
    suite["models"][0]["generation"] = {"max_token": 5}
    [problem] = schema_problems(suite)
    assert problem.location == "models[0].generation.max_token"
    assert problem.hint == "did you mean 'max_tokens'?"


def test_wrong_type_names_the_field_and_the_value() -> None:
    [problem] = schema_problems(minimal_suite(warmup="many"))
    assert problem.location == "warmup"
    assert "integer" in problem.message
    assert problem.hint == "got 'many'"


def test_a_value_that_fits_no_member_of_a_union_is_one_problem() -> None:
    # pydantic reports one error per member (`expected.str: Input should be a valid string` and `expected: Input
    # should be a valid dictionary`); the suite gets one line naming every member
    suite = minimal_suite()
    suite["tasks"][0]["dataset"]["fields"] = {"expected": 5}
    [problem] = schema_problems(suite)
    assert str(problem) == "suite.yaml: tasks[0].dataset.fields.expected: a string or a mapping (got 5)"


def test_out_of_range_values_are_rejected() -> None:
    suite = minimal_suite(repetitions=0)
    suite["models"][0]["generation"] = {"top_p": 1.5, "max_tokens": 0}
    assert set(locations(schema_problems(suite))) == {
        "repetitions", "models[0].generation.top_p", "models[0].generation.max_tokens"}


def test_missing_required_keys() -> None:
    suite = minimal_suite()
    del suite["tasks"][0]["answer"]
    del suite["name"]
    problems = schema_problems(suite)
    assert set(locations(problems)) == {"name", "tasks[0].answer"}
    assert all(p.message == "required key is missing" for p in problems)


def test_empty_models_list_is_rejected() -> None:
    [problem] = schema_problems(minimal_suite(models=[]))
    assert problem.location == "models"


def test_invalid_id_pattern() -> None:
    suite = minimal_suite()
    suite["models"][0]["id"] = "bad id"
    [problem] = schema_problems(suite)
    assert problem.location == "models[0].id"
    assert "pattern" in problem.message


def test_every_schema_problem_is_reported_at_once() -> None:
    suite = minimal_suite(warmup="x", colour="blue")
    suite["tasks"][0]["answer"] = {"mode": "essay"}
    suite["models"][0]["generation"] = {"temperature": -1}
    assert set(locations(schema_problems(suite))) == {
        "warmup", "colour", "tasks[0].answer.mode", "models[0].generation.temperature"}


def test_json_schema_must_describe_an_object() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["answer"] = {"mode": "json", "json_schema": {"type": "array"}}
    [problem] = schema_problems(suite)
    assert problem.location == "tasks[0].answer.json_schema"
    assert "type: object" in problem.message


def test_problem_str_includes_file_location_message_and_hint() -> None:
    problem = Problem("s.yaml", "tasks[0].scorer", "unknown key", "did you mean 'scorers'?")
    assert str(problem) == "s.yaml: tasks[0].scorer: unknown key (did you mean 'scorers'?)"
    assert str(Problem("s.yaml", "", "bad")) == "s.yaml: bad"


def test_spec_error_message_lists_every_problem() -> None:
    error = SpecError([Problem("a.yaml", "x", "one"), Problem("a.yaml", "y", "two")])
    assert str(error).splitlines() == ["a.yaml: x: one", "a.yaml: y: two"]
    assert error.exit_code == 2


def test_format_location_drops_union_tags() -> None:
    assert format_location(("tasks", 2, "scorer")) == "tasks[2].scorer"
    assert format_location(("tasks", 0, "dataset", "csv", "delimiter")) == "tasks[0].dataset.delimiter"
    assert format_location(("models", 1, "generation", "function-after[x]", "seed")) == "models[1].generation.seed"


# ------------------------------------------------------------------------------------------ defaults


def test_defaults() -> None:
    spec = SuiteSpec.model_validate(minimal_suite())
    assert (spec.schema_version, spec.version, spec.warmup, spec.repetitions) == (1, "1", 1, 1)
    assert spec.cost.usd_per_hour == 0.0
    model, task = spec.models[0], spec.tasks[0]
    assert model.generation == GenerationSpec()
    assert (model.generation.max_tokens, model.generation.temperature, model.generation.top_p) == (128, 0.0, 1.0)
    assert model.generation.stop == ()
    assert task.prompt == PromptSpec(system="", user="{input}", format="auto")
    assert task.few_shot is None and task.limit is None and task.version == "1"
    assert task.answer.method == "loglik"
    assert FieldMap() == FieldMap(input="input", expected="expected", id="id", tags=())


def test_dataset_kind_defaults_to_jsonl() -> None:
    task = SuiteSpec.model_validate(minimal_suite()).tasks[0]
    assert isinstance(task.dataset, JsonlDataset)
    assert task.dataset.kind == "jsonl"


@pytest.mark.parametrize(("dataset", "cls"), [
    ({"kind": "csv", "path": "x.csv"}, CsvDataset),
    ({"kind": "generator", "name": "invoices", "n": 5}, GeneratorDataset),
    ({"kind": "jsonl", "path": "x.jsonl"}, JsonlDataset),
])
def test_dataset_kind_discriminator(dataset: dict[str, Any], cls: type) -> None:
    suite = minimal_suite()
    suite["tasks"][0]["dataset"] = dataset
    assert isinstance(SuiteSpec.model_validate(suite).tasks[0].dataset, cls)


@pytest.mark.parametrize(("path", "cls"), [("data/x.csv", CsvDataset), ("X.CSV", CsvDataset),
                                         ("x.jsonl", JsonlDataset), ("x.json", JsonlDataset)])
def test_dataset_kind_is_inferred_from_a_csv_extension(path: str, cls: type) -> None:
    """#16 class 6: a .csv path with the default kind is read as CSV, not as JSON lines."""
    suite = minimal_suite()
    suite["tasks"][0]["dataset"] = {"path": path}
    assert isinstance(SuiteSpec.model_validate(suite).tasks[0].dataset, cls)


def test_an_inferred_csv_dataset_takes_csv_options_and_hints() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["dataset"] = {"path": "x.csv", "delimiter": ";"}
    dataset = SuiteSpec.model_validate(suite).tasks[0].dataset
    assert isinstance(dataset, CsvDataset) and dataset.delimiter == ";"
    suite["tasks"][0]["dataset"] = {"path": "x.csv", "delimter": ";"}
    [problem] = schema_problems(suite)
    assert (problem.location, problem.hint) == ("tasks[0].dataset.delimter", "did you mean 'delimiter'?")


@pytest.mark.parametrize("sample", ["balanced", "natural"])
def test_task_sample_option(sample: str) -> None:
    suite = minimal_suite()
    suite["tasks"][0]["sample"] = sample
    assert SuiteSpec.model_validate(suite).tasks[0].sample == sample
    assert SuiteSpec.model_validate(minimal_suite()).tasks[0].sample == "balanced"
    suite["tasks"][0]["sample"] = "stratified"
    assert locations(schema_problems(suite)) == ["tasks[0].sample"]


def test_a_dataset_of_another_kind_is_left_to_its_plugin() -> None:
    """Any other kind parses as a PluginDataset (free keys); the registry checks the kind (test_checks.py)."""
    suite = minimal_suite()
    suite["tasks"][0]["dataset"] = {"kind": "parquet", "path": "x", "columns": ["a"]}
    dataset = SuiteSpec.model_validate(suite).tasks[0].dataset
    assert isinstance(dataset, PluginDataset) and dataset.kind == "parquet"
    assert dataset.model_dump() == {"kind": "parquet", "path": "x", "columns": ["a"]}


def test_generator_dataset_has_no_path_key() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["dataset"] = {"kind": "generator", "name": "invoices", "path": "x"}
    [problem] = schema_problems(suite)
    assert problem.location == "tasks[0].dataset.path"
    assert problem.message == "unknown key"


def test_scorer_names_become_refs_and_params_are_kept() -> None:
    suite = minimal_suite()
    suite["tasks"][0]["scorers"] = ["accuracy", {"name": "numeric_tolerance", "rel_tol": 0.1}]
    scorers = SuiteSpec.model_validate(suite).tasks[0].scorers
    assert scorers[0] == ScorerRef(name="accuracy")
    assert scorers[1].name == "numeric_tolerance"
    assert scorers[1].model_dump() == {"name": "numeric_tolerance", "rel_tol": 0.1}


def test_expected_may_map_several_columns() -> None:
    fields = FieldMap.model_validate({"expected": {"department": "dept", "urgent": "urgent"}})
    assert fields.expected == {"department": "dept", "urgent": "urgent"}


# ------------------------------------------------------------------------------------------- frozen


def test_spec_models_are_frozen() -> None:
    spec = SuiteSpec.model_validate(minimal_suite())
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec.tasks[0].answer.mode = "json"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        spec.models[0].backend.kind = "llama_cpp"  # type: ignore[misc]
    assert isinstance(spec.tasks, tuple)


def test_task_spec_forbids_extra_keys_directly() -> None:
    with pytest.raises(ValidationError, match="extra"):
        TaskSpec.model_validate({"id": "t", "dataset": {"path": "x"}, "answer": {"mode": "text"},
                                 "scorers": ["accuracy"], "extra_key": 1})


# --- schema_version (#12): the suite format's version is checked ---------------------------------------------------

def test_suite_schema_version_1_and_absent_are_read() -> None:
    assert parse_suite(yaml.safe_dump(minimal_suite(schema_version=1)), Path("s.yaml"), NoChecks()).spec.name == "unit"
    assert parse_suite(yaml.safe_dump(minimal_suite()), Path("s.yaml"), NoChecks()).spec.schema_version == 1


@pytest.mark.parametrize("version", [0, 2, 99])
def test_an_unknown_suite_schema_version_names_the_supported_ones(version: int) -> None:
    (problem,) = schema_problems(minimal_suite(schema_version=version))
    assert problem.file == "suite.yaml" and problem.location == "schema_version"
    assert f"schema_version {version} is not supported: this bench reads suite schema_version 1" in problem.message


def test_bench_validate_of_a_suite_with_schema_version_99_exits_2(write_suite: WriteSuite,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli.main import main

    path = write_suite(minimal_suite(schema_version=99))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: schema_version" in err and "this bench reads suite schema_version 1" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("load", "message"), [
    ({"mode": "latency", "rate_rps": 5}, "rate_rps applies to mode rate only (mode latency would ignore it)"),
    ({"mode": "throughput", "concurrency": 4}, "concurrency applies to mode concurrency only (mode throughput"),
    ({"mode": "rate", "rate_rps": 2, "concurrency": 8}, "concurrency applies to mode concurrency only (mode rate"),
    ({"mode": "concurrency", "concurrency": 2, "rate_rps": [1, 2]}, "rate_rps applies to mode rate only"),
])
def test_a_load_setting_its_mode_would_ignore_is_refused(load: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LoadSpec.model_validate(load)


@pytest.mark.parametrize("load", [{"mode": "latency"}, {"mode": "throughput"}, {"mode": "rate", "rate_rps": [1, 2]},
                                  {"mode": "concurrency", "concurrency": 3}])
def test_each_mode_with_its_own_settings_is_accepted(load: dict[str, Any]) -> None:
    assert LoadSpec.model_validate(load).mode == load["mode"]


@pytest.mark.parametrize(("key", "value"), [("schema_version", "1"), ("schema_version", True), ("warmup", True),
                                            ("warmup", "2"), ("warmup", 1.0), ("repetitions", "3")])
def test_a_whole_number_given_as_text_bool_or_float_is_refused(write_suite: WriteSuite, key: str, value: Any) -> None:
    suite = {"name": "s", key: value, "models": [{"id": "m", "backend": {"kind": "fake"}}],
             "tasks": [{"id": "t", "dataset": {"kind": "generator", "name": "invoices", "n": 2},
                        "prompt": {"user": "{input}"}, "answer": {"mode": "text"}, "scorers": ["exact_match"]}]}
    with pytest.raises(SpecError) as caught:
        load_suite(write_suite(suite))
    assert any(p.location == key and "valid integer" in p.message for p in caught.value.problems)
