"""Turn a probability map (normalized frame) into particle candidates in the original frame.

The SAM-for-cryo-EM papers stop at a mask; RELION and cryoSPARC need one coordinate per particle,
and on crowded grids the masks of touching particles merge. The steps, each there because a real
map needs it:

1. *candidate mask*: every pixel with probability ``>= floor`` (default 0.1). Far below any
   sensible threshold on purpose: every candidate is kept with its figure of merit, and the
   user's threshold is applied at export (``export.threshold``), so re-thresholding never reruns
   segment or extract and a lower threshold can raise recall;
2. *seeds*: peaks of the distance transform of the *core* mask (probability ``>= 0.5``) at least
   a third of the smallest diameter apart. The model's map saturates (flat plateaus near 1) over
   touching particles, so peaks of the probability itself do not separate them, while the
   distance transform peaks at each disc's centre and dips at the neck between two discs.
   A core too small for a peak gets its deepest point; a candidate without any core (a weak
   particle) gets its highest-probability pixel. On a dense grid the opposite holds: the whole
   field is above 0.5, the core is one network, and the particles show only as peaks of the
   probability; so the peaks of the lightly smoothed probability that stand
   :data:`PROB_PEAK_H` above their surroundings (h-maxima; a flat plateau is one peak at its
   centre) are seeds too, where no seed is nearer than the spacing;
3. *residual seeds*: a particle leaning on a brighter neighbour (a plateau of 0.6 beside one of
   1.0, common on real grids) has no distance-transform peak of its own: the merged core peaks
   at the bright one only. So the probability farther than one radius from every seed is
   averaged over a particle-sized disc, and wherever that uncovered mean is still at least
   :data:`RESIDUAL_LEVEL` (a particle's worth of probability nobody accounts for) a seed is
   added, one radius apart, for :data:`RESIDUAL_ROUNDS` rounds. A seed off-centre in a single
   particle leaves only a thin crescent, far below the level, and a seed *alone in its core
   component* accounts for the whole component (its disc is its distance-transform value), so
   a large particle or a junk blob is never chopped into particle-sized pieces;
4. *split*: a watershed of the candidate mask from those seeds on the distance to the nearest
   seed (a geodesic Voronoi split: the cut between two touching particles falls half-way between
   their seeds, at the neck for equal discs), each piece reaching at most
   :data:`PIECE_REACH_RADII` of the largest radius from its seed (a lone seed: its whole core
   component and half a radius more), so the gaps of a dense field are not counted as particle
   area. Every connected component is split, none is ever dropped for being large;
5. *filters on the pieces*: area relative to a disc of the particle diameter within
   ``[min_area_fraction, max_area_fraction]`` (with a diameter range: the smallest disc for the
   lower bound, the largest for the upper), circularity ``4 pi A / P^2 >= min_circularity``
   (carbon edges and ice streaks are long and thin);
6. *figure of merit*: the mean probability in a disc of a quarter of the smallest diameter around
   the piece's centre: about 1 for a confident particle whatever its halo, and comparable with the
   pixel threshold users know (a pick passes 0.5 when its centre is mostly above 0.5);
7. *centre*: probability-weighted centroid of the piece's upper half (pixels above half its
   peak), mapped back with ``mapping.to_original`` (separate x/y scales);
8. picks within ``edge_margin_px`` of the micrograph border are dropped, and picks closer than
   ``min_distance_fraction`` x the (smallest) diameter are duplicates: the higher FOM is kept.

Each pick's ``diameter_px`` is the given diameter, or with a range the diameter of a disc of the
piece's core area, clipped to the range: a per-particle size a user can sort or filter by.

The diameter is given in original pixels; radii and areas in the normalized frame use the mean
of ``scale_x`` and ``scale_y`` (:attr:`FrameMapping.mean_scale`).
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

#: Default probability floor of candidates (step 1 of the module docstring).
CANDIDATE_FLOOR = 0.1
#: Probability of the core mask whose distance transform seeds the split (step 2).
CORE_LEVEL = 0.5
#: Seeds at least this fraction of the smallest diameter apart (step 2).
SEED_SPACING_DIAMETERS = 1.0 / 3.0
#: Disc-mean probability left uncovered by the seeds that makes another seed (step 3). Measured
#: (benchmarks/bench_scale.py maps, extraction only): 0.5-0.7 give the same real-data F1; 0.6 was
#: the best of 0.5 / 0.6 / 0.7 on the crowded simulated sets.
RESIDUAL_LEVEL = 0.6
#: Rounds of residual seeding (a third round added nothing measurable).
RESIDUAL_ROUNDS = 2
#: Seeds also at the peaks of the probability itself (smoothed by a Gaussian of PROB_PEAK_SIGMA
#: radii) that stand at least PROB_PEAK_H above their surroundings (h-maxima; step 2). On dense real grids
#: (EMPIAR-10059: half the area is particle) the whole field is above 0.5 and the core is one
#: network whose distance transform has few peaks, while the probability still rises to 0.9 at
#: every particle: 0.56 -> 0.71 F1 there with the lone-seed rule, +0.017 from these peaks alone.
PROB_PEAK_H = 0.05
PROB_PEAK_SIGMA = 0.3
#: How far (in largest radii) a piece reaches from its seed (step 4).
PIECE_REACH_RADII = 1.5


def radius_normalized(mapping: FrameMapping, diameter_px: float) -> float:
    """Particle radius in normalized pixels for a diameter in original pixels (mean scale)."""
    return 0.5 * float(diameter_px) / mapping.mean_scale


def circularity(area: float, perimeter: float) -> float:
    """``4 pi A / P^2``, clipped to [0, 1] (pixel perimeters of small discs overshoot 1)."""
    if perimeter <= 0:
        return 1.0
    return float(min(1.0, 4.0 * math.pi * area / perimeter**2))


def _disc(radius: float) -> np.ndarray:
    r = max(1, int(math.ceil(radius)))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    disc = ((yy**2 + xx**2) <= max(radius, 0.5) ** 2).astype(np.float32)
    return disc / disc.sum()


def centre_probability(prob: np.ndarray, radius: float) -> np.ndarray:
    """Mean probability over a disc of ``radius`` pixels around every pixel: the figure of merit's
    measure (step 6 of the module docstring, ``radius`` a quarter of the smallest diameter)."""
    return ndimage.convolve(prob, _disc(radius), mode="nearest")


def split_candidates(prob: np.ndarray, floor: float, radius: float,
                     max_radius: float | None = None) -> np.ndarray:
    """Label image of candidate pieces: the ``>= floor`` mask split by a seeded watershed.

    ``radius``: the smallest particle's radius in pixels of ``prob`` (sets the seed spacing);
    ``max_radius``: the largest one (default ``radius``), which bounds a piece's reach.
    Steps 2-4 of the module docstring.
    """
    from skimage.segmentation import watershed

    mask = prob >= floor
    labels, n = ndimage.label(mask)
    if not n:
        return labels.astype(np.int32)
    core = prob >= max(CORE_LEVEL, floor)
    core_dist = ndimage.distance_transform_edt(core)
    core_labels = ndimage.label(core)[0]  # core_seeds and lone_seed_radius count them themselves
    spacing = max(1, int(round(SEED_SPACING_DIAMETERS * 2.0 * radius)))
    markers = core_seeds(prob, labels, core_dist, core_labels, spacing)
    markers = add_probability_peak_seeds(prob, mask, markers, radius, spacing)
    alone = lone_seed_radius(markers, core_dist, core_labels)
    markers = add_residual_seeds(prob, mask, markers, radius, seed_radius=alone)
    # Geodesic Voronoi: flood the candidate mask outward from the seeds by distance to the
    # nearest seed, so each pixel joins the seed it is closest to within its component.
    to_seed = ndimage.distance_transform_edt(markers == 0)
    pieces = watershed(to_seed, markers, mask=mask).astype(np.int32)
    # A piece reaches at most PIECE_REACH_RADII largest radii from its seed (a lone seed: its
    # distance-transform value plus half a radius). On a dense grid the whole field is above the
    # floor, and unbounded Voronoi cells would hold the gaps between particles too and fail the
    # area filter; a junk blob, one seed in its own core, still comes out whole.
    reach = np.zeros(int(pieces.max()) + 1, dtype=np.float32)
    seeds_rc = np.nonzero(markers)
    reach[markers[seeds_rc]] = np.maximum(PIECE_REACH_RADII * (max_radius or radius),
                                          alone[seeds_rc] + 0.5 * radius)
    pieces[to_seed > reach[pieces]] = 0
    return pieces


def core_seeds(prob: np.ndarray, labels: np.ndarray, core_dist: np.ndarray, core_labels: np.ndarray,
               spacing: int) -> np.ndarray:
    """Marker image: distance-transform peaks of the core, ``spacing`` apart; a core too small for
    a peak gets its deepest point, a candidate without any core its most probable pixel."""
    from skimage.feature import peak_local_max

    n_core = int(core_labels.max())
    peaks = peak_local_max(core_dist, min_distance=spacing, threshold_abs=1.0, labels=core_labels,
                           exclude_border=False) if n_core else np.zeros((0, 2), int)
    markers = np.zeros(prob.shape, dtype=np.int32)
    for i, (r, c) in enumerate(peaks, start=1):
        markers[r, c] = i
    next_id = len(peaks) + 1
    seeded = set(np.unique(core_labels[markers > 0]).tolist())
    if n_core:
        deepest = ndimage.maximum_position(core_dist, core_labels, index=np.arange(1, n_core + 1))
        for lab, (r, c) in enumerate(deepest, start=1):
            if lab not in seeded:
                markers[int(r), int(c)] = next_id
                next_id += 1
    seeded = set(np.unique(labels[markers > 0]).tolist())
    highest = ndimage.maximum_position(prob, labels, index=np.arange(1, int(labels.max()) + 1))
    for lab, (r, c) in enumerate(highest, start=1):
        if lab not in seeded:
            markers[int(r), int(c)] = next_id
            next_id += 1
    return markers


def add_probability_peak_seeds(prob: np.ndarray, mask: np.ndarray, markers: np.ndarray,
                               radius: float, spacing: int) -> np.ndarray:
    """``markers`` plus the h-maxima of the lightly smoothed probability (dense grids, where the
    core is one network) that have no seed within ``spacing``. A flat plateau is one maximum,
    seeded at its centre."""
    if PROB_PEAK_H <= 0:
        return markers
    from skimage.morphology import h_maxima

    markers = markers.copy()
    next_id = int(markers.max()) + 1
    smooth = ndimage.gaussian_filter(prob, PROB_PEAK_SIGMA * radius)
    hmax, n_h = ndimage.label(h_maxima(smooth, PROB_PEAK_H) & mask)
    if not n_h:
        return markers
    near = ndimage.distance_transform_edt(markers == 0)
    for r, c in ndimage.center_of_mass(smooth, hmax, index=np.arange(1, n_h + 1)):
        r, c = int(round(r)), int(round(c))
        if mask[r, c] and near[r, c] >= spacing:
            markers[r, c] = next_id
            next_id += 1
    return markers


def lone_seed_radius(markers: np.ndarray, core_dist: np.ndarray, core_labels: np.ndarray) -> np.ndarray:
    """Image holding, at each seed alone in its core component, the core's distance transform
    there (the radius of the blob it accounts for), 0 elsewhere."""
    seeds_rc = np.nonzero(markers)
    per_core = np.bincount(core_labels[seeds_rc], minlength=int(core_labels.max()) + 1)
    lone = (core_labels[seeds_rc] > 0) & (per_core[core_labels[seeds_rc]] == 1)
    alone = np.zeros(markers.shape, dtype=np.float32)
    alone[seeds_rc[0][lone], seeds_rc[1][lone]] = core_dist[seeds_rc[0][lone], seeds_rc[1][lone]]
    return alone


def add_residual_seeds(prob: np.ndarray, mask: np.ndarray, markers: np.ndarray, radius: float,
                       seed_radius: np.ndarray | None = None) -> np.ndarray:
    """``markers`` plus a seed wherever a particle's worth of probability is left uncovered.

    Step 3 of the module docstring. Each seed accounts for a disc of its own size: ``radius``, or
    ``seed_radius`` at the seed where larger (:func:`lone_seed_radius`: a seed alone in its core
    component accounts for the whole component, so a large particle or a junk blob is never
    chopped into particle-sized pieces; the area filter judges it whole). The
    candidate probability outside every seed's disc, averaged over a disc of ``radius``, makes a
    new seed at each peak of at least :data:`RESIDUAL_LEVEL`, one radius apart. Returns a new
    marker image (new seeds numbered on).
    """
    from scipy.signal import fftconvolve
    from skimage.feature import peak_local_max

    if not markers.any():
        return markers
    markers = markers.copy()
    next_id = int(markers.max()) + 1
    kernel = _disc(radius)
    spacing = max(1, int(round(radius)))
    covered = np.zeros(mask.shape, dtype=bool)
    h, w = mask.shape

    def cover(r: int, c: int, rad: float) -> None:
        k = int(math.ceil(rad))
        r0, r1, c0, c1 = max(r - k, 0), min(r + k + 1, h), max(c - k, 0), min(c + k + 1, w)
        yy, xx = np.ogrid[r0:r1, c0:c1]
        covered[r0:r1, c0:c1] |= (yy - r) ** 2 + (xx - c) ** 2 <= rad * rad

    for r, c in zip(*np.nonzero(markers), strict=True):
        extra = float(seed_radius[r, c]) if seed_radius is not None else 0.0
        cover(int(r), int(c), max(radius, extra))
    for _ in range(RESIDUAL_ROUNDS):
        # FFT: a disc of a particle radius is hundreds of taps (zero padding = mode "constant")
        residual = fftconvolve(np.where(mask & ~covered, prob, 0.0).astype(np.float32), kernel, mode="same")
        peaks = [(int(r), int(c)) for r, c in peak_local_max(
            residual, min_distance=spacing, threshold_abs=RESIDUAL_LEVEL, exclude_border=False)
            if mask[r, c] and markers[r, c] == 0]
        if not peaks:
            break
        for r, c in peaks:
            markers[r, c] = next_id
            next_id += 1
            cover(r, c, radius)
    return markers


def extract_particles(
    prob: np.ndarray,
    mapping: FrameMapping,
    *,
    diameter_px: Diameter,
    floor: float = CANDIDATE_FLOOR,
    min_area_fraction: float = 0.3,
    max_area_fraction: float = 2.5,
    min_circularity: float = 0.5,
    edge_margin_px: float = 0.0,
    min_distance_fraction: float = 0.5,
    split_touching: bool = True,
) -> pd.DataFrame:
    """Every particle candidate of one probability map, with its figure of merit.

    Args:
        prob: ``[h, w]`` probabilities in the normalized frame (``mapping.binned_shape``).
        mapping: the micrograph's :class:`FrameMapping` (sidecar).
        diameter_px: particle diameter in original pixels, or ``(smallest, largest)`` for a
            sample of several sizes.
        floor: probability above which (``>=``) a pixel belongs to a candidate.
        min_area_fraction, max_area_fraction: allowed piece area as a fraction of the area
            of a disc of ``diameter_px`` (both in the normalized frame; the smallest and the
            largest disc of a range).
        min_circularity: smallest allowed ``4 pi A / P^2`` (1 for a disc).
        edge_margin_px: picks closer than this to the border (original pixels) are dropped.
        min_distance_fraction: picks closer than this times the diameter are duplicates.
        split_touching: split merged particles with the seeded watershed (module docstring);
            without it each connected component is one candidate.

    Returns:
        Table with :data:`~samcryo_core.particles.picks_io.PICKS_COLUMNS`, highest FOM first.
    """
    from skimage.measure import regionprops

    prob = np.nan_to_num(np.asarray(prob, dtype=np.float32), nan=0.0)
    if prob.shape != tuple(mapping.binned_shape):
        raise InputError(mapping.micrograph, f"probability map has shape {prob.shape}, sidecar says "
                         f"{tuple(mapping.binned_shape)}",
                         "rerun 'samcryo segment' after 'samcryo normalize'")
    if not 0 < floor < 1:
        raise ValueError(f"candidate floor must be in (0, 1), got {floor}")
    d_lo, d_hi = diameter_bounds(diameter_px)

    radius = radius_normalized(mapping, d_lo)
    area_lo = min_area_fraction * math.pi * radius**2
    area_hi = max_area_fraction * math.pi * radius_normalized(mapping, d_hi) ** 2
    labels = (split_candidates(prob, floor, radius, radius_normalized(mapping, d_hi)) if split_touching
              else ndimage.label(prob >= floor)[0])
    centre_mean = centre_probability(prob, 0.5 * radius)

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
        rr, cc = region.coords[:, 0], region.coords[:, 1]
        p = prob[rr, cc]
        top = p >= 0.5 * float(p.max())
        yn = float(np.average(rr[top], weights=p[top]))
        xn = float(np.average(cc[top], weights=p[top]))
        fom = float(centre_mean[int(round(yn)), int(round(xn))])
        core_area = float(np.count_nonzero(p >= CORE_LEVEL)) or area
        records.append((xn, yn, fom, area, core_area))
    if not records:
        log.debug("%s: no candidates (%d rejected by area, %d by circularity)", mapping.micrograph,
                  n_area, n_circ)
        return empty_picks()

    arr = np.asarray(records, dtype=np.float64)
    arr = arr[arr[:, 2] >= floor]
    if d_lo == d_hi:
        sizes = np.full(len(arr), d_lo)
    else:  # the disc of the core area, in original pixels, within the expected range
        sizes = np.clip(2.0 * np.sqrt(arr[:, 4] / math.pi) * mapping.mean_scale, d_lo, d_hi)
    picks = picks_table(mapping, arr[:, 0], arr[:, 1], arr[:, 2], sizes, arr[:, 3],
                        edge_margin_px=edge_margin_px, min_distance_px=min_distance_fraction * d_lo)
    log.debug("%s: %d candidates of %s (%d rejected by area, %d by circularity)",
              mapping.micrograph, len(picks), describe(diameter_px), n_area, n_circ)
    return picks


def picks_table(mapping: FrameMapping, x_norm: np.ndarray, y_norm: np.ndarray, fom: np.ndarray,
                diameter_px: np.ndarray, area_px: np.ndarray, *, edge_margin_px: float,
                min_distance_px: float) -> pd.DataFrame:
    """The shared end of every picker: map to the original frame, drop picks at the edge,
    suppress duplicates, sort by FOM (the picks CSV's columns and order)."""
    x, y = mapping.to_original(x_norm, y_norm)
    picks = pd.DataFrame({
        "x": x, "y": y, "fom": np.clip(np.asarray(fom, dtype=np.float64), 0.0, 1.0),
        "diameter_px": diameter_px, "x_norm": x_norm, "y_norm": y_norm, "area_px": area_px,
    })
    picks = drop_near_edge(picks, mapping.original_shape, edge_margin_px)
    picks = suppress_duplicates(picks, min_distance_px)
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
