"""How a cell is named in tables: the model, and its load mode when it is not one request at a time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bench.results.schema import CostRow, ManifestCell


def cell_name(cell: Mapping[str, Any] | ManifestCell | CostRow) -> str:
    """'model' for one request at a time, else 'model @ load' (a cell, a cost row, or a flag/skip mapping)."""
    if isinstance(cell, Mapping):
        model_id, load = str(cell["model_id"]), cell.get("load", "latency")
    else:
        model_id, load = cell.model_id, cell.load
    return model_id if load == "latency" else f"{model_id} @ {load}"
