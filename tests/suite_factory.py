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


def one_label_items(path: Path, n: int) -> Path:
    """n JSONL items i00..i{n-1}, all labelled billing."""
    import json

    path.write_text("".join(json.dumps({"id": f"i{k:02d}", "text": f"t{k}", "label": "billing"}) + "\n"
                            for k in range(n)))
    return path
