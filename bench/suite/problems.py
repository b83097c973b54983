"""Pydantic validation errors as Problems: file, field path (`tasks[2].scorers`), what was given, and a hint
(the allowed keys of the mapping, or a close name)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from bench.errors import Problem
from bench.registry import suggest
from bench.suite.spec import BUILT_IN_KINDS, SuiteSpec, dataset_kind

_UNION_TAGS = {*BUILT_IN_KINDS, "plugin"}
"""Segments pydantic adds to an error's location for the member of the dataset union."""


def format_location(loc: tuple[int | str, ...]) -> str:
    """('tasks', 2, 'scorer') -> 'tasks[2].scorer'; drops pydantic's union-tag segments."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in _UNION_TAGS or "[" in part or part.startswith(("function-", "tagged-union")):
            continue
        else:
            out += f".{part}" if out else part
    return out


def pydantic_problems(exc: ValidationError, file: str, raw: Any = None, root: Any = None) -> list[Problem]:
    """Turn pydantic errors into one Problem each, with 'did you mean' hints for unknown keys."""
    problems = []
    errors = exc.errors()
    failed = [tuple(e["loc"]) for e in errors]
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and any(f[: len(loc)] == loc and f != loc for f in failed):
            continue  # an empty list because every entry failed: the entries' errors say why
        hint = _hint_for(err, loc, raw, root or SuiteSpec)
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        problems.append(Problem(file, format_location(loc), message, hint))
    return problems


def _hint_for(err: Any, loc: tuple[int | str, ...], raw: Any, root: Any) -> str:

    if err["type"] == "extra_forbidden" and isinstance(loc[-1], str):
        allowed = _allowed_keys(loc[:-1], raw, root)
        return suggest(loc[-1], allowed) if allowed else ""
    if err["type"].endswith("_type") or err["type"].endswith("_parsing"):
        return f"got {_short_repr(err.get('input'))}"
    return ""


def _short_repr(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_keys(parent: tuple[int | str, ...], raw: Any, root: Any) -> list[str]:
    """Field names of the model found at the parent location (walking the spec classes from root)."""
    model: Any = root
    node: Any = raw
    for part in parent:
        if isinstance(part, int):
            node = node[part] if isinstance(node, list) and part < len(node) else None
            continue
        if part in _UNION_TAGS:
            continue
        node = node.get(part) if isinstance(node, dict) else None
        model = _field_model(model, part, node)
        if model is None:
            return []
    return list(model.model_fields)


def _field_model(model: Any, name: str, node: Any) -> Any:
    field = model.model_fields.get(name)
    if field is None:
        return None
    candidates = _models_in(field.annotation)
    if len(candidates) > 1 and isinstance(node, dict):
        kind = dataset_kind(node)
        candidates = [c for c in candidates if c.model_fields.get("kind") is None
                      or kind in str(c.model_fields["kind"].annotation)] or candidates
    return candidates[0] if candidates else None


def _models_in(annotation: Any) -> list[Any]:
    from typing import get_args

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[Any] = []
    for arg in get_args(annotation):
        found.extend(_models_in(arg))
    return found
