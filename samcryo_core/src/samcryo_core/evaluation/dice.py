"""Pixel Dice of filled circles, computed the way the SAM-for-cryo-EM papers report it.

Those papers (and the CryoPPP masks they train on) score a picker by the Dice coefficient
``2 |A & B| / (|A| + |B|)`` between two binary masks at 256 x 256: the micrograph resized to
256 x 256 with a filled circle of the particle diameter drawn at every particle. To set samcryo's
numbers beside theirs, :func:`circle_mask` draws the same masks from coordinates:

* the original ``H x W`` micrograph maps onto ``size x size`` with separate factors
  ``size / W`` and ``size / H`` (pixel centres map as in ``samcryo_core.frame``), because the
  papers resize without keeping the aspect ratio; on a non-square micrograph a circle therefore
  becomes an ellipse with radii ``d/2 * size/W`` and ``d/2 * size/H``;
* a mask pixel is inside when its centre is inside the (elliptical) disc;
* two empty masks give Dice 1 (nothing to find, nothing found).

Pixel Dice rewards covering particle area, not finding each particle once: merged blobs score
well and a pick off by a few pixels still scores partly, which is why samcryo also reports
particle-level precision/recall/F1 (:mod:`samcryo_core.evaluation.matching`). Dice from picks
(circles at pick centres) is not the same number as Dice of a model's raw mask; compare with the
papers' values only as an indication.
"""

from __future__ import annotations

import numpy as np

PAPER_MASK_SIZE = 256


def circle_mask(
    xy: np.ndarray,
    diameters_px: np.ndarray | float,
    original_shape: tuple[int, int],
    size: int = PAPER_MASK_SIZE,
) -> np.ndarray:
    """``[size, size]`` boolean mask of filled circles at original-frame centres ``xy [N, 2]``."""
    H, W = original_shape
    sx, sy = size / W, size / H
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    d = np.broadcast_to(np.asarray(diameters_px, dtype=np.float64), (len(xy),))
    mask = np.zeros((size, size), dtype=bool)
    for (x, y), di in zip(xy, d, strict=True):
        cx, cy = (x + 0.5) * sx - 0.5, (y + 0.5) * sy - 0.5
        rx, ry = 0.5 * di * sx, 0.5 * di * sy
        if rx <= 0 or ry <= 0:
            continue
        r0, r1 = max(0, int(np.floor(cy - ry))), min(size - 1, int(np.ceil(cy + ry)))
        c0, c1 = max(0, int(np.floor(cx - rx))), min(size - 1, int(np.ceil(cx + rx)))
        if r0 > r1 or c0 > c1:
            continue
        rr, cc = np.mgrid[r0:r1 + 1, c0:c1 + 1]
        inside = ((cc - cx) / rx) ** 2 + ((rr - cy) / ry) ** 2 <= 1.0
        mask[r0:r1 + 1, c0:c1 + 1] |= inside
    return mask


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two boolean masks of the same shape (1.0 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"mask shapes differ: {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def picks_dice(
    pred_xy: np.ndarray, pred_diameters: np.ndarray | float,
    truth_xy: np.ndarray, truth_diameters: np.ndarray | float,
    original_shape: tuple[int, int], size: int = PAPER_MASK_SIZE,
) -> float:
    """Pixel Dice between circles at picks and circles at true particles (both original frame)."""
    return dice(circle_mask(pred_xy, pred_diameters, original_shape, size),
                circle_mask(truth_xy, truth_diameters, original_shape, size))
