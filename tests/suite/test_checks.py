"""Tests for bench.suite.checks through bench.suite.load.load_suite: semantic problems with file, path and hint."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_factory import fake_suite

from bench.errors import Problem, SpecError
from bench.suite.checks import suite_notes
from bench.suite.load import load_suite

WriteSuite = Callable[[dict[str, Any] | str], Path]


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(SpecError) as info:
        load_suite(path)
    return info.value.problems


def only_problem(path: Path) -> Problem:
    problems = problems_of(path)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_valid_suite_loads(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    loaded = load_suite(write_suite(fake_suite(labels_jsonl)))
    assert loaded.spec.tasks[0].id == "triage"


def test_relative_dataset_path_is_resolved_from_the_suite(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    loaded = load_suite(write_suite(fake_suite(labels_jsonl.name)))
    assert loaded.base_dir == labels_jsonl.parent.resolve()


# ------------------------------------------------------------------------------------------ scorers


def test_unknown_scorer_with_hint(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["scorers"] = ["accuracy", "exact"]
    path = write_suite(suite)
    problem = only_problem(path)
    assert problem.file == str(path.resolve())
    assert problem.location == "tasks[0].scorers[1].name"
    assert problem.message == "unknown scorer 'exact'"
    assert problem.hint == "did you mean 'exact_match'?"


def test_scorer_params_are_checked_by_the_scorer(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["scorers"] = [{"name": "numeric_tolerance", "rel_tol": "lots"}]
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].scorers[0].rel_tol"


def test_misspelled_scorer_param_suggests_the_scorer_field(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["scorers"] = [{"name": "accuracy", "feild": "label"}]
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].scorers[0].feild"
    assert problem.message == "unknown key"
    assert problem.hint == "did you mean 'field'?"


# ----------------------------------------------------------------------------------------- backends


def test_unknown_backend_kind_with_hint(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama", "model": "x.gguf"}
    problem = only_problem(write_suite(suite))
    assert problem.location == "models[0].backend.kind"
    assert problem.message == "unknown backend kind 'llama'"
    assert problem.hint == "did you mean 'llama_cpp'?"


def test_backend_params_checked_by_backend_params_model(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama_cpp", "model": "bundled:smollm2-135m-instruct",
                                     "n_thread": 4}
    problem = only_problem(write_suite(suite))
    assert problem.location == "models[0].backend.n_thread"
    assert problem.message == "unknown key"


def test_misspelled_backend_param_suggests_the_backend_field(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama_cpp", "model": "bundled:smollm2-135m-instruct",
                                     "n_thread": 4}
    problem = only_problem(write_suite(suite))
    assert problem.hint == "did you mean 'n_threads'?"


def test_backend_param_wrong_type(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "fake", "choice_index": "first"}
    problem = only_problem(write_suite(suite))
    assert problem.location == "models[0].backend.choice_index"
    assert problem.hint == "got 'first'"


def test_llama_cpp_backend_requires_a_model(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama_cpp"}
    problem = only_problem(write_suite(suite))
    assert problem.location == "models[0].backend.model"
    assert problem.message == "required key is missing"


def test_unknown_bundled_model(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama_cpp", "model": "bundled:gemma3-27m"}
    problem = only_problem(write_suite(suite))
    assert problem.location == "models[0].backend.model"
    assert problem.message == "unknown bundled model 'gemma3-27m'"
    assert problem.hint == "did you mean 'gemma3-270m'?"


def test_missing_model_file(write_suite: WriteSuite, labels_jsonl: Path, tmp_path: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama_cpp", "model": "models/tiny.gguf"}
    problem = only_problem(write_suite(suite))
    assert problem.location == "models[0].backend.model"
    assert "model file not found" in problem.message
    assert str(tmp_path / "models" / "tiny.gguf") in problem.message


def test_existing_relative_model_file_is_accepted(write_suite: WriteSuite, labels_jsonl: Path,
                                                  tmp_path: Path) -> None:
    (tmp_path / "tiny.gguf").write_bytes(b"GGUF")
    suite = fake_suite(labels_jsonl)
    suite["models"][0]["backend"] = {"kind": "llama_cpp", "model": "tiny.gguf"}
    assert load_suite(write_suite(suite)).spec.models[0].backend.kind == "llama_cpp"


# ----------------------------------------------------------------------------------------- datasets


def test_missing_dataset_file(write_suite: WriteSuite, tmp_path: Path) -> None:
    path = write_suite(fake_suite("nope.jsonl"))
    problem = only_problem(path)
    assert problem.file == str(path.resolve())
    assert problem.location == "tasks[0].dataset.path"
    assert "dataset file not found" in problem.message
    assert str(tmp_path / "nope.jsonl") in problem.message


def test_missing_few_shot_dataset_file(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 2, "dataset": {"path": "train.jsonl"}}
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].few_shot.dataset.path"


def test_bad_jsonl_line_names_data_file_and_line(write_suite: WriteSuite, tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "a", "label": "billing"}\n\n{"text": "b", "label": \n')
    path = write_suite(fake_suite(data))
    problem = only_problem(path)
    assert problem.file == str(data)
    assert problem.location == "line 3"
    assert "invalid JSON" in problem.message
    assert "tasks[0].dataset" in problem.hint and str(path.resolve()) in problem.hint


def test_jsonl_line_that_is_not_an_object(write_suite: WriteSuite, tmp_path: Path) -> None:
    data = tmp_path / "list.jsonl"
    data.write_text('{"text": "a", "label": "billing"}\n["b", "billing"]\n')
    problem = only_problem(write_suite(fake_suite(data)))
    assert (problem.file, problem.location) == (str(data), "line 2")
    assert "JSON object" in problem.message


def test_missing_column(write_suite: WriteSuite, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"text": "a", "label": "billing"}, {"text": "b", "lable": "x"}])
    problem = only_problem(write_suite(fake_suite(data)))
    assert (problem.file, problem.location) == (str(data), "line 2")
    assert "missing column(s) label" in problem.message
    assert "text" in problem.hint and "lable" in problem.hint


@pytest.mark.parametrize(("kind", "hint"), [("jsnl", "did you mean 'jsonl'?"),
                                           ("parquet", "choose one of: csv, generator, jsonl, lm_eval")])
def test_unknown_dataset_kind_names_the_registered_ones(write_suite: WriteSuite, labels_jsonl: Path, kind: str,
                                                        hint: str) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["dataset"] = {"kind": kind, "path": "x"}
    problem = only_problem(write_suite(suite))
    assert (problem.location, problem.message, problem.hint) == ("tasks[0].dataset.kind",
                                                                 f"unknown dataset kind '{kind}'", hint)


def test_unknown_dataset_kind_is_reported_beside_schema_errors(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["dataset"] = {"kind": "jsnl", "path": "x"}
    suite["tasks"][0]["limit"] = 0
    problems = problems_of(write_suite(suite))
    assert {p.location for p in problems} == {"tasks[0].limit", "tasks[0].dataset.kind"}


def test_unknown_generator(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["dataset"] = {"kind": "generator", "name": "invoice", "n": 3}
    suite["tasks"][0]["answer"] = {"mode": "json", "json_schema": {"type": "object"}}
    suite["tasks"][0]["scorers"] = ["json_fields"]
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].dataset.name"
    assert problem.message == "unknown generator 'invoice'"
    assert problem.hint == "did you mean 'invoices'?"


# ---------------------------------------------------------------------------------------- templates


def test_unknown_template_variable_with_hint(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["prompt"]["user"] = "Text: {inptu}"
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].prompt.user"
    assert problem.message == "unknown template variable '{inptu}'"
    assert problem.hint == "did you mean 'input'?"


def test_dataset_columns_and_choices_are_template_variables(write_suite: WriteSuite,
                                                            labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["prompt"] = {"system": "Pick one of {choices}.", "user": "{id}: {input} ({label})"}
    assert load_suite(write_suite(suite)).spec.tasks[0].prompt.system == "Pick one of {choices}."


def test_malformed_template_braces(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["prompt"]["system"] = "Answer {input"
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].prompt.system"
    assert problem.message.startswith("bad template")


def test_attribute_access_in_template_is_rejected(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["prompt"]["user"] = "{input.__class__}"
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].prompt.user"
    assert "bad template" in problem.message


# ------------------------------------------------------------------------------------------- answers


def test_choices_mode_without_choices(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["answer"] = {"mode": "choices"}
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].answer.choices"
    assert "needs the list of labels" in problem.message


def test_expected_labels_not_among_choices(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["answer"]["choices"] = ["billing", "technical"]
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].answer.choices"
    assert "not among choices: shipping" in problem.message


def test_choices_as_mapping_use_labels_as_keys(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["answer"]["choices"] = {"billing": "a billing issue", "technical": "a technical problem",
                                             "shipping": "a shipping question"}
    assert load_suite(write_suite(suite)).spec.tasks[0].answer.choices is not None


def test_few_shot_labels_must_be_among_choices(write_suite: WriteSuite, labels_jsonl: Path,
                                               tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", [{"text": "x", "label": "returns"}])
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 1, "dataset": {"path": "train.jsonl",
                                                          "fields": {"input": "text", "expected": "label"}}}
    problem = only_problem(write_suite(suite))
    assert "returns" in problem.message


def test_json_mode_without_schema(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["answer"] = {"mode": "json"}
    suite["tasks"][0]["scorers"] = ["json_fields"]
    problem = only_problem(write_suite(suite))
    assert problem.location == "tasks[0].answer.json_schema"
    assert "json_schema" in problem.message


# ---------------------------------------------------------------------------------------------- ids


def test_duplicate_model_and_task_ids(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["models"].append(dict(suite["models"][0]))
    suite["tasks"].append(dict(suite["tasks"][0]))
    problems = problems_of(write_suite(suite))
    assert sorted(p.location for p in problems) == ["models[1].id", "tasks[1].id"]
    assert all("duplicate id" in p.message for p in problems)


# ------------------------------------------------------------------------------------ all at once


def test_semantic_problems_of_several_tasks_are_all_reported(write_suite: WriteSuite,
                                                              labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    second = dict(suite["tasks"][0], id="second", scorers=["acuracy"])
    suite["tasks"].append(second)
    suite["tasks"][0]["prompt"] = {"user": "{txt}"}
    suite["models"][0]["backend"] = {"kind": "fak"}
    locations = {p.location for p in problems_of(write_suite(suite))}
    assert locations == {"models[0].backend.kind", "tasks[0].prompt.user", "tasks[1].scorers[0].name"}


def test_one_suite_with_four_kinds_of_problem_reports_every_one(write_suite: WriteSuite,
                                                                 labels_jsonl: Path) -> None:
    """The acceptance test: schema problems and semantic problems come back together in one SpecError."""
    suite = fake_suite(labels_jsonl)
    task = suite["tasks"][0]
    task["promt"] = task.pop("prompt")                      # misspelled key
    suite["warmup"] = "many"                                # wrong type
    task["scorers"] = ["accuracy", "exact"]                 # unknown scorer
    task["dataset"]["path"] = "data/missing.jsonl"          # missing dataset file
    path = write_suite(suite)
    with pytest.raises(SpecError) as info:
        load_suite(path)
    by_location = {p.location: p for p in info.value.problems}
    assert set(by_location) == {"tasks[0].promt", "warmup", "tasks[0].scorers[1].name", "tasks[0].dataset.path"}
    assert by_location["tasks[0].promt"].hint == "did you mean 'prompt'?"
    assert by_location["warmup"].hint == "got 'many'"
    assert "exact_match" in by_location["tasks[0].scorers[1].name"].hint
    assert "dataset file not found" in by_location["tasks[0].dataset.path"].message
    lines = str(info.value).splitlines()
    assert len(lines) == 4
    for line in lines:
        assert line.startswith(str(path)) or line.startswith(str(path.resolve()))
    for location in by_location:
        assert any(f": {location}: " in line for line in lines)


# ------------------------------------------------------- validation and scoring agree on labels (#16 class 5)


def spam_suite(write_suite: WriteSuite, tmp_path: Path, expected: list[str]) -> Path:
    write_jsonl(tmp_path / "spam.jsonl", [{"id": str(i), "text": f"message {i}", "label": label}
                                          for i, label in enumerate(expected)])
    suite = fake_suite(tmp_path / "spam.jsonl")
    suite["tasks"][0]["answer"]["choices"] = ["ham", "spam"]
    return write_suite(suite)


def test_expected_labels_normalized_as_the_scorer_does_are_accepted_with_a_note(write_suite: WriteSuite,
                                                                                tmp_path: Path) -> None:
    suite = load_suite(spam_suite(write_suite, tmp_path, ["Ham", "spam ", "ham", "spam"]))
    [(level, note)] = suite_notes(suite)
    assert level == "note"
    assert note.location == "tasks[0].dataset"
    assert "'Ham' as 'ham'" in note.message and "'spam ' as 'spam'" in note.message


def test_labels_the_scorer_would_not_match_are_still_refused(write_suite: WriteSuite, tmp_path: Path) -> None:
    problem = only_problem(spam_suite(write_suite, tmp_path, ["Ham", "not spam"]))
    assert problem.message == "expected label(s) not among choices: not spam"


def test_exact_labels_give_no_note(write_suite: WriteSuite, labels_jsonl: Path) -> None:
    assert suite_notes(load_suite(write_suite(fake_suite(labels_jsonl)))) == []


def test_validate_prints_the_note_and_exits_0(write_suite: WriteSuite, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli.main import main

    assert main(["validate", str(spam_suite(write_suite, tmp_path, ["Ham", "spam"]))]) == 0
    assert "note: " in capsys.readouterr().err


# ------------------------------------------------------------------------- contamination (#10 class 8)


def test_few_shot_from_the_test_file_is_warned_about(write_suite: WriteSuite, labels_jsonl: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from bench.cli.main import main

    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 2, "dataset": {"path": labels_jsonl.name,
                                                         "fields": {"input": "text", "expected": "label"}}}
    path = write_suite(suite)
    [(level, warning)] = suite_notes(load_suite(path))
    assert (level, warning.location) == ("warning", "tasks[0].few_shot.dataset")
    assert warning.message == "few-shot examples are drawn from the test file itself"
    assert main(["validate", str(path)]) == 0
    assert "warning: " in capsys.readouterr().err


def test_few_shot_items_shared_with_the_test_data_are_counted(write_suite: WriteSuite, labels_jsonl: Path,
                                                              tmp_path: Path) -> None:
    rows = [{"id": "x1", "text": "the invoice total is wrong", "label": "billing"},
            {"id": "x2", "text": "a new question", "label": "technical"}]
    write_jsonl(tmp_path / "train.jsonl", rows)
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 2, "dataset": {"path": "train.jsonl",
                                                         "fields": {"input": "text", "expected": "label"}}}
    [(level, warning)] = suite_notes(load_suite(write_suite(suite)))
    assert level == "warning"
    assert warning.message == "1 few-shot example(s) are also test items (same input)"


def test_a_separate_train_split_gives_no_warning(write_suite: WriteSuite, labels_jsonl: Path,
                                                 tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", [{"id": "x", "text": "unseen", "label": "billing"}])
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 1, "dataset": {"path": "train.jsonl",
                                                         "fields": {"input": "text", "expected": "label"}}}
    assert suite_notes(load_suite(write_suite(suite))) == []


def test_a_kind_that_builds_its_own_requests_gives_no_few_shot_examples(write_suite: WriteSuite,
                                                                         labels_jsonl: Path) -> None:
    suite = fake_suite(labels_jsonl)
    suite["tasks"][0]["few_shot"] = {"k": 1, "dataset": {"kind": "lm_eval", "task": "arc_easy"}}
    problem = only_problem(write_suite(suite))
    assert (problem.location, problem.message) == ("tasks[0].few_shot.dataset.kind",
                                                   "lm_eval datasets cannot give few-shot examples")
