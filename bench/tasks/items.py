"""The unit of evaluation: one dataset item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Expected = str | dict[str, Any]


@dataclass(frozen=True)
class Item:
    """One example: the input text, the expected answer (a label, a string or a dict of fields)."""

    id: str
    input: str
    expected: Expected
    tags: dict[str, str] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    """Every other column of the row, usable as a prompt template variable."""
