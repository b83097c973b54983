"""A learn curve on a real public dataset (UCI Sentiment Labelled Sentences, CC-BY-4.0) read from ../shared/datasets
(or $BENCH_SHARED_DATASETS); skipped when the folder is absent. Nothing is copied into the project."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from bench.learn.classifiers import make_classifier
from bench.learn.curve import ALL, CurveConfig, points, run_curve
from bench.learn.curve_task import label_task
from bench.suite.load import load_suite

SHARED = Path(os.environ.get("BENCH_SHARED_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
SENTIMENT = SHARED / "sentiment_reviews"


@pytest.fixture
def sentiment_suite(tmp_path: Path) -> Path:
    if not (SENTIMENT / "eval.jsonl").is_file():
        pytest.skip(f"shared datasets absent: {SENTIMENT} (set BENCH_SHARED_DATASETS to the datasets folder)")
    test = [json.loads(line) for line in (SENTIMENT / "eval.jsonl").read_text(encoding="utf-8").splitlines()]
    held = {row["id"] for row in test}
    pool = []
    for source in ("amazon", "yelp"):
        lines = SENTIMENT / ("amazon_cells_labelled.txt" if source == "amazon" else "yelp_labelled.txt")
        for i, line in enumerate(lines.read_text(encoding="utf-8").splitlines()):
            text, _, score = line.rpartition("\t")
            if f"{source}-{i:04d}" not in held and score.strip() in ("0", "1"):
                label = ["negative", "positive"][int(score)]
                pool.append({"id": f"{source}-{i:04d}", "input": text, "expected": label})
    for name, rows in (("test", test), ("pool", pool)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    fields = {"input": "input", "expected": "expected"}
    task = {"id": "sentiment", "dataset": {"path": "test.jsonl", "fields": fields},
            "train": {"path": "pool.jsonl", "fields": fields},
            "answer": {"mode": "choices", "choices": ["negative", "positive"]}, "scorers": ["accuracy"]}
    suite = {"name": "sentiment", "models": [{"id": "none", "backend": {"kind": "fake"}}], "tasks": [task]}
    (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    return tmp_path / "suite.yaml"


def test_sentiment_curve_on_the_real_dataset(sentiment_suite: Path) -> None:
    task = label_task(load_suite(sentiment_suite), "sentiment")
    assert len(task.test) == 1000 and 950 <= len(task.pool.texts) <= 1000  # the other half of the 2000 sentences
    fits = list(run_curve(task, CurveConfig("tfidf_logreg", (8, 64), seeds=2),
                          lambda seed: make_classifier("tfidf_logreg", seed)))
    curve = points(fits, "accuracy")
    full = next(p for p in curve if p.strategy == ALL)
    assert full.pct_mean == 100.0 and full.mean > 0.7
    at = {n: sum(p.pct_mean for p in curve if p.labels == n) / 2 for n in (8, 64)}
    assert at[8] < at[64] < 100.0
