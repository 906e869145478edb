"""Things a picker must NOT pick: carbon edges, ice contamination and protein aggregates.

Why: the commonest complaint about pickers is picks on carbon edges and ice. A simulator with
only clean particles trains a model that picks every dark blob. Each kind of junk here is dark,
structured and particle-sized or larger, and is marked in the junk mask; particles are never
placed on it, so the truth never contains a particle on junk and any pick on junk is a false
positive.

Model of each kind (all lengths scale with the largest particle diameter ``D``):
- carbon: a large region on one side of a straight line or of a hole rim (circle arc), with a
  sharp 1.5 px edge, amplitude darkening (thicker, denser film) and a phase step plus an
  amorphous phase texture, both CTF-filtered, so the edge shows Fresnel fringes.
- ice contamination: irregular blobs (a circle perturbed by harmonics 2-5) of 2-5 ``D``, very
  dark (amplitude 0.3-0.7 of the beam at the core), with a soft edge and a phase edge.
- aggregates: clumps of many protein-like Gaussians 1.5-3 ``D`` across, flattened into the ice
  and twice as dense as a particle; they are CTF-filtered like particles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import add_projection, make_blob_density, random_rotations

CARBON_EDGE_PX = 1.5  # width of the carbon edge ramp (sharp)
ICE_EDGE_FRACTION = 0.08  # soft edge of an ice blob, fraction of its radius
CARBON_PHASE_STEP = 2.0  # carbon phase step, in background-noise std (before the CTF)
ICE_PHASE = 3.0  # ice blob phase contrast, in background-noise std (before the CTF)


@dataclass
class JunkLayout:
    """Junk of one micrograph.

    Attributes:
        amplitude: ``(H, W)`` float32 darkening in [0, 1) (fraction of the beam removed).
        phase_noise_units: ``(H, W)`` float32 phase density in units of the background-noise
            std (carbon step and texture, ice edges); CTF-filtered by the caller.
        protein: ``(H, W)`` float32 projected aggregate density in the particles' units
            (scaled and CTF-filtered with the particles).
        mask: ``(H, W)`` bool, True on junk (the ground-truth junk mask).
        forbidden: ``(H, W)`` bool where particle discs must not reach (mask plus aggregate
            discs, known before the aggregates are drawn).
        has_carbon, n_ice, n_aggregates: what was drawn (for summaries).
    """

    amplitude: np.ndarray
    phase_noise_units: np.ndarray
    protein: np.ndarray
    mask: np.ndarray
    forbidden: np.ndarray
    has_carbon: bool = False
    n_ice: int = 0
    n_aggregates: int = 0
    aggregate_xy: list[tuple[float, float, float]] = field(default_factory=list)


def empty_layout(shape: tuple[int, int]) -> JunkLayout:
    """No junk at all (``params.junk`` False)."""
    zeros = np.zeros(shape, np.float32)
    return JunkLayout(zeros, zeros.copy(), zeros.copy(), np.zeros(shape, bool), np.zeros(shape, bool))


def _carbon_signed_distance(shape: tuple[int, int], rng: np.random.Generator, fraction: float,
                            curved: bool) -> np.ndarray:
    """Signed distance (px) to the carbon edge, positive on carbon, covering ``fraction``."""
    H, W = shape
    yy = np.arange(H, dtype=np.float32)[:, None]
    xx = np.arange(W, dtype=np.float32)[None, :]
    phi = rng.uniform(0, 2 * np.pi)
    u = np.array([np.cos(phi), np.sin(phi)], np.float32)
    cx, cy = (W - 1) / 2.0, (H - 1) / 2.0
    if curved:
        # Hole rim: the hole is a circle centred outside the image on direction u, so the side of
        # the image towards u lies in the hole and the far side (large r) is carbon.
        L = float(rng.uniform(0.7, 1.6)) * max(H, W)
        ox, oy = cx + L * u[0], cy + L * u[1]
        dist = np.sqrt((xx - ox) ** 2 + (yy - oy) ** 2)
    else:
        dist = (xx - cx) * u[0] + (yy - cy) * u[1]
    # Carbon where dist > level; the level is the (1 - fraction) quantile (on a sparse grid).
    level = float(np.quantile(dist[::8, ::8], 1.0 - fraction))
    return dist - level


def _add_ice_blob(layout: JunkLayout, rng: np.random.Generator, radius: float, darkening: float,
                  shape: tuple[int, int]) -> None:
    """Draw one irregular ice blob (centre may lie near or beyond the border)."""
    H, W = shape
    x = rng.uniform(-0.2 * radius, W - 1 + 0.2 * radius)
    y = rng.uniform(-0.2 * radius, H - 1 + 0.2 * radius)
    ks = np.arange(2, 6)
    amps = rng.uniform(0.0, 0.22, size=ks.size) / (ks - 1)
    phases = rng.uniform(0, 2 * np.pi, size=ks.size)
    reach = radius * (1.0 + amps.sum()) + 4.0
    x0, x1 = max(int(x - reach), 0), min(int(np.ceil(x + reach)) + 1, W)
    y0, y1 = max(int(y - reach), 0), min(int(np.ceil(y + reach)) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - x
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - y
    r = np.sqrt(dx * dx + dy * dy)
    theta = np.arctan2(dy, dx)
    edge = radius * (1.0 + sum(a * np.cos(k * theta + p) for a, k, p in zip(amps, ks, phases, strict=True)))
    width = max(ICE_EDGE_FRACTION * radius, 1.5)
    soft = np.clip(0.5 - (r - edge) / width, 0.0, 1.0).astype(np.float32)
    # Thick in the middle: darkening rises a little towards the core.
    core = (1.0 - 0.3 * np.clip(r / np.maximum(edge, 1e-3), 0.0, 1.0) ** 2).astype(np.float32)
    sl = (slice(y0, y1), slice(x0, x1))
    layout.amplitude[sl] = np.maximum(layout.amplitude[sl], darkening * soft * core)
    layout.phase_noise_units[sl] += ICE_PHASE * soft
    grow = (r - edge) < width  # include the fringe band in the mask
    layout.mask[sl] |= grow
    layout.n_ice += 1


def make_junk(params: SimulationParams, rng: np.random.Generator) -> JunkLayout:
    """Draw this micrograph's junk (carbon edge, ice blobs, aggregates) from ``rng``."""
    shape = params.shape
    H, W = shape
    layout = empty_layout(shape)
    D = max(params.diameters_px)
    if rng.uniform() < params.carbon_probability:
        fraction = float(rng.uniform(*params.carbon_fraction))
        curved = bool(rng.uniform() < params.carbon_curved_probability)
        if fraction > 0:
            d = _carbon_signed_distance(shape, rng, fraction, curved)
            soft = np.clip(0.5 + d / CARBON_EDGE_PX, 0.0, 1.0).astype(np.float32)
            texture = rng.standard_normal(shape, dtype=np.float32)
            layout.amplitude += params.carbon_darkening * soft
            layout.phase_noise_units += soft * (CARBON_PHASE_STEP + params.carbon_texture * texture)
            layout.mask |= soft > 0.5
            layout.has_carbon = True
    n_ice = int(rng.integers(params.ice_blobs[0], params.ice_blobs[1] + 1))
    for _ in range(n_ice):
        radius = 0.5 * D * float(rng.uniform(*params.ice_diameter_factor))
        _add_ice_blob(layout, rng, radius, float(rng.uniform(*params.ice_darkening)), shape)
    layout.forbidden |= layout.mask
    n_agg = int(rng.integers(params.aggregates[0], params.aggregates[1] + 1))
    if n_agg:
        rotations = random_rotations(n_agg, rng)
        yy = np.arange(H, dtype=np.float32)[:, None]
        xx = np.arange(W, dtype=np.float32)[None, :]
        for i in range(n_agg):
            diam_px = D * float(rng.uniform(*params.aggregate_diameter_factor))
            x = float(rng.uniform(0, W - 1))
            y = float(rng.uniform(0, H - 1))
            centres, sigmas, masses = make_blob_density(
                rng, diam_px * params.pixel_size_A, n_domains=(6, 14), n_details=(30, 60),
                flatten=0.5, density=2.0,
            )
            add_projection(layout.protein, x, y, centres, sigmas, masses, rotations[i], params.pixel_size_A)
            r = 0.5 * diam_px
            x0, x1 = max(int(x - r), 0), min(int(np.ceil(x + r)) + 1, W)
            y0, y1 = max(int(y - r), 0), min(int(np.ceil(y + r)) + 1, H)
            layout.forbidden[y0:y1, x0:x1] |= (xx[:, x0:x1] - x) ** 2 + (yy[y0:y1] - y) ** 2 <= r * r
            layout.aggregate_xy.append((x, y, diam_px))
        layout.n_aggregates = n_agg
        peak = float(layout.protein.max())
        if peak > 0:
            layout.mask |= layout.protein > 0.1 * peak
    return layout
