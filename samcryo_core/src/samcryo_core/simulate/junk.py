"""Things a picker must NOT pick: carbon edges, ice, ethane, holes, crystals, aggregates, filaments.

Why: the commonest complaint about pickers is picks on carbon edges and ice. A simulator with
only clean particles trains a model that picks every dark blob. Each kind of junk here is dark
(or, for holes in the ice, bright), structured and particle-sized or larger, and is marked in the
junk mask; particles are never placed on it, so the truth never contains a particle on junk and
any pick on junk is a false positive.

Junk is drawn as *objects in Angstrom* (:class:`JunkScene`, part of a
:class:`~samcryo_core.simulate.scene.Scene`) and rendered onto any pixel grid by
:func:`render_junk`, so the same field can be imaged at several pixel sizes. Positions are
measured from the image's top-left corner: pixel ``(row, col)`` covers
``[col * px, (col + 1) * px)`` in x, so its centre is at ``(col + 0.5) * px``.

Model of each kind (lengths scale with the largest particle diameter ``D``):
- carbon: a large region on one side of a straight line or of a hole rim (circle arc), with a
  sharp 1.5 px edge, amplitude darkening (thicker, denser film) and a phase step plus an
  amorphous phase texture, both CTF-filtered, so the edge shows Fresnel fringes.
- ice contamination: irregular blobs (a circle perturbed by harmonics 2-5) of 2-5 ``D``, very
  dark (amplitude 0.3-0.7 of the beam at the core), with a soft edge and a phase edge.
- ethane contamination: clusters of 3-12 small, crisp, very dark round droplets (0.2-0.8 ``D``).
- holes in the ice: irregular patches of 3-8 ``D`` with no ice: brighter (less inelastic loss)
  with a phase edge of the opposite sign; nothing to pick inside or on their rim.
- ice crystals: convex hexagonal plates of 3-10 ``D`` with straight sharp edges and bend-contour
  fringes inside (diffraction contrast), dark.
- aggregates: clumps of many protein-like Gaussians 1.5-3 ``D`` across, flattened into the ice
  and twice as dense as a particle; CTF-filtered like particles.
- filaments: long chains of protein Gaussians (width 0.3-1 ``D`` by default, length 3-12 ``D``, gently
  curved, with a helical mass repeat) lying in the ice; CTF-filtered like particles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import ConvexHull
from scipy.spatial.transform import Rotation

from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import add_projection, make_blob_density, random_rotations

CARBON_EDGE_PX = 1.5  # width of the carbon edge ramp (sharp)
ICE_EDGE_FRACTION = 0.08  # soft edge of an ice blob, fraction of its radius
ETHANE_EDGE_FRACTION = 0.04  # ethane droplets are crisp
CARBON_PHASE_STEP = 2.0  # carbon phase step, in background-noise std (before the CTF)
ICE_PHASE = 3.0  # ice blob phase contrast, in background-noise std (before the CTF)
FILAMENT_DENSITY = 1.5  # filaments are solid protein; a blob particle is not (visible like real actin)
PROTEIN_MASK_LEVEL = 0.1  # protein junk is masked where its density exceeds this share of its peak
_HARMONICS = np.arange(2, 6)


@dataclass(frozen=True)
class CarbonFilm:
    """Carbon beyond a straight edge or a hole rim, in Angstrom.

    The signed distance to the edge (positive on carbon) is ``(x - ox) ux + (y - oy) uy - level``
    for a straight edge and ``|(x, y) - (ox, oy)| - level`` for a rim (``(ox, oy)`` the hole's
    centre, outside the image). ``texture`` is unit white noise on the native pixel grid
    (``texture_pixel_size_A``), resampled for other grids.
    """

    curved: bool
    ux: float
    uy: float
    ox_A: float
    oy_A: float
    level_A: float
    darkening: float
    texture_strength: float
    texture: np.ndarray
    texture_pixel_size_A: float

    def signed_distance_A(self, xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
        if self.curved:
            return np.sqrt((xx - self.ox_A) ** 2 + (yy - self.oy_A) ** 2) - self.level_A
        return (xx - self.ox_A) * self.ux + (yy - self.oy_A) * self.uy - self.level_A


@dataclass(frozen=True)
class Patch:
    """An irregular round patch: ice contamination, an ethane droplet or a hole in the ice.

    ``darkening`` is the beam fraction removed at the core (negative: brighter, a hole);
    ``phase`` the phase contrast in background-noise std; the outline is
    ``radius * (1 + sum_k a_k cos(k theta + p_k))`` for harmonics k = 2..5.
    """

    kind: str
    x_A: float
    y_A: float
    radius_A: float
    amps: np.ndarray
    phases: np.ndarray
    darkening: float
    phase: float
    edge_fraction: float


@dataclass(frozen=True)
class Crystal:
    """A hexagonal ice crystal: convex polygon (Angstrom), darkening with bend-contour fringes."""

    vertices_A: np.ndarray
    darkening: float
    fringe_period_A: float
    fringe_angle: float
    fringe_phase: float


@dataclass(frozen=True)
class ProteinJunk:
    """An aggregate or a filament: protein Gaussians (Angstrom) around ``(x_A, y_A)``."""

    kind: str
    x_A: float
    y_A: float
    centres_A: np.ndarray
    sigmas_A: np.ndarray
    masses: np.ndarray
    quaternion: np.ndarray
    exclusion_radius_A: float = 0.0


@dataclass
class JunkScene:
    """The junk of one field, in Angstrom, plus the cells particles must avoid on the native grid."""

    carbon: CarbonFilm | None = None
    patches: list[Patch] = field(default_factory=list)
    crystals: list[Crystal] = field(default_factory=list)
    protein: list[ProteinJunk] = field(default_factory=list)
    forbidden: np.ndarray | None = None

    def count(self, kind: str) -> int:
        """Number of objects of ``kind`` (ice, ethane, hole, crystal, aggregate, filament)."""
        if kind == "crystal":
            return len(self.crystals)
        return sum(1 for o in (*self.patches, *self.protein) if o.kind == kind)


@dataclass
class JunkLayout:
    """Junk of one micrograph rendered on its pixel grid.

    Attributes:
        amplitude: ``(H, W)`` float32 darkening (fraction of the beam removed; negative in holes).
        phase_noise_units: ``(H, W)`` float32 phase density in units of the background-noise
            std (carbon step and texture, ice and crystal edges); CTF-filtered by the caller.
        protein: ``(H, W)`` float32 projected aggregate and filament density in the particles'
            units (scaled and CTF-filtered with the particles).
        mask: ``(H, W)`` bool, True on junk (the ground-truth junk mask).
    """

    amplitude: np.ndarray
    phase_noise_units: np.ndarray
    protein: np.ndarray
    mask: np.ndarray


def empty_layout(shape: tuple[int, int]) -> JunkLayout:
    """No junk at all."""
    zeros = np.zeros(shape, np.float32)
    return JunkLayout(zeros, zeros.copy(), zeros.copy(), np.zeros(shape, bool))


def pixel_grid_A(shape: tuple[int, int], pixel_size_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in Angstrom: ``x`` as a row vector, ``y`` as a column."""
    H, W = shape
    return ((np.arange(W, dtype=np.float64) + 0.5) * pixel_size_A)[None, :], \
        ((np.arange(H, dtype=np.float64) + 0.5) * pixel_size_A)[:, None]


