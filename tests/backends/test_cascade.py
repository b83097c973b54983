"""The live cascade (kind: cascade) with scripted fake models: what validate refuses, and a run's decisions,
answers, latency and records. The real-model check against the offline replay is in test_cascade_model.py."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from suite_factory import fake_suite

from bench.cli.main import main
from bench.metrics import stats
from bench.results.store import RunStore, validate_records
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

ITEMS = [("a1", "billing"), ("a2", "technical"), ("a3", "shipping"), ("a4", "billing")]
# The small model picks option 0 (billing) with these log-likelihoods: softmax max_prob 0.9, 0.4, 0.4, 0.8.
LOGPROBS = {"a1": [math.log(0.9), math.log(0.05), math.log(0.05)], "a2": [math.log(0.4), math.log(0.3),
            math.log(0.3)], "a3": [math.log(0.4), math.log(0.2), math.log(0.4)],
            "a4": [math.log(0.8), math.log(0.1), math.log(0.1)]}


def cascade_suite(data: Path, **cascade: Any) -> dict[str, Any]:
    suite = fake_suite(data)
    suite["models"] = [
        {"id": "small", "backend": {"kind": "fake", "choice_index": 0, "choice_logprobs": LOGPROBS}},
        {"id": "large", "backend": {"kind": "fake", "answers": dict(ITEMS), "delay_s": 0.02}},
        {"id": "hybrid", "backend": {"kind": "cascade", "small": "small", "large": "large", "signal": "max_prob",
                                     "threshold": 0.5, **cascade}}]
    return suite


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": f"ticket {i}", "label": lab}) + "\n" for i, lab in ITEMS))
    return path


def validate(tmp_path: Path, suite: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err


def test_validate_accepts_a_cascade(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate(tmp_path, cascade_suite(data), capsys)[0] == 0


@pytest.mark.parametrize(("change", "problem"), [
    ({"small": "smal"}, "models[2].backend.small: no model with id 'smal' (did you mean 'small'?)"),
    ({"large": "hybrid"}, "models[2].backend.large: 'hybrid' is this model itself"),
    ({"threshold": 1.5}, "models[2].backend.threshold: threshold 1.5 is outside the range of max_prob [0, 1]"),
    ({"signal": "entropy", "threshold": -0.1}, "threshold -0.1 is outside the range of entropy [0, 1.09861]"),
    ({"signal": "entropy", "threshold": 50.0},  # three options: entropy is at most ln 3 = 1.09861 nats
     "threshold 50 is outside the range of entropy [0, 1.09861] (ln of the task's 3 options)"),
    ({"large": "small"}, "models[2].backend.large: 'small' is already the small model"),
    ({"signal": "confidence"}, "models[2].backend.signal: unknown signal 'confidence'"),
    ({"signal": "token_logprob_mean", "threshold": -1.0},
     "models[2].backend.signal: the small model gives no 'token_logprob_mean' on these answers: use one of "
     "max_prob, margin, entropy (task 'triage', answer mode choices)"),
])
def test_validate_refuses(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any],
                          problem: str) -> None:
    code, err = validate(tmp_path, cascade_suite(data, **change), capsys)
    assert code == 2 and problem in err, err


def test_validate_refuses_a_cascade_of_a_cascade(data: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    suite = cascade_suite(data)
    suite["models"].append({"id": "outer", "backend": {"kind": "cascade", "small": "hybrid", "large": "large",
                                                       "signal": "max_prob", "threshold": 0.5}})
    code, err = validate(tmp_path, suite, capsys)
    assert code == 2 and "models[3].backend.small: 'hybrid' runs other models itself (cascade)" in err


def test_a_json_task_needs_a_signal_of_its_mode(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = cascade_suite(data)
    suite["tasks"].append({"id": "routing", "dataset": suite["tasks"][0]["dataset"], "answer": {
        "mode": "json", "json_schema": {"type": "object", "properties": {"label": {"type": "string"}}}},
        "scorers": ["exact_match"]})
    code, err = validate(tmp_path, suite, capsys)
    assert code == 2 and "models[2].backend.signal: the small model gives no 'max_prob'" in err
    assert "(task 'routing', answer mode json)" in err
    fixed = copy.deepcopy(suite)
    fixed["models"][2]["backend"]["by_mode"] = {"json": {"signal": "json_valid", "threshold": 1.0}}
    assert validate(tmp_path, fixed, capsys)[0] == 0
    fixed["models"][2]["backend"]["by_mode"] = {"json": {"signal": "token_logprob_min", "threshold": 0.5}}
    code, err = validate(tmp_path, fixed, capsys)
    assert code == 2 and "models[2].backend.by_mode.json.threshold: threshold 0.5 is outside" in err


def test_a_live_cascade_escalates_below_the_threshold_and_records_both_answers(data: Path, tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(cascade_suite(data)))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
        store = start_run(RunRequest(path, PlanOptions(models=("hybrid",)), tmp_path / "results"), SilentProgress())
    records = {r.item_id: r for r in validate_records(RunStore(store.path))}
    decided = {i: r.engine_extra["cascade"]["escalated"] for i, r in records.items()}
    assert decided == {"a1": False, "a2": True, "a3": True, "a4": False}  # max_prob 0.9, 0.4, 0.4, 0.8 vs 0.5
    assert [records[i].prediction for i in ("a1", "a2", "a3", "a4")] == ["billing", "technical", "shipping",
                                                                         "billing"]
    a2 = records["a2"].engine_extra["cascade"]
    assert a2["small"]["text"] == "billing" and a2["large"]["text"] == "technical"
    assert math.isclose(a2["value"], 0.4) and a2["signal"] == "max_prob" and a2["threshold"] == 0.5
    assert records["a1"].engine_extra["cascade"]["large"] is None
    # real combined latency: the small call's start to the large answer's end (the large one sleeps 20 ms)
    assert records["a2"].t_start == a2["small"]["t_start"] and records["a2"].t_end == a2["large"]["t_end"]
    assert records["a2"].t_end - records["a2"].t_start >= 0.02 > records["a1"].t_end - records["a1"].t_start
    assert records["a2"].t_first_token is None
    info = RunStore(store.path).read_manifest().backends["hybrid"]
    assert info["engine"] == "cascade" and info["settings"]["small"]["id"] == "small"


def test_a_cascade_of_trained_models_fits_both_before_answering(data: Path, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """From the outside test: a cascade whose models are `kind: trained` validated but failed every item ("no
    task prepared"), as the cascade did not pass prepare_task on. Both now fit; the training is the cell's."""
    pytest.importorskip("sklearn")
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    train = tmp_path / "train.jsonl"
    words = {"billing": "invoice charge refund", "technical": "error crash bug", "shipping": "parcel courier late"}
    train.write_text("".join(json.dumps({"id": f"t{n}-{label}", "text": f"{text} {n}", "label": label}) + "\n"
                             for label, text in words.items() for n in range(4)))
    suite = cascade_suite(data)
    suite["tasks"][0]["train"] = {"path": train.name, "fields": {"input": "text", "expected": "label"}}
    suite["models"][0] = {"id": "small", "backend": {"kind": "trained", "model": "tfidf_logreg", "labels": 3}}
    suite["models"][1] = {"id": "large", "backend": {"kind": "trained", "model": "tfidf_logreg", "labels": "all"}}
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    assert main(["validate", str(path)]) == 0
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
    store = start_run(RunRequest(path, PlanOptions(models=("hybrid",)), tmp_path / "results"), SilentProgress())
    records = validate_records(RunStore(store.path))
    assert len(records) == len(ITEMS) and all(r.status == "ok" and r.error is None for r in records)
    assert all(isinstance(r.engine_extra["cascade"]["value"], float) for r in records)
    [segment] = RunStore(store.path).segments()  # the one cell: hybrid x triage
    training = segment.training
    assert set(training) >= {"train_s", "train_cpu_s", "small", "large"}
    assert training["train_s"] == pytest.approx(training["small"]["train_s"] + training["large"]["train_s"])
