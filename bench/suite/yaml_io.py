"""YAML reading with yaml.safe_load semantics plus duplicate-key rejection, line numbers and size limits.

Hostile or broken files end in YamlLoadError(line, message), never in a traceback or a hang:
- nesting deeper than MAX_DEPTH (PyYAML's composer recurses and would raise RecursionError);
- more than MAX_NODES nodes once aliases are expanded (a 700-byte "billion laughs" alias bomb expands to
  billions of nodes that later code would walk); counted on the event stream, without recursion;
- integers longer than MAX_INT_DIGITS digits (Python refuses int() of more than 4300 digits);
- mapping keys that are not scalars (`? [a, b]`), NUL bytes in strings, control characters, bad encodings.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists accepted (suites nest about 6 levels)."""
MAX_NODES = 200_000
"""Most YAML nodes accepted, counting every alias as a full copy of what it refers to."""
MAX_INT_DIGITS = 64


class YamlLoadError(Exception):
    """A YAML file that cannot be read safely: `line` (1-based, 0 when unknown) and `message`."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


def _line(node_or_event: Any) -> int:
    mark = getattr(node_or_event, "start_mark", None)
    return mark.line + 1 if mark is not None else 0


class _StrictSafeLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate and non-scalar mapping keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlLoadError(_line(key_node), "a mapping key must be a plain value, not a list or mapping")
            key = self.construct_object(key_node, deep=deep)
            line = _line(key_node)
            if not isinstance(key, Hashable):  # a scalar tagged !!set, !!map or !!seq
                raise YamlLoadError(line, f"a mapping key must be a plain value, not {type(key).__name__} "
                                          f"(tag {key_node.tag})")
            if key in seen:
                raise YamlLoadError(line, f"duplicate key '{key}' (first defined on line {seen[key]})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(ch.isalnum() for ch in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise YamlLoadError(_line(node), f"an integer of {digits} digits is too long (at most {MAX_INT_DIGITS})")
        return int(super().construct_yaml_int(node))

    def construct_yaml_str(self, node: yaml.ScalarNode) -> str:
        value = str(super().construct_yaml_str(node))
        if "\x00" in value:
            raise YamlLoadError(_line(node), "a NUL character (\\0) is not allowed in a value")
        return value


_StrictSafeLoader.add_constructor("tag:yaml.org,2002:int", _StrictSafeLoader.construct_yaml_int)
_StrictSafeLoader.add_constructor("tag:yaml.org,2002:str", _StrictSafeLoader.construct_yaml_str)


def check_shape(text: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH and more than MAX_NODES nodes, aliases expanded, from the parser's events.

    Each anchor's expanded size and height are remembered, so an alias costs its full size without being walked.
    """
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (expanded nodes, height)
    stack: list[_Open] = []
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append(_Open(event.anchor))
            total += 1
            size, height = 0, 0
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            size, height = done.size, done.height + 1
            if done.anchor:
                anchors[done.anchor] = (size, height)
        elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
            size, height = _leaf(event, anchors)
            total += size
        else:
            continue
        _check_limits(event, len(stack) + height, total)
        if stack:
            stack[-1].add(size, height)


class _Open:
    """A mapping or list being parsed: its expanded size so far and the height of its tallest child."""

    def __init__(self, anchor: str | None) -> None:
        self.anchor, self.size, self.height = anchor, 1, 0

    def add(self, size: int, height: int) -> None:
        self.size += size
        self.height = max(self.height, height)


def _leaf(event: Any, anchors: dict[str, tuple[int, int]]) -> tuple[int, int]:
    if isinstance(event, yaml.AliasEvent):
        if event.anchor not in anchors:
            raise YamlLoadError(_line(event), f"alias *{event.anchor} is not defined before it, or refers to "
                                "the list or mapping that contains it")
        return anchors[event.anchor]
    if event.anchor:
        anchors[event.anchor] = (1, 0)
    return 1, 0


def _check_limits(event: Any, depth: int, total: int) -> None:
    if depth > MAX_DEPTH:
        raise YamlLoadError(_line(event), f"nested more than {MAX_DEPTH} levels deep (aliases expanded)")
    if total > MAX_NODES:
        raise YamlLoadError(_line(event), f"more than {MAX_NODES} values once aliases (*name) are expanded")


def load_yaml_strict(text: str) -> Any:
    """Parse YAML safely; raise YamlLoadError(line, message) on syntax errors, duplicate keys or too large input."""
    try:
        check_shape(text)
        return yaml.load(text, Loader=_StrictSafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise YamlLoadError(line, f"invalid YAML: {exc.problem or exc.context}") from None
    except yaml.reader.ReaderError as exc:  # a control character or an invalid byte
        line = _reader_line(text, exc.position)
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise YamlLoadError(line, f"character U+{code:04X} is not allowed in YAML (only printable text)") from None
    except yaml.YAMLError as exc:
        raise YamlLoadError(0, f"invalid YAML: {exc}") from None


def _reader_line(text: str, position: int) -> int:
    return text.count("\n", 0, max(position, 0)) + 1