# ----------------------------------------------------------------------------------- drawing

def _draw_carbon(params: SimulationParams, rng: np.random.Generator) -> CarbonFilm | None:
    H, W = params.shape
    px = params.pixel_size_A
    fraction = float(rng.uniform(*params.carbon_fraction))
    curved = bool(rng.uniform() < params.carbon_curved_probability)
    if fraction <= 0:
        return None
    phi = rng.uniform(0, 2 * np.pi)
    ux, uy = float(np.cos(phi)), float(np.sin(phi))
    cx, cy = W * px / 2.0, H * px / 2.0
    if curved:
        # Hole rim: the hole is a circle centred outside the image on direction u, so the side of
        # the image towards u lies in the hole and the far side (large r) is carbon.
        L = float(rng.uniform(0.7, 1.6)) * max(H, W) * px
        ox, oy = cx + L * ux, cy + L * uy
    else:
        ox, oy = cx, cy
    film = CarbonFilm(curved, ux, uy, ox, oy, 0.0, params.carbon_darkening, params.carbon_texture,
                      rng.standard_normal((H, W), dtype=np.float32), px)
    xx, yy = pixel_grid_A((H, W), px)
    # Carbon where distance > level; the level is the (1 - fraction) quantile (on a sparse grid).
    dist = film.signed_distance_A(xx[:, ::8], yy[::8])
    level = float(np.quantile(np.broadcast_to(dist, (yy[::8].size, xx[:, ::8].size)), 1.0 - fraction))
    return CarbonFilm(curved, ux, uy, ox, oy, level, params.carbon_darkening, params.carbon_texture,
                      film.texture, px)


