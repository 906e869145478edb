"""Particle-level evaluation: one-to-one matching of picks to ground truth, P/R/F1 and AP.

A pick counts as a true positive when it is matched to a different true particle than every other
pick and lies within ``max_distance`` of its centre (default elsewhere: 0.5 x the particle
diameter, see ``/work/shared/conventions.md``). The matching is a maximum-cardinality assignment
with the smallest total distance among those, found with the Hungarian algorithm
(``scipy.optimize.linear_sum_assignment``): infeasible pairs get a cost larger than any feasible
assignment could sum to, so the solver first maximises the number of matches and then minimises
their total distance. Greedy nearest-first matching can undercount (a pick grabs the truth that a
second pick needed), which is why it is not used.

Average precision (AP) ranks picks by figure of merit (ties keep input order). The number of true
positives among the top ``k`` picks is the size of a *maximum* matching of those ``k`` picks,
computed incrementally with augmenting paths (Kuhn's algorithm keeps a maximum matching of every
prefix), so the last point of the curve equals the Hungarian TP count. Precision is interpolated
as the running maximum from the right (precision at recall ``r`` = best precision at any recall
``>= r``, as in PASCAL VOC 2010+ and COCO) and AP is the area under that step curve, summed at
every recall increment (no 11-point sampling). Picks of several micrographs are pooled by FOM,
each matched only within its own micrograph.

Edge cases: with no picks precision is 1 if there is no truth either, else 0; with no truth
recall is 1 if there are no picks either, else 0; F1 is 0 when precision + recall is 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


@dataclass
class MatchResult:
    """Counts and scores of one matching.

    Attributes:
        tp, fp, fn: true positives, false positives (unmatched picks), false negatives.
        precision, recall, f1: the usual ratios (edge cases in the module docstring).
        mean_error_px: mean centre distance of matched pairs (NaN without matches).
        pairs: ``(pick index, truth index, distance)`` of every match.
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_error_px: float
    pairs: list[tuple[int, int, float]]


