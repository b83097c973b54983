"""Small hand-made records files for the columnar tests: several cells, repetitions, errored and retried items,
old records without the newer optional fields (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.suite.spec import TaskSpec

LABELS = ["billing", "technical", "shipping"]
NEWER_FIELDS = ("cached_prompt_tokens", "t_arrival", "parse_error", "engine_extra", "repetition", "tags",
                "choice_logprobs", "raw_output")


def triage_task() -> TaskSpec:
    return TaskSpec.model_validate({"id": "triage", "dataset": {"path": "items.jsonl"},
                                    "answer": {"mode": "choices", "choices": LABELS},
                                    "scorers": ["accuracy", "macro_f1"]})


def routing_task() -> TaskSpec:
    return TaskSpec.model_validate({
        "id": "routing", "dataset": {"path": "items.jsonl"},
        "answer": {"mode": "json", "json_schema": {"type": "object"}},
        "scorers": [{"name": "json_fields", "types": {"department": "label", "urgent": "bool"}},
                    {"name": "accuracy", "field": "department"}, {"name": "macro_f1", "field": "department"}]})


def _base(cell: str, task: str, item: str, i: int) -> dict[str, Any]:
    return {"schema_version": 1, "cell_id": cell, "model_id": f"model-{cell}", "task_id": task, "task_version": "1",
            "item_id": item, "repetition": 0, "segment": f"seg-{cell}", "prompt_sha256": "ab",
            "prompt_tokens": 40 + i % 7, "cached_prompt_tokens": 8 if i % 5 == 0 else 0,
            "completion_tokens": [0, 1, 2, 9, 17][i % 5], "t_start": 1000.0 + i * 0.37,
            "t_first_token": 1000.0 + i * 0.37 + 0.05 + (i % 11) * 0.013, "t_end": 1000.5 + i * 0.41,
            "t_arrival": 999.9 + i * 0.37 if i % 4 == 0 else None, "status": "ok", "error": None,
            "parse_error": None}


def triage_row(cell: str, i: int) -> dict[str, Any]:
    pred, ref = LABELS[(i * 7) % 3], LABELS[i % 3]
    row = {**_base(cell, "triage", f"t{i:03d}", i), "prediction": pred, "reference": ref,
           "scores": {"accuracy": float(pred == ref)}}
    if i % 6 == 0:
        row["engine_extra"] = {"option_tokens_evaluated": 5}
    return row


def routing_row(cell: str, i: int) -> dict[str, Any]:
    ref = {"department": ["sales", "it", "hr"][i % 3], "urgent": i % 2 == 0}
    pred = {"department": ["sales", "it", "hr", "legal"][(i * 5) % 4], "urgent": i % 3 == 0}
    right = {"department": float(pred["department"] == ref["department"]),
             "urgent": float(pred["urgent"] == ref["urgent"])}
    scores = {"field.department": right["department"], "field.urgent": right["urgent"],
              "field_accuracy": sum(right.values()) / 2, "field_f1": sum(right.values()) / 2,
              "all_fields_correct": float(all(right.values())), "accuracy": right["department"]}
    return {**_base(cell, "routing", f"r{i:03d}", i), "prediction": pred, "reference": ref, "scores": scores}


def failed(row: dict[str, Any], status: str = "error") -> dict[str, Any]:
    """An errored (or unparsed) answer: no first token, no prediction, part scores missing."""
    return {**row, "status": status, "error": "boom", "t_first_token": None, "prediction": None,
            "scores": {k: 0.0 for k in row["scores"] if not k.startswith("field.")}}


def old(row: dict[str, Any]) -> dict[str, Any]:
    """A record written before the newer optional fields existed."""
    return {k: v for k, v in row.items() if k not in NEWER_FIELDS}


def fixture_rows(n: int = 24) -> list[dict[str, Any]]:
    """Two triage cells and one routing cell: repetitions, errors, parse failures, old-format lines, and retried
    items whose first attempt (an error) is superseded by a later line."""
    rows: list[dict[str, Any]] = []
    for i in range(n):
        a, b, c = triage_row("A", i), triage_row("B", i), routing_row("C", i)
        if i % 9 == 4:
            rows.append(failed(a))  # first attempt, superseded below
        if i % 7 == 3:
            b = failed(b, "timeout")
        if i % 8 == 5:
            c = {**failed(c), "status": "ok", "error": None, "parse_error": "not JSON", "t_first_token": 1000.2 + i}
        a, b, c = with_failure_kinds(i, a, b, c)
        rows += [a, old(b) if i % 3 == 0 else b, c]
        if i % 4 == 1:
            rows.append({**a, "repetition": 1, "t_end": a["t_end"] + 0.3})
    return rows


def with_failure_kinds(i: int, *rows: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Some rows as each failure kind of bench.metrics.records: empty answer (blank text, nothing predicted), cut at
    max_tokens, over the context (refused), input truncated; others with a blank text but a prediction."""
    a, b, c = rows
    if i % 10 == 7:
        a = {**a, "raw_output": " \n\t", "prediction": None, "parse_error": "empty", "scores": {"accuracy": 0.0}}
    elif i % 10 == 2:
        a = {**a, "raw_output": a["prediction"], "engine_extra": {"input_truncated_tokens": 12}}
    if i % 6 == 2:
        c = {**c, "engine_extra": {"finish_reason": "length"}, "raw_output": "{\"department\": "}
    if i % 11 == 6:
        b = {**failed(b), "engine_extra": {"over_context": True}}
    elif i % 11 == 1:
        b = {**b, "engine_extra": {"over_context": "yes", "finish_reason": "stop"}}
    return a, b, c


def write_records(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path
