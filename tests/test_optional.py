"""Optional engines fail with one line naming what to install."""

from __future__ import annotations

import pytest

from bench.errors import BackendError
from bench.optional import require


def test_a_missing_engine_names_what_to_install() -> None:
    with pytest.raises(BackendError, match=r"the vllm backend needs no_such_engine_xyz: pip install -e '\.\[vllm\]'"):
        require("no_such_engine_xyz", "the vllm backend", "pip install -e '.[vllm]'")


def test_a_present_module_is_returned() -> None:
    assert require("json", "x", "y").dumps([1]) == "[1]"
