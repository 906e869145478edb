"""A simulated field in physical units: what is where, in Angstrom, before any pixel exists.

Why a scene apart from its rendering: the same sample imaged at 0.8, 1.1 or 4 A/px must show
the same particles at the same physical places, so a benchmark can ask whether a picker's
result depends on the pixel size alone. :func:`make_scene` draws everything that belongs to the
specimen and the exposure (particles, their 3-D orientations, junk, ice, defocus);
:func:`samcryo_core.simulate.micrograph.render_scene` images it at any pixel size and in any
export style (:mod:`samcryo_core.simulate.styles`).

Coordinates are measured from the image's top-left corner in Angstrom, x along columns, y along
rows: a particle at ``(x_A, y_A)`` lands at pixel ``(x_A / px - 0.5, y_A / px - 0.5)`` (column,
row) on a grid of pixel size ``px`` (pixel centres at ``(index + 0.5) * px``). The field spans
``params.shape * params.pixel_size_A``; placement happens on that native grid.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from samcryo_core.simulate.junk import JunkScene, make_junk, pixel_grid_A
from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import ParticleType, make_particle_type, random_rotations
from samcryo_core.simulate.placement import place_particles

#: Mean ice thickness and the inelastic mean free path at 300 kV: ice thicker than the mean by
#: ``t`` transmits ``exp(-t / mfp)`` of the beam (the elastic image darkens and its noise grows).
ICE_THICKNESS_A = 500.0
INELASTIC_MFP_A = 3500.0


@functools.lru_cache(maxsize=64)
def particle_types(diameters_A: tuple[float, ...], type_seed: int,
                   families: tuple[str, ...] = ("blob",)) -> tuple[ParticleType, ...]:
    """The particle types of a parameter set (cached: every micrograph reuses them)."""
    fam = [families[i if len(families) > 1 else 0] for i in range(len(diameters_A))]
    return tuple(make_particle_type(d, type_seed, class_id=i + 1, family=fam[i])
                 for i, d in enumerate(diameters_A))


@dataclass(frozen=True)
class IceField:
    """Ice thickness relative to its mean: a linear gradient plus a meniscus bowl.

    ``thickness(x, y) = 1 + gradient * ramp + meniscus * (r / field width)^2 - mean`` where
    ``ramp`` runs from -0.5 to 0.5 across the field along ``direction`` and ``r`` is the distance
    to ``(cx_A, cy_A)``; the mean over the field is subtracted so the average beam is kept.
    """

    gradient: float
    direction: float
    meniscus: float
    cx_A: float
    cy_A: float

    def transmission(self, shape: tuple[int, int], pixel_size_A: float,
                     size_A: tuple[float, float]) -> np.ndarray:
        xx, yy = (a.astype(np.float32) for a in pixel_grid_A(shape, pixel_size_A))
        H_A, W_A = size_A
        side = max(H_A, W_A)
        # separable: a x-part and a y-part broadcast to the grid once
        tx = (self.gradient * np.cos(self.direction) * (xx - W_A / 2) / side
              + self.meniscus * ((xx - self.cx_A) / side) ** 2)
        ty = (self.gradient * np.sin(self.direction) * (yy - H_A / 2) / side
              + self.meniscus * ((yy - self.cy_A) / side) ** 2)
        t = tx + ty
        t = t - t.mean()
        return np.exp(-t * ICE_THICKNESS_A / INELASTIC_MFP_A).astype(np.float32)


@dataclass
class Scene:
    """One simulated field in Angstrom (module docstring).

    Attributes:
        params: the parameters it was drawn from (optics, SNR, noise and style for rendering).
        size_A: ``(height, width)`` of the field in Angstrom.
        types: the particle types (3-D densities).
        x_A, y_A: particle centres (Angstrom from the top-left corner; x = along columns).
        type_index: index into ``types`` per particle.
        quaternions: ``(n, 4)`` particle orientations (scipy ``Rotation.as_quat``).
        defocus_u_um, defocus_v_um, astigmatism_angle_deg: the exposure's CTF.
        junk: carbon, ice, ethane, holes, crystals, aggregates, filaments (Angstrom).
        illumination_direction: direction of the beam-intensity ramp (None: no ramp).
        ice: the ice-thickness field (None: uniform).
    """

    params: SimulationParams
    size_A: tuple[float, float]
    types: tuple[ParticleType, ...]
    x_A: np.ndarray
    y_A: np.ndarray
    type_index: np.ndarray
    quaternions: np.ndarray
    defocus_u_um: float
    defocus_v_um: float
    astigmatism_angle_deg: float
    junk: JunkScene = field(default_factory=JunkScene)
    illumination_direction: float | None = None
    ice: IceField | None = None

    @property
    def n_particles(self) -> int:
        return int(self.x_A.size)

    @property
    def diameter_A(self) -> np.ndarray:
        return np.array([self.types[i].diameter_A for i in self.type_index], np.float64)

    @property
    def class_id(self) -> np.ndarray:
        return np.array([self.types[i].class_id for i in self.type_index], np.int64)

    def coverage(self) -> float:
        """Fraction of the field covered by the union of the particle discs (nominal diameters),
        measured on the native grid."""
        from samcryo_core.simulate.micrograph import disc_mask

        px = self.params.pixel_size_A
        return float(disc_mask(self.params.shape, self.x_A / px - 0.5, self.y_A / px - 0.5,
                               self.diameter_A / px).mean())


def make_scene(params: SimulationParams, rng: np.random.Generator | int | None = None) -> Scene:
    """Draw one field (optics, junk, particles, orientations, ice) from ``params``.

    ``rng``: a Generator (consumed), an integer seed, or None for ``params.seed``.
    :func:`~samcryo_core.simulate.micrograph.simulate_micrograph` continues with the same
    generator for the noise, so ``simulate_micrograph(params, seed)`` is
    ``render_scene(make_scene(params, gen), gen)`` with ``gen = default_rng(seed)``.
    """
    gen = np.random.default_rng(int(params.seed) if rng is None else rng) \
        if not isinstance(rng, np.random.Generator) else rng
    shape = params.shape
    px = params.pixel_size_A
    types = particle_types(params.diameters_A, params.type_seed, params.shape_families)

    # Optics of this exposure (RELION: DefocusU/V positive for underfocus, angle from x).
    defocus = float(gen.uniform(*params.defocus_um))
    astig = float(gen.uniform(0.0, params.astigmatism_um))
    angle = float(gen.uniform(0.0, 180.0))
    du, dv = defocus + 0.5 * astig, defocus - 0.5 * astig

    junk = make_junk(params, gen) if params.junk else JunkScene()
    forbidden = junk.forbidden if junk.forbidden is not None and junk.forbidden.any() else None

    n = params.particle_count()
    weights = np.asarray(params.type_weights or [1.0] * len(types), np.float64)
    type_idx = gen.choice(len(types), size=n, p=weights / weights.sum()) if n else np.zeros(0, np.int64)
    diam = np.array([types[i].diameter_A / px for i in type_idx], np.float64)
    x, y, kept = place_particles(
        gen, shape, diam,
        min_distance_factor=params.min_distance_factor,
        touching_fraction=params.touching_fraction,
        touching_distance=params.touching_distance,
        border_margin_factor=params.border_margin_factor,
        forbidden=forbidden,
        junk_clearance_px=params.junk_clearance_factor * max(params.diameters_px),
        target_coverage=params.coverage,
    )
    type_idx = np.asarray(type_idx[kept], np.int64)
    rotations = random_rotations(len(kept), gen)
    quats = rotations.as_quat().reshape(-1, 4)[: len(kept)]
    illumination = float(gen.uniform(0, 2 * np.pi)) if params.illumination_gradient > 0 else None
    ice = None
    size_A = (shape[0] * px, shape[1] * px)
    if params.ice_gradient > 0 or params.ice_meniscus > 0:
        side = max(size_A)
        direction = float(gen.uniform(0, 2 * np.pi))
        ice = IceField(float(params.ice_gradient), direction, float(params.ice_meniscus),
                       float(gen.uniform(-0.5, 1.5)) * side, float(gen.uniform(-0.5, 1.5)) * side)
    return Scene(
        params=params, size_A=size_A, types=types,
        x_A=(x + 0.5) * px, y_A=(y + 0.5) * px, type_index=type_idx, quaternions=quats,
        defocus_u_um=du, defocus_v_um=dv, astigmatism_angle_deg=angle,
        junk=junk, illumination_direction=illumination, ice=ice,
    )
