"""The fitted-model cache: keyed by data, config, seed and library versions; a damaged file is refit, not read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.learn.cache import cache_file, fit_key, library_versions, load_fitted, save_fitted
from bench.learn.classifiers import make_classifier


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_the_key_changes_with_data_config_and_seed() -> None:
    base = fit_key(["a", "b"], ["x", "y"], {"model": "tfidf_logreg", "params": {}, "seed": 0})
    assert base == fit_key(["a", "b"], ["x", "y"], {"seed": 0, "params": {}, "model": "tfidf_logreg"})
    assert len({base, fit_key(["a", "c"], ["x", "y"], {"model": "tfidf_logreg", "params": {}, "seed": 0}),
                fit_key(["a", "b"], ["y", "x"], {"model": "tfidf_logreg", "params": {}, "seed": 0}),
                fit_key(["a", "b"], ["x", "y"], {"model": "tfidf_logreg", "params": {}, "seed": 1}),
                fit_key(["a", "b"], ["x", "y"], {"model": "tfidf_logreg", "params": {"C": 1.0}, "seed": 0})}) == 5
    assert library_versions()["scikit-learn"] != "absent"


def test_a_saved_fit_loads_back_and_a_damaged_one_is_refit(cache: Path) -> None:
    classifier = make_classifier("tfidf_logreg", 0).fit(["pay bill", "app crash"], ["billing", "technical"])
    save_fitted("k1", classifier, {"train_s": 0.5})
    found = load_fitted("k1")
    assert found is not None and found[1] == {"train_s": 0.5}
    assert (found[0].predict_proba(["bill"]) == classifier.predict_proba(["bill"])).all()
    assert cache_file("k1").parent == cache / "trained" and [p.name for p in cache_file("k1").parent.iterdir()] == \
        ["k1.joblib"]  # no temporary file left
    cache_file("k1").write_bytes(b"not a pickle")
    assert load_fitted("k1") is None and load_fitted("absent") is None
