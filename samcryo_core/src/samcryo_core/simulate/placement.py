"""Where particles go: random, non-overlapping, off the border and off the junk.

Why a separate module: the placement rules decide what the truth means. A particle whose disc
touches junk or the border would be a label a curator would drop, so it is never placed; a
particle deliberately placed touching another (``touching_fraction``) is a real, separate
particle and stays in the truth, which is what watershed splitting must recover.

Two modes. By *count*: each particle gets up to 60 uniform random tries (a crowded field keeps
fewer). By *coverage*: particles are added until the union of their discs covers the target
fraction of the image. Near the crowded end (40 % of the area, close to where random sequential
placement of discs jams) uniform tries almost always fail, so a map of the cells where a centre
may still go is kept and candidates are drawn from it; placement stops early only when that map
is empty.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import ndimage

log = logging.getLogger(__name__)

_COARSE = 4  # junk clearance is checked on a 4x coarser distance map (cheap, conservative)
_TRIES_PER_PARTICLE = 60
_UNIFORM_TRIES_COVERAGE = 12  # by coverage: uniform tries before drawing from the free-cell map
_FREE_LIST_REFRESH = 25  # by coverage: re-list the free cells after this many placements


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


def _disc_window(shape: tuple[int, int], x: float, y: float,
                 r: float) -> tuple[tuple[slice, slice], np.ndarray]:
    """The pixels whose centres lie within ``r`` of ``(x, y)``: a window and a mask on it."""
    H, W = shape
    x0, x1 = max(int(np.floor(x - r)), 0), min(int(np.ceil(x + r)) + 1, W)
    y0, y1 = max(int(np.floor(y - r)), 0), min(int(np.ceil(y + r)) + 1, H)
    xx = np.arange(x0, x1)[None, :] - x
    yy = np.arange(y0, y1)[:, None] - y
    return (slice(y0, y1), slice(x0, x1)), xx * xx + yy * yy <= r * r


class _FreeCells:
    """Cells where a centre of the smallest particle may still go (coverage mode).

    A cell is marked taken when its centre is closer to a placed particle than any new particle
    could come, so the map is a necessary condition; each candidate is still checked exactly.
    """

    def __init__(self, shape: tuple[int, int], d_min: float, margin: float, junk: _JunkDistance,
                 junk_radius: float, min_distance_factor: float) -> None:
        H, W = shape
        self.free = np.zeros(shape, bool)
        m = int(np.ceil(margin))
        self.free[m:H - m, m:W - m] = True
        if junk.dist is not None:  # the same (coarse, conservative) distance the exact check uses
            dist = np.repeat(np.repeat(junk.dist, _COARSE, axis=0), _COARSE, axis=1)[:H, :W]
            self.free &= dist >= junk_radius
        self.d_min = d_min
        self.factor = min_distance_factor
        self.cells: np.ndarray | None = None
        self.since_refresh = 0

    def take(self, x: float, y: float, d: float) -> None:
        r = self.factor * 0.5 * (d + self.d_min) - 0.71  # keep cells that are partly still valid
        if r > 0:
            sl, disc = _disc_window(self.free.shape, x, y, r)
            self.free[sl] &= ~disc
        self.since_refresh += 1

    def sample(self, rng: np.random.Generator) -> tuple[float, float] | None:
        if self.cells is None or self.since_refresh >= _FREE_LIST_REFRESH:
            self.cells = np.flatnonzero(self.free)
            self.since_refresh = 0
        if self.cells.size == 0:
            return None
        cell = int(self.cells[rng.integers(self.cells.size)])
        row, col = divmod(cell, self.free.shape[1])
        if not self.free[row, col]:  # taken since the list was made
            return (-1.0, -1.0)
        return col + float(rng.uniform(-0.5, 0.5)), row + float(rng.uniform(-0.5, 0.5))

    def empty(self) -> bool:
        return not self.free.any()


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
    target_coverage: float | None = None,
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

    ``target_coverage``: place particles in order until the union of their discs covers this
    fraction of the image (the rest of ``diameters_px`` is not used); a particle that finds no
    place is skipped, and placement ends when no free cell is left.
    """
    H, W = shape
    junk = _JunkDistance(forbidden)
    n_max = len(diameters_px)
    xs = np.zeros(n_max, np.float64)
    ys = np.zeros(n_max, np.float64)
    ds = np.zeros(n_max, np.float64)
    n = 0
    kept: list[int] = []
    free: _FreeCells | None = None
    covered: np.ndarray | None = None
    covered_px = 0
    if target_coverage is not None and n_max:
        d_min = float(np.min(diameters_px))
        free = _FreeCells(shape, d_min, border_margin_factor * d_min, junk,
                          0.5 * d_min + junk_clearance_px, min_distance_factor)
        covered = np.zeros(shape, bool)

    def ok(x: float, y: float, d: float, skip: int = -1) -> bool:
        m = border_margin_factor * d
        if not (m <= x <= W - 1 - m and m <= y <= H - 1 - m):
            return False
        if not junk.clear(x, y, 0.5 * d + junk_clearance_px):
            return False
        if not n:
            return True
        dist2 = (xs[:n] - x) ** 2 + (ys[:n] - y) ** 2
        need = (min_distance_factor * 0.5 * (ds[:n] + d)) ** 2
        bad = dist2 < need
        if skip >= 0:
            bad[skip] = False
        return not bad.any()

    for i, d in enumerate(diameters_px):
        if covered is not None and covered_px >= target_coverage * H * W:
            break
        d = float(d)
        placed = False
        if n and touching_fraction > 0 and rng.uniform() < touching_fraction:
            for _ in range(_TRIES_PER_PARTICLE // 2):
                a = int(rng.integers(n))
                dist = float(rng.uniform(*touching_distance)) * 0.5 * (d + ds[a])
                ang = float(rng.uniform(0, 2 * np.pi))
                x, y = xs[a] + dist * np.cos(ang), ys[a] + dist * np.sin(ang)
                if ok(x, y, d, skip=a):
                    placed = True
                    break
        if not placed and free is None:
            for _ in range(_TRIES_PER_PARTICLE):
                x = float(rng.uniform(0, W - 1))
                y = float(rng.uniform(0, H - 1))
                if ok(x, y, d):
                    placed = True
                    break
        elif not placed:
            for t in range(_TRIES_PER_PARTICLE):
                if t < _UNIFORM_TRIES_COVERAGE:
                    x = float(rng.uniform(0, W - 1))
                    y = float(rng.uniform(0, H - 1))
                    if not free.free[int(round(y)), int(round(x))]:
                        continue
                else:
                    xy = free.sample(rng)
                    if xy is None:
                        break
                    x, y = xy
                if ok(x, y, d):
                    placed = True
                    break
            if not placed and free.empty():
                break
        if placed:
            xs[n], ys[n], ds[n] = x, y, d
            n += 1
            kept.append(i)
            if free is not None and covered is not None:
                free.take(x, y, d)
                sl, disc = _disc_window(shape, x, y, 0.5 * d)
                covered_px += int((disc & ~covered[sl]).sum())
                covered[sl] |= disc
    if target_coverage is None and len(kept) < n_max:
        log.debug("placed %d of %d particles (micrograph full)", len(kept), n_max)
    if covered is not None and covered_px < target_coverage * H * W:
        log.debug("coverage %.3f of the %.3f asked for: no free place left", covered_px / (H * W),
                  target_coverage)
    return xs[:n].copy(), ys[:n].copy(), np.asarray(kept, np.int64)
