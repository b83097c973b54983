"""Columnar per-item data of compare (bench/compare/items.py) against a straightforward dict-based pairing: the
same items, the same values, the same tests' outcomes, on hand-made sides with items missing on either side and
superseded retries."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bench.compare import CellData, CorpusData, MetricValue, mcnemar, paired_bootstrap, significance_for
from bench.compare.items import Coded, CorpusItems, ItemScores, pair
from bench.compare.significance import macro_f1_bootstrap
from bench.metrics import stats

Row = tuple[str, dict[str, float]]


def dict_of(rows: list[Row]) -> dict[str, dict[str, float]]:
    """What building a dict row by row gives: a retried item keeps its last row."""
    items: dict[str, dict[str, float]] = {}
    for item_id, scores in rows:
        items[item_id] = scores
    return items


def columnar(rows: list[Row]) -> ItemScores:
    names = ["accuracy", "rouge"]
    return ItemScores.of([item_id for item_id, _ in rows],
                         {name: np.array([s.get(name, np.nan) for _, s in rows]) for name in names})


def side_rows(seed: int, ids: list[str], retried: list[str]) -> list[Row]:
    rng = np.random.default_rng(seed)
    rows: list[Row] = [(i, {"accuracy": float(rng.integers(0, 2)), "rouge": float(rng.random())}) for i in ids]
    rows += [(i, {"accuracy": 1.0}) for i in retried]  # the retry supersedes, and has no rouge
    return rows


# ids in no particular order, code points beyond ASCII, one side missing items of the other
BASE_IDS = [f"item-{n:03d}" for n in range(40, 0, -1)] + ["é-1", "Z", "a"]
CAND_IDS = [f"item-{n:03d}" for n in range(1, 46) if n % 7] + ["é-1", "a", "ß"]
BASE = side_rows(1, BASE_IDS, retried=["item-005", "item-010", "Z"])
CAND = side_rows(2, CAND_IDS, retried=["item-010", "ß"])


def test_rows_sorted_like_python_and_a_retry_supersedes() -> None:
    expected = dict_of(BASE)
    scores = columnar(BASE)
    assert scores.ids.to_pylist() == sorted(expected)
    assert scores.to_dict() == expected
    assert scores == ItemScores.from_dict(expected)
    assert scores.names == {"accuracy", "rouge"}


def test_pairing_equals_the_sorted_intersection_of_the_dicts() -> None:
    base, cand = dict_of(BASE), dict_of(CAND)
    common = sorted(set(base) & set(cand))
    base_at, cand_at = pair(columnar(BASE).ids, columnar(CAND).ids)
    assert columnar(BASE).ids.take(base_at).to_pylist() == common
    assert columnar(CAND).ids.take(cand_at).to_pylist() == common
    for name in ("accuracy", "rouge"):
        assert columnar(BASE).values(name, base_at).tolist() == [base[i].get(name, 0.0) for i in common]
        assert columnar(CAND).values(name, cand_at).tolist() == [cand[i].get(name, 0.0) for i in common]
    assert 0 < len(common) < min(len(base), len(cand))


def test_pairing_of_identical_and_disjoint_sides() -> None:
    same, _ = pair(columnar(BASE).ids, columnar(BASE).ids)
    assert same.tolist() == list(range(len(dict_of(BASE))))
    disjoint = pair(columnar([("x", {})]).ids, columnar([("y", {})]).ids)
    assert [part.tolist() for part in disjoint] == [[], []]


def cell(items: ItemScores | dict[str, Any], corpus: CorpusItems | dict[str, Any] | None = None) -> CellData:
    metric = MetricValue(value=0.5, higher_is_better=True, unit="ratio", group="quality")
    data = None if corpus is None else CorpusData(scorers={"macro_f1": {"name": "macro_f1"}},
                                                  items=corpus)
    return CellData(model_id="m", task_id="t", metrics={"accuracy": metric, "rouge": metric, "macro_f1": metric},
                    items=items, corpus=data)


@pytest.mark.parametrize("metric", ["accuracy", "rouge"])
def test_item_tests_equal_the_dict_based_pairing(metric: str) -> None:
    base, cand = dict_of(BASE), dict_of(CAND)
    common = sorted(set(base) & set(cand))
    b, c = [base[i].get(metric, 0.0) for i in common], [cand[i].get(metric, 0.0) for i in common]
    expected = mcnemar(b, c, 0.05) if all(v in (0.0, 1.0) for v in b + c) else paired_bootstrap(b, c, 0.05)
    assert significance_for(metric, cell(columnar(BASE)), cell(columnar(CAND)), 0.05) == expected
    assert significance_for(metric, cell(base), cell(cand), 0.05) == expected  # as read from a baseline file
    assert expected.test == ("mcnemar" if metric == "accuracy" else "paired bootstrap")


LABELS = ["billing", "Billing ", "shipping", None, {"label": "x"}, "technical"]


def corpus_rows(seed: int, ids: list[str], retried: list[str], only_here: str) -> list[tuple[str, Any, Any]]:
    """Rows of ids, the retried ones again, and the item only_here (missing on the other side) again with a label
    no other item has: it must not count among the compared labels."""
    rng = np.random.default_rng(seed)
    rows = [(i, LABELS[int(rng.integers(0, len(LABELS)))], ["billing", "shipping", "technical"][n % 3])
            for n, i in enumerate(ids)]
    return rows + [(i, "shipping", "billing") for i in retried] + [(only_here, "refunds", "warranty")]


def corpus_of(rows: list[tuple[str, Any, Any]]) -> CorpusItems:
    return CorpusItems.of([r[0] for r in rows], Coded.of([r[1] for r in rows]), Coded.of([r[2] for r in rows]))


@pytest.mark.parametrize("resamples", [200])
def test_corpus_test_equals_the_dict_based_pairing(monkeypatch: pytest.MonkeyPatch, resamples: int) -> None:
    monkeypatch.setattr(stats, "BOOTSTRAP_RESAMPLES", resamples)
    base_rows, cand_rows = (corpus_rows(3, BASE_IDS, ["item-005", "a"], "Z"),
                            corpus_rows(4, CAND_IDS, ["item-010"], "ß"))
    base = {i: [p, r] for i, p, r in base_rows}
    cand = {i: [p, r] for i, p, r in cand_rows}
    assert corpus_of(base_rows).to_dict() == base
    common = sorted(set(base) & set(cand))
    expected = macro_f1_bootstrap(None, [base[i] for i in common], [cand[i] for i in common], 0.05)
    got = significance_for("macro_f1", cell({}, corpus_of(base_rows)), cell({}, corpus_of(cand_rows)), 0.05)
    assert got == expected and expected.test == "paired bootstrap (corpus)"
    assert significance_for("macro_f1", cell({}, base), cell({}, cand), 0.05) == expected
