"""Protein-like 3-D densities made of Gaussians, and their analytic projections.

Why Gaussians: the projection of a 3-D Gaussian along z is a 2-D Gaussian with the same sigma
and the same mass, so a randomly rotated particle is projected exactly by rotating its blob
centres and drawing 2-D Gaussians; no volume, no interpolation, a few milliseconds per
micrograph. A few large "domain" blobs give the overall shape (elongated, lobed, compact), a
few dozen small ones give the mottled texture that real particles show at 3-6 A/px.

A particle *type* is generated from a seed, so every micrograph of a dataset shows the same
protein in different orientations, as a real data set does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

DETAIL_MASS_FRACTION = 0.5


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
    """

    class_id: int
    diameter_A: float
    centres_A: np.ndarray
    sigmas_A: np.ndarray
    masses: np.ndarray


def _points_in_ellipsoid(rng: np.random.Generator, n: int, semi_axes: np.ndarray) -> np.ndarray:
    """``n`` points uniform in an ellipsoid (direction uniform, radius ~ u^(1/3))."""
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = rng.uniform(0.0, 1.0, size=(n, 1)) ** (1.0 / 3.0)
    return v * r * semi_axes[None, :]


def make_blob_density(
    rng: np.random.Generator,
    diameter_A: float,
    *,
    n_domains: tuple[int, int] = (4, 9),
    n_details: tuple[int, int] = (40, 100),
    flatten: float = 1.0,
    density: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random compact density of ``diameter_A``: returns ``(centres_A, sigmas_A, masses)``.

    Domains: sigma 0.2-0.3 R within an anisotropic ellipsoid (semi-axes 0.55-1 times 0.45 R);
    details: sigma 0.04-0.09 R (4-7 A for a 160 A protein: helix-sized, so the projection keeps
    power out to about 1/10 A like a real protein) within 0.75 R. Mass is proportional to
    sigma^3 within each group, and the details together carry half of the mass. ``flatten`` < 1 squashes z
    (aggregates lying in the ice layer). Finally the density is centred on its centre of mass
    and scaled so that max(|centre| + 1.5 sigma) = diameter / 2.
    """
    R = diameter_A / 2.0
    axes = rng.uniform(0.55, 1.0, size=3)
    axes /= axes.max()
    axes[2] *= flatten
    nd = int(rng.integers(n_domains[0], n_domains[1] + 1))
    nt = int(rng.integers(n_details[0], n_details[1] + 1))
    c_dom = _points_in_ellipsoid(rng, nd, axes * 0.45 * R)
    s_dom = rng.uniform(0.2, 0.3, size=nd) * R
    c_det = _points_in_ellipsoid(rng, nt, axes * 0.75 * R)
    s_det = rng.uniform(0.04, 0.09, size=nt) * R
    centres = np.concatenate([c_dom, c_det])
    sigmas = np.concatenate([s_dom, s_det])
    # Details carry half of the mass (dense secondary structure), so the projection has the
    # mid-frequency texture real particles show; within each group mass ~ sigma^3.
    m_dom = s_dom**3 / (s_dom**3).sum() * (1.0 - DETAIL_MASS_FRACTION)
    m_det = s_det**3 / (s_det**3).sum() * DETAIL_MASS_FRACTION
    masses = np.concatenate([m_dom, m_det]) * density * (diameter_A / 100.0) ** 3
    centres -= (masses[:, None] * centres).sum(axis=0) / masses.sum()
    extent = float(np.max(np.linalg.norm(centres, axis=1) + 1.5 * sigmas))
    scale = R / extent
    return centres * scale, sigmas * scale, masses


def make_particle_type(diameter_A: float, seed: int, class_id: int = 1) -> ParticleType:
    """The particle type of ``diameter_A`` for ``seed`` (same inputs, same protein)."""
    rng = np.random.default_rng([int(seed), int(class_id), int(round(diameter_A * 1000))])
    centres, sigmas, masses = make_blob_density(rng, diameter_A)
    return ParticleType(class_id=class_id, diameter_A=float(diameter_A), centres_A=centres,
                        sigmas_A=sigmas, masses=masses)


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

    Each blob becomes ``m / (2 pi s^2) exp(-r^2 / 2 s^2)`` (pixel units). The sum is separable
    per blob, so a window is one ``(h x G) @ (G x w)`` product. Blobs near the border are
    clipped (never wrapped).
    """
    H, W = canvas.shape
    c = rotation.apply(centres_A)[:, :2] / pixel_size_A  # (G, 2): x, y offsets in pixels
    s = sigmas_A / pixel_size_A
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
