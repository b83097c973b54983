"""`bench validate` refuses a trained model where it cannot learn or answer: one line each (file, field, hint)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.cli.main import main

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "trained"
FIELDS = {"input": "text", "expected": "label"}


def suite(tmp_path: Path, backend: dict[str, Any] | None = None, **task: Any) -> Path:
    spec = {"name": "bad", "models": [{"id": "clf", "backend": {"kind": "trained", "model": "tfidf_logreg",
                                                                **(backend or {})}}],
            "tasks": [{"id": "triage", "dataset": {"path": str(DATA / "test.jsonl"), "fields": FIELDS},
                       "train": {"path": str(DATA / "train.jsonl"), "fields": FIELDS},
                       "answer": {"mode": "choices", "choices": ["billing", "technical", "shipping"]},
                       "scorers": ["accuracy"]} | task]}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def refused(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line `bench validate` printed (exit 2)."""
    assert main(["validate", str(path)]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, lines
    assert str(path) in lines[0]
    return lines[0]


def test_a_sound_suite_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(suite(tmp_path, {"labels": 12}))]) == 0


def test_a_text_task_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(suite(tmp_path, answer={"mode": "text"}, scorers=["exact_match"]), capsys)
    assert "tasks[0].answer.mode: task 'triage' asks for generated text" in line and "language models" in line


def test_a_budget_larger_than_the_pool_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(suite(tmp_path, {"labels": 31}), capsys)
    assert "models[0].backend.labels: label budget 31 is larger than the train pool of task 'triage' (30 items)" \
        in line and "use labels: 30 or fewer, or labels: all" in line


def test_a_budget_smaller_than_the_labels_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "budget 2 is smaller than the 3 labels" in refused(suite(tmp_path, {"labels": 2}), capsys)


def test_a_pool_missing_a_label_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(suite(tmp_path, answer={"mode": "choices", "choices": ["billing", "technical", "shipping",
                                                                         "returns"]}), capsys)
    assert "tasks[0].train: the train split has no example of label(s): 'returns'" in line
    assert "add train examples of every label" in line


def test_a_train_label_outside_the_choices_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    train = tmp_path / "train.jsonl"
    rows = [json.loads(line) for line in (DATA / "train.jsonl").read_text().splitlines()]
    train.write_text("".join(json.dumps(r | {"label": "refund"} if i == 0 else r) + "\n" for i, r in enumerate(rows)))
    line = refused(suite(tmp_path, train={"path": str(train), "fields": FIELDS}), capsys)
    assert "tasks[0].train: train label(s) not among the task's labels: 'refund'" in line


def test_no_train_split_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = suite(tmp_path)
    spec = yaml.safe_load(path.read_text())
    del spec["tasks"][0]["train"]
    path.write_text(yaml.safe_dump(spec))
    assert "tasks[0].train: task 'triage' has no train split: add train:" in refused(path, capsys)


def test_without_the_trained_extra_the_suite_says_what_to_install(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sentence_transformers"
                        else real(name, *a))
    line = refused(suite(tmp_path, {"model": "embed_logreg"}), capsys)
    assert "models[0].backend" in line and "needs sentence_transformers" in line
    assert "pip install -e '.[trained]'" in line


@pytest.mark.parametrize(("labels", "shown"), [("lots", "'lots'"), (7.5, "7.5"), (True, "True"), ("16", "'16'"),
                                               (1, "1"), (None, "None")])
def test_a_label_budget_that_is_not_a_count_is_one_line(labels: Any, shown: str, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    # was two lines for one problem: `labels.int: Input should be a valid integer` and `labels: Input should be 'all'`
    line = refused(suite(tmp_path, {"labels": labels}), capsys)
    assert line.endswith(f"models[0].backend.labels: a whole number ≥ 2 or 'all' (got {shown})")
