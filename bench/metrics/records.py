"""Older names of the records and segments models, which live in bench/results/schema.py (typed, versioned)."""

from __future__ import annotations

from bench.results.schema import RECORD_VERSION as RECORD_SCHEMA_VERSION
from bench.results.schema import Record as ItemRecord
from bench.results.schema import Segment as CellSegment

__all__ = ["RECORD_SCHEMA_VERSION", "CellSegment", "ItemRecord"]
