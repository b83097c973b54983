"""Tests for bench.tasks.scorers: hand-computed values, normalization, and never raising on model output."""

from __future__ import annotations

import math
from typing import Any

import pytest

from bench.tasks.scorers import SCORERS, Scorer, build_scorer, macro_f1, rouge_l


def scorer(name: str, **params: Any) -> Scorer:
    return build_scorer({"name": name, **params})


# ------------------------------------------------------------------------------------------ accuracy


@pytest.mark.parametrize(("prediction", "reference", "expected"), [
    ("billing", "billing", 1.0),
    ("  Billing. ", "billing", 1.0),
    ("technical", "billing", 0.0),
    (None, "billing", 0.0),
    ("", "", 0.0),
])
def test_accuracy(prediction: Any, reference: Any, expected: float) -> None:
    assert scorer("accuracy").item(prediction, reference) == {"accuracy": expected}


def test_accuracy_on_a_field_of_a_dict() -> None:
    acc = scorer("accuracy", field="department")
    assert acc.item({"department": "IT", "urgent": True}, {"department": "it", "urgent": False}) == {"accuracy": 1.0}
    assert acc.item({"urgent": True}, {"department": "it"}) == {"accuracy": 0.0}
    assert acc.item("it", {"department": "it"}) == {"accuracy": 0.0}


# ------------------------------------------------------------------------------------------ macro F1


def test_macro_f1_hand_computed() -> None:
    # a: tp=1 fp=1 fn=0 -> 2/3; b: tp=1 fp=0 fn=1 -> 2/3; c: tp=0 fp=0 fn=1 -> 0; mean = 4/9
    assert macro_f1(["a", "a", "b", None], ["a", "b", "b", "c"]) == pytest.approx(4 / 9)


def test_macro_f1_counts_predicted_labels_absent_from_references() -> None:
    # a: tp=1 fn=1 -> 2/3; z (only predicted): tp=0 fp=1 -> 0; mean = 1/3
    assert macro_f1(["a", "z"], ["a", "a"]) == pytest.approx(1 / 3)


def test_macro_f1_perfect_and_empty() -> None:
    assert macro_f1(["x", "y"], ["x", "y"]) == 1.0
    assert macro_f1([], []) == 0.0


def test_macro_f1_scorer_is_corpus_level_and_normalizes() -> None:
    f1 = scorer("macro_f1")
    assert f1.item("a", "a") == {}
    result = f1.corpus([" A ", "a", "B.", None], ["a", "b", "b", "c"])
    assert result == {"macro_f1": pytest.approx(4 / 9)}


