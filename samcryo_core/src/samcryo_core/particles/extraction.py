"""Turn a probability map (normalized frame) into particle picks in the original frame.

The SAM-for-cryo-EM papers stop at a mask; RELION and cryoSPARC need one coordinate per particle.
The steps, each there because a real map needs it:

1. threshold the map, only inside the micrograph's content region (``mapping.content_slice()``):
   padding is not micrograph, and a pick there would map outside the image;
2. connected components (4-connectivity);
3. split touching particles with a distance-transform watershed seeded at peaks of the distance
   map that are at least about one expected radius apart, since the masks of neighbouring
   particles merge into blobs at 256 x 256 (the CryoPPP 10059 masks are a well-known example);
4. reject components whose area, relative to a disc of the particle diameter, is outside
   ``[min_area_fraction, max_area_fraction]`` or whose circularity ``4 pi A / P^2`` is below
   ``min_circularity`` (carbon edges and ice streaks are long and thin). With a diameter range
   (mixed samples, :mod:`.diameter`) the lower bound comes from the smallest disc and the upper
   from the largest;
5. figure of merit = mean probability inside the component, so users can re-threshold later;
6. map the probability-weighted centroid back with ``mapping.to_original`` (separate x/y scales);
7. drop picks within ``edge_margin_px`` of the micrograph border (original pixels);
8. suppress duplicates closer than ``min_distance_fraction * diameter_px`` (original pixels),
   keeping the one with the higher FOM (the smallest diameter of a range).

Each pick's ``diameter_px`` is the given diameter, or with a range the diameter of a disc of the
component's area, clipped to the range: a per-particle size a user can sort or filter by.

The diameter is given in original pixels. The normalized frame may scale x and y slightly
differently (a 5760 x 4092 K3 frame binned to whole pixels), so radius, expected area and the
watershed peak spacing in the normalized frame use the *mean* of ``scale_x`` and ``scale_y``; the
two differ by well under 1 % for real binning, far below the tolerance of the area filter.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from scipy import ndimage

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.particles.diameter import Diameter, describe, diameter_bounds
from samcryo_core.particles.picks_io import PICKS_COLUMNS, empty_picks

log = logging.getLogger(__name__)


def mean_scale(mapping: FrameMapping) -> float:
    """Original pixels per normalized pixel, averaged over x and y (for radii and areas)."""
    return 0.5 * (mapping.scale_x + mapping.scale_y)


def radius_normalized(mapping: FrameMapping, diameter_px: float) -> float:
    """Particle radius in normalized pixels for a diameter in original pixels (mean scale)."""
    return 0.5 * float(diameter_px) / mean_scale(mapping)


def circularity(area: float, perimeter: float) -> float:
    """``4 pi A / P^2``, clipped to [0, 1] (pixel perimeters of small discs overshoot 1)."""
    if perimeter <= 0:
        return 1.0
    return float(min(1.0, 4.0 * math.pi * area / perimeter**2))


def _split_touching(mask: np.ndarray, labels: np.ndarray, n_labels: int, radius: float) -> np.ndarray:
    """Watershed on the negative distance transform, one seed per expected particle.

    Seeds are maxima of the distance map at least ``radius`` apart and at least half a radius
    deep (shallower maxima are ragged outlines, not particle centres). A component that yields
    no seed keeps a single seed so it is never lost here (the filters judge it later).
    """
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    distance = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(
        distance,
        min_distance=max(1, int(round(radius))),
        threshold_abs=max(1.0, 0.5 * radius),
        labels=labels,
        exclude_border=False,
    )
    markers = np.zeros(mask.shape, dtype=np.int32)
    for i, (r, c) in enumerate(peaks, start=1):
        markers[r, c] = i
    seeded = set(np.unique(labels[markers > 0]).tolist())
    next_id = len(peaks) + 1
    if n_labels:
        centres = ndimage.maximum_position(distance, labels, index=np.arange(1, n_labels + 1))
        for lab, (r, c) in enumerate(centres, start=1):
            if lab not in seeded:
                markers[int(r), int(c)] = next_id
                next_id += 1
    return watershed(-distance, markers, mask=mask).astype(np.int32)


def extract_particles(
    prob: np.ndarray,
    mapping: FrameMapping,
    *,
    diameter_px: Diameter,
    threshold: float = 0.5,
    min_area_fraction: float = 0.3,
    max_area_fraction: float = 2.5,
    min_circularity: float = 0.5,
    edge_margin_px: float = 0.0,
    min_distance_fraction: float = 0.5,
    split_touching: bool = True,
) -> pd.DataFrame:
    """Picks from one probability map.

    Args:
        prob: ``[S, S]`` probabilities in the normalized frame (``S = mapping.model_size``).
        mapping: the micrograph's :class:`FrameMapping` (sidecar).
        diameter_px: particle diameter in original pixels, or ``(smallest, largest)`` for a
            sample of several sizes.
        threshold: probability above which (``>=``) a pixel counts as particle.
        min_area_fraction, max_area_fraction: allowed component area as a fraction of the area
            of a disc of ``diameter_px`` (both in the normalized frame; the smallest and the
            largest disc of a range).
        min_circularity: smallest allowed ``4 pi A / P^2`` (1 for a disc).
        edge_margin_px: picks closer than this to the border (original pixels) are dropped.
        min_distance_fraction: picks closer than this times the diameter are duplicates.
        split_touching: split merged particles with a distance-transform watershed.

    Returns:
        Table with :data:`~samcryo_core.particles.picks_io.PICKS_COLUMNS`, highest FOM first.
    """
    from skimage.measure import regionprops

    prob = np.asarray(prob, dtype=np.float32)
    S = mapping.model_size
    if prob.shape != (S, S):
        raise InputError(mapping.micrograph,
                         f"probability map has shape {prob.shape}, sidecar says {S} x {S}",
                         "rerun 'samcryo segment' with the same model_size as 'samcryo normalize'")
    d_lo, d_hi = diameter_bounds(diameter_px)

    radius = radius_normalized(mapping, d_lo)
    area_lo = min_area_fraction * math.pi * radius**2
    area_hi = max_area_fraction * math.pi * radius_normalized(mapping, d_hi) ** 2
    rows, cols = mapping.content_slice()
    mask = np.zeros(prob.shape, dtype=bool)
    mask[rows, cols] = np.nan_to_num(prob[rows, cols], nan=0.0) >= threshold
    labels, n_labels = ndimage.label(mask)
    if split_touching and n_labels:
        labels = _split_touching(mask, labels, n_labels, radius)

    records = []
    n_area = n_circ = 0
    for region in regionprops(labels, intensity_image=prob):
        area = float(region.area)
        if not (area_lo <= area <= area_hi):
            n_area += 1
            continue
        circ = circularity(area, float(region.perimeter))
        if circ < min_circularity:
            n_circ += 1
            continue
        yn, xn = region.centroid_weighted if region.intensity_max > 0 else region.centroid
        records.append((float(xn), float(yn), float(region.intensity_mean), area))
    if not records:
        log.debug("%s: no picks (%d rejected by area, %d by circularity)", mapping.micrograph, n_area, n_circ)
        return empty_picks()

    arr = np.asarray(records, dtype=np.float64)
    x, y = mapping.to_original(arr[:, 0], arr[:, 1])
    if d_lo == d_hi:
        sizes = np.full(len(arr), d_lo)
    else:  # the disc of the segmented area, in original pixels, within the expected range
        sizes = np.clip(2.0 * np.sqrt(arr[:, 3] / math.pi) * mean_scale(mapping), d_lo, d_hi)
    picks = pd.DataFrame({
        "x": x, "y": y, "fom": np.clip(arr[:, 2], 0.0, 1.0), "diameter_px": sizes,
        "x_norm": arr[:, 0], "y_norm": arr[:, 1], "area_px": arr[:, 3],
    })
    picks = drop_near_edge(picks, mapping.original_shape, edge_margin_px)
    picks = suppress_duplicates(picks, min_distance_fraction * d_lo)
    log.debug("%s: %d picks of %s (%d rejected by area, %d by circularity)",
              mapping.micrograph, len(picks), describe(diameter_px), n_area, n_circ)
    return picks.loc[:, list(PICKS_COLUMNS)].reset_index(drop=True)


def drop_near_edge(picks: pd.DataFrame, shape: tuple[int, int], margin_px: float) -> pd.DataFrame:
    """Keep picks at least ``margin_px`` from every border of an ``(H, W)`` micrograph."""
    H, W = shape
    keep = (
        (picks["x"] >= margin_px) & (picks["x"] <= W - 1 - margin_px)
        & (picks["y"] >= margin_px) & (picks["y"] <= H - 1 - margin_px)
    )
    return picks.loc[keep]


def suppress_duplicates(picks: pd.DataFrame, min_distance_px: float) -> pd.DataFrame:
    """Greedy non-maximum suppression: best FOM first, drop any pick within the distance of a kept one.

    Returns the kept picks sorted by FOM (highest first; ties keep input order).
    """
    picks = picks.sort_values("fom", ascending=False, kind="stable")
    if len(picks) < 2 or min_distance_px <= 0:
        return picks
    from scipy.spatial import cKDTree

    xy = picks[["x", "y"]].to_numpy()
    tree = cKDTree(xy)
    suppressed = np.zeros(len(xy), dtype=bool)
    for i in range(len(xy)):
        if suppressed[i]:
            continue
        for j in tree.query_ball_point(xy[i], r=min_distance_px):
            if j > i:
                suppressed[j] = True
    return picks.loc[~suppressed]
