"""Slices by an item tag on hand-built records: p-values against hand computations (and scipy), Holm's
correction, the "(none)" slice, the permutation test for non-binary scores."""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats

from bench.metrics.aggregate import CellIdent
from bench.metrics.columns import from_records
from bench.metrics.records import ItemRecord
from bench.metrics.slices import NONE_VALUE, Slice, cell_slices, holm, tag_names, tag_values
from bench.suite.spec import TaskSpec

IDENT: CellIdent = {"cell_id": "m@t", "model_id": "m", "task_id": "t"}


def task(scorers: list[object]) -> TaskSpec:
    return TaskSpec.model_validate({"id": "t", "dataset": {"path": "x.jsonl"}, "answer": {"mode": "text"},
                                    "scorers": scorers})


def record(i: int, score: float, tags: dict[str, str], reference: object = "billing") -> ItemRecord:
    scores = {"accuracy": score} if not isinstance(reference, dict) else {
        "field_accuracy": score, "field.a": float(score >= 0.5), "field.b": float(score == 1.0)}
    return ItemRecord(cell_id="m@t", model_id="m", task_id="t", task_version="1", item_id=f"i{i:03d}", segment="s",
                      prompt_sha256="x", t_start=0.0, t_end=0.1 * (i + 1), scores=scores, reference=reference,
                      tags=tags)


def labelled(counts: dict[str, tuple[int, int]]) -> list[ItemRecord]:
    """Records per tier: (right, wrong) accuracy scores."""
    out, i = [], 0
    for tier, (right, wrong) in counts.items():
        for score in [1.0] * right + [0.0] * wrong:
            out.append(record(i, score, {} if tier == NONE_VALUE else {"tier": tier}))
            i += 1
    return out


def fisher_by_hand(a: int, b: int, c: int, d: int) -> float:
    """Two-sided Fisher p of [[a, b], [c, d]]: the hypergeometric probabilities of every table with the same
    margins that are no more likely than the observed one, summed."""
    row, col, n = a + b, a + c, a + b + c + d

    def prob(x: int) -> float:
        return math.comb(col, x) * math.comb(n - col, row - x) / math.comb(n, row)

    observed = prob(a)
    return sum(p for x in range(max(0, row + col - n), min(row, col) + 1) if (p := prob(x)) <= observed * (1 + 1e-7))


def by_value(slices: list[Slice]) -> dict[str, Slice]:
    return {s.value: s for s in slices}


def test_fisher_p_values_and_holm_match_hand_computation() -> None:
    records = labelled({"free": (2, 8), "gold": (9, 1), "silver": (8, 2)})
    found = by_value(cell_slices(task(["accuracy"]), from_records(records), "tier", IDENT, "accuracy"))
    raw = {"free": fisher_by_hand(2, 8, 17, 3), "gold": fisher_by_hand(9, 1, 10, 10),
           "silver": fisher_by_hand(8, 2, 11, 9)}
    assert math.isclose(raw["free"], stats.fisher_exact([[2, 8], [17, 3]]).pvalue, rel_tol=1e-9)
    assert round(raw["free"], 6) == 0.000974  # 2/10 right vs 17/20 right (the example in docs/metrics.md)
    for value, p in raw.items():
        test = found[value].test
        assert test is not None and test.method == "fisher_exact"
        assert math.isclose(test.p_value, p, rel_tol=1e-9)
    ordered = sorted(raw, key=raw.__getitem__)  # Holm: the k-th smallest times (m - k), never decreasing
    expected, running = {}, 0.0
    for k, value in enumerate(ordered):
        running = max(running, min(1.0, (3 - k) * raw[value]))
        expected[value] = running
    for value, p in expected.items():
        assert math.isclose(found[value].test.p_holm, p, rel_tol=1e-9)  # type: ignore[union-attr,arg-type]
    assert math.isclose(expected["free"], 3 * raw["free"])
    assert [v for v, s in found.items() if s.flagged] == ["free"]  # gold is above the rest: never flagged
    assert found["free"].n == 10 and found["free"].test.slice_mean == 0.2  # type: ignore[union-attr]
    assert math.isclose(found["free"].test.rest_mean, 17 / 20)  # type: ignore[union-attr]


