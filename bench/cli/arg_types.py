"""argparse `type=` checks shared by the subcommands' parsers (argparse exits 2 with the message)."""

from __future__ import annotations

import argparse


def non_empty(value: str) -> str:
    """`value` stripped; ArgumentTypeError when it is empty or blank (an empty --by, --task or --signal would
    otherwise be read as "not given" and silently ignored)."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty value: give one, or leave the option out")
    return value.strip()
