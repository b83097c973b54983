"""Prompt rendering: template variables, few-shot examples, chat messages and completion text."""

from __future__ import annotations

import json
import random
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any

from bench.suite.spec import AnswerSpec, FewShotSpec, PromptSpec
from bench.tasks.items import Item
from bench.tasks.normalize import normalize_label, normalize_text
from bench.tasks.sampling import balanced_sample

Message = dict[str, str]


@dataclass(frozen=True)
class RenderedPrompt:
    """The same prompt in both shapes; the backend picks the one that suits its model."""

    messages: tuple[Message, ...]
    completion: str


def template_variables(template: str) -> list[str]:
    """Names used as {name} in a template; raises ValueError on malformed braces or {a.b}/{a[0]}."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not name.isidentifier():
            raise ValueError(f"'{{{name}}}' is not a plain variable name (use {{{{ and }}}} for braces)")
        if spec or conversion:
            raise ValueError(f"'{{{name}}}' must not use a format spec or conversion")
        names.append(name)
    return names


def choice_texts(answer: AnswerSpec) -> dict[str, str]:
    """Label -> text the model is scored on (a list maps each label to itself)."""
    if answer.choices is None:
        return {}
    if isinstance(answer.choices, dict):
        return dict(answer.choices)
    return {label: label for label in answer.choices}


def label_of(value: object, answer: AnswerSpec) -> str | None:
    """The label a model's answer names (a label or its verbalized text, compared by normalize_label), or None."""
    wanted = normalize_label(value)
    for label, verbal in choice_texts(answer).items():
        if wanted in (normalize_label(label), normalize_label(verbal)):
            return label
    return None


def expected_label(value: object, answer: AnswerSpec) -> str | None:
    """The label a dataset's expected value is, as the accuracy scorer compares them (normalize_label of
    the label itself, not of its verbalized text), or None when it is none of them."""
    wanted = normalize_label(value)
    return next((label for label in choice_texts(answer) if normalize_label(label) == wanted), None)


def render_answer(item: Item, answer: AnswerSpec) -> str:
    """The ideal answer text for a few-shot example."""
    if answer.mode == "choices":
        label = expected_label(item.expected, answer)
        return choice_texts(answer)[label] if label is not None else str(item.expected)
    if isinstance(item.expected, dict):
        return json.dumps(item.expected, ensure_ascii=False)
    return str(item.expected)


def variables(item: Item, answer: AnswerSpec) -> dict[str, Any]:
    labels = ", ".join(choice_texts(answer).values())
    return {**item.fields, "input": item.input, "choices": labels}


def select_few_shot(pool: list[Item], spec: FewShotSpec, spare: int = 0) -> list[Item]:
    """k examples, seeded; balanced=True takes them round-robin over expected labels. `spare` more follow
    them, for shots_for to skip an evaluated item; the first k are the same whatever `spare` is."""
    k = min(spec.k, len(pool))
    if spec.balanced:
        return balanced_sample(pool, k + spare if k else 0, spec.seed)
    rng = random.Random(spec.seed)
    picked = rng.sample(pool, k)
    chosen = {id(item) for item in picked}
    rest = [item for item in pool if id(item) not in chosen]
    return picked + rng.sample(rest, min(spare, len(rest)) if k else 0)


def few_shot_candidates(pool: list[Item], spec: FewShotSpec) -> list[Item]:
    """The k seeded examples plus enough spares that shots_for can leave out the evaluated item and its
    duplicates (as lm-eval draws k + 1 when examples come from the evaluated split)."""
    spare = max(Counter(document_key(item) for item in pool).values(), default=0)
    return select_few_shot(pool, spec, spare)


def document_key(item: Item) -> str:
    """What makes two items the same question: their input text up to case, Unicode form, whitespace and
    trailing punctuation ("Alpha " and "alpha" are one question); one is never the other's example."""
    return normalize_text(item.input)


def same_document(a: Item, b: Item) -> bool:
    """Whether a and b ask the same question (see document_key)."""
    return document_key(a) == document_key(b)


def shots_for(item: Item, candidates: list[Item], k: int) -> list[Item]:
    """The first k candidates that are not `item` itself (no item is shown its own gold answer)."""
    return [shot for shot in candidates if not same_document(shot, item)][:k]


def continuation_prefix(text: str) -> str:
    """A space between a completion prompt and its answer, unless the prompt ends in whitespace."""
    return "" if not text or text[-1].isspace() else " "


def render(item: Item, prompt: PromptSpec, answer: AnswerSpec, shots: list[Item]) -> RenderedPrompt:
    """Chat messages (few-shot as user/assistant turns) and the equivalent plain completion text."""
    system = prompt.system.format_map(variables(item, answer)) if prompt.system else ""
    turns = [(prompt.user.format_map(variables(s, answer)), render_answer(s, answer)) for s in shots]
    user = prompt.user.format_map(variables(item, answer))
    messages: list[Message] = [{"role": "system", "content": system}] if system else []
    for question, reply in turns:
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
    messages.append({"role": "user", "content": user})
    parts = [system] if system else []
    parts += [question + continuation_prefix(question) + reply for question, reply in turns]
    parts.append(user)
    return RenderedPrompt(messages=tuple(messages), completion="\n\n".join(parts))
