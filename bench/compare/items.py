"""Per-item data of a compared cell, columnar: item ids sorted in one Arrow string array, values in numpy arrays
aligned with them, and the pairing of two sides by a vectorized join on the ids.

A million items per side are a few arrays, not a million dicts. The baseline file keeps its JSON shape
({item_id: {score: value}} and {item_id: [prediction, reference]}): `to_dict` / `from_dict` convert at the edge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def _arrow_ids(ids: Any) -> Any:
    import pyarrow as pa

    return ids if isinstance(ids, pa.Array) else pa.array(np.asarray(ids, dtype=object), type=pa.string())


def sort_last(ids: Any) -> tuple[Any, np.ndarray]:
    """(sorted unique ids, the row each came from): ids sorted by code point (as Python's sorted()), an id given
    several times keeping its last row, as building a dict row by row would."""
    import pyarrow.compute as pc

    arrow = _arrow_ids(ids)
    order = np.asarray(pc.sort_indices(arrow).to_numpy(), dtype=np.int64)  # a stable sort
    ordered = arrow.take(order)
    if len(ordered) > 1:
        last = np.append(pc.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False), True)
        if not last.all():
            order = order[last]
            ordered = arrow.take(order)
    return ordered, order


def pair(base: Any, cand: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positions in two sorted unique id arrays of the ids both hold, in id order (a hash join)."""
    import pyarrow.compute as pc

    if base.equals(cand):
        every = np.arange(len(base), dtype=np.int64)
        return every, every
    found = pc.index_in(base, value_set=cand)
    valid = found.is_valid().to_numpy(zero_copy_only=False)
    at = np.asarray(found.fill_null(-1).to_numpy(), dtype=np.int64)
    return np.flatnonzero(valid), at[valid]


class ItemScores:
    """Per-item scores of one cell: `ids` (Arrow strings, sorted, unique) and per score name a float64 array in
    that order, NaN where an item has no such score. A name no item has is not kept."""

    __slots__ = ("ids", "scores")

    def __init__(self, ids: Any, scores: Mapping[str, np.ndarray]) -> None:
        self.ids = ids
        self.scores = {name: values for name, values in scores.items() if not np.isnan(values).all()}

    @classmethod
    def of(cls, ids: Sequence[str] | np.ndarray, scores: Mapping[str, np.ndarray]) -> ItemScores:
        """From rows in any order (an id given twice keeps its last row)."""
        ordered, order = sort_last(ids)
        return cls(ordered, {name: np.asarray(values, dtype=float)[order] for name, values in scores.items()})

    @classmethod
    def from_dict(cls, items: Mapping[str, Mapping[str, float]]) -> ItemScores:
        names = list(dict.fromkeys(name for scores in items.values() for name in scores))
        rows = list(items.values())
        return cls.of(list(items), {name: np.array([row.get(name, np.nan) for row in rows], dtype=float)
                                    for name in names})

    def to_dict(self) -> dict[str, dict[str, float]]:
        columns = {name: values.tolist() for name, values in self.scores.items()}
        return {item_id: {name: column[i] for name, column in columns.items() if column[i] == column[i]}
                for i, item_id in enumerate(self.ids.to_pylist())}

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.scores)

    def values(self, name: str, at: np.ndarray | None = None) -> np.ndarray:
        """The named score of the items at positions `at` (all when None), 0.0 where an item has none."""
        column = self.scores.get(name)
        if column is None:
            return np.zeros(len(self.ids) if at is None else len(at))
        picked = column if at is None else column[at]
        return np.where(np.isnan(picked), 0.0, picked)

    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemScores):
            return NotImplemented
        return bool(self.ids.equals(other.ids) and self.scores.keys() == other.scores.keys() and all(
            np.array_equal(values, other.scores[name], equal_nan=True) for name, values in self.scores.items()))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ItemScores({len(self)} items, scores {sorted(self.scores)})"


class Coded:
    """A column of JSON values as dense codes into its distinct values (rows with the same value share it)."""

    __slots__ = ("codes", "values")

    def __init__(self, codes: np.ndarray, values: list[Any]) -> None:
        self.codes, self.values = codes, values

    @classmethod
    def of(cls, values: Sequence[Any]) -> Coded:
        """Codes of Python values, equal JSON texts sharing a code."""
        index: dict[str, int] = {}
        distinct: list[Any] = []
        codes = np.empty(len(values), dtype=np.int64)
        for i, value in enumerate(values):
            key = json.dumps(value, sort_keys=True)
            if key not in index:
                index[key] = len(distinct)
                distinct.append(value)
            codes[i] = index[key]
        return cls(codes, distinct)

    def take(self, at: np.ndarray) -> Coded:
        return Coded(self.codes[at], self.values)

    def tolist(self) -> list[Any]:
        return [self.values[c] for c in self.codes.tolist()]


class CorpusItems:
    """[prediction, reference] per item of one cell: `ids` (Arrow strings, sorted, unique) and the two columns
    coded in that order."""

    __slots__ = ("ids", "predictions", "references")

    def __init__(self, ids: Any, predictions: Coded, references: Coded) -> None:
        self.ids, self.predictions, self.references = ids, predictions, references

    @classmethod
    def of(cls, ids: Sequence[str] | np.ndarray, predictions: Coded, references: Coded) -> CorpusItems:
        """From rows in any order (an id given twice keeps its last row)."""
        ordered, order = sort_last(ids)
        return cls(ordered, predictions.take(order), references.take(order))

    @classmethod
    def from_dict(cls, items: Mapping[str, Sequence[Any]]) -> CorpusItems:
        pairs = list(items.values())
        return cls.of(list(items), Coded.of([p[0] for p in pairs]), Coded.of([p[1] for p in pairs]))

    def to_dict(self) -> dict[str, list[Any]]:
        return {item_id: [p, r] for item_id, p, r in zip(self.ids.to_pylist(), self.predictions.tolist(),
                                                         self.references.tolist(), strict=True)}

    def pairs(self, at: np.ndarray) -> list[list[Any]]:
        """[prediction, reference] of the items at positions `at`."""
        return [[self.predictions.values[p], self.references.values[r]]
                for p, r in zip(self.predictions.codes[at].tolist(), self.references.codes[at].tolist(), strict=True)]

    def __len__(self) -> int:
        return len(self.ids)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CorpusItems):
            return NotImplemented
        return bool(self.ids.equals(other.ids) and self.predictions.tolist() == other.predictions.tolist()
                    and self.references.tolist() == other.references.tolist())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"CorpusItems({len(self)} items)"
