"""Turning a backend's raw output into a prediction the scorers understand."""

from __future__ import annotations

import json
from typing import Any

from bench.backends.base import Result
from bench.spec import AnswerSpec
from bench.tasks.prompts import choice_texts


def parse_prediction(result: Result, answer: AnswerSpec) -> tuple[Any, str | None]:
    """(prediction, parse error): a label, a dict, or stripped text; None with a reason if unusable."""
    if answer.mode == "choices":
        return _label(result, answer)
    if answer.mode == "json":
        return parse_json_object(result.text)
    return result.text.strip(), None


def _label(result: Result, answer: AnswerSpec) -> tuple[str | None, str | None]:
    labels = list(choice_texts(answer))
    if result.choice_index is not None and 0 <= result.choice_index < len(labels):
        return labels[result.choice_index], None
    text = result.text.strip().casefold()
    for label, verbal in choice_texts(answer).items():
        if text in (label.casefold(), verbal.casefold()):
            return label, None
    return None, f"output is not one of the {len(labels)} labels"


def parse_json_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The first JSON object in text: the whole text, or the first {...} that parses (prose around it is ok)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value, None
        start = text.find("{", start + 1)
    return None, "output is not a JSON object"
