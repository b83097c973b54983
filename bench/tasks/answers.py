"""Turning a backend's raw output into a prediction the scorers understand."""

from __future__ import annotations

import json
from typing import Any

from bench.backends.base import Result
from bench.suite.spec import AnswerSpec
from bench.tasks.prompts import choice_texts, label_of


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
    label = label_of(result.text, answer) or _label_in_object(result.text, answer)
    if label is not None:
        return label, None
    return None, f"output is not one of the {len(labels)} labels"


def _label_in_object(text: str, answer: AnswerSpec) -> str | None:
    """The label of an answer object found as json mode finds it (in a ```json fence, after prose): its
    "answer" value (the key the openai backend asks for), else the one label among its string values."""
    found, _ = parse_json_object(text)
    if found is None:
        return None
    values = [found["answer"]] if "answer" in found else [v for v in found.values() if isinstance(v, str)]
    labels = {label_of(value, answer) for value in values} - {None}
    return labels.pop() if len(labels) == 1 else None


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