def test_slice_rows_carry_each_scorer_with_its_ci_and_latency() -> None:
    records = labelled({"free": (2, 8), "gold": (9, 1)})
    free = by_value(cell_slices(task(["accuracy"]), from_records(records), "tier", IDENT, "accuracy"))["free"]
    rows = {r.metric: r for r in free.rows}
    assert rows["accuracy"].value == 0.2 and rows["accuracy"].n == 10
    low, high = stats.binomtest(2, 10).proportion_ci(method="wilson")
    assert math.isclose(rows["accuracy"].ci_low, low) and math.isclose(rows["accuracy"].ci_high, high)  # type: ignore[arg-type]
    assert math.isclose(rows["e2e_latency_s_p50"].value, np.median([0.1 * (i + 1) for i in range(10)]))  # type: ignore[arg-type]
    assert "error_rate" in rows and "empty_answer_rate" not in rows


def test_records_without_the_tag_are_their_own_counted_slice() -> None:
    records = labelled({"gold": (4, 0), NONE_VALUE: (1, 2), "free": (1, 1)})
    records.append(record(99, 1.0, {"tier": ""}))  # an empty value is no value
    cols = from_records(records)
    assert tag_names(cols) == {"tier"}
    found = cell_slices(task(["accuracy"]), cols, "tier", IDENT, "accuracy")
    assert [(s.value, s.n) for s in found] == [("free", 2), ("gold", 4), (NONE_VALUE, 4)]
    assert sum(s.n for s in found) == len(records)
    none = found[-1].test
    assert none is not None and math.isclose(none.p_value, fisher_by_hand(2, 2, 5, 1))


def test_one_value_has_no_complement_and_no_test() -> None:
    found = cell_slices(task(["accuracy"]), from_records(labelled({"gold": (3, 1)})), "tier", IDENT, "accuracy")
    assert [(s.value, s.n, s.test, s.flagged) for s in found] == [("gold", 4, None, False)]


def test_non_binary_scores_get_an_exact_permutation_test() -> None:
    inside, rest = [0.5, 0.0, 0.5], [1.0, 1.0, 0.5, 1.0, 0.5]
    records = [record(i, s, {"lang": "de"}, {"a": "x", "b": "y"}) for i, s in enumerate(inside)]
    records += [record(10 + i, s, {"lang": "en"}, {"a": "x", "b": "y"}) for i, s in enumerate(rest)]
    json_task = task([{"name": "json_fields"}])
    found = by_value(cell_slices(json_task, from_records(records), "lang", IDENT, "field_accuracy"))
    pooled = np.array(inside + rest)
    observed = abs(np.mean(inside) - np.mean(rest))
    splits = list(itertools.combinations(range(len(pooled)), len(inside)))  # all 56 arrangements
    extreme = sum(abs(pooled[list(c)].mean() - np.delete(pooled, list(c)).mean()) >= observed - 1e-12 for c in splits)
    test = found["de"].test
    assert test is not None and test.method == "permutation"
    assert math.isclose(test.p_value, extreme / len(splits))


def test_holm_adjusts_in_input_order() -> None:
    assert holm([0.01, 0.04, 0.03, 0.005]) == [0.03, 0.06, 0.06, 0.02]
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_tag_values_per_row() -> None:
    cols = from_records(labelled({"gold": (1, 0), NONE_VALUE: (0, 1)}))
    assert tag_values(cols, "tier").tolist() == ["gold", NONE_VALUE]
    assert tag_values(cols, "other").tolist() == [NONE_VALUE, NONE_VALUE]
