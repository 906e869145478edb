"""Hand-computed precision/recall/F1, Hungarian vs greedy matching, and AP."""

from __future__ import annotations

import numpy as np
import pytest

from samcryo_core.evaluation.matching import (
    average_precision,
    greedy_match_count,
    incremental_tp,
    interpolated_ap,
    match_picks,
    scores,
)


def test_basic_counts_and_error():
    truth = [(0, 0), (10, 0), (20, 0)]
    pred = [(1, 0), (10, 3), (50, 50)]
    m = match_picks(pred, truth, 5.0)
    assert (m.tp, m.fp, m.fn) == (2, 1, 1)
    assert m.precision == pytest.approx(2 / 3) and m.recall == pytest.approx(2 / 3)
    assert m.f1 == pytest.approx(2 / 3)
    assert m.mean_error_px == pytest.approx(2.0)  # (1 + 3) / 2
    assert sorted((p, t) for p, t, _ in m.pairs) == [(0, 0), (1, 1)]


def test_threshold_is_inclusive_and_per_truth():
    assert match_picks([(5, 0)], [(0, 0)], 5.0).tp == 1
    assert match_picks([(5.01, 0)], [(0, 0)], 5.0).tp == 0
    # Per-truth thresholds: the big particle accepts a pick 8 px away, the small one does not.
    m = match_picks([(8, 0), (108, 0)], [(0, 0), (100, 0)], np.array([10.0, 5.0]))
    assert (m.tp, m.fp, m.fn) == (1, 1, 1)


def test_hungarian_beats_greedy():
    # P1 is nearest to T1, but P2 can only reach T1; P1 can also reach T2 (4 px).
    truth = [(0, 0), (5, 0)]
    pred = [(1, 0), (-2.5, 0)]
    assert greedy_match_count(pred, truth, 4.5) == 1
    m = match_picks(pred, truth, 4.5)
    assert (m.tp, m.fp, m.fn) == (2, 0, 0)
    assert m.precision == m.recall == m.f1 == 1.0
    assert m.mean_error_px == pytest.approx((4.0 + 2.5) / 2)


def test_empty_cases():
    assert scores(0, 0, 0) == (1.0, 1.0, 1.0)
    m = match_picks([], [(0, 0)], 5.0)
    assert (m.tp, m.fp, m.fn, m.precision, m.recall, m.f1) == (0, 0, 1, 0.0, 0.0, 0.0)
    m = match_picks([(0, 0)], [], 5.0)
    assert (m.tp, m.fp, m.fn, m.precision, m.recall) == (0, 1, 0, 0.0, 0.0)
    assert np.isnan(m.mean_error_px)


def test_ap_hand_computed():
    # Ranked: A TP, B FP, C TP, D FP; 3 true particles.
    # P = 1, 1/2, 2/3, 1/2; R = 1/3, 1/3, 2/3, 2/3; envelope 1, 2/3, 2/3, 1/2
    # AP = 1/3 * 1 + 1/3 * 2/3 = 5/9
    truth = np.array([(0, 0), (100, 0), (200, 0)], float)
    pred = np.array([(50, 50), (100, 2), (0, 1), (300, 300)], float)
    fom = np.array([0.8, 0.7, 0.9, 0.6])
    pr = average_precision([(pred, fom, truth, 5.0)])
    np.testing.assert_allclose(pr.precision, [1, 1 / 2, 2 / 3, 1 / 2])
    np.testing.assert_allclose(pr.recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert pr.ap == pytest.approx(5 / 9)
    # The same picks split over two micrographs give the same pooled AP.
    split = average_precision(
        [
            (pred[[0, 2]], fom[[0, 2]], truth[:1], 5.0),
            (pred[[1, 3]], fom[[1, 3]], truth[1:], 5.0),
        ]
    )
    assert split.ap == pytest.approx(5 / 9)


def test_ap_matches_only_within_a_micrograph():
    # A pick of micrograph 2 lies on micrograph 1's particle: it must not count.
    pr = average_precision(
        [
            (np.zeros((0, 2)), np.zeros(0), np.array([(0.0, 0.0)]), 5.0),
            (np.array([(0.0, 0.0)]), np.array([0.9]), np.zeros((0, 2)), 5.0),
        ]
    )
    assert pr.ap == 0.0


def test_ap_uses_maximum_matching_per_prefix():
    # Same geometry as the greedy case: ranked P1 then P2; both are TP with a maximum matching.
    pred = np.array([(1, 0), (-2.5, 0)], float)
    truth = np.array([(0, 0), (5, 0)], float)
    assert incremental_tp(pred, truth, 4.5).tolist() == [1, 1]
    assert average_precision([(pred, np.array([0.9, 0.8]), truth, 4.5)]).ap == pytest.approx(1.0)


def test_interpolated_ap_edge_cases():
    assert interpolated_ap(np.array([]), np.array([])) == 0.0
    assert interpolated_ap(np.array([1.0, 1.0]), np.array([0.5, 1.0])) == 1.0
    assert np.isnan(average_precision([(np.array([(0.0, 0.0)]), np.array([0.5]), np.zeros((0, 2)), 5.0)]).ap)