def _draw_patch(kind: str, rng: np.random.Generator, shape: tuple[int, int], px: float, radius_A: float,
                darkening: float, *, centre: tuple[float, float] | None = None,
                harmonic_scale: float = 0.22) -> Patch:
    """An irregular round patch of ``radius_A`` (centre uniform, may lie near or beyond the border)."""
    H, W = shape
    r = radius_A / px
    if centre is None:
        x = rng.uniform(-0.2 * r, W - 1 + 0.2 * r)
        y = rng.uniform(-0.2 * r, H - 1 + 0.2 * r)
        x_A, y_A = (x + 0.5) * px, (y + 0.5) * px
    else:
        x_A, y_A = centre
    amps = rng.uniform(0.0, harmonic_scale, size=_HARMONICS.size) / (_HARMONICS - 1)
    phases = rng.uniform(0, 2 * np.pi, size=_HARMONICS.size)
    if kind == "ethane":
        return Patch(kind, x_A, y_A, radius_A, amps, phases, darkening, ICE_PHASE, ETHANE_EDGE_FRACTION)
    if kind == "hole":
        return Patch(kind, x_A, y_A, radius_A, amps, phases, darkening, -ICE_PHASE, ICE_EDGE_FRACTION)
    return Patch(kind, x_A, y_A, radius_A, amps, phases, darkening, ICE_PHASE, ICE_EDGE_FRACTION)


def _draw_crystal(rng: np.random.Generator, shape: tuple[int, int], px: float, D_A: float) -> Crystal:
    H, W = shape
    cx, cy = rng.uniform(0, W * px), rng.uniform(0, H * px)
    size = float(rng.uniform(1.5, 5.0)) * D_A  # circumradius
    a0 = rng.uniform(0, np.pi / 3)
    angles = a0 + np.arange(6) * np.pi / 3 + rng.uniform(-0.12, 0.12, 6)
    radii = size * rng.uniform(0.75, 1.15, 6)
    pts = np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])
    pts = pts[ConvexHull(pts).vertices]
    return Crystal(pts, float(rng.uniform(0.2, 0.6)), float(rng.uniform(0.3, 1.0)) * size,
                   float(rng.uniform(0, np.pi)), float(rng.uniform(0, 2 * np.pi)))


def _draw_filament(rng: np.random.Generator, shape: tuple[int, int], px: float, D_A: float,
                   width_factor: tuple[float, float]) -> ProteinJunk:
    """A gently curved filament lying in the ice (beads of sigma = width / 4 along its axis)."""
    H, W = shape
    width = float(rng.uniform(*width_factor)) * D_A
    length = float(rng.uniform(3.0, 12.0)) * D_A
    x0, y0 = rng.uniform(0, W * px), rng.uniform(0, H * px)
    phi = rng.uniform(0, 2 * np.pi)
    curvature = rng.uniform(-1.0, 1.0) / (6.0 * D_A)
    sigma = width / 4.0
    step = sigma
    n = max(2, int(length / step))
    s = (np.arange(n) - n / 2.0) * step
    heading = phi + curvature * s
    x = np.cumsum(np.cos(heading)) * step
    y = np.cumsum(np.sin(heading)) * step
    centres = np.column_stack([x - x.mean(), y - y.mean(), np.zeros(n)])
    # Projected density across the filament like a particle of diameter ``width`` (line mass
    # lambda with lambda / width = (width / 100)^3 / (pi width^2 / 4)) times FILAMENT_DENSITY; a
    # helical repeat of 1-2 widths modulates it.
    line_mass = FILAMENT_DENSITY * 4.0 * width**2 / (np.pi * 1e6)
    period = float(rng.uniform(1.0, 2.0)) * width
    masses = line_mass * step * (1.0 + 0.4 * np.cos(2 * np.pi * s / period))
    return ProteinJunk("filament", x0, y0, centres, np.full(n, sigma), masses,
                       Rotation.identity().as_quat())


