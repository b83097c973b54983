"""A small registry of named implementations with 'did you mean' hints, lazy targets and plugins.

Third-party packages add implementations through an entry-point group (`bench.backends`, `bench.scorers`,
`bench.datasets`, `bench.generators`), e.g. in their pyproject.toml:

    [project.entry-points."bench.backends"]
    my_engine = "my_package.backend:MyBackend"

An entry may name its Params model separately (`add(name, target, params)`), so a suite is validated without
importing the implementation (a bundled engine adapter); a plugin's Params is its class attribute. A plugin is
imported only when a suite names it; one that fails to import is reported in one line naming its
distribution (PluginError, exit 2) and never breaks the CLI or the built-in implementations. A built-in name
always wins over a plugin of the same name.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib import metadata
from typing import Any, Generic, TypeVar

from bench.errors import BenchError

T = TypeVar("T")


class PluginError(BenchError):
    """A plugin named by a suite could not be loaded (ImportError, a syntax error, a missing attribute...)."""


def suggest(name: str, options: list[str]) -> str:
    """Return a 'did you mean' hint for name among options, or a list of valid names."""
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.5)
    if close:
        return f"did you mean '{close[0]}'?"
    return "choose one of: " + ", ".join(sorted(options))


def _import(target: str) -> Any:
    """The object a lazy "module:attr" target names (ImportError, AttributeError as Python raises them)."""
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class Registry(Generic[T]):
    """Names mapped to objects, or to lazy "module:attr" strings imported on first use."""

    def __init__(self, kind: str, group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        """The entry-point group plugins register in (None: built-ins only)."""
        self._items: dict[str, T | str] = {}
        self._params: dict[str, Any] = {}
        self._plugins: dict[str, metadata.EntryPoint] | None = None

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator registering an object under name."""

        def wrap(obj: T) -> T:
            self.add(name, obj)
            return obj

        return wrap

    def add(self, name: str, target: T | str, params: Any = None) -> None:
        """Register an object, or a lazy "module:attr" target string; `params` (a class or a lazy "module:attr"
        string) is its Params model, so validating a suite need not import the implementation.
        ValueError when name is registered already."""
        if name in self._items:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._items[name] = target
        if params is not None:
            self._params[name] = params

    def params(self, name: str) -> Any:
        """The Params model (a pydantic class) of name: its registered params target, else the implementation's
        `Params` attribute (a plugin is loaded for it). KeyError for an unknown name; PluginError when a plugin
        cannot load or declares no Params."""
        target = self._params.get(name)
        if isinstance(target, str):
            target = self._params[name] = _import(target)
        if target is None:
            target = getattr(self.get(name), "Params", None)
        if target is None:
            raise PluginError(f"{self.kind} '{name}' declares no Params model (a pydantic class attribute)")
        return target

    def plugins(self) -> dict[str, metadata.EntryPoint]:
        """Entry points of the group not shadowed by a built-in (read once, nothing imported)."""
        if self._plugins is None:
            found = metadata.entry_points(group=self.group) if self.group else ()
            self._plugins = {ep.name: ep for ep in found if ep.name not in self._items}
        return self._plugins

    def names(self) -> list[str]:
        """Every registered name and plugin entry-point name, sorted (no plugin is imported)."""
        return sorted({*self._items, *self.plugins()})

    def __contains__(self, name: object) -> bool:
        return name in self._items or (isinstance(name, str) and name in self.plugins())

    def hint(self, name: str) -> str:
        """The 'did you mean' hint (or the list of valid names) for an unknown `name`."""
        return suggest(name, self.names())

    def get(self, name: str) -> T:
        """Return the object for name, importing a lazy target; KeyError names a close match."""
        if name not in self._items:
            if name not in self.plugins():
                raise KeyError(f"unknown {self.kind} '{name}' ({self.hint(name)})")
            self._items[name] = self._load_plugin(self.plugins()[name])
        target = self._items[name]
        if isinstance(target, str):
            target = self._items[name] = _import(target)
        return target

    def _load_plugin(self, entry: metadata.EntryPoint) -> T:
        """Import a plugin's target; any failure becomes one PluginError line naming the distribution."""
        dist = entry.dist.name if entry.dist is not None else "unknown distribution"
        try:
            loaded: T = entry.load()
        except Exception as exc:
            raise PluginError(f"{self.kind} '{entry.name}' from plugin '{dist}' ({entry.value}) failed to load: "
                              f"{type(exc).__name__}: {exc}") from None
        return loaded
