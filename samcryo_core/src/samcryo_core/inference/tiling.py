"""Overlapping model-size tiles over a normalized micrograph, and their seamless stitching.

Why tiles: after binning to the working scale (:mod:`samcryo_core.preprocess.scale`) a
micrograph keeps its own size and aspect ratio, typically 300-1500 px, while SAM's encoder takes
one fixed square (``img_size``: 512 px for ``cpu_small``, 1024 for ``vit_*``). Squeezing it in
would undo the scale; so the model runs on ``img_size`` tiles and the tile logits are stitched
into one map of the whole micrograph.

The grid: along each axis of length ``L`` with tile ``T`` and overlap ``O``, a single tile at 0
when ``L <= T`` (the image is padded with 0, its median after standardization, as a micrograph
smaller than the input always was), else ``n = ceil((L - O) / (T - O))`` tiles whose origins are
spread evenly from 0 to ``L - T``, so neighbours overlap by at least ``O``. ``O`` is at least one
particle diameter plus a margin (:func:`overlap_px`): every particle then lies whole inside some
tile, away from its edge, where the encoder sees the particle's surroundings.

Stitching averages *logits* (as test-time augmentation does) with weights that fall towards a
tile's edges (a raised-cosine ramp over the overlap), so each pixel is decided mostly by the tile
that sees it best; the weighted mean is exact where a single tile covers a pixel, so a micrograph
that fits one tile gets exactly the map the model gives for the padded image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.scale import range_at_scale

#: Overlap between neighbouring tiles, in particle diameters (1 diameter + a quarter on each side).
OVERLAP_DIAMETERS = 1.5
#: Weight of a tile's outermost pixel (a positive floor keeps single-tile pixels exact).
EDGE_WEIGHT = 1e-3


def overlap_px(largest_particle_px: float, tile: int) -> int:
    """Tile overlap for particles up to ``largest_particle_px`` wide (at most half a tile)."""
    return int(min(tile // 2, max(8, math.ceil(OVERLAP_DIAMETERS * largest_particle_px))))


def axis_origins(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins along one axis (module docstring); consecutive tiles overlap by >= ``overlap``."""
    if length <= tile:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"tile overlap {overlap} must be in [0, {tile})")
    n = math.ceil((length - overlap) / (tile - overlap))
    return [int(round(v)) for v in np.linspace(0, length - tile, n)]


@dataclass(frozen=True)
class TileGrid:
    """The tiles of one normalized image: ``(row, col)`` origins of ``tile`` x ``tile`` squares."""

    shape: tuple[int, int]
    tile: int
    overlap: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    @property
    def origins(self) -> list[tuple[int, int]]:
        return [(r, c) for r in self.rows for c in self.cols]

    def __len__(self) -> int:
        return len(self.rows) * len(self.cols)

    def cut(self, image: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
        """The ``tile`` x ``tile`` window at ``origin``, zero-padded beyond the image."""
        r, c = origin
        out = np.zeros((self.tile, self.tile), dtype=np.float32)
        part = image[r : r + self.tile, c : c + self.tile]
        out[: part.shape[0], : part.shape[1]] = part
        return out


def tile_grid(shape: tuple[int, int], tile: int, overlap: int) -> TileGrid:
    """The grid covering an image of ``shape`` (rows, cols) with ``tile`` squares."""
    h, w = int(shape[0]), int(shape[1])
    return TileGrid((h, w), int(tile), int(overlap), tuple(axis_origins(h, tile, overlap)),
                    tuple(axis_origins(w, tile, overlap)))


def largest_particle_px(mapping: FrameMapping) -> float:
    """The largest particle of the sample in normalized pixels, from the sidecar's working scale."""
    extra = mapping.extra
    return range_at_scale(tuple(extra["diameter_A"]), float(extra["particle_px"]))[1]


def micrograph_grid(mapping: FrameMapping, tile: int) -> TileGrid:
    """The tile grid ``segment`` uses for one normalized micrograph (also drawn by the QC report)."""
    return tile_grid(mapping.binned_shape, tile, overlap_px(largest_particle_px(mapping), tile))


def _ramp(tile: int, overlap: int) -> np.ndarray:
    """1-D weights: a raised cosine from :data:`EDGE_WEIGHT` at the edges to 1 after ``overlap``."""
    i = np.arange(tile, dtype=np.float64)
    dist = np.minimum(i + 0.5, tile - i - 0.5)  # distance of the pixel centre from the tile edge
    ramp = max(1, overlap)
    w = 0.5 - 0.5 * np.cos(np.pi * np.clip(dist / ramp, 0.0, 1.0))
    return np.maximum(w, EDGE_WEIGHT)


class Stitcher:
    """Accumulates tile logits of one micrograph into its full-size map."""

    def __init__(self, grid: TileGrid) -> None:
        self.grid = grid
        ramp = _ramp(grid.tile, grid.overlap)
        self._window = np.outer(ramp, ramp).astype(np.float32)
        self._sum = np.zeros(grid.shape, dtype=np.float32)
        self._weight = np.zeros(grid.shape, dtype=np.float32)
        self.added = 0

    def add(self, origin: tuple[int, int], logits: np.ndarray) -> None:
        """Add one tile's logits (``tile`` x ``tile``, the tile's own frame)."""
        r, c = origin
        h, w = self.grid.shape
        rr, cc = min(self.grid.tile, h - r), min(self.grid.tile, w - c)
        win = self._window[:rr, :cc]
        self._sum[r : r + rr, c : c + cc] += win * logits[:rr, :cc]
        self._weight[r : r + rr, c : c + cc] += win
        self.added += 1

    @property
    def complete(self) -> bool:
        return self.added == len(self.grid)

    def logits(self) -> np.ndarray:
        """The stitched logits (weighted mean over the tiles covering each pixel)."""
        if not self.complete:
            raise RuntimeError(f"{self.added} of {len(self.grid)} tiles added")
        return self._sum / self._weight
