"""A tiny classification suite for learn-curve tests, written into tmp_path: 3 labels, a 36-item train pool, an
18-item test split (the `learn_suite` fixture of tests/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

WORDS = {
    "billing": ["invoice", "charge", "refund", "payment", "price", "receipt"],
    "shipping": ["parcel", "courier", "tracking", "delivery", "box", "address"],
    "account": ["password", "login", "email", "username", "profile", "2fa"],
}
FILLER = ["please help", "thanks", "as soon as you can", "today", "with my order", "again"]


def rows(prefix: str, per_label: int, offset: int) -> list[dict[str, str]]:
    """`per_label` short texts per label; each names two of its label's words (items differ by offset)."""
    out = []
    for label, words in WORDS.items():
        for i in range(per_label):
            j = i + offset
            text = f"{words[j % 6]} problem, {words[(j + 1) % 6]} {FILLER[j % 6]} #{prefix}{j}"
            out.append({"id": f"{prefix}-{label}-{i}", "text": text, "label": label})
    return out


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
    return path


def task(train: str = "pool.jsonl", **changes: Any) -> dict[str, Any]:
    return {"id": "triage", "dataset": {"path": "test.jsonl", "fields": {"input": "text", "expected": "label"}},
            "train": {"path": train, "fields": {"input": "text", "expected": "label"}},
            "answer": {"mode": "choices", "choices": list(WORDS)}, "scorers": ["accuracy", "macro_f1"], **changes}


WriteSuite = Callable[..., Path]


def make_learn_suite(tmp_path: Path) -> WriteSuite:
    """Write test.jsonl, pool.jsonl and suite.yaml (tasks as given, default one choices task); the suite's path."""

    def write(tasks: list[dict[str, Any]] | None = None, pool: list[dict[str, Any]] | None = None) -> Path:
        write_jsonl(tmp_path / "test.jsonl", rows("t", 6, 100))
        write_jsonl(tmp_path / "pool.jsonl", rows("p", 12, 0) if pool is None else pool)
        suite = {"name": "learn", "models": [{"id": "fake", "backend": {"kind": "fake"}}],
                 "tasks": tasks or [task()]}
        (tmp_path / "suite.yaml").write_text(yaml.safe_dump(suite), encoding="utf-8")
        return tmp_path / "suite.yaml"

    return write
