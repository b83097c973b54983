"""The generated train pools (suites/data/*/train_pool.jsonl): size, balance, fields, no overlap with test."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

DATA = Path(__file__).resolve().parents[2] / "suites" / "data"
# (folder, text field, label field, fields every row has)
POOLS = [
    ("ticket_triage", "text", "category", {"id", "text", "category", "priority"}),
    ("email_routing", "body", "department", {"id", "subject", "body", "department", "urgent"}),
]


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_train_pool", DATA / "generate_train_pool.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("folder", "text", "label", "fields"), POOLS)
def test_pool_is_large_balanced_and_has_the_test_fields(folder: str, text: str, label: str, fields: set[str]) -> None:
    pool = _rows(DATA / folder / "train_pool.jsonl")
    test = _rows(DATA / folder / "test.jsonl")
    assert len(pool) >= 300
    assert all(set(r) == fields for r in pool)
    assert {tuple(sorted(r)) for r in test} == {tuple(sorted(fields))}
    counts = Counter(str(r[label]) for r in pool)
    assert set(counts) == {str(r[label]) for r in test}
    assert max(counts.values()) - min(counts.values()) <= 1


@pytest.mark.parametrize(("folder", "text", "label", "fields"), POOLS)
def test_pool_does_not_overlap_test_or_few_shot(folder: str, text: str, label: str, fields: set[str]) -> None:
    norm = _generator().normalise
    pool = _rows(DATA / folder / "train_pool.jsonl")
    others = _rows(DATA / folder / "test.jsonl") + _rows(DATA / folder / "train.jsonl")
    assert not {r["id"] for r in pool} & {r["id"] for r in others}
    assert not {norm(str(r[text])) for r in pool} & {norm(str(r[text])) for r in others}
    assert len({norm(str(r[text])) for r in pool}) == len(pool)


def test_normalise_ignores_case_punctuation_and_spacing() -> None:
    norm = _generator().normalise
    assert norm("Where is  my order?!") == norm("where is my order")
    assert norm("order A") != norm("order B")


def test_ticket_priorities_cover_all_levels() -> None:
    pool = _rows(DATA / "ticket_triage" / "train_pool.jsonl")
    assert set(Counter(str(r["priority"]) for r in pool)) == {"low", "medium", "high", "urgent"}


def test_generator_reproduces_the_files_on_disk() -> None:
    built = _generator().build()
    assert {p.name for p in built} == {"train_pool.jsonl"}
    for path, text in built.items():
        assert path.read_text(encoding="utf-8") == text, f"{path}: rerun suites/data/generate_train_pool.py"