def scores(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from counts (edge cases as in the module docstring)."""
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else (1.0 if fp == 0 else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _as_xy(points: np.ndarray | Sequence) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    return arr.reshape(-1, 2) if arr.size else np.zeros((0, 2))


def _feasible(
    pred: np.ndarray, truth: np.ndarray, max_distance: float | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance matrix and mask of pairs within the (per-truth) distance threshold."""
    dist = cdist(pred, truth) if len(pred) and len(truth) else np.zeros((len(pred), len(truth)))
    limit = np.broadcast_to(np.asarray(max_distance, dtype=np.float64), (len(truth),))
    return dist, dist <= limit[None, :]


def match_picks(pred_xy: np.ndarray, truth_xy: np.ndarray, max_distance: float | np.ndarray) -> MatchResult:
    """One-to-one matching of picks ``[N, 2]`` to truth ``[M, 2]`` (x, y in the same frame).

    Args:
        pred_xy: pick centres.
        truth_xy: true centres.
        max_distance: largest centre distance of a match, one value or one per true particle.
    """
    pred, truth = _as_xy(pred_xy), _as_xy(truth_xy)
    dist, ok = _feasible(pred, truth, max_distance)
    pairs: list[tuple[int, int, float]] = []
    if ok.any():
        big = 1.0 + float(dist[ok].sum())  # more than any feasible assignment can cost
        cost = np.where(ok, dist, big)
        rows, cols = linear_sum_assignment(cost)
        pairs = [(int(r), int(c), float(dist[r, c])) for r, c in zip(rows, cols, strict=True) if ok[r, c]]
    tp = len(pairs)
    fp, fn = len(pred) - tp, len(truth) - tp
    precision, recall, f1 = scores(tp, fp, fn)
    err = float(np.mean([p[2] for p in pairs])) if pairs else float("nan")
    return MatchResult(tp, fp, fn, precision, recall, f1, err, pairs)


def greedy_match_count(pred_xy: np.ndarray, truth_xy: np.ndarray, max_distance: float | np.ndarray) -> int:
    """Matches found by nearest-pair-first greedy matching (for comparison in tests and docs)."""
    pred, truth = _as_xy(pred_xy), _as_xy(truth_xy)
    dist, ok = _feasible(pred, truth, max_distance)
    order = np.argsort(np.where(ok, dist, np.inf), axis=None, kind="stable")
    used_p, used_t, n = set(), set(), 0
    for flat in order:
        r, c = divmod(int(flat), len(truth))
        if not ok[r, c]:
            break
        if r in used_p or c in used_t:
            continue
        used_p.add(r)
        used_t.add(c)
        n += 1
    return n


def incremental_tp(pred_xy: np.ndarray, truth_xy: np.ndarray, max_distance: float | np.ndarray) -> np.ndarray:
    """For picks in the given order, 1 where adding the pick grows the maximum matching, else 0.

    The cumulative sum is the maximum number of matches among the first ``k`` picks, for every k.
    """
    pred, truth = _as_xy(pred_xy), _as_xy(truth_xy)
    _, ok = _feasible(pred, truth, max_distance)
    adjacency = [np.flatnonzero(ok[i]) for i in range(len(pred))]
    match_of_truth = np.full(len(truth), -1, dtype=np.int64)

    def augment(i: int, seen: np.ndarray) -> bool:
        for j in adjacency[i]:
            if seen[j]:
                continue
            seen[j] = True
            if match_of_truth[j] < 0 or augment(int(match_of_truth[j]), seen):
                match_of_truth[j] = i
                return True
        return False

    gains = np.zeros(len(pred), dtype=np.int64)
    for i in range(len(pred)):
        if adjacency[i].size:
            gains[i] = int(augment(i, np.zeros(len(truth), dtype=bool)))
    return gains


@dataclass
class PrecisionRecall:
    """Precision-recall curve over ranked picks and its area (AP)."""

    precision: np.ndarray
    recall: np.ndarray
    fom: np.ndarray
    ap: float


def average_precision(
    micrographs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, float | np.ndarray]],
) -> PrecisionRecall:
    """AP over one or many micrographs.

    Args:
        micrographs: ``(pred_xy [N, 2], fom [N], truth_xy [M, 2], max_distance)`` per micrograph.

    Returns:
        The raw (uninterpolated) curve at every rank and the interpolated AP (NaN without truth).
    """
    all_fom, all_gain, n_truth = [], [], 0
    for pred_xy, fom, truth_xy, max_distance in micrographs:
        pred = _as_xy(pred_xy)
        fom = np.asarray(fom, dtype=np.float64).reshape(-1)
        order = np.argsort(-fom, kind="stable")
        gains = incremental_tp(pred[order], truth_xy, max_distance)
        all_fom.append(fom[order])
        all_gain.append(gains)
        n_truth += len(_as_xy(truth_xy))
    fom = np.concatenate(all_fom) if all_fom else np.zeros(0)
    gain = np.concatenate(all_gain) if all_gain else np.zeros(0, dtype=np.int64)
    # Global ranking; within a micrograph the order above is kept (stable sort of a sorted run).
    order = np.argsort(-fom, kind="stable")
    fom, gain = fom[order], gain[order]
    tp = np.cumsum(gain)
    k = np.arange(1, len(gain) + 1)
    precision = tp / k if len(k) else np.zeros(0)
    if n_truth == 0:
        return PrecisionRecall(precision, np.zeros(len(k)), fom, float("nan"))
    recall = tp / n_truth
    return PrecisionRecall(precision, recall, fom, interpolated_ap(precision, recall))


def interpolated_ap(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the precision envelope (running max from the right), summed at recall steps."""
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(np.asarray(precision, dtype=np.float64)[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], np.asarray(recall, dtype=np.float64)]))
    return float(np.sum(steps * envelope))
