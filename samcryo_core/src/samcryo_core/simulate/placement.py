"""Where particles go: random, non-overlapping, off the border and off the junk.

Why a separate module: the placement rules decide what the truth means. A particle whose disc
touches junk or the border would be a label a curator would drop, so it is never placed; a
particle deliberately placed touching another (``touching_fraction``) is a real, separate
particle and stays in the truth, which is what watershed splitting must recover.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

log = logging.getLogger(__name__)

_COARSE = 4  # junk clearance is checked on a 4x coarser distance map (cheap, conservative)
_TRIES_PER_PARTICLE = 60


class _JunkDistance:
    """Lower bound of the distance (px) from a point to the nearest forbidden pixel."""

    def __init__(self, forbidden: np.ndarray | None) -> None:
        self.dist: np.ndarray | None = None
        if forbidden is None or not forbidden.any():
            return
        H, W = forbidden.shape
        f = _COARSE
        Hc, Wc = -(-H // f), -(-W // f)
        padded = np.zeros((Hc * f, Wc * f), bool)
        padded[:H, :W] = forbidden
        coarse = padded.reshape(Hc, f, Wc, f).any(axis=(1, 3))
        # Coarse distance minus one coarse cell diagonal bounds the true distance from below.
        self.dist = (ndimage.distance_transform_edt(~coarse) - np.sqrt(2.0)) * f

    def clear(self, x: float, y: float, radius: float) -> bool:
        if self.dist is None:
            return True
        row = min(max(int(y), 0) // _COARSE, self.dist.shape[0] - 1)
        col = min(max(int(x), 0) // _COARSE, self.dist.shape[1] - 1)
        d = self.dist[row, col]
        return bool(d >= radius)


def place_particles(
    rng: np.random.Generator,
    shape: tuple[int, int],
    diameters_px: np.ndarray,
    *,
    min_distance_factor: float,
    touching_fraction: float,
    touching_distance: tuple[float, float],
    border_margin_factor: float,
    forbidden: np.ndarray | None = None,
    junk_clearance_px: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place particles of the given diameters; return ``(x, y, kept_index)``.

    ``x`` is the column and ``y`` the row (0-based, float). ``kept_index`` indexes
    ``diameters_px`` for the particles that found a place (crowded micrographs keep fewer).

    Rules: centre at least ``border_margin_factor * d`` from the border; disc plus
    ``junk_clearance_px`` clear of ``forbidden``; centre distance to every other particle at
    least ``min_distance_factor`` times the pair's mean diameter, except that with probability
    ``touching_fraction`` a particle is placed next to an already placed *anchor* at
    ``touching_distance`` (fractions of the pair's mean diameter), forming pairs, chains and
    small clusters.
    """
    H, W = shape
    junk = _JunkDistance(forbidden)
    xs: list[float] = []
    ys: list[float] = []
    ds: list[float] = []
    kept: list[int] = []

    def ok(x: float, y: float, d: float, skip: int = -1) -> bool:
        m = border_margin_factor * d
        if not (m <= x <= W - 1 - m and m <= y <= H - 1 - m):
            return False
        if not junk.clear(x, y, 0.5 * d + junk_clearance_px):
            return False
        if not xs:
            return True
        px, py, pd = np.asarray(xs), np.asarray(ys), np.asarray(ds)
        dist2 = (px - x) ** 2 + (py - y) ** 2
        need = (min_distance_factor * 0.5 * (pd + d)) ** 2
        bad = dist2 < need
        if skip >= 0:
            bad[skip] = False
        return not bad.any()

    for i, d in enumerate(diameters_px):
        d = float(d)
        placed = False
        if xs and touching_fraction > 0 and rng.uniform() < touching_fraction:
            for _ in range(_TRIES_PER_PARTICLE // 2):
                a = int(rng.integers(len(xs)))
                dist = float(rng.uniform(*touching_distance)) * 0.5 * (d + ds[a])
                ang = float(rng.uniform(0, 2 * np.pi))
                x, y = xs[a] + dist * np.cos(ang), ys[a] + dist * np.sin(ang)
                if ok(x, y, d, skip=a):
                    placed = True
                    break
        if not placed:
            for _ in range(_TRIES_PER_PARTICLE):
                x = float(rng.uniform(0, W - 1))
                y = float(rng.uniform(0, H - 1))
                if ok(x, y, d):
                    placed = True
                    break
        if placed:
            xs.append(x)
            ys.append(y)
            ds.append(d)
            kept.append(i)
    if len(kept) < len(diameters_px):
        log.debug("placed %d of %d particles (micrograph full)", len(kept), len(diameters_px))
    return np.asarray(xs, np.float64), np.asarray(ys, np.float64), np.asarray(kept, np.int64)
