"""Overlay PNGs: the normalized micrograph with every pick drawn as a circle of its size.

An overlay is the fastest check that picks sit on particles, that their size is right and that
no frame mix-up (a y-flip, a missed binning factor) moved them: a wrong frame shows at a glance as
circles on empty ice. The picture is the *normalized* micrograph (what the model saw), with its
padding cropped off, and picks are drawn at ``x_norm, y_norm`` with the particle diameter
converted to normalized pixels per axis (``diameter_px / scale_x``, ``/ scale_y``), coloured by
figure of merit. Ground-truth centres (green crosses) and candidates below the FOM threshold
(cyan dashed circles) can be drawn in other styles.

The figure is laid out in pixels, not inches: the image occupies exactly ``zoom`` PNG pixels
per normalized pixel, from the top-left corner, so the PNG can be compared with the array
(tests do) and nothing is resampled twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.frame import FrameMapping
from samcryo_core.inference.tiling import TileGrid
from samcryo_core.io.atomic import atomic_path

# Width of the colour-bar strip right of the image, in PNG pixels.
COLORBAR_STRIP_PX = 110
# Long side (PNG pixels) the image is enlarged to at least, by a whole factor, so circles stay readable.
TARGET_LONG_SIDE_PX = 800
FOM_CMAP = "plasma"
TRUTH_COLOR = "#39ff14"
BELOW_COLOR = "#7fdbff"
TILE_COLOR = "#ffdc00"  # the model tiles of segment (first overlay only)
DPI = 100


@dataclass(frozen=True)
class OverlayLayout:
    """Where the image lies in the PNG: ``zoom`` PNG pixels per normalized pixel, from (0, 0)."""

    zoom: int
    image_width_px: int
    image_height_px: int
    width_px: int
    height_px: int
    origin_x: int  # normalized-frame column shown at PNG column 0 (the crop offset)
    origin_y: int

    def to_png(self, x_norm: float, y_norm: float) -> tuple[float, float]:
        """PNG pixel (column, row) of the centre of normalized pixel (x_norm, y_norm)."""
        return ((x_norm - self.origin_x + 0.5) * self.zoom - 0.5,
                (y_norm - self.origin_y + 0.5) * self.zoom - 0.5)


def contrast_stretch(image: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Scale to [0, 1] between the ``low`` and ``high`` percentiles, so ice and particles both show.

    Percentiles (not min/max) because a single hot pixel or a carbon edge would otherwise grey
    out the whole micrograph.
    """
    img = np.asarray(image, dtype=np.float32)
    finite = img[np.isfinite(img)]
    if finite.size == 0:
        return np.zeros_like(img)
    lo, hi = np.percentile(finite, [low, high])
    if not hi > lo:
        lo, hi = float(finite.min()), float(finite.max())
    if not hi > lo:
        return np.zeros_like(img)
    out = (img - lo) / (hi - lo)
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)


def layout_for(mapping: FrameMapping, target_long_side_px: int = TARGET_LONG_SIDE_PX,
               colorbar: bool = True) -> OverlayLayout:
    """The PNG layout for one micrograph: whole-number zoom of the normalized image."""
    rows, cols = mapping.binned_shape
    zoom = max(1, math.ceil(target_long_side_px / max(rows, cols)))
    w, h = cols * zoom, rows * zoom
    return OverlayLayout(zoom=zoom, image_width_px=w, image_height_px=h,
                         width_px=w + (COLORBAR_STRIP_PX if colorbar else 0), height_px=h,
                         origin_x=0, origin_y=0)


def select_sample(names: Sequence[str], first: int | None = None, every: int = 1) -> list[str]:
    """Deterministic sample of micrographs for overlays: every ``every``-th, then the first ``first``.

    ``first`` None or 0 keeps all. Deterministic (no random draw) so a rerun gives the same
    overlays and a user can ask for "the same micrographs, more of them".
    """
    if every < 1:
        raise ValueError("every must be >= 1")
    chosen = list(names)[::every]
    if first:
        chosen = chosen[:first]
    return chosen


