"""A small registry of named implementations with 'did you mean' hints and lazy targets."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


def suggest(name: str, options: list[str]) -> str:
    """Return a 'did you mean' hint for name among options, or a list of valid names."""
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if close:
        return f"did you mean '{close[0]}'?"
    return "choose one of: " + ", ".join(sorted(options))


class Registry(Generic[T]):
    """Names mapped to objects, or to lazy "module:attr" strings imported on first use."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T | str] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering an object under name."""

        def wrap(obj: T) -> T:
            self.add(name, obj)
            return obj

        return wrap

    def add(self, name: str, target: T | str) -> None:
        """Register an object, or a lazy "module:attr" target string."""
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = target

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def hint(self, name: str) -> str:
        return suggest(name, self.names())

    def get(self, name: str) -> T:
        """Return the object for name, importing a lazy target; KeyError names a close match."""
        if name not in self._items:
            raise KeyError(f"unknown {self.kind} '{name}' ({self.hint(name)})")
        target = self._items[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._items[name] = target
        return target
