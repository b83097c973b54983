"""Tests for bench.registry: suggestions, lazy "module:attr" targets, duplicate registration."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from bench.registry import PluginError, Registry, suggest


def test_suggest_names_the_closest_option() -> None:
    assert suggest("exact", ["accuracy", "exact_match", "rouge_l"]) == "did you mean 'exact_match'?"


def test_suggest_lists_sorted_options_when_nothing_is_close() -> None:
    assert suggest("zzzz", ["rouge_l", "accuracy"]) == "choose one of: accuracy, rouge_l"


def test_register_decorator_returns_the_object_and_get_finds_it() -> None:
    registry: Registry[type] = Registry("widget")

    @registry.register("plain")
    class Plain:
        pass

    assert Plain.__name__ == "Plain"
    assert registry.get("plain") is Plain
    assert "plain" in registry
    assert "other" not in registry


def test_names_are_sorted() -> None:
    registry: Registry[int] = Registry("number")
    for name in ("b", "c", "a"):
        registry.add(name, 1)
    assert registry.names() == ["a", "b", "c"]


def test_duplicate_registration_is_an_error() -> None:
    registry: Registry[int] = Registry("number")
    registry.add("one", 1)
    with pytest.raises(ValueError, match="number 'one' is registered twice"):
        registry.add("one", 2)
    assert registry.get("one") == 1


def test_duplicate_registration_through_the_decorator_is_an_error() -> None:
    registry: Registry[object] = Registry("thing")
    registry.add("x", "json:dumps")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("x")(object())


def test_unknown_name_raises_key_error_with_hint() -> None:
    registry: Registry[int] = Registry("scorer")
    registry.add("exact_match", 1)
    registry.add("accuracy", 2)
    with pytest.raises(KeyError, match=r"unknown scorer 'exact_mach' \(did you mean 'exact_match'\?\)"):
        registry.get("exact_mach")
    assert registry.hint("acuracy") == "did you mean 'accuracy'?"


def test_lazy_target_resolves_to_the_attribute() -> None:
    registry: Registry[object] = Registry("function")
    registry.add("dumps", "json:dumps")
    assert registry.get("dumps") is json.dumps


def test_lazy_target_is_imported_only_on_first_get(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = "bench_lazy_probe_module"
    (tmp_path / f"{module}.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, module, raising=False)
    registry: Registry[int] = Registry("value")
    registry.add("answer", f"{module}:VALUE")
    assert module not in sys.modules
    assert "answer" in registry
    assert module not in sys.modules
    assert registry.get("answer") == 42
    assert module in sys.modules
    assert registry.get("answer") == 42  # cached: the resolved object is returned again


def test_builtin_registries_hold_lazy_backends_and_generators() -> None:
    from bench.backends.base import BACKENDS
    from bench.tasks.generators import GENERATORS
    from bench.tasks.scorers import SCORERS

    assert {"fake", "llama_cpp"} <= set(BACKENDS.names())
    assert "invoices" in GENERATORS
    assert {"accuracy", "macro_f1", "exact_match", "numeric_tolerance", "json_fields", "rouge_l"} <= set(
        SCORERS.names())
    assert BACKENDS.get("fake").__name__ == "FakeBackend"


def test_a_params_target_is_imported_without_the_implementation() -> None:
    registry: Registry[type] = Registry("widget")
    registry.add("w", "bench_no_such_module:Widget", "bench.backends.params:FakeParams")
    from bench.backends.params import FakeParams

    assert registry.params("w") is FakeParams  # the implementation's module does not exist: never imported


def test_params_fall_back_to_the_implementations_attribute() -> None:
    registry: Registry[type] = Registry("widget")

    class WithParams:
        Params = int

    registry.add("with", WithParams)
    registry.add("without", object)
    assert registry.params("with") is int
    with pytest.raises(PluginError, match="widget 'without' declares no Params model"):
        registry.params("without")