def render_overlay(
    image: np.ndarray,
    mapping: FrameMapping,
    picks: pd.DataFrame,
    out_path: str | Path,
    *,
    threshold: float | None = None,
    truth_norm: np.ndarray | None = None,
    title: str | None = None,
    target_long_side_px: int = TARGET_LONG_SIDE_PX,
    tile_grid: TileGrid | None = None,
) -> OverlayLayout:
    """Write the overlay PNG of one micrograph and return its layout.

    Args:
        image: the normalized micrograph ``mapping.binned_shape`` (normalized frame).
        mapping: its FrameMapping (the per-axis scale of diameters).
        picks: picks CSV rows (``x_norm``, ``y_norm``, ``fom``, ``diameter_px``).
        out_path: PNG to write (atomically).
        threshold: FOM threshold; picks below it are drawn as cyan dashed "candidates".
        truth_norm: ground-truth centres ``[N, 2]`` (x, y) in the normalized frame, or None.
        title: text in the top-left corner (micrograph name and pick count by default).
        tile_grid: the tiles ``segment`` ran the model on (normalized frame), drawn as outlines.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import colormaps
    from matplotlib.collections import EllipseCollection
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    lay = layout_for(mapping, target_long_side_px)
    shown = contrast_stretch(np.asarray(image))

    fig = Figure(figsize=(lay.width_px / DPI, lay.height_px / DPI), dpi=DPI)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0, 0, lay.image_width_px / lay.width_px, 1))
    x0, y0 = lay.origin_x, lay.origin_y
    h, w = shown.shape
    # Data coordinates stay in the normalized frame: pixel centres at integers.
    ax.imshow(shown, cmap="gray", vmin=0, vmax=1, interpolation="nearest",
              extent=(x0 - 0.5, x0 + w - 0.5, y0 + h - 0.5, y0 - 0.5))
    ax.set_xlim(x0 - 0.5, x0 + w - 0.5)
    ax.set_ylim(y0 + h - 0.5, y0 - 0.5)
    ax.set_axis_off()

    cmap = colormaps[FOM_CMAP]
    norm = Normalize(vmin=0.0, vmax=1.0)
    df = picks.dropna(subset=["x_norm", "y_norm"])
    fom = df["fom"].fillna(1.0).to_numpy(dtype=float)
    keep = np.ones(len(df), dtype=bool) if threshold is None else fom >= threshold
    diam = df["diameter_px"].to_numpy(dtype=float)
    fallback = float(np.nanmedian(diam)) if np.isfinite(diam).any() else 10.0  # size unknown: draw something
    diam = np.where(np.isfinite(diam) & (diam > 0), diam, fallback)
    widths = diam / mapping.scale_x
    heights = diam / mapping.scale_y
    xy = df[["x_norm", "y_norm"]].to_numpy(dtype=float)
    line_w = min(3.0, max(1.5, 0.6 * lay.zoom))
    if (~keep).any():
        ax.add_collection(EllipseCollection(
            widths[~keep], heights[~keep], np.zeros((~keep).sum()), units="xy", offsets=xy[~keep],
            offset_transform=ax.transData, facecolors="none", edgecolors=BELOW_COLOR,
            linewidths=line_w * 0.8, linestyles="--", alpha=0.9))
    if keep.any():
        ax.add_collection(EllipseCollection(
            widths[keep], heights[keep], np.zeros(keep.sum()), units="xy", offsets=xy[keep],
            offset_transform=ax.transData, facecolors="none", edgecolors=cmap(norm(fom[keep])),
            linewidths=line_w))
    if truth_norm is not None and len(truth_norm):
        t = np.asarray(truth_norm, dtype=float).reshape(-1, 2)
        ax.scatter(t[:, 0], t[:, 1], marker="+", s=(5 * lay.zoom + 6) ** 2 / 4, c=TRUTH_COLOR,
                   linewidths=max(1.0, 0.6 * lay.zoom))

    if tile_grid is not None:
        from matplotlib.patches import Rectangle

        for r, c in tile_grid.origins:
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), tile_grid.tile, tile_grid.tile, fill=False,
                                   edgecolor=TILE_COLOR, linewidth=1.2, linestyle=":", alpha=0.9))

    n_kept = int(keep.sum())
    label = title if title is not None else f"{mapping.micrograph}: {n_kept} picks"
    legend = [label]
    if truth_norm is not None:
        legend.append(f"+ truth ({len(truth_norm)})")
    if tile_grid is not None:
        legend.append(f"dotted: {len(tile_grid)} model tiles of {tile_grid.tile} px "
                      f"(overlap >= {tile_grid.overlap} px)")
    if (~keep).any():
        legend.append(f"dashed: below threshold ({int((~keep).sum())})")
    ax.text(0.01, 0.99, "\n".join(legend), transform=ax.transAxes, va="top", ha="left",
            fontsize=11, color="white", family="monospace",
            bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none", "pad": 4})

    # Colour bar in its own strip on the right.
    strip = COLORBAR_STRIP_PX / lay.width_px
    cax = fig.add_axes((1 - strip + 0.18 * strip, 0.08, 0.18 * strip, 0.84))
    from matplotlib.cm import ScalarMappable

    cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax)
    cb.set_label("figure of merit", fontsize=10)
    cb.ax.tick_params(labelsize=9)
    if threshold is not None:
        cb.ax.axhline(threshold, color="white", linewidth=4)
        cb.ax.axhline(threshold, color="black", linewidth=2)
        cb.ax.text(-0.15, threshold, "threshold", transform=cb.ax.get_yaxis_transform(), rotation=90,
                   ha="right", va="center", fontsize=8)

    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    return lay


def truth_to_normalized(truth_xy_original: np.ndarray, mapping: FrameMapping) -> np.ndarray:
    """Map ground-truth centres ``[N, 2]`` (x, y, original frame) into the normalized frame."""
    t = np.asarray(truth_xy_original, dtype=float).reshape(-1, 2)
    xn, yn = mapping.to_normalized(t[:, 0], t[:, 1])
    return np.stack([xn, yn], axis=1)
