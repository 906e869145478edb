"""Particle centres from a filled-circle label mask (CryoPPP's 256 px masks), by disc cover.

Why not connected components: CryoPPP draws every particle as a filled circle of one radius and
ships only the mask, often at a quarter of the image size. On crowded sets (EMPIAR-10059, 10947:
about half of the image is foreground) most circles merge into blobs of 2-20 particles, so one
centre per component loses most particles, and distance-transform peaks split a blob where it
narrows rather than where the circles are.

The mask is a union of discs of one radius ``r``, so its centres are the fewest discs that cover
it. :func:`centres_from_mask`:

1. binarises the (anti-aliased) mask at half its range and estimates ``r`` from the components
   that hold one circle (the lower quartile of the distance-transform maxima, refined by their
   area), unless ``r`` is given;
2. candidate centres are the pixels where a disc of radius ``r - delta`` fits in the mask
   (``delta`` = max(0.75 px, 0.15 r): discretisation and anti-aliasing), which every true
   centre satisfies;
3. greedily takes the candidate whose disc covers the most foreground not covered yet (lazy
   greedy: gains only shrink), until no candidate adds ``min_gain`` of a disc;
4. drops centres within :data:`DUPLICATE_FRACTION` of a radius of an earlier one (a disc one
   pixel off a circle leaves a crescent a second disc would fill) and any disc whose foreground
   the others cover to within ``min_gain`` (a disc chosen between three overlapping circles
   before them), then
5. refines each centre to the centroid of its candidate pixels (those nearer to it than to
   another centre, within ``delta + 1`` px), which removes the grid's half-pixel error.

Coordinates are returned in the mask's pixels (x = column, y = row, 0-based);
:func:`to_image_frame` maps them onto the image the mask covers.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Centres closer than this many radii to one chosen before are discretisation leftovers.
DUPLICATE_FRACTION = 0.35


@dataclass
class MaskCentres:
    """Centres found in one mask.

    Attributes:
        x, y: centres in mask pixels (x = column, y = row).
        radius: the circle radius used (mask pixels).
        explained: fraction of the mask's foreground covered by the discs at the centres.
        spill: discs' area outside the foreground, as a fraction of the foreground.
    """

    x: np.ndarray
    y: np.ndarray
    radius: float
    explained: float
    spill: float


def binarize(mask: np.ndarray) -> np.ndarray:
    """Foreground of an anti-aliased mask: above half its range."""
    m = np.asarray(mask, np.float64)
    lo, hi = float(m.min()), float(m.max())
    if hi <= lo:
        return np.zeros(m.shape, bool)
    return m > (lo + hi) / 2.0


def estimate_radius(fg: np.ndarray | list[np.ndarray]) -> float:
    """Circle radius (px) from the components holding one circle (module docstring, step 1).

    Every component away from the border is a union of whole circles, so the smallest ones are
    single circles: their distance-transform maxima sit at the low end (the 10th percentile,
    plus a pixel's tolerance), and their median area gives ``r = sqrt(area / pi)``. Give all
    masks of a data set (one radius per set, as CryoPPP draws them) so crowded masks, where few
    circles stand alone, borrow the others' single circles.
    """
    peaks_all, areas_all = [], []
    for one in fg if isinstance(fg, list) else [fg]:
        lab, n = ndimage.label(one)
        if n == 0:
            continue
        dt = ndimage.distance_transform_edt(one)
        idx = np.arange(1, n + 1)
        peaks = np.asarray(ndimage.maximum(dt, lab, idx))
        areas = np.bincount(lab.ravel())[1:].astype(np.float64)
        # components touching the border are clipped circles: leave them out
        border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
        inner = ~np.isin(idx, border)
        peaks_all.append(peaks[inner] if inner.any() else peaks)
        areas_all.append(areas[inner] if inner.any() else areas)
    if not peaks_all:
        raise ValueError("the mask has no foreground")
    peaks, areas = np.concatenate(peaks_all), np.concatenate(areas_all)
    r0 = float(np.percentile(peaks, 10))
    single = peaks <= r0 + max(0.75, 0.1 * r0)
    # A pixel-centre disc of radius r holds about pi r^2 pixels; the binarised anti-aliased edge
    # keeps the same area, so the area is the finer estimate.
    return float(np.sqrt(np.median(areas[single]) / np.pi))


def _disc_offsets(r: float) -> tuple[np.ndarray, np.ndarray]:
    k = int(np.ceil(r))
    dy, dx = np.mgrid[-k:k + 1, -k:k + 1]
    inside = dx * dx + dy * dy <= r * r
    return dy[inside], dx[inside]


def centres_from_mask(mask: np.ndarray, radius: float | None = None, *,
                      min_gain: float = 0.08) -> MaskCentres:
    """Centres of the circles a filled-circle mask is made of (module docstring)."""
    fg = binarize(mask)
    H, W = fg.shape
    if not fg.any():
        return MaskCentres(np.zeros(0), np.zeros(0), float(radius or 0.0), 1.0, 0.0)
    r = float(radius) if radius is not None else estimate_radius(fg)
    delta = max(0.75, 0.15 * r)
    dt = ndimage.distance_transform_edt(np.pad(fg, 1))[1:-1, 1:-1]  # the border is not background
    cand = dt >= max(r - delta, 0.5)
    cy, cx = np.nonzero(cand)
    dy, dx = _disc_offsets(r)
    disc_area = float(dy.size)

    covered = np.zeros((H, W), bool)

    def disc_pixels(i: int) -> tuple[np.ndarray, np.ndarray]:
        yy, xx = cy[i] + dy, cx[i] + dx
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        return yy[ok], xx[ok]

    def gain(i: int) -> int:
        yy, xx = disc_pixels(i)
        return int((fg[yy, xx] & ~covered[yy, xx]).sum())

    heap = [(-gain(i), i) for i in range(cy.size)]
    heapq.heapify(heap)
    chosen: list[int] = []
    threshold = min_gain * disc_area
    while heap:
        neg, i = heapq.heappop(heap)
        if -neg < threshold:
            break
        g = gain(i)
        if heap and g < -heap[0][0]:
            heapq.heappush(heap, (-g, i))
            continue
        if g < threshold:
            break
        chosen.append(i)
        yy, xx = disc_pixels(i)
        covered[yy, xx] = True

    # Step 4: drop discs the others make redundant (least useful first).
    counts = np.zeros((H, W), np.int32)
    for i in chosen:
        yy, xx = disc_pixels(i)
        counts[yy, xx] += 1
    def own(i: int) -> int:  # foreground only this disc covers
        yy, xx = disc_pixels(i)
        return int((fg[yy, xx] & (counts[yy, xx] == 1)).sum())

    # A disc chosen one pixel off a circle leaves a thin crescent that a second candidate next to
    # it may fill: a centre closer than DUPLICATE_FRACTION * r to one chosen before it is such a
    # leftover (real circles this close would be one circle in a mask of this resolution).
    keep: list[int] = []
    for i in chosen:
        if all((cx[i] - cx[j]) ** 2 + (cy[i] - cy[j]) ** 2 > (DUPLICATE_FRACTION * r) ** 2 for j in keep):
            keep.append(i)
        else:
            yy, xx = disc_pixels(i)
            counts[yy, xx] -= 1
    for i in sorted(keep, key=own):
        if own(i) < threshold:
            yy, xx = disc_pixels(i)
            counts[yy, xx] -= 1
            keep.remove(i)

    # Step 5: refine to the centroid of the nearby candidate pixels that are nearest to this centre.
    px = cx[keep].astype(np.float64)
    py = cy[keep].astype(np.float64)
    if px.size:
        near = (cx[:, None] - px[None, :]) ** 2 + (cy[:, None] - py[None, :]) ** 2
        owner = np.argmin(near, axis=1)
        within = near[np.arange(cy.size), owner] <= (delta + 1.0) ** 2
        sx = np.bincount(owner[within], weights=cx[within], minlength=px.size)
        sy = np.bincount(owner[within], weights=cy[within], minlength=px.size)
        n = np.bincount(owner[within], minlength=px.size)
        ok = n > 0
        px[ok], py[ok] = sx[ok] / n[ok], sy[ok] / n[ok]
    drawn = disc_union(fg.shape, px, py, r)
    explained = float((drawn & fg).sum() / fg.sum())
    spill = float((drawn & ~fg).sum() / fg.sum())
    return MaskCentres(px, py, r, explained, spill)


def disc_union(shape: tuple[int, int], x: np.ndarray, y: np.ndarray, r: float) -> np.ndarray:
    """Union of discs of radius ``r`` at ``(x, y)`` (pixel-centre test)."""
    H, W = shape
    out = np.zeros(shape, bool)
    k = int(np.ceil(r)) + 1
    for cx, cy in zip(x, y, strict=True):
        x0, x1 = max(int(cx) - k, 0), min(int(cx) + k + 1, W)
        y0, y1 = max(int(cy) - k, 0), min(int(cy) + k + 1, H)
        if x0 >= x1 or y0 >= y1:
            continue
        xx = np.arange(x0, x1)[None, :] - cx
        yy = np.arange(y0, y1)[:, None] - cy
        out[y0:y1, x0:x1] |= xx * xx + yy * yy <= r * r
    return out


def to_image_frame(x: np.ndarray, y: np.ndarray, mask_shape: tuple[int, int],
                   image_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Mask pixels -> pixels of the image the mask covers (pixel-centre convention:
    mask pixel ``i`` spans image pixels ``[i s, (i + 1) s)``, ``s`` = image / mask size)."""
    sy = image_shape[0] / mask_shape[0]
    sx = image_shape[1] / mask_shape[1]
    return (np.asarray(x) + 0.5) * sx - 0.5, (np.asarray(y) + 0.5) * sy - 0.5
