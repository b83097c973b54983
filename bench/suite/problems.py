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


_SCALAR_MEMBERS = {"str": "a string", "int": "a whole number", "float": "a number", "bool": "true or false",
                   "none": "null"}
"""Pydantic's location tag of a scalar member of a union -> how a problem names it."""


def _member(part: int | str) -> str | None:
    """How a problem names the union member whose tag ends an error's location ('int', "literal['all']",
    'dict[str,str]'), or None when `part` is an ordinary key."""
    if not isinstance(part, str):
        return None
    scalar = part.removeprefix("constrained-")  # an int with ge=..., a str with a pattern
    if scalar in _SCALAR_MEMBERS:
        return _SCALAR_MEMBERS[scalar]
    if part.startswith("literal["):
        return part.removeprefix("literal[").removesuffix("]")
    kinds = {"dict[": "a mapping", "list[": "a list", "tuple[": "a list", "set[": "a list"}
    return next((name for prefix, name in kinds.items() if part.startswith(prefix)), None)


def _member_text(err: Any) -> str:
    """'a whole number' for a value of the wrong type; 'a whole number (Input should be greater than or equal to
    2)' for one of the member's type that breaks its constraint."""
    name = str(_member(err["loc"][-1]))
    wrong_type = err["type"].endswith(("_type", "_parsing")) or err["type"] == "literal_error"
    return name if wrong_type else f"{name} ({err['msg']})"


def _merge_unions(errors: list[Any]) -> list[Any]:
    """The errors with those of one value against every member of a union (one per member, each ending in the
    member's tag) merged into one error at the value's location: "a whole number or 'all'"."""
    groups: dict[tuple[Any, ...], list[Any]] = {}
    for err in errors:
        loc = tuple(err["loc"])
        if len(loc) > 1 and _member(loc[-1]) is not None:
            groups.setdefault(loc[:-1], []).append(err)
    merged, done = [], set()
    for err in errors:
        parent = tuple(err["loc"])[:-1]
        if len(groups.get(parent, [])) < 2 or err not in groups[parent]:
            merged.append(err)
        elif parent not in done:
            done.add(parent)
            names = [_member_text(e) for e in groups[parent]]
            merged.append({"loc": parent, "type": "union_type", "msg": " or ".join(dict.fromkeys(names)),
                           "input": err.get("input")})
    return merged


def pydantic_problems(exc: ValidationError, file: str, raw: Any = None, root: Any = None) -> list[Problem]:
    """Turn pydantic errors into one Problem each, with 'did you mean' hints for unknown keys (one for a value
    that fits no member of a union)."""
    problems = []
    errors = _merge_unions(list(exc.errors()))
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
