"""Backend kind `trained` end to end: real scikit-learn, the real bundled MiniLM and SmolLM2 through the CLI."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from bench.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "fixtures" / "trained"
CHOICES = {"billing": "billing", "technical": "technical problem", "shipping": "shipping"}
"""Label -> verbalized text: choice_logprobs follow this order (billing, technical, shipping)."""


def triage_task(**overrides: Any) -> dict[str, Any]:
    """Ticket triage over 3 labels on the test fixture (12 items), trained on its 30-item train split."""
    task: dict[str, Any] = {
        "id": "triage",
        "dataset": {"path": str(DATA / "test.jsonl"), "fields": {"input": "text", "expected": "label"}},
        "train": {"path": str(DATA / "train.jsonl"), "fields": {"input": "text", "expected": "label"}},
        "prompt": {"system": "Categories: {choices}. Answer with the category.", "user": "Ticket: {input}\nCategory:"},
        "answer": {"mode": "choices", "choices": CHOICES},
        "scorers": ["accuracy", "macro_f1"],
    }
    return task | overrides


def trained(model_id: str, model: str, **params: Any) -> dict[str, Any]:
    return {"id": model_id, "backend": {"kind": "trained", "model": model, **params}}


def write(tmp_path: Path, models: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump({"name": "trained", "warmup": 1, "cost": {"usd_per_hour": 1.0, "basis": "test"},
                                    "models": models, "tasks": tasks}, sort_keys=False))
    return path


def run_dir(out: Path) -> Path:
    (found,) = [p for p in out.iterdir() if p.is_dir()]
    return found


def records(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "records.jsonl").read_text().splitlines()]


def segments(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "segments.jsonl").read_text().splitlines()]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.model
def test_one_table_mixes_tfidf_minilm_and_smollm2_through_the_cli(tmp_path: Path) -> None:
    models = [trained("tfidf", "tfidf_logreg"), trained("minilm", "embed_logreg", labels=9, seed=3),
              {"id": "smollm2", "backend": {"kind": "llama_cpp", "model": "bundled:smollm2-135m-instruct",
                                            "n_ctx": 512}}]
    suite = write(tmp_path, models, [triage_task(limit=6)])  # 2 items a label: the test stays short
    done = subprocess.run([sys.executable, "-m", "bench", "run", str(suite), "--out", str(tmp_path / "runs"),
                           "--executor", "local"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr
    table = done.stdout[done.stdout.index("task: triage"):]
    assert all(name in table for name in ("tfidf", "minilm", "smollm2", "accuracy"))
    run = run_dir(tmp_path / "runs")
    by_model: dict[str, list[dict[str, Any]]] = {}
    for record in records(run):
        by_model.setdefault(record["model_id"], []).append(record)
    assert {m: len(r) for m, r in by_model.items()} == {"tfidf": 6, "minilm": 6, "smollm2": 6}
    training = {s["model_id"]: s["training"] for s in segments(run)}
    assert training["smollm2"] == {}
    assert training["tfidf"]["labels_used"] == 30 and training["minilm"]["labels_used"] == 9
    assert training["tfidf"]["train_s"] > 0 and training["minilm"]["train_cpu_s"] > 0
    # the distinct vocabulary of the fixture is learnt: TF-IDF on all 30 labels gets most of the test items
    assert sum(r["scores"]["accuracy"] for r in by_model["tfidf"]) >= 4
    summary = json.loads((run / "summary.json").read_text())
    measured = {r["model_id"]: r for r in summary["costs"]["rows"] if r["basis"] == "measured"}
    assert measured["tfidf"]["training_usd"] == pytest.approx(training["tfidf"]["train_s"] / 3600)
    assert measured["smollm2"]["training_usd"] == 0.0
    assert measured["tfidf"]["monthly_usd"] == pytest.approx(
        100 * measured["tfidf"]["usd_per_1000_tasks"] + measured["tfidf"]["training_usd"])


def test_choice_logprobs_are_the_log_of_predict_proba_in_choices_order(tmp_path: Path, cache: Path) -> None:
    from bench.learn.classifiers import make_classifier

    suite = write(tmp_path, [trained("tfidf", "tfidf_logreg", seed=4, params={"C": 3.0})], [triage_task()])
    assert main(["run", str(suite), "--out", str(tmp_path / "runs"), "--executor", "local"]) == 0
    train = [json.loads(line) for line in (DATA / "train.jsonl").read_text().splitlines()]
    test = {json.loads(line)["id"]: json.loads(line)["text"] for line in (DATA / "test.jsonl").read_text().splitlines()}
    same = make_classifier("tfidf_logreg", 4, C=3.0).fit([r["text"] for r in train], [r["label"] for r in train])
    order = [same.classes_.index(label) for label in CHOICES]
    for record in records(run_dir(tmp_path / "runs")):
        expected = same.predict_proba([test[record["item_id"]]])[0][order]
        assert record["choice_logprobs"] == pytest.approx([math.log(p) for p in expected], abs=1e-9)
        assert record["prediction"] == list(CHOICES)[int(np.argmax(expected))]
        assert record["status"] == "ok" and record["t_end"] >= record["t_start"]


def test_a_fitted_model_is_cached_by_data_config_and_seed(tmp_path: Path, cache: Path) -> None:
    suite = write(tmp_path, [trained("a", "tfidf_logreg", labels=6, seed=1)], [triage_task()])
    for out in ("first", "second"):
        assert main(["run", str(suite), "--out", str(tmp_path / out), "--executor", "local"]) == 0
    first, second = (segments(run_dir(tmp_path / out))[0]["training"] for out in ("first", "second"))
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["cache_keys"] == second["cache_keys"] and len(list((cache / "trained").iterdir())) == 1
    assert second["train_s"] == first["train_s"]  # the fit's cost is the one it had, paid once
    predictions = [[r["prediction"] for r in records(run_dir(tmp_path / out))] for out in ("first", "second")]
    assert predictions[0] == predictions[1]
    other = write(tmp_path, [trained("a", "tfidf_logreg", labels=6, seed=2)], [triage_task()])
    assert main(["run", str(other), "--out", str(tmp_path / "third"), "--executor", "local"]) == 0
    assert segments(run_dir(tmp_path / "third"))[0]["training"]["cached"] is False  # another seed, another draw
    assert len(list((cache / "trained").iterdir())) == 2


def test_a_json_task_whose_fields_are_labels_is_answered(tmp_path: Path, cache: Path) -> None:
    fields = {"input": "text", "expected": {"label": "label", "urgent": "urgent"}}
    task = triage_task(dataset={"path": str(DATA / "test.jsonl"), "fields": fields},
                       train={"path": str(DATA / "train.jsonl"), "fields": fields},
                       answer={"mode": "json", "json_schema": {"type": "object", "required": ["label", "urgent"],
                               "properties": {"label": {"type": "string", "enum": list(CHOICES)},
                                              "urgent": {"type": "boolean"}}}},
                       scorers=[{"name": "json_fields", "types": {"label": "label", "urgent": "bool"}},
                                {"name": "accuracy", "field": "label"}])
    suite = write(tmp_path, [trained("tfidf", "tfidf_logreg")], [task])
    assert main(["run", str(suite), "--out", str(tmp_path / "runs"), "--executor", "local"]) == 0
    answers = [r["prediction"] for r in records(run_dir(tmp_path / "runs"))]
    assert len(answers) == 12 and all(set(a) == {"label", "urgent"} and isinstance(a["urgent"], bool)
                                      for a in answers)
    assert len(segments(run_dir(tmp_path / "runs"))[0]["training"]["cache_keys"]) == 2  # one classifier a field
