"""The classifiers on real scikit-learn, the real bundled MiniLM and real SetFit (a tiny budget)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.learn.classifiers import make_classifier

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "trained"


def split(name: str) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def test_an_unknown_kind_names_the_kinds() -> None:
    with pytest.raises(ValueError, match="unknown classifier kind 'bert': use one of tfidf_logreg, embed_logreg, "
                                         "setfit"):
        make_classifier("bert", 0)


def test_unknown_params_name_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"tfidf_logreg params: Cx: Extra inputs.*allowed: C, class_weight"):
        make_classifier("tfidf_logreg", 0, Cx=1.0)
    with pytest.raises(ValueError, match="num_iterations"):
        make_classifier("setfit", 0, num_iterations=0)


def test_one_label_is_not_enough() -> None:
    with pytest.raises(ValueError, match="at least 2 labels"):
        make_classifier("tfidf_logreg", 0).fit(["a", "b"], ["x", "x"])


def test_tfidf_probabilities_are_rows_over_the_sorted_labels_and_seeded() -> None:
    texts, labels = split("train")
    test, expected = split("test")
    first = make_classifier("tfidf_logreg", 7).fit(texts, labels)
    proba = first.predict_proba(test)
    assert first.classes_ == ["billing", "shipping", "technical"] and proba.shape == (12, 3)
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba > 0).all()
    assert np.array_equal(proba, make_classifier("tfidf_logreg", 7).fit(texts, labels).predict_proba(test))
    right = sum(first.classes_[i] == label for i, label in zip(proba.argmax(axis=1), expected, strict=True))
    assert right >= 9  # the fixture's labels have distinct words: 30 examples learn most of them


def test_setfit_trains_on_a_tiny_budget() -> None:
    texts, labels = split("train")
    few = [(t, x) for t, x in zip(texts, labels, strict=True) if x != "shipping"][:16]  # 8 per class, 2 classes
    classifier = make_classifier("setfit", 0, num_iterations=1, num_epochs=1, batch_size=16)
    classifier.fit([t for t, _ in few], [x for _, x in few])
    proba = classifier.predict_proba(["I was billed twice", "the app crashes on start"])
    assert classifier.classes_ == ["billing", "technical"] and proba.shape == (2, 2)
    assert np.allclose(proba.sum(axis=1), 1.0)
