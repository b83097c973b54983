"""bench.learn.run_dir: which fits become the run directory's cells, and their names."""

from __future__ import annotations

from bench.learn.curve import ALL, CurveConfig, Fit
from bench.learn.run_dir import key_fits, model_id


def fit(strategy: str, labels: int, seed: int) -> Fit:
    return Fit(strategy, labels, seed, {"accuracy": 0.5}, [], [], 0.0, 0.0)


def test_key_fits_are_all_and_each_strategys_largest_budget_for_every_seed() -> None:
    fits = [fit(s, n, seed) for seed in (0, 1) for s, n in
            ((ALL, 300), ("random", 8), ("random", 64), ("uncertainty", 8), ("uncertainty", 64))]
    chosen = key_fits(fits)
    assert sorted((f.strategy, f.labels, f.seed) for f in chosen) == [
        (ALL, 300, 0), (ALL, 300, 1), ("random", 64, 0), ("random", 64, 1), ("uncertainty", 64, 0),
        ("uncertainty", 64, 1)]
    config = CurveConfig("tfidf_logreg", (8, 64))
    assert {model_id(config, f) for f in chosen} == {"tfidf_logreg@all", "tfidf_logreg@random-64",
                                                    "tfidf_logreg@uncertainty-64"}
