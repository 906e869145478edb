"""Protein-like 3-D densities made of Gaussians, and their analytic projections.

Why Gaussians: the projection of a 3-D Gaussian along z is a 2-D Gaussian with the same sigma
and the same mass, so a randomly rotated particle is projected exactly by rotating its blob
centres and drawing 2-D Gaussians; no volume, no interpolation, a few milliseconds per
micrograph. The shapes (compact blobs, rods, plates, rings, Cn/Dn assemblies, membrane proteins
in a belt, pseudo-atomic models) are the families of :mod:`samcryo_core.simulate.shapes`.

A particle *type* is generated from a seed, so every micrograph of a dataset shows the same
protein in different orientations, as a real data set does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from samcryo_core.simulate.shapes import FAMILIES, blob, make_density

#: Variance (pixels^2) added to every Gaussian when it is drawn: a pixel integrates the
#: projection over its area (a box of variance 1/12 per axis), so a Gaussian narrower than a
#: pixel keeps its mass instead of vanishing between pixel centres.
PIXEL_VARIANCE = 1.0 / 12.0


@dataclass(frozen=True)
class ParticleType:
    """A 3-D density: Gaussians with centres, widths and masses, centred on its centre of mass.

    Attributes:
        class_id: RELION class number (1-based) written to the truth STAR file.
        diameter_A: nominal diameter; every blob lies within it (centre + 1.5 sigma).
        centres_A: ``(G, 3)`` blob centres in Angstrom, centre of mass at the origin.
        sigmas_A: ``(G,)`` blob widths in Angstrom.
        masses: ``(G,)`` blob masses (arbitrary units; total mass grows as diameter^3 so a
            larger protein scatters more).
        family: the shape family (:data:`samcryo_core.simulate.shapes.FAMILIES`).
    """

    class_id: int
    diameter_A: float
    centres_A: np.ndarray
    sigmas_A: np.ndarray
    masses: np.ndarray
    family: str = "blob"


def make_blob_density(rng: np.random.Generator, diameter_A: float,
                      **options) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random compact density of ``diameter_A`` (the ``blob`` family): ``(centres_A, sigmas_A,
    masses)``; ``options`` and their defaults are :func:`samcryo_core.simulate.shapes.blob`'s."""
    return blob(rng, diameter_A, **options)


def make_particle_type(diameter_A: float, seed: int, class_id: int = 1, family: str = "blob") -> ParticleType:
    """The particle type of ``diameter_A`` and ``family`` for ``seed`` (same inputs, same protein).

    The blob family keeps the seed sequence of the original simulator, so its proteins (the
    demo's among them) are unchanged.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown shape family {family!r}; use one of {', '.join(FAMILIES)}")
    key = [int(seed), int(class_id), int(round(diameter_A * 1000))]
    if family != "blob":
        key.append(list(FAMILIES).index(family))
    centres, sigmas, masses = make_density(family, np.random.default_rng(key), diameter_A)
    return ParticleType(class_id=class_id, diameter_A=float(diameter_A), centres_A=centres,
                        sigmas_A=sigmas, masses=masses, family=family)


def random_rotations(n: int, rng: np.random.Generator) -> Rotation:
    """``n`` rotations uniform on SO(3) (Haar measure), as cryo-EM particles without preferred
    orientation."""
    return Rotation.random(max(n, 1), rng=rng)


def add_projection(
    canvas: np.ndarray,
    x: float,
    y: float,
    centres_A: np.ndarray,
    sigmas_A: np.ndarray,
    masses: np.ndarray,
    rotation: Rotation,
    pixel_size_A: float,
) -> None:
    """Add the z-projection of a rotated density centred at ``(x, y)`` (column, row) in place.

    Each blob becomes ``m / (2 pi s^2) exp(-r^2 / 2 s^2)`` (pixel units, ``s^2`` including
    :data:`PIXEL_VARIANCE`). The sum is separable per blob, so a window is one
    ``(h x G) @ (G x w)`` product. Blobs near the border are clipped (never wrapped).
    """
    H, W = canvas.shape
    c = rotation.apply(centres_A)[:, :2] / pixel_size_A  # (G, 2): x, y offsets in pixels
    s = np.sqrt((sigmas_A / pixel_size_A) ** 2 + PIXEL_VARIANCE)
    cx = x + c[:, 0]
    cy = y + c[:, 1]
    half = float(np.max(np.abs(c) + 3.5 * s[:, None]))
    x0, x1 = max(int(np.floor(x - half)), 0), min(int(np.ceil(x + half)) + 1, W)
    y0, y1 = max(int(np.floor(y - half)), 0), min(int(np.ceil(y + half)) + 1, H)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float64)
    ys = np.arange(y0, y1, dtype=np.float64)
    inv = 1.0 / (2.0 * s * s)
    gx = np.exp(-((xs[None, :] - cx[:, None]) ** 2) * inv[:, None])  # (G, w)
    gy = np.exp(-((ys[None, :] - cy[:, None]) ** 2) * inv[:, None])  # (G, h)
    amp = masses / (2.0 * np.pi * s * s)
    canvas[y0:y1, x0:x1] += ((gy * amp[:, None]).T @ gx).astype(canvas.dtype, copy=False)
