"""The bundled MiniLM, loaded offline: unit-length embeddings cached per text (each text embedded once), and an
embedding classifier on them."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

from bench.learn.classifiers import EmbedLogReg
from bench.learn.embeddings import Embedder, minilm_path
from bench.learn.params import LogRegParams

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "trained"


def split(name: str) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def test_the_bundled_model_is_a_local_folder() -> None:
    assert (minilm_path() / "model.safetensors").is_file() and (minilm_path() / "modules.json").is_file()


def test_minilm_embeddings_are_cached_per_text_and_fresh_when_asked() -> None:
    texts, labels = split("train")
    embedder = Embedder()
    classifier = EmbedLogReg(LogRegParams(), 0, embedder)
    classifier.fit(texts, labels)
    assert embedder.encoded == 30
    again = embedder.encode([*texts[:5], "a text not seen before"])
    assert embedder.encoded == 31 and again.shape == (6, 384)
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)
    assert np.allclose(embedder.embed(texts[:2]), again[:2], atol=1e-5) and embedder.encoded == 31
    test, expected = split("test")
    proba = classifier.predict_proba(test)
    assert proba.shape == (12, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert sum(classifier.classes_[i] == x for i, x in zip(proba.argmax(axis=1), expected, strict=True)) >= 8
    assert pickle.loads(pickle.dumps(classifier))._embedder is None  # the bundled model is not pickled with it


