"""How a cell is named in tables: the model, and its load mode when it is not one request at a time."""

from __future__ import annotations

from typing import Any


def cell_name(cell: dict[str, Any]) -> str:
    load = cell.get("load", "latency")
    return str(cell["model_id"]) if load == "latency" else f"{cell['model_id']} @ {load}"
