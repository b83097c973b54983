"""The live cascade against the offline replay, with the real bundled models (greedy): SmolLM2-135M small,
Gemma-3-270M large, ticket triage on 12 short tickets (3 labels, to keep it quick). The cascade must escalate
exactly the items whose small-model max_prob (in the small model's own records) is below the threshold, answer
each with the model the replay picks, and so get the accuracy of the offline replay (bench.route, `bench route`)
at that threshold. One thread per model: on a shared machine llama.cpp's spinning threads make two-thread runs
about 8x slower."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import bench.run.lifecycle
from bench.api import load_run
from bench.metrics import stats
from bench.results.store import RunStore, validate_records
from bench.route import policies
from bench.route.pairs import pair_runs
from bench.route.replay import RouteOptions, replay
from bench.route.signals import values_of
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


def run(tmp_path: Path, name: str, models: list[dict[str, Any]], only: tuple[str, ...]) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "warmup": 0, "models": models, "tasks": [TASK]}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(stats, "BOOTSTRAP_RESAMPLES", 200)
        mp.setattr(bench.run.lifecycle, "calibrate_machine", lambda: {"method": "test"})
        return start_run(RunRequest(path, PlanOptions(models=only), tmp_path / "results"), SilentProgress()).path


def test_live_cascade_matches_the_offline_replay(tmp_path: Path) -> None:
    (pair,) = pair_runs([load_run(run(tmp_path, "pair", [SMALL, LARGE], ()))], "small", "large")
    probs = sorted({float(p) for p in values_of(pair.small.confidence, "max_prob")})
    assert len(probs) > 4
    middle = len(probs) // 2  # a threshold halfway between two observed values: about half the items escalate
    threshold = statistics.mean(probs[middle - 1: middle + 1])
    replayed = replay(pair, RouteOptions(signal="max_prob", thresholds=(threshold,)))
    (point,) = [p for p in replayed.points if p.policy == "fixed-threshold"]
    escalate = policies.threshold(values_of(pair.small.confidence, "max_prob"), threshold)
    assert 0 < escalate.sum() < pair.n and point.outcome.share_large == escalate.mean()

    cascade = {"id": "hybrid", "backend": {"kind": "cascade", "small": "small", "large": "large",
                                           "signal": "max_prob", "threshold": threshold}}
    live_run = run(tmp_path, "live", [SMALL, LARGE, cascade], ("hybrid",))
    live = {r.item_id: r for r in validate_records(RunStore(live_run))}
    assert sorted(live) == sorted(pair.item_ids) and len(live) == 12
    decided = [live[item].engine_extra["cascade"]["escalated"] for item in pair.item_ids]
    assert decided == escalate.tolist()
    scores = [live[item].scores[pair.metric] for item in pair.item_ids]
    assert scores == np.where(escalate, pair.large.scores, pair.small.scores).tolist()
    assert sum(scores) / pair.n == point.outcome.accuracy
