"""Robust contrast normalization: the same intensity scale for every micrograph.

Raw micrographs differ by orders of magnitude (electron counts, gain-normalized floats, 8-bit
PNGs) and carry a few extreme pixels (hot pixels, carbon edges, ice crystals). SAM expects inputs on
one scale, so each binned micrograph is:

1. clipped to its ``lo``/``hi`` percentiles (default 0.5 / 99.5: removes outliers that would
   otherwise dominate the standard deviation, while leaving 99 % of pixels, including the
   particles' contrast, untouched);
2. standardized to mean 0 and standard deviation 1, both computed over the micrograph content
   only (never over padding, which is added afterwards with value 0 = that mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_CLIP_PERCENTILES = (0.5, 99.5)


@dataclass(frozen=True)
class ContrastStats:
    """What :func:`robust_standardize` did, kept in the frame sidecar for QC."""

    clip_lo: float
    clip_hi: float
    mean: float
    std: float


def robust_standardize(
    data: np.ndarray, clip_percentiles: tuple[float, float] = DEFAULT_CLIP_PERCENTILES,
) -> tuple[np.ndarray, ContrastStats]:
    """Clip to percentiles, then standardize to mean 0 / std 1 (float32 result).

    Raises:
        ValueError: on bad percentiles, or when nothing varies after clipping (std 0).
    """
    lo_p, hi_p = float(clip_percentiles[0]), float(clip_percentiles[1])
    if not 0.0 <= lo_p < hi_p <= 100.0:
        raise ValueError(f"clip percentiles must satisfy 0 <= lo < hi <= 100, got {clip_percentiles}")
    x = np.asarray(data, dtype=np.float32)
    lo, hi = (float(v) for v in np.percentile(x, [lo_p, hi_p]))
    out = np.clip(x, lo, hi)
    mean = float(out.mean(dtype=np.float64))
    std = float(out.std(dtype=np.float64))
    if not std > 0:
        raise ValueError(f"image has no contrast left after clipping to percentiles {lo_p}/{hi_p} "
                         f"(all values {lo:g})")
    out -= np.float32(mean)
    out *= np.float32(1.0 / std)
    return out, ContrastStats(lo, hi, mean, std)
