"""Tests for bench.tasks.answers: turning backend output into predictions."""

from __future__ import annotations

import pytest

from bench.backends.base import Result
from bench.suite.spec import AnswerSpec
from bench.tasks.answers import parse_json_object, parse_prediction

CHOICES = AnswerSpec(mode="choices", choices={"billing": "billing", "technical": "technical problem",
                                              "returns": "returns and refunds"})
JSON = AnswerSpec(mode="json", json_schema={"type": "object"})


def result(text: str = "", choice_index: int | None = None) -> Result:
    return Result("r1", text=text, choice_index=choice_index)


# ------------------------------------------------------------------------------------------ choices


@pytest.mark.parametrize(("index", "label"), [(0, "billing"), (1, "technical"), (2, "returns")])
def test_choice_by_index(index: int, label: str) -> None:
    assert parse_prediction(result("ignored", index), CHOICES) == (label, None)


def test_choice_index_wins_over_text() -> None:
    assert parse_prediction(result("billing", 2), CHOICES) == ("returns", None)


@pytest.mark.parametrize(("text", "label"), [
    ("billing", "billing"), ("  Billing \n", "billing"),
    ("technical", "technical"), ("Technical Problem", "technical"),
    ("returns and refunds", "returns"),
])
def test_choice_by_label_or_verbalized_text(text: str, label: str) -> None:
    assert parse_prediction(result(text), CHOICES) == (label, None)


def test_choice_from_list() -> None:
    answer = AnswerSpec(mode="choices", choices=("low", "high"))
    assert parse_prediction(result("HIGH"), answer) == ("high", None)


@pytest.mark.parametrize("index", [-1, 3, 99])
def test_out_of_range_index_falls_back_to_text(index: int) -> None:
    assert parse_prediction(result("billing", index), CHOICES) == ("billing", None)
    prediction, reason = parse_prediction(result("nonsense", index), CHOICES)
    assert prediction is None and reason


@pytest.mark.parametrize("text", ["", "shipping", "billing or technical", "I think billing"])
def test_unknown_label_gives_none_and_reason(text: str) -> None:
    prediction, reason = parse_prediction(result(text), CHOICES)
    assert prediction is None
    assert reason == "output is not one of the 3 labels"


# --------------------------------------------------------------------------------------------- json


def test_plain_json_object() -> None:
    assert parse_prediction(result('{"department": "it", "urgent": true}'), JSON) == (
        {"department": "it", "urgent": True}, None)


def test_json_embedded_in_prose() -> None:
    text = 'Sure! Here is the routing:\n{"department": "hr", "urgent": false}\nHope that helps.'
    assert parse_prediction(result(text), JSON) == ({"department": "hr", "urgent": False}, None)


def test_json_in_a_code_fence() -> None:
    text = '```json\n{"total": 12.5, "nested": {"a": [1, 2]}}\n```'
    assert parse_json_object(text) == ({"total": 12.5, "nested": {"a": [1, 2]}}, None)


def test_first_json_object_when_prose_has_more_braces() -> None:
    text = '{"department": "it", "urgent": true}\nNote: I used {department} from the list.'
    assert parse_json_object(text) == ({"department": "it", "urgent": True}, None)


def test_first_of_several_json_objects() -> None:
    text = '{"department": "it", "urgent": true}\n{"department": "hr", "urgent": false}'
    assert parse_json_object(text) == ({"department": "it", "urgent": True}, None)


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2, 3]", '"just a string"', "{not: valid}", "{",
                                  '{"a": 1', "} backwards {", "42"])
def test_garbage_gives_none_and_reason(text: str) -> None:
    prediction, reason = parse_prediction(result(text), JSON)
    assert prediction is None
    assert reason == "output is not a JSON object"


# --------------------------------------------------------------------------------------------- text


def test_text_mode_strips() -> None:
    assert parse_prediction(result("  Paris\n"), AnswerSpec(mode="text")) == ("Paris", None)
    assert parse_prediction(result(""), AnswerSpec(mode="text")) == ("", None)


# ------------------------------------------------------- one extraction rule across modes (issue #10, class 6)

SHIPPING = AnswerSpec(mode="choices", choices=("shipping", "billing", "returns"))


@pytest.mark.parametrize("text", ["Shipping.", "shipping", " SHIPPING!\n", '"Shipping"', "shipping;", "**Shipping**",
                                  '"Shipping".', "*shipping*.", '**"Shipping."**'])
def test_choice_normalized_as_the_accuracy_scorer_normalizes(text: str) -> None:
    from bench.tasks.scorers import build_scorer

    prediction, reason = parse_prediction(result(text), SHIPPING)
    assert (prediction, reason) == ("shipping", None)
    accuracy = build_scorer({"name": "accuracy"})
    assert accuracy.item(text, "shipping") == {"accuracy": 1.0}  # the scorer agrees on the raw text too


@pytest.mark.parametrize("text", [
    '```json\n{"answer": "shipping"}\n```',
    'Here is the category of this ticket:\n{"answer": "Shipping."}',
    '```\n{"category": "shipping", "confidence": "high"}\n```',
    '{"answer": "**Shipping**"}',
])
def test_answer_object_found_in_choices_mode_as_in_json_mode(text: str) -> None:
    obj, _ = parse_prediction(result(text), JSON)
    assert isinstance(obj, dict)  # json mode finds the object ...
    assert parse_prediction(result(text), SHIPPING) == ("shipping", None)  # ... and so does choices mode


@pytest.mark.parametrize("text", ["Answer: shipping", "The answer is shipping.", "(shipping)",
                                  "shipping\n\nBecause the parcel is late."])
def test_a_label_inside_more_text_is_not_taken_by_either_extraction_or_scorer(text: str) -> None:
    """One rule for both: a label with other words around it is no answer (extraction and accuracy agree)."""
    from bench.tasks.scorers import build_scorer

    assert parse_prediction(result(text), SHIPPING) == (None, "output is not one of the 3 labels")
    assert build_scorer({"name": "accuracy"}).item(text, "shipping") == {"accuracy": 0.0}


@pytest.mark.parametrize("text", [
    '{"answer": "cancellation"}',                      # not a label
    '{"first": "shipping", "second": "billing"}',     # two labels, no "answer" key: ambiguous
    '{"answer": "shipping or billing"}',
])
def test_answer_object_without_one_label_is_unparseable(text: str) -> None:
    prediction, reason = parse_prediction(result(text), SHIPPING)
    assert prediction is None
    assert reason == "output is not one of the 3 labels"


def test_choice_object_with_verbalized_text_maps_to_its_label() -> None:
    assert parse_prediction(result('{"answer": "Technical problem."}'), CHOICES) == ("technical", None)
