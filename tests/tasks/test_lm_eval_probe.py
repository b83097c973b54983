"""lm-eval tasks resolved in a child process: its answer line, its failures, and nothing loaded in this one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bench.suite.spec import LmEvalDataset
from bench.tasks.lm_eval_probe import _answer, probe_task


def done(rc: int, stdout: str, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["probe"], rc, stdout, stderr)


def test_the_last_stdout_line_is_the_answer() -> None:
    probe = _answer(done(0, 'lm-eval printed this\n{"output_type": "multiple_choice"}\n'))
    assert (probe.output_type, probe.problems, probe.error) == ("multiple_choice", (), None)


def test_the_tasks_problems_come_back_as_problems() -> None:
    probe = _answer(done(0, '{"problems": [["tasks/", "task", "no lm-eval task named \'x\'", "check it"]]}\n'))
    assert [str(p) for p in probe.problems] == ["tasks/: task: no lm-eval task named 'x' (check it)"]
    assert probe.output_type is None


@pytest.mark.parametrize("outcome", [done(1, "", "Traceback...\nImportError: no lm_eval"), done(0, "not json\n"),
                                     done(-9, "")])
def test_a_crashed_or_silent_child_is_an_error_not_a_traceback(outcome: subprocess.CompletedProcess[str]) -> None:
    probe = _answer(outcome)
    assert probe.error is not None and probe.error.startswith("the lm-eval task probe failed")
    assert probe.output_type is None


def test_a_real_task_is_resolved_without_loading_lm_eval_here(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="install the lm-eval extra (the dev extra has it)")
    (tmp_path / "docs.jsonl").write_text('{"q": "a?", "options": ["x", "y"], "gold": 0}\n', encoding="utf-8")
    config = {"task": "t_probe", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": "docs.jsonl"}},
              "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "{{q}}",
              "doc_to_choice": "{{options}}", "doc_to_target": "{{gold}}",
              "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    loaded_before = "lm_eval" in sys.modules
    found = probe_task(LmEvalDataset(kind="lm_eval", task="t_probe", include_path="."), tmp_path)
    missing = probe_task(LmEvalDataset(kind="lm_eval", task="t_nope", include_path="."), tmp_path)
    assert found.output_type == "multiple_choice" and not found.problems
    assert [p.message for p in missing.problems] == ["no lm-eval task named 't_nope'"]
    assert ("lm_eval" in sys.modules) == loaded_before


def test_an_edited_task_yaml_is_probed_again(tmp_path: Path) -> None:
    pytest.importorskip("lm_eval", reason="install the lm-eval extra (the dev extra has it)")
    (tmp_path / "docs.jsonl").write_text('{"q": "a?", "options": ["x", "y"], "gold": 0}\n', encoding="utf-8")
    config = {"task": "t_edit", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": "docs.jsonl"}},
              "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "{{q}}",
              "doc_to_choice": "{{options}}", "doc_to_target": "{{gold}}",
              "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    spec = LmEvalDataset(kind="lm_eval", task="t_edit", include_path=".")
    assert probe_task(spec, tmp_path).output_type == "multiple_choice"
    config |= {"output_type": "generate_until", "doc_to_target": "{{options}}", "generation_kwargs": {"until": ["\n"]},
               "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}]}
    del config["doc_to_choice"]
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(config) + "\n", encoding="utf-8")  # a new size: a new state
    assert probe_task(spec, tmp_path).output_type == "generate_until"
