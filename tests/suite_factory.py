"""Suite dicts for tests (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def fake_suite(dataset: Path | str, **overrides: Any) -> dict[str, Any]:
    """A valid suite using the scripted fake backend on a JSONL dataset."""
    suite: dict[str, Any] = {
        "name": "unit",
        "warmup": 0,
        "models": [{"id": "fake-a", "backend": {"kind": "fake", "choice_index": 0}}],
        "tasks": [{
            "id": "triage",
            "dataset": {"path": str(dataset), "fields": {"input": "text", "expected": "label"}},
            "prompt": {"system": "Classify.", "user": "Text: {input}\nLabel:"},
            "answer": {"mode": "choices", "choices": ["billing", "technical", "shipping"]},
            "scorers": ["accuracy", "macro_f1"],
        }],
    }
    suite.update(overrides)
    return suite
