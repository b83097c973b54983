"""RouteLLM's APGR / CPT, ECE and costs on hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from bench.route.metrics import apgr, calibration, cascade_usd, cpt, outcome, pgr, router_usd


def test_apgr_and_cpt_by_hand() -> None:
    # weak 0.5, strong 0.9; router curve (share of strong calls, accuracy): (0, .5), (.5, .8), (1, .9)
    # area = (.5+.8)/2*.5 + (.8+.9)/2*.5 = .75; APGR = (.75 - .5) / (.9 - .5) = .625
    shares, scores = [1.0, 0.0, 0.5], [0.9, 0.5, 0.8]  # unsorted on purpose
    assert apgr(shares, scores, 0.5, 0.9) == pytest.approx(0.625)
    assert cpt(shares, scores, 0.5, 0.9, 0.5) == pytest.approx(1 / 3)  # 0.7 reached a third of the way to 0.5
    assert cpt(shares, scores, 0.5, 0.9, 0.8) == pytest.approx(0.6)  # 0.82: a fifth of the way from 0.5 to 1
    assert pgr(0.8, 0.5, 0.9) == pytest.approx(0.75)


def test_no_gap_to_recover_gives_none() -> None:
    assert apgr([0, 1], [0.5, 0.5], 0.6, 0.6) is None
    assert cpt([0, 1], [0.5, 0.4], 0.6, 0.4, 0.5) is None and pgr(0.5, 0.6, 0.6) is None
    assert cpt([0, 0.5, 1], [0.5, 0.6, 0.7], 0.5, 0.9, 0.8) is None  # never reached


def test_ece_by_hand_with_ten_equal_width_bins() -> None:
    conf = np.array([0.95, 0.85, 0.62, 0.55, 0.15, 0.72, 0.78, np.nan])
    right = np.array([1, 0, 1, 0, 0, 1, 0, 1], dtype=float)
    found = calibration(conf, right, bins=10)
    assert found is not None and found.n == 7  # the item without a confidence is left out
    # one item in each of 5 bins: |1-.95| + |0-.85| + |1-.62| + |0-.55| + |0-.15| = 1.98;
    # bin (.7, .8]: mean confidence .75, accuracy .5, two items: 2 * .25 = .5 -> ECE = 2.48 / 7
    assert found.ece == pytest.approx(2.48 / 7)
    assert found.rows[7] == (0.7, 2, pytest.approx(0.75), 0.5)
    assert found.rows[0] == (0.0, 0, None, None)


def test_bin_edges_are_right_closed() -> None:
    found = calibration(np.array([0.7, 0.0, 1.0]), np.array([1.0, 0.0, 1.0]), bins=10)
    assert found is not None
    assert [r[1] for r in found.rows] == [1, 0, 0, 0, 0, 0, 1, 0, 0, 1]


def test_cascade_cost_is_small_on_every_item_plus_escalated_large() -> None:
    assert cascade_usd(0.25, 0.001, 0.01) == pytest.approx(0.001 + 0.25 * 0.01)
    assert router_usd(0.25, 0.001, 0.01) == pytest.approx(0.75 * 0.001 + 0.25 * 0.01)
    assert cascade_usd(0.25, None, 0.01) is None


def test_outcome_latency_of_cascade_and_router() -> None:
    escalate = np.array([True, False, False, False])
    got = outcome(escalate, np.array([0, 1, 1, 1.0]), np.array([1, 0, 0, 0.0]),
                  (np.array([0.1, 0.2, 0.3, 0.4]), np.array([2.0, 2.0, 2.0, 2.0])))
    assert got.accuracy == 1.0 and got.share_large == 0.25
    assert got.cascade_p50_s == pytest.approx(np.percentile([2.1, 0.2, 0.3, 0.4], 50))
    assert got.router_p95_s == pytest.approx(np.percentile([2.0, 0.2, 0.3, 0.4], 95))