def make_junk(params: SimulationParams, rng: np.random.Generator) -> JunkScene:
    """Draw the junk of a field of ``params.shape`` at ``params.pixel_size_A`` from ``rng``.

    Also renders it on that (native) grid to get the cells particles must avoid
    (``forbidden``: the junk mask plus each aggregate's disc).
    """
    shape = params.shape
    H, W = shape
    px = params.pixel_size_A
    D_px = max(params.diameters_px)
    D_A = D_px * px
    junk = JunkScene()
    if rng.uniform() < params.carbon_probability:
        junk.carbon = _draw_carbon(params, rng)
    n_ice = int(rng.integers(params.ice_blobs[0], params.ice_blobs[1] + 1))
    for _ in range(n_ice):
        radius_px = 0.5 * D_px * float(rng.uniform(*params.ice_diameter_factor))
        darkening = float(rng.uniform(*params.ice_darkening))
        junk.patches.append(_draw_patch("ice", rng, shape, px, radius_px * px, darkening))
    n_agg = int(rng.integers(params.aggregates[0], params.aggregates[1] + 1))
    if n_agg:
        rotations = random_rotations(n_agg, rng)
        for i in range(n_agg):
            diam_px = D_px * float(rng.uniform(*params.aggregate_diameter_factor))
            x = float(rng.uniform(0, W - 1))
            y = float(rng.uniform(0, H - 1))
            centres, sigmas, masses = make_blob_density(
                rng, diam_px * px, n_domains=(6, 14), n_details=(30, 60), flatten=0.5, density=2.0,
            )
            junk.protein.append(ProteinJunk("aggregate", (x + 0.5) * px, (y + 0.5) * px, centres, sigmas,
                                            masses, rotations[i].as_quat(), 0.5 * diam_px * px))
    # Kinds added after the original three draw only when asked for, so a parameter set without
    # them gives the same micrographs as before.
    if params.filaments[1] > 0:
        for _ in range(int(rng.integers(params.filaments[0], params.filaments[1] + 1))):
            junk.protein.append(_draw_filament(rng, shape, px, D_A, params.filament_width_factor))
    if params.ethane_clusters[1] > 0:
        for _ in range(int(rng.integers(params.ethane_clusters[0], params.ethane_clusters[1] + 1))):
            cx, cy = rng.uniform(0, W * px), rng.uniform(0, H * px)
            for _ in range(int(rng.integers(3, 13))):
                off = rng.normal(0, 1.0, 2) * D_A
                radius, darkening = float(rng.uniform(0.1, 0.4)) * D_A, float(rng.uniform(0.5, 0.9))
                junk.patches.append(_draw_patch("ethane", rng, shape, px, radius, darkening,
                                                centre=(cx + off[0], cy + off[1]), harmonic_scale=0.06))
    if params.ice_holes[1] > 0:
        for _ in range(int(rng.integers(params.ice_holes[0], params.ice_holes[1] + 1))):
            junk.patches.append(_draw_patch("hole", rng, shape, px, float(rng.uniform(1.5, 4.0)) * D_A,
                                            -float(rng.uniform(0.08, 0.25))))
    if params.ice_crystals[1] > 0:
        for _ in range(int(rng.integers(params.ice_crystals[0], params.ice_crystals[1] + 1))):
            junk.crystals.append(_draw_crystal(rng, shape, px, D_A))
    layout = render_junk(junk, shape, px)
    forbidden = layout.mask.copy()
    xx, yy = pixel_grid_A(shape, px)
    for obj in junk.protein:
        if obj.exclusion_radius_A > 0:
            forbidden |= (xx - obj.x_A) ** 2 + (yy - obj.y_A) ** 2 <= obj.exclusion_radius_A**2
    junk.forbidden = forbidden
    return junk


# ---------------------------------------------------------------------------------- rendering

