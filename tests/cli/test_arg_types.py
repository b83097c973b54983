"""The argparse `type=` checks shared by the subcommands."""

from __future__ import annotations

import argparse

import pytest

from bench.cli.arg_types import non_empty


def test_non_empty_strips_and_refuses_blank_values() -> None:
    assert non_empty(" priority ") == "priority"
    for blank in ("", "   ", "\t"):
        with pytest.raises(argparse.ArgumentTypeError, match="empty value: give one, or leave the option out"):
            non_empty(blank)
