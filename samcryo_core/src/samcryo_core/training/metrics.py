"""Pixel Dice: the number the SAM-for-cryo-EM papers report (filled circles, often at 256 x 256).

It is computed on *binarized* predictions (probability >= threshold) against the binary target
mask, per image, then averaged -- so one large micrograph does not dominate a validation set.
Particle-level precision/recall lives in ``samcryo_core.evaluation``.
"""

from __future__ import annotations

import numpy as np


def pixel_dice(pred: np.ndarray, target: np.ndarray) -> float:
    """Dice ``2|P & T| / (|P| + |T|)`` of two boolean masks; 1.0 when both are empty."""
    p = np.asarray(pred, dtype=bool)
    t = np.asarray(target, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"prediction {p.shape} and target {t.shape} differ in shape")
    denom = int(p.sum()) + int(t.sum())
    if denom == 0:
        return 1.0
    return 2.0 * float(np.logical_and(p, t).sum()) / denom


def batch_pixel_dice(prob: np.ndarray, target: np.ndarray, threshold: float = 0.5) -> list[float]:
    """Per-image Dice of ``prob >= threshold`` against ``target > 0.5`` for ``[B, ...]`` arrays."""
    prob = np.asarray(prob)
    target = np.asarray(target)
    return [pixel_dice(prob[i] >= threshold, target[i] > 0.5) for i in range(prob.shape[0])]
