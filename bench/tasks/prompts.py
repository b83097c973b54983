"""Prompt rendering: template variables, few-shot examples, chat messages and completion text."""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from typing import Any

from bench.spec import AnswerSpec, FewShotSpec, PromptSpec
from bench.tasks.items import Item
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


def render_answer(item: Item, answer: AnswerSpec) -> str:
    """The ideal answer text for a few-shot example."""
    if answer.mode == "choices":
        return choice_texts(answer).get(str(item.expected), str(item.expected))
    if isinstance(item.expected, dict):
        return json.dumps(item.expected, ensure_ascii=False)
    return str(item.expected)


def variables(item: Item, answer: AnswerSpec) -> dict[str, Any]:
    labels = ", ".join(choice_texts(answer).values())
    return {**item.fields, "input": item.input, "choices": labels}


def select_few_shot(pool: list[Item], spec: FewShotSpec) -> list[Item]:
    """k examples, seeded; balanced=True takes them round-robin over expected labels."""
    if spec.balanced:
        return balanced_sample(pool, spec.k, spec.seed)
    return random.Random(spec.seed).sample(pool, min(spec.k, len(pool)))


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
