"""Shared fixtures: repository paths and a writer for suite files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.learn_suite import WriteSuite, make_learn_suite

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def learn_suite(tmp_path: Path) -> WriteSuite:
    """Writes a tiny learn-curve suite (tests/learn_suite.py) into tmp_path; returns the suite's path."""
    return make_learn_suite(tmp_path)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def write_suite(tmp_path: Path) -> Callable[[dict[str, Any] | str], Path]:
    """Write a suite (a dict dumped as YAML, or raw YAML text) to tmp_path/suite.yaml and return its path."""

    def write(content: dict[str, Any] | str) -> Path:
        path = tmp_path / "suite.yaml"
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        return path

    return write


@pytest.fixture
def labels_jsonl(tmp_path: Path) -> Path:
    """A tiny labelled dataset: 6 items over 3 labels."""
    rows = [("a1", "the invoice total is wrong", "billing"), ("a2", "app crashes on start", "technical"),
            ("a3", "where is my parcel", "shipping"), ("a4", "charged twice", "billing"),
            ("a5", "error 500 on login page", "technical"), ("a6", "package arrived late", "shipping")]
    path = tmp_path / "items.jsonl"
    import json

    path.write_text("".join(json.dumps({"id": i, "text": t, "label": lab}) + "\n" for i, t, lab in rows))
    return path


@pytest.fixture
def dataset_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How many times each data file is read, by file name (every read goes through datasets._read_file)."""
    import bench.tasks.datasets as datasets

    reads: Counter[str] = Counter()
    original = datasets._read_file

    def counted(file: Path) -> bytes:
        reads[file.name] += 1
        return original(file)

    monkeypatch.setattr(datasets, "_read_file", counted)
    return reads
