"""Robust contrast normalization: the same intensity scale for every micrograph.

Raw micrographs differ by orders of magnitude (electron counts, gain-normalized floats, 8-bit
PNGs) and carry a few extreme pixels (hot pixels, carbon edges, ice crystals). SAM expects inputs on
one scale, so each binned micrograph is:

1. clipped to its ``lo``/``hi`` percentiles (default 0.5 / 99.5: removes outliers, while
   leaving 99 % of pixels, including the particles' contrast, untouched);
2. centred on its median and divided by its robust spread, IQR / 1.349 (the standard deviation
   of a Gaussian with that interquartile range), both computed over the micrograph content only
   (never over padding, which is added afterwards with value 0 = that median).

Why median / IQR and not mean / standard deviation: large dark objects (carbon, ice, aggregates)
fill the tails the percentile clip keeps, and inflate the standard deviation of those micrographs
3-6x, so their ice background came out compressed (IQR 0.2-0.6 instead of 1.3) and the same
particles looked different from one micrograph to the next. The model then over-picked the clean
micrographs, whose background was not compressed (benchmarks: the 0.8 A/px scale set, the 10 %
crowding set). The IQR is set by the ice background that fills most of every micrograph, so the
background reaches the model on one scale whatever junk a micrograph carries. On a micrograph
without junk the two agree (Gaussian noise: IQR / 1.349 = standard deviation). An image whose
middle half is constant (IQR 0, e.g. mostly padding or a binary mask) falls back to the standard
deviation.
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
    centre: float  #: median of the clipped content (subtracted)
    spread: float  #: IQR / 1.349 of the clipped content (divided by); std if the IQR is 0


def robust_standardize(
    data: np.ndarray, clip_percentiles: tuple[float, float] = DEFAULT_CLIP_PERCENTILES,
) -> tuple[np.ndarray, ContrastStats]:
    """Clip to percentiles, then centre on the median and scale to unit robust spread (float32).

    Raises:
        ValueError: on bad percentiles, or when nothing varies after clipping (std 0).
    """
    lo_p, hi_p = float(clip_percentiles[0]), float(clip_percentiles[1])
    if not 0.0 <= lo_p < hi_p <= 100.0:
        raise ValueError(f"clip percentiles must satisfy 0 <= lo < hi <= 100, got {clip_percentiles}")
    x = np.asarray(data, dtype=np.float32)
    lo, hi = (float(v) for v in np.percentile(x, [lo_p, hi_p]))
    out = np.clip(x, lo, hi)
    q25, centre, q75 = (float(v) for v in np.percentile(out, [25.0, 50.0, 75.0]))
    spread = (q75 - q25) / 1.349
    if not spread > 0:
        spread = float(out.std(dtype=np.float64))
    if not spread > 0:
        raise ValueError(f"image has no contrast left after clipping to percentiles {lo_p}/{hi_p} "
                         f"(all values {lo:g})")
    out -= np.float32(centre)
    out *= np.float32(1.0 / spread)
    return out, ContrastStats(lo, hi, centre, spread)
