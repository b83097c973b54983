"""Tests for bench.tasks.prompts: template variables, rendering with few-shot, choices, few-shot selection."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench.suite.spec import AnswerSpec, FewShotSpec, PromptSpec
from bench.tasks.items import Item
from bench.tasks.prompts import (
    choice_texts,
    continuation_prefix,
    expected_label,
    few_shot_candidates,
    label_of,
    render,
    render_answer,
    select_few_shot,
    shots_for,
    template_variables,
)

CHOICES = AnswerSpec(mode="choices", choices={"billing": "billing", "technical": "technical problem"})


def item(ident: str, text: str, expected: Any, **fields: Any) -> Item:
    return Item(id=ident, input=text, expected=expected, fields=fields)


def pool(labels: dict[str, int]) -> list[Item]:
    """count items for each label, ids like 'billing-3'."""
    return [item(f"{label}-{i}", f"text {label} {i}", label) for label, n in labels.items() for i in range(n)]


# ----------------------------------------------------------------------------------------- templates


def test_template_variables_in_order_with_repeats() -> None:
    assert template_variables("Hi {name}, {input} and {name}") == ["name", "input", "name"]


def test_template_variables_escaped_braces_are_text() -> None:
    assert template_variables('Reply as {{"a": 1}} for {input}') == ["input"]
    assert template_variables("no variables") == []


@pytest.mark.parametrize("template", ["{input", "input}", "{a.b}", "{a[0]}", "{input!r}", "{input:>10}", "{}", "{0}"])
def test_template_variables_rejects_malformed_or_unsafe(template: str) -> None:
    with pytest.raises(ValueError):
        template_variables(template)


# -------------------------------------------------------------------------------------------- choices


def test_choice_texts_from_list_and_mapping() -> None:
    assert choice_texts(AnswerSpec(mode="choices", choices=("a", "b"))) == {"a": "a", "b": "b"}
    assert choice_texts(CHOICES) == {"billing": "billing", "technical": "technical problem"}
    assert choice_texts(AnswerSpec(mode="text")) == {}


def test_render_answer_for_each_mode() -> None:
    assert render_answer(item("1", "x", "technical"), CHOICES) == "technical problem"
    json_answer = AnswerSpec(mode="json", json_schema={"type": "object"})
    assert render_answer(item("1", "x", {"city": "Zürich", "n": 2}), json_answer) == '{"city": "Zürich", "n": 2}'
    assert render_answer(item("1", "x", "free text"), AnswerSpec(mode="text")) == "free text"


# ------------------------------------------------------------------------------------------ rendering


def test_continuation_prefix() -> None:
    assert continuation_prefix("Label:") == " "
    assert continuation_prefix("Label:\n") == ""
    assert continuation_prefix("Label: ") == ""
    assert continuation_prefix("") == ""


def test_render_without_shots() -> None:
    prompt = PromptSpec(system="Classify into {choices}.", user="Text: {input}\nLabel:")
    rendered = render(item("1", "charged twice", "billing"), prompt, CHOICES, [])
    assert rendered.messages == (
        {"role": "system", "content": "Classify into billing, technical problem."},
        {"role": "user", "content": "Text: charged twice\nLabel:"},
    )
    assert rendered.completion == "Classify into billing, technical problem.\n\nText: charged twice\nLabel:"


def test_render_with_few_shot_turns() -> None:
    prompt = PromptSpec(system="Classify.", user="Text: {input}\nLabel:")
    shots = [item("s1", "app crashes", "technical"), item("s2", "refund please", "billing")]
    rendered = render(item("q", "cannot log in", "technical"), prompt, CHOICES, shots)
    assert [m["role"] for m in rendered.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert rendered.messages[1]["content"] == "Text: app crashes\nLabel:"
    assert rendered.messages[2]["content"] == "technical problem"
    assert rendered.messages[4]["content"] == "billing"
    assert rendered.messages[-1]["content"] == "Text: cannot log in\nLabel:"
    assert rendered.completion == (
        "Classify.\n\n"
        "Text: app crashes\nLabel: technical problem\n\n"
        "Text: refund please\nLabel: billing\n\n"
        "Text: cannot log in\nLabel:"
    )


def test_render_without_system_and_with_extra_columns() -> None:
    prompt = PromptSpec(user="Subject: {subject}\n{input}\n")
    shot = item("s", "body one", "x", subject="first")
    rendered = render(item("q", "body two", "y", subject="second"), prompt, AnswerSpec(mode="text"), [shot])
    assert rendered.messages[0] == {"role": "user", "content": "Subject: first\nbody one\n"}
    assert rendered.messages[-1] == {"role": "user", "content": "Subject: second\nbody two\n"}
    # the prompt ends in a newline, so the answer follows without an added space
    assert rendered.completion == "Subject: first\nbody one\nx\n\nSubject: second\nbody two\n"


def test_render_leaves_braces_in_values_alone() -> None:
    rendered = render(item("q", "text with {braces}", "a"), PromptSpec(), AnswerSpec(mode="text"), [])
    assert rendered.completion == "text with {braces}"


# ----------------------------------------------------------------------------------------- few-shot


def test_select_few_shot_is_deterministic_for_a_seed() -> None:
    items = pool({"a": 5, "b": 5, "c": 5})
    spec = FewShotSpec(k=4, dataset={"path": "x"}, seed=7)
    first = [i.id for i in select_few_shot(items, spec)]
    assert first == [i.id for i in select_few_shot(items, spec)]
    assert len(first) == 4


def test_select_few_shot_changes_with_the_seed() -> None:
    items = pool({"a": 10, "b": 10})
    picks = {tuple(i.id for i in select_few_shot(items, FewShotSpec(k=4, dataset={"path": "x"}, seed=s)))
             for s in range(6)}
    assert len(picks) > 1


def test_select_few_shot_balanced_covers_every_label() -> None:
    items = pool({"a": 10, "b": 2, "c": 2, "d": 2})
    shots = select_few_shot(items, FewShotSpec(k=8, dataset={"path": "x"}, seed=1, balanced=True))
    assert Counter(str(i.expected) for i in shots) == {"a": 2, "b": 2, "c": 2, "d": 2}


def test_select_few_shot_unbalanced_is_a_seeded_sample() -> None:
    items = pool({"a": 10, "b": 10})
    spec = FewShotSpec(k=5, dataset={"path": "x"}, seed=3, balanced=False)
    shots = select_few_shot(items, spec)
    assert len(shots) == 5 and len({i.id for i in shots}) == 5
    assert [i.id for i in shots] == [i.id for i in select_few_shot(items, spec)]


@pytest.mark.parametrize("balanced", [True, False])
def test_select_few_shot_k_larger_than_pool(balanced: bool) -> None:
    items = pool({"a": 2, "b": 1})
    shots = select_few_shot(items, FewShotSpec(k=10, dataset={"path": "x"}, balanced=balanced))
    assert sorted(i.id for i in shots) == sorted(i.id for i in items)


def test_select_few_shot_k_zero() -> None:
    assert select_few_shot(pool({"a": 3}), FewShotSpec(k=0, dataset={"path": "x"})) == []


# ------------------------------------------------------------- no item is its own example (issue #10, class 8)


@pytest.mark.parametrize("balanced", [True, False])
def test_few_shot_from_the_test_file_never_shows_an_item_its_own_answer(balanced: bool) -> None:
    """k: 2 over a 3-item test file: every item gets 2 examples, neither of them itself (lm-eval draws k + 1
    and drops the evaluated document)."""
    test_items = [item("1", "where is my parcel", "shipping"), item("2", "charged twice", "billing"),
                  item("3", "app crashes", "technical")]
    spec = FewShotSpec(k=2, dataset={"path": "test.jsonl"}, seed=1234, balanced=balanced)
    candidates = few_shot_candidates(test_items, spec)
    for evaluated in test_items:
        shots = shots_for(evaluated, candidates, spec.k)
        assert len(shots) == 2
        assert evaluated.input not in {shot.input for shot in shots}
    rendered = render(test_items[0], PromptSpec(), CHOICES, shots_for(test_items[0], candidates, 2))
    assert rendered.completion.count("where is my parcel") == 1


def test_duplicated_inputs_in_the_pool_are_all_left_out() -> None:
    evaluated = item("t", "same question", "billing")
    pool_items = [item(f"d{i}", "same question", "billing") for i in range(3)] + pool({"a": 4})
    spec = FewShotSpec(k=4, dataset={"path": "x"}, seed=0, balanced=False)
    shots = shots_for(evaluated, few_shot_candidates(pool_items, spec), spec.k)
    assert len(shots) == 4 and all(shot.input != "same question" for shot in shots)


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize(("n", "k"), [(3, 2), (30, 5), (100, 5), (8, 8)])
def test_spares_never_change_the_first_k_examples(balanced: bool, n: int, k: int) -> None:
    items = pool({"a": n // 2, "b": n - n // 2})
    spec = FewShotSpec(k=k, dataset={"path": "x"}, seed=11, balanced=balanced)
    plain = [i.id for i in select_few_shot(items, spec)]
    for spare in (1, 3):
        with_spares = [i.id for i in select_few_shot(items, spec, spare)]
        assert with_spares[:k] == plain
        assert len(with_spares) == min(n, k + spare) and len(set(with_spares)) == len(with_spares)


def test_a_separate_train_split_keeps_the_seeded_examples() -> None:
    train = pool({"billing": 5, "technical": 5})
    spec = FewShotSpec(k=3, dataset={"path": "train.jsonl"}, seed=9)
    shots = shots_for(item("t", "unseen ticket", "billing"), few_shot_candidates(train, spec), spec.k)
    assert [s.id for s in shots] == [s.id for s in select_few_shot(train, spec)]


# ------------------------------------------------------------------------------- one label normalizer


def test_label_of_matches_labels_and_their_text_as_the_scorer_normalizes() -> None:
    assert label_of("Technical problem.", CHOICES) == "technical"
    assert label_of(" BILLING ", CHOICES) == "billing"
    assert label_of("refund", CHOICES) is None


def test_expected_label_matches_the_labels_only() -> None:
    assert expected_label("Billing ", CHOICES) == "billing"
    assert expected_label("technical problem", CHOICES) is None  # the scorer compares labels, not their text


def test_render_answer_of_a_normalized_expected_value() -> None:
    assert render_answer(item("1", "x", "Technical "), CHOICES) == "technical problem"


def test_the_same_question_up_to_case_and_spaces_is_never_its_own_example() -> None:
    from bench.tasks.prompts import shots_for

    item = Item(id="t1", input="alpha", expected="x")
    pool = [Item(id="s1", input="Alpha ", expected="x"), Item(id="s2", input="beta", expected="y")]
    assert [shot.id for shot in shots_for(item, pool, 1)] == ["s2"]