def test_macro_f1_scorer_on_a_field() -> None:
    f1 = scorer("macro_f1", field="department")
    preds = [{"department": "hr"}, {"department": "it"}, None]
    refs = [{"department": "hr"}, {"department": "hr"}, {"department": "it"}]
    # hr: tp=1 fn=1 -> 2/3; it: tp=0 fp=1 fn=1 -> 0; mean 1/3
    assert f1.corpus(preds, refs)["macro_f1"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------------- exact match


@pytest.mark.parametrize(("prediction", "reference", "expected"), [
    ("Paris", "paris", 1.0),
    ("  The   Eiffel\nTower. ", "the eiffel tower", 1.0),
    ('"Paris"', "Paris", 1.0),
    ("Paris, France", "Paris", 0.0),
    ("", "", 0.0),
    (None, "x", 0.0),
])
def test_exact_match_normalization(prediction: Any, reference: Any, expected: float) -> None:
    assert scorer("exact_match").item(prediction, reference) == {"exact_match": expected}


# --------------------------------------------------------------------------------- numeric tolerance


@pytest.mark.parametrize(("prediction", "reference", "rel_tol", "expected"), [
    ("$101.00", 100, 0.01, 1.0),
    ("102", 100, 0.01, 0.0),
    ("1.234,56 €", "1234.56", 0.0, 1.0),
    (100.004, 100, 0.0, 1.0),  # within the absolute half-cent tolerance
    (100.01, 100, 0.0, 0.0),
    ("about 100 or 200", 100, 0.5, 0.0),
    ("n/a", 100, 0.5, 0.0),
])
def test_numeric_tolerance(prediction: Any, reference: Any, rel_tol: float, expected: float) -> None:
    result = scorer("numeric_tolerance", rel_tol=rel_tol).item(prediction, reference)
    assert result == {"numeric_within_tol": expected}


def test_numeric_tolerance_default_is_one_percent_and_reads_fields() -> None:
    s = scorer("numeric_tolerance", field="total")
    assert s.item({"total": 99.5}, {"total": 100}) == {"numeric_within_tol": 1.0}
    assert s.item({"total": 98.5}, {"total": 100}) == {"numeric_within_tol": 0.0}


# --------------------------------------------------------------------------------------- json fields

TYPES = {"date": "date", "total": "amount", "currency": "currency", "paid": "bool", "vendor": "text"}
REFERENCE = {"date": "2024-03-05", "total": 1234.5, "currency": "EUR", "paid": True, "vendor": "ACME GmbH"}


def test_json_fields_all_correct_after_type_normalization() -> None:
    prediction = {"date": "05.03.2024", "total": "1.234,50 €", "currency": "euro", "paid": "yes",
                  "vendor": "acme gmbh"}
    scores = scorer("json_fields", types=TYPES).item(prediction, REFERENCE)
    assert scores == {"field.date": 1.0, "field.total": 1.0, "field.currency": 1.0, "field.paid": 1.0,
                      "field.vendor": 1.0, "field_accuracy": 1.0, "field_f1": 1.0, "all_fields_correct": 1.0}


def test_json_fields_partial_hand_computed() -> None:
    prediction = {"date": "March 5, 2024", "total": 1200, "currency": "$", "paid": "true", "vendor": ""}
    scores = scorer("json_fields", types=TYPES).item(prediction, REFERENCE)
    assert scores["field.date"] == 1.0
    assert scores["field.total"] == 0.0
    assert scores["field.currency"] == 0.0
    assert scores["field.paid"] == 1.0
    assert scores["field.vendor"] == 0.0
    assert scores["field_accuracy"] == pytest.approx(2 / 5)
    # 2 correct, 4 fields predicted (vendor empty), 5 expected: F1 = 2*2 / (4+5)
    assert scores["field_f1"] == pytest.approx(4 / 9)
    assert scores["all_fields_correct"] == 0.0


def test_json_fields_bool_false_is_a_value() -> None:
    s = scorer("json_fields", types={"urgent": "bool"})
    assert s.item({"urgent": False}, {"urgent": False})["field.urgent"] == 1.0
    assert s.item({"urgent": "no"}, {"urgent": False})["field.urgent"] == 1.0
    assert s.item({"urgent": True}, {"urgent": False})["field.urgent"] == 0.0
    assert s.item({"urgent": "maybe"}, {"urgent": False})["field.urgent"] == 0.0


def test_json_fields_untyped_fields_compare_as_text() -> None:
    scores = scorer("json_fields").item({"a": " X ", "b": "y"}, {"a": "x", "b": "z"})
    assert (scores["field.a"], scores["field.b"], scores["field_accuracy"]) == (1.0, 0.0, 0.5)


def test_json_fields_restricted_to_named_fields() -> None:
    s = scorer("json_fields", fields=["total"], types={"total": "amount"})
    scores = s.item({"total": "1234.50", "date": "wrong"}, REFERENCE)
    assert "field.date" not in scores
    assert scores["field_accuracy"] == 1.0 and scores["all_fields_correct"] == 1.0


def test_json_fields_amount_rel_tol() -> None:
    s = scorer("json_fields", types={"total": "amount"}, rel_tol=0.05)
    assert s.item({"total": 1200}, {"total": 1234.5})["field.total"] == 1.0


# ------------------------------------------------------------------------------------------- rouge-L


def test_rouge_l_hand_computed() -> None:
    # LCS("the cat sat on the mat", "the cat is on the mat") = 5 of 6 and 6 tokens: P = R = F = 5/6
    assert rouge_l("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    # LCS = 2; P = 2/4, R = 2/2: F = 2 * 0.5 * 1 / 1.5 = 2/3
    assert rouge_l("a b c d", "a c") == pytest.approx(2 / 3)
    assert rouge_l("The Cat", "the cat") == 1.0
    assert rouge_l("x y", "a b") == 0.0
    assert rouge_l("", "a") == 0.0


def test_rouge_l_scorer() -> None:
    assert scorer("rouge_l").item("a b c d", "a c") == {"rouge_l": pytest.approx(2 / 3)}
    assert scorer("rouge_l", field="summary").item({"summary": "a c"}, {"summary": "a c"}) == {"rouge_l": 1.0}


def test_rouge_l_tokenizes_like_the_reference_implementation() -> None:
    """#16 class 4: punctuation is split off; LCS 4, P = 4/4, R = 4/5: F = 8/9."""
    assert rouge_l('"5 day loss violation"', "5 day loss violation information") == pytest.approx(8 / 9)
    assert round(rouge_l('"5 day loss violation"', "5 day loss violation information"), 2) == 0.89


def test_rouge_l_agrees_with_rouge_score_on_ascii_text() -> None:
    from rouge_score import rouge_scorer

    reference = rouge_scorer.RougeScorer(["rougeL"])  # its default tokenizer
    pairs = [("The quick-brown fox; jumped!", "the quick brown dog jumped over it"),
             ("Re: invoice #1234 (overdue)", "Invoice 1234 is overdue."), ("a_b c", "a b c"), ("...", "x")]
    for prediction, target in pairs:
        assert rouge_l(prediction, target) == pytest.approx(reference.score(target, prediction)["rougeL"].fmeasure)


def test_rouge_l_keeps_letters_of_every_script() -> None:
    assert rouge_l("Überweisung fehlgeschlagen", "überweisung ist fehlgeschlagen") == pytest.approx(0.8)
    assert rouge_l("δοκιμή", "Δοκιμή") == 1.0


def test_rouge_l_best_of_several_references() -> None:
    """#16 class 4: a list of references scores against the best one, not against the printed list."""
    assert rouge_l("ice access", ["ice access", "x"]) == 1.0
    assert scorer("rouge_l").item("ice access", ["x y", "ice access road"]) == {"rouge_l": pytest.approx(0.8)}
    assert scorer("rouge_l").item("ice access", []) == {"rouge_l": 0.0}
    assert scorer("rouge_l", field="s").item({"s": "a b"}, {"s": ["c", "a b"]}) == {"rouge_l": 1.0}


# ------------------------------------------------------------------------------- dates by locale (#16 class 4)


def test_a_day_first_reference_against_an_iso_prediction() -> None:
    s = scorer("json_fields", types={"date": "date"}, dayfirst=["date"])
    assert s.item({"date": "2018-04-06"}, {"date": "06/04/2018"})["field.date"] == 1.0
    month_first = scorer("json_fields", types={"date": "date"})
    assert month_first.item({"date": "2018-04-06"}, {"date": "06/04/2018"})["field.date"] == 0.0


@pytest.mark.parametrize(("reference", "prediction"), [
    ("06/04/2018", "2018-04-06"), ("06-04-2018", "6 April 2018"), ("06.04.2018", "April 6, 2018"),
    ("6/4/18", "2018-04-06"), ("06/04/2018", "06/04/2018"), ("25/12/2019", "2019-12-25"),
])
def test_dayfirst_for_every_date_field(reference: str, prediction: str) -> None:
    s = scorer("json_fields", types={"issued": "date", "due": "date"}, dayfirst=True)
    scores = s.item({"issued": prediction, "due": "2018-04-07"}, {"issued": reference, "due": "07/04/2018"})
    assert (scores["field.issued"], scores["field.due"]) == (1.0, 1.0)


def test_dayfirst_false_reads_dotted_dates_month_first() -> None:
    s = scorer("json_fields", types={"d": "date"}, dayfirst=False)
    assert s.item({"d": "2018-06-04"}, {"d": "06.04.2018"})["field.d"] == 1.0


def test_dayfirst_only_for_the_named_fields() -> None:
    s = scorer("json_fields", types={"eu": "date", "us": "date"}, dayfirst=["eu"])
    scores = s.item({"eu": "2018-04-06", "us": "2018-06-04"}, {"eu": "06/04/2018", "us": "06/04/2018"})
    assert (scores["field.eu"], scores["field.us"]) == (1.0, 1.0)


# ------------------------------------------------------------------------------------ never raising

GARBAGE: list[Any] = [None, "", "garbage }{", 42, math.nan, [1, 2], {"unexpected": "dict"}, True]
REFERENCES: dict[str, Any] = {
    "accuracy": "billing", "exact_match": "Paris", "numeric_tolerance": 100.0,
    "json_fields": REFERENCE, "rouge_l": "the cat sat",
}


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("prediction", GARBAGE, ids=repr)
def test_unparseable_predictions_score_zero_and_never_raise(name: str, prediction: Any) -> None:
    params = {"types": TYPES} if name == "json_fields" else {}
    scores = scorer(name, **params).item(prediction, REFERENCES[name])
    assert scores
    assert all(value == 0.0 for value in scores.values()), scores


@pytest.mark.parametrize("prediction", GARBAGE, ids=repr)
def test_macro_f1_never_raises_on_garbage(prediction: Any) -> None:
    result = scorer("macro_f1").corpus([prediction, "a"], ["b", "a"])
    assert 0.0 <= result["macro_f1"] <= 1.0


# ------------------------------------------------------------------------------------- directions


@pytest.mark.parametrize(("name", "primary"), [
    ("accuracy", "accuracy"), ("macro_f1", "macro_f1"), ("exact_match", "exact_match"),
    ("numeric_tolerance", "numeric_within_tol"), ("json_fields", "field_accuracy"), ("rouge_l", "rouge_l"),
])
def test_each_scorer_has_direction_and_primary_metric(name: str, primary: str) -> None:
    cls = SCORERS.get(name)
    assert cls.higher_is_better is True
    assert cls.primary == primary


@pytest.mark.parametrize("name", ["accuracy", "exact_match", "numeric_tolerance", "json_fields", "rouge_l"])
def test_primary_metric_is_among_the_item_scores(name: str) -> None:
    s = scorer(name)
    assert s.primary in s.item("x", "x")


def test_build_scorer_validates_params() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        build_scorer({"name": "accuracy", "feild": "x"})
    with pytest.raises(KeyError, match="did you mean 'rouge_l'"):
        build_scorer({"name": "rouge"})
