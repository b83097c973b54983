"""lm-eval tasks as bench items and requests, scored by lm-eval's own filters and metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.backends.base import Result
from bench.errors import SpecError
from bench.suite.checks import check_suite
from bench.suite.load import load_suite
from bench.suite.spec import GenerationSpec, LmEvalDataset
from bench.tasks.lm_eval_scorer import LmEvalScorer
from bench.tasks.lm_eval_source import generation_settings, lm_eval_items, lm_eval_request
from bench.tasks.scorers import ScorerParams

pytest.importorskip("lm_eval", reason="install the lm-eval extra (the dev extra has it)")

DOCS = [{"q": "Capital of France?", "options": ["Paris", "Rome", "Oslo"], "gold": 0, "answer": "Paris"},
        {"q": "Two plus two?", "options": ["three", "four", "five"], "gold": 1, "answer": "4"},
        {"q": "Colour of the sky?", "options": ["blue", "green", "red"], "gold": 0, "answer": "blue"}]
MC_YAML = {"task": "t_mc", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": "docs.jsonl"}},
           "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "Q: {{q}}\nA:",
           "doc_to_choice": "{{options}}", "doc_to_target": "{{gold}}",
           "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                           {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}]}
GEN_YAML = {"task": "t_gen", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": "docs.jsonl"}},
            "test_split": "test", "output_type": "generate_until", "doc_to_text": "Q: {{q}}\nA:",
            "doc_to_target": "{{answer}}", "generation_kwargs": {"until": ["\n"], "max_gen_toks": 7},
            "filter_list": [{"name": "first_word", "filter": [
                {"function": "regex", "regex_pattern": "([A-Za-z0-9]+)"}, {"function": "take_first"}]}],
            "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                             "ignore_case": True}]}


@pytest.fixture
def task_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "lm_tasks"
    folder.mkdir()
    (folder / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    for name, config in (("t_mc", MC_YAML), ("t_gen", GEN_YAML)):
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return folder


def spec(task: str, folder: Path, **extra: Any) -> LmEvalDataset:
    return LmEvalDataset(kind="lm_eval", task=task, include_path=str(folder), **extra)


def bound_scorer(task: str, folder: Path) -> LmEvalScorer:
    from bench.suite.spec import TaskSpec

    scorer = LmEvalScorer(ScorerParams(name="lm_eval"))
    mode = "choices" if task == "t_mc" else "text"
    scorer.bind(TaskSpec(id="t", dataset=spec(task, folder), answer={"mode": mode}, scorers=["lm_eval"]),
                folder)
    return scorer


def test_a_multiple_choice_document_becomes_one_item_with_its_continuations(task_dir: Path) -> None:
    items = lm_eval_items(spec("t_mc", task_dir), task_dir)
    assert [i.id for i in items] == ["doc-0", "doc-1", "doc-2"]
    first = items[0]
    assert first.input == "Q: Capital of France?\nA:"
    assert first.expected == "Paris"
    request = lm_eval_request(first, "doc-0#0", GenerationSpec())
    assert request.mode == "choices" and request.choice_method == "loglik"
    assert request.choices == (" Paris", " Rome", " Oslo")  # lm-eval's target delimiter is part of the choice
    assert request.continuation_delimiter == "" and request.prompt_format == "completion"
    assert request.completion == first.input


def test_a_contexts_trailing_space_moves_onto_the_choices_as_lm_eval_tokenizes_pairs(task_dir: Path) -> None:
    item = lm_eval_items(spec("t_mc", task_dir), task_dir)[0]
    payload = item.fields["_lm_eval"] | {"context": "Q: x\nA: ", "continuations": ["a", "b"]}
    moved = lm_eval_request(type(item)(id=item.id, input=item.input, expected=item.expected,
                                       fields={"_lm_eval": payload}), "r", GenerationSpec())
    assert moved.completion == "Q: x\nA:" and moved.choices == (" a", " b")


def test_generation_documents_carry_the_tasks_stop_strings_and_budget(task_dir: Path) -> None:
    item = lm_eval_items(spec("t_gen", task_dir), task_dir)[1]
    assert item.expected == "4"
    request = lm_eval_request(item, "doc-1#0", GenerationSpec(seed=7))
    assert request.mode == "text"
    assert request.generation.stop == ("\n",) and request.generation.max_tokens == 7
    assert request.generation.temperature == 0.0 and request.generation.seed == 7


def test_generation_settings_follow_do_sample() -> None:
    assert generation_settings({"until": "END", "do_sample": True, "temperature": 0.7}, 0).stop == ("END",)
    assert generation_settings({"do_sample": True, "temperature": 0.7}, 0).temperature == 0.7
    assert generation_settings({"do_sample": True}, 0).temperature == 1.0
    assert generation_settings({"do_sample": False, "temperature": 0.7}, 0).temperature == 0.0
    assert generation_settings({}, 0).max_tokens == 256


def test_few_shot_prompts_come_from_lm_eval_and_follow_the_seed(task_dir: Path) -> None:
    one = lm_eval_items(spec("t_mc", task_dir, num_fewshot=1, fewshot_seed=1), task_dir)
    assert one[0].input.count("Q: ") == 2  # one example, then the question
    again = lm_eval_items(spec("t_mc", task_dir, num_fewshot=1, fewshot_seed=1), task_dir)
    assert [i.input for i in again] == [i.input for i in one]


def mc_result(logprobs: list[float], error: str | None = None) -> Result:
    best = max(range(len(logprobs)), key=lambda i: logprobs[i])
    return Result("doc-0#0", text=" x", choice_index=best, choice_logprobs=logprobs, error=error,
                  extra={"choice_greedy": [False] * len(logprobs)})


def test_the_scorer_uses_lm_evals_acc_and_length_normalised_acc(task_dir: Path) -> None:
    scorer = bound_scorer("t_mc", task_dir)
    item = lm_eval_items(spec("t_mc", task_dir), task_dir)[0]  # gold: " Paris" (6 bytes) vs " Rome", " Oslo"
    assert scorer.score(item, mc_result([-1.0, -2.0, -3.0]), None) == {"acc": 1.0, "acc_norm": 1.0}
    assert scorer.score(item, mc_result([-3.0, -2.0, -9.0]), None) == {"acc": 0.0, "acc_norm": 0.0}
    # acc_norm divides by the choice's length in bytes: -5.9/6 beats -5.0/5
    assert scorer.score(item, mc_result([-5.9, -5.0, -9.0]), None) == {"acc": 0.0, "acc_norm": 1.0}


def test_errors_and_results_without_logprobs_score_zero(task_dir: Path) -> None:
    scorer = bound_scorer("t_mc", task_dir)
    item = lm_eval_items(spec("t_mc", task_dir), task_dir)[0]
    assert scorer.score(item, mc_result([-1.0, -2.0, -3.0], error="boom"), None) == {"acc": 0.0, "acc_norm": 0.0}
    no_logprobs = Result("doc-0#0", text=" Paris")
    assert scorer.score(item, no_logprobs, None) == {"acc": 0.0, "acc_norm": 0.0}


def test_generation_scores_go_through_the_tasks_filters(task_dir: Path) -> None:
    scorer = bound_scorer("t_gen", task_dir)
    items = lm_eval_items(spec("t_gen", task_dir), task_dir)
    assert scorer.score(items[0], Result("r", text=" paris, of course"), None) == {"exact_match,first_word": 1.0}
    assert scorer.score(items[1], Result("r", text=" four"), None) == {"exact_match,first_word": 0.0}
    assert scorer.metric_names() == ["exact_match,first_word"]


def write_suite(tmp_path: Path, task: dict[str, Any]) -> Path:
    suite = {"name": "s", "models": [{"id": "m", "backend": {"kind": "fake"}}], "tasks": [task]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, task: dict[str, Any]) -> list[str]:
    try:
        suite = load_suite(write_suite(tmp_path, task))
    except SpecError as exc:
        return [f"{p.location}: {p.message} ({p.hint})" for p in exc.problems]
    return [f"{p.location}: {p.message} ({p.hint})" for p in check_suite(suite)]


def test_a_valid_lm_eval_task_validates(task_dir: Path, tmp_path: Path) -> None:
    task = {"id": "mc", "dataset": {"kind": "lm_eval", "task": "t_mc", "include_path": "lm_tasks"},
            "answer": {"mode": "choices"}, "scorers": ["lm_eval"]}
    assert problems_of(tmp_path, task) == []


@pytest.mark.parametrize(("change", "expected"), [
    ({"answer": {"mode": "text"}},
     "tasks[0].answer: lm-eval task 't_mc' is multiple_choice (set answer: {mode: choices})"),
    ({"scorers": ["accuracy"]}, "set scorers: [lm_eval]"),
    ({"prompt": {"user": "x {input}"}}, "lm-eval builds the prompt"),
    ({"dataset": {"kind": "lm_eval", "task": "t_mcq", "include_path": "lm_tasks"}}, "no lm-eval task named 't_mcq'"),
    ({"dataset": {"kind": "lm_eval", "task": "t_mc", "include_path": "nowhere"}}, "folder of lm-eval task YAMLs"),
])
def test_validation_names_what_is_wrong(task_dir: Path, tmp_path: Path, change: dict[str, Any],
                                        expected: str) -> None:
    task = {"id": "mc", "dataset": {"kind": "lm_eval", "task": "t_mc", "include_path": "lm_tasks"},
            "answer": {"mode": "choices"}, "scorers": ["lm_eval"]} | change
    problems = problems_of(tmp_path, task)
    assert any(expected in p for p in problems), problems


def test_the_lm_eval_scorer_is_refused_on_other_datasets(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"input": "a", "expected": "b"}\n', encoding="utf-8")
    task = {"id": "t", "dataset": {"path": "d.jsonl"}, "answer": {"mode": "text"}, "scorers": ["lm_eval"]}
    assert any("scores lm_eval datasets only" in p for p in problems_of(tmp_path, task))


def test_corpus_level_metrics_are_refused(task_dir: Path, tmp_path: Path) -> None:
    config = GEN_YAML | {"task": "t_f1", "metric_list": [{"metric": "f1", "aggregation": "f1",
                                                          "higher_is_better": True}]}
    (task_dir / "t_f1.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    task = {"id": "g", "dataset": {"kind": "lm_eval", "task": "t_f1", "include_path": "lm_tasks"},
            "answer": {"mode": "text"}, "scorers": ["lm_eval"]}
    assert any("aggregate over the whole corpus" in p for p in problems_of(tmp_path, task))


def test_the_fingerprint_follows_what_the_model_is_asked(task_dir: Path) -> None:
    from bench.tasks.lm_eval_source import lm_eval_fingerprint

    zero_shot = lm_eval_fingerprint(spec("t_mc", task_dir), task_dir)
    assert zero_shot == lm_eval_fingerprint(spec("t_mc", task_dir), task_dir)
    assert zero_shot != lm_eval_fingerprint(spec("t_mc", task_dir, num_fewshot=1), task_dir)


def test_an_unknown_task_of_lm_evals_own_names_the_suites_field(tmp_path: Path) -> None:
    """Without include_path the wrong thing is the suite's dataset.task: the problem says so, with a usable hint."""
    task = {"id": "mc", "dataset": {"kind": "lm_eval", "task": "no_such_task_xyz"}, "answer": {"mode": "choices"},
            "scorers": ["lm_eval"]}
    (problem,) = problems_of(tmp_path, task)
    assert problem.startswith("tasks[0].dataset.task: no lm-eval task named 'no_such_task_xyz'")
    assert "lm-eval ls tasks" in problem and "include_path" in problem