def _render_patch(layout: JunkLayout, p: Patch, shape: tuple[int, int], px: float) -> None:
    H, W = shape
    x, y = p.x_A / px - 0.5, p.y_A / px - 0.5
    radius = p.radius_A / px
    reach = radius * (1.0 + float(p.amps.sum())) + 4.0
    x0, x1 = max(int(x - reach), 0), min(int(np.ceil(x + reach)) + 1, W)
    y0, y1 = max(int(y - reach), 0), min(int(np.ceil(y + reach)) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return
    dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(x)
    dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(y)
    r = np.sqrt(dx * dx + dy * dy)
    theta = np.arctan2(dy, dx)
    edge = radius * (1.0 + sum(a * np.cos(k * theta + ph) for a, k, ph in zip(p.amps, _HARMONICS, p.phases,
                                                                                strict=True)))
    width = max(p.edge_fraction * radius, 1.0 if p.kind == "ethane" else 1.5)
    soft = np.clip(0.5 - (r - edge) / width, 0.0, 1.0).astype(np.float32)
    sl = (slice(y0, y1), slice(x0, x1))
    if p.darkening >= 0:
        # Thick in the middle: darkening rises a little towards the core.
        core = (1.0 - 0.3 * np.clip(r / np.maximum(edge, 1e-3), 0.0, 1.0) ** 2).astype(np.float32)
        layout.amplitude[sl] = np.maximum(layout.amplitude[sl], p.darkening * soft * core)
    else:
        layout.amplitude[sl] = np.minimum(layout.amplitude[sl], p.darkening * soft)
    layout.phase_noise_units[sl] += p.phase * soft
    layout.mask[sl] |= (r - edge) < width  # include the fringe band in the mask


def _render_crystal(layout: JunkLayout, c: Crystal, xx: np.ndarray, yy: np.ndarray, px: float) -> None:
    v = c.vertices_A
    x0, x1 = max(int(v[:, 0].min() / px) - 3, 0), min(int(v[:, 0].max() / px) + 4, xx.shape[1])
    y0, y1 = max(int(v[:, 1].min() / px) - 3, 0), min(int(v[:, 1].max() / px) + 4, yy.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    X, Y = xx[:, x0:x1], yy[y0:y1]
    # Signed distance to a convex polygon: the largest signed distance to its edge lines.
    dist = np.full((y1 - y0, x1 - x0), -np.inf)
    centre = v.mean(axis=0)
    for i in range(len(v)):
        a, b = v[i], v[(i + 1) % len(v)]
        n = np.array([b[1] - a[1], a[0] - b[0]])
        n /= np.linalg.norm(n)
        if np.dot(centre - a, n) > 0:
            n = -n
        dist = np.maximum(dist, (X - a[0]) * n[0] + (Y - a[1]) * n[1])
    soft = np.clip(0.5 - dist / px, 0.0, 1.0).astype(np.float32)
    fringe = 0.75 + 0.25 * np.cos(2 * np.pi * (X * np.cos(c.fringe_angle) + Y * np.sin(c.fringe_angle))
                                  / c.fringe_period_A + c.fringe_phase)
    sl = (slice(y0, y1), slice(x0, x1))
    layout.amplitude[sl] = np.maximum(layout.amplitude[sl], (c.darkening * soft * fringe).astype(np.float32))
    layout.phase_noise_units[sl] += ICE_PHASE * soft
    layout.mask[sl] |= dist < 1.5 * px


def carbon_texture_on_grid(film: CarbonFilm, shape: tuple[int, int], px: float) -> np.ndarray:
    """The film's unit white-noise texture on a grid of ``shape`` at ``px`` (the same amorphous
    carbon, resampled; unit standard deviation per pixel as on the native grid)."""
    if film.texture.shape == shape and np.isclose(px, film.texture_pixel_size_A):
        return film.texture
    from samcryo_core.preprocess.fourier import fourier_resample

    H0, W0 = film.texture.shape
    # The native texture spans the native field; resample it to this grid's sampling of that field.
    f = film.texture_pixel_size_A / px
    full = (max(1, round(H0 * f)), max(1, round(W0 * f)))
    tex = fourier_resample(film.texture, full)
    out = np.zeros(shape, np.float32)
    h, w = min(shape[0], full[0]), min(shape[1], full[1])
    out[:h, :w] = tex[:h, :w]
    std = float(out.std())
    return out / std if std > 0 else out


def render_junk(junk: JunkScene, shape: tuple[int, int], pixel_size_A: float) -> JunkLayout:
    """Render ``junk`` on a grid of ``shape`` pixels of ``pixel_size_A`` Angstrom."""
    layout = empty_layout(shape)
    px = float(pixel_size_A)
    xx, yy = pixel_grid_A(shape, px)
    if junk.carbon is not None:
        d = junk.carbon.signed_distance_A(xx, yy) / px
        soft = np.clip(0.5 + d / CARBON_EDGE_PX, 0.0, 1.0).astype(np.float32)
        texture = carbon_texture_on_grid(junk.carbon, shape, px)
        layout.amplitude += junk.carbon.darkening * soft
        layout.phase_noise_units += soft * (CARBON_PHASE_STEP + junk.carbon.texture_strength * texture)
        layout.mask |= soft > 0.5
    for p in junk.patches:
        _render_patch(layout, p, shape, px)
    for c in junk.crystals:
        _render_crystal(layout, c, xx, yy, px)
    for obj in junk.protein:
        canvas = np.zeros(shape, np.float32)
        add_projection(canvas, obj.x_A / px - 0.5, obj.y_A / px - 0.5, obj.centres_A, obj.sigmas_A,
                       obj.masses, Rotation.from_quat(obj.quaternion), px)
        peak = float(canvas.max())
        if peak > 0:
            layout.mask |= canvas > PROTEIN_MASK_LEVEL * peak
            layout.protein += canvas
    return layout
