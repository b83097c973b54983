"""The live cascade against the offline replay, with the real bundled models (greedy): SmolLM2-135M small,
Gemma-3-270M large, ticket triage on 12 short tickets (3 labels, to keep it quick). The cascade must escalate
exactly the items whose small-model max_prob (in the small model's own records) is below the threshold, answer
each with the model the replay picks, and so get the replay's accuracy. One thread per model: on a shared
machine llama.cpp's spinning threads make two-thread runs about 8x slower."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest
import yaml

import bench.run.lifecycle
from bench.metrics import stats
from bench.metrics.records import ItemRecord
from bench.results.store import RunStore, validate_records
from bench.run.lifecycle import RunRequest, start_run
from bench.run.progress import SilentProgress
from bench.suite.plan import PlanOptions

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install -e '.[llama]')")
pytestmark = pytest.mark.model

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "cascade_tickets.jsonl"  # 12 short tickets, 3 labels
ENGINE = {"kind": "llama_cpp", "n_ctx": 512, "n_threads": 1}
SMALL = {"id": "small", "backend": {**ENGINE, "model": "bundled:smollm2-135m-instruct"}}
LARGE = {"id": "large", "backend": {**ENGINE, "model": "bundled:gemma3-270m"}}
TASK = {"id": "triage",
        "dataset": {"path": str(DATA), "fields": {"input": "text", "expected": "category"}},
        "prompt": {"system": "Categories: {choices}. Answer with the category.", "user": "Ticket: {input}\nCategory:"},
        "answer": {"mode": "choices", "choices": ["billing", "technical", "shipping"]},
        "scorers": ["accuracy"]}


def run(tmp_path: Path, name: str, models: list[dict[str, Any]], only: tuple[str, ...]) -> list[ItemRecord]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "warmup": 0, "models": models, "tasks": [TASK]}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
        mp.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"method": "test"})
        store = start_run(RunRequest(path, PlanOptions(models=only), tmp_path / "results"), SilentProgress())
    return validate_records(RunStore(store.path))


def by_model(records: list[ItemRecord], model: str) -> dict[str, ItemRecord]:
    return {r.item_id: r for r in records if r.model_id == model}


def test_live_cascade_matches_the_offline_replay(tmp_path: Path) -> None:
    both = run(tmp_path, "pair", [SMALL, LARGE], ())
    small, large = by_model(both, "small"), by_model(both, "large")
    probs = sorted({r.confidence.max_prob for r in small.values() if r.confidence and r.confidence.max_prob})
    assert len(probs) > 4
    middle = len(probs) // 2  # a threshold halfway between two observed values: about half the items escalate
    threshold = statistics.mean(probs[middle - 1: middle + 1])
    cascade = {"id": "hybrid", "backend": {"kind": "cascade", "small": "small", "large": "large",
                                           "signal": "max_prob", "threshold": threshold}}
    live = by_model(run(tmp_path, "live", [SMALL, LARGE, cascade], ("hybrid",)), "hybrid")
    assert live.keys() == small.keys() == large.keys() and len(live) == 12
    replay_escalated = {i: small[i].confidence.max_prob < threshold for i in small}  # type: ignore[union-attr,operator]
    assert {i: r.engine_extra["cascade"]["escalated"] for i, r in live.items()} == replay_escalated
    assert 0 < sum(replay_escalated.values()) < len(small)
    for item, record in live.items():
        picked = large[item] if replay_escalated[item] else small[item]
        assert record.prediction == picked.prediction and record.scores == picked.scores
        assert record.engine_extra["cascade"]["value"] == pytest.approx(small[item].confidence.max_prob)  # type: ignore[union-attr]
    replay_accuracy = sum((large if replay_escalated[i] else small)[i].scores["accuracy"] for i in small) / 12
    assert sum(r.scores["accuracy"] for r in live.values()) / 12 == replay_accuracy
