"""Particle shape families: random 3-D densities of a declared diameter, as sums of Gaussians.

Why families: a backbone pre-trained only on compact blobs learns "dark round spot of the right
size", and real samples are not all round: rods and flat discs change their outline with the
view, rings and symmetric assemblies show holes and repeats, membrane proteins sit in a grey
detergent belt or nanodisc that the picker must include, and real projections carry internal
structure (domains, helices). Every family here is still a sum of isotropic 3-D Gaussians, so
:func:`samcryo_core.simulate.particles.add_projection` projects any of them exactly and fast.

Common rules (what the tests check):
- the density is centred on its centre of mass (the z-projection keeps it, so the truth centre
  is the centre of the projected mass, as for the blob family);
- it is scaled so that ``max(|centre| + 1.5 sigma) = diameter / 2``: every Gaussian lies within
  the declared diameter, whichever the orientation (the picker's disc target is that diameter);
- the total mass is ``fill * (diameter / 100 A)^3``, ``fill`` the family's share of a compact
  blob's mass (a ring or a detergent belt scatters less than a solid ball of the same size), so
  mixed samples keep realistic relative contrast.

Each function takes a ``numpy.random.Generator`` and the diameter in Angstrom and returns
``(centres_A (G, 3), sigmas_A (G,), masses (G,))``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial.transform import Rotation

Density = tuple[np.ndarray, np.ndarray, np.ndarray]

#: Share of the mass the detail Gaussians carry in a blob (secondary-structure texture).
DETAIL_MASS_FRACTION = 0.5
#: Largest number of pseudo-atoms of one pseudo-atomic model (cost grows linearly with it).
MAX_PSEUDO_ATOMS = 600
#: Relative density of a detergent micelle or nanodisc lipid against protein (contrast vs ice).
BELT_DENSITY = 0.35


def points_in_ellipsoid(rng: np.random.Generator, n: int, semi_axes: np.ndarray) -> np.ndarray:
    """``n`` points uniform in an ellipsoid (direction uniform, radius ~ u^(1/3))."""
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = rng.uniform(0.0, 1.0, size=(n, 1)) ** (1.0 / 3.0)
    return v * r * np.asarray(semi_axes, np.float64)[None, :]


def finish(centres: np.ndarray, sigmas: np.ndarray, masses: np.ndarray, diameter_A: float,
           total_mass: float | None = None) -> Density:
    """Centre on the centre of mass and scale so that ``max(|c| + 1.5 s) = diameter / 2``.

    ``total_mass`` rescales the masses to that sum (None: keep them).
    """
    centres = np.asarray(centres, np.float64)
    sigmas = np.asarray(sigmas, np.float64)
    masses = np.asarray(masses, np.float64)
    centres = centres - (masses[:, None] * centres).sum(axis=0) / masses.sum()
    extent = float(np.max(np.linalg.norm(centres, axis=1) + 1.5 * sigmas))
    scale = diameter_A / 2.0 / extent
    if total_mass is not None:
        masses = masses * (total_mass / masses.sum())
    return centres * scale, sigmas * scale, masses


def _mass(diameter_A: float, fill: float) -> float:
    return fill * (diameter_A / 100.0) ** 3


def blob(
    rng: np.random.Generator,
    diameter_A: float,
    *,
    n_domains: tuple[int, int] = (4, 9),
    n_details: tuple[int, int] = (40, 100),
    flatten: float = 1.0,
    density: float = 1.0,
) -> Density:
    """Compact globular protein (the original simulator particle).

    Domains: sigma 0.2-0.3 R within an anisotropic ellipsoid (semi-axes 0.55-1 times 0.45 R);
    details: sigma 0.04-0.09 R (helix-sized for a 160 A protein) within 0.75 R, carrying half of
    the mass. ``flatten`` < 1 squashes z (aggregates lying in the ice layer).
    """
    R = diameter_A / 2.0
    axes = rng.uniform(0.55, 1.0, size=3)
    axes /= axes.max()
    axes[2] *= flatten
    nd = int(rng.integers(n_domains[0], n_domains[1] + 1))
    nt = int(rng.integers(n_details[0], n_details[1] + 1))
    c_dom = points_in_ellipsoid(rng, nd, axes * 0.45 * R)
    s_dom = rng.uniform(0.2, 0.3, size=nd) * R
    c_det = points_in_ellipsoid(rng, nt, axes * 0.75 * R)
    s_det = rng.uniform(0.04, 0.09, size=nt) * R
    m_dom = s_dom**3 / (s_dom**3).sum() * (1.0 - DETAIL_MASS_FRACTION)
    m_det = s_det**3 / (s_det**3).sum() * DETAIL_MASS_FRACTION
    masses = np.concatenate([m_dom, m_det]) * density * (diameter_A / 100.0) ** 3
    return finish(np.concatenate([c_dom, c_det]), np.concatenate([s_dom, s_det]), masses, diameter_A)


def _with_details(rng: np.random.Generator, c_dom: np.ndarray, s_dom: np.ndarray, c_det: np.ndarray,
                  s_det: np.ndarray, diameter_A: float, fill: float) -> Density:
    """Domains plus details, half of the mass each (mass ~ sigma^3 within a group)."""
    m_dom = s_dom**3 / (s_dom**3).sum() * (1.0 - DETAIL_MASS_FRACTION)
    m_det = s_det**3 / (s_det**3).sum() * DETAIL_MASS_FRACTION
    return finish(np.concatenate([c_dom, c_det]), np.concatenate([s_dom, s_det]),
                  np.concatenate([m_dom, m_det]), diameter_A, _mass(diameter_A, fill))


def elongated(rng: np.random.Generator, diameter_A: float) -> Density:
    """A rod: 3-7 domains along a gently curved axis, 2.2-4x longer than wide.

    Seen end-on it is a small round spot, side-on a bar of the full diameter: the outline a
    picker sees depends on the view.
    """
    R = diameter_A / 2.0
    width = float(rng.uniform(0.25, 0.45))  # half-width as a fraction of R
    nd = int(rng.integers(3, 8))
    t = np.linspace(-0.75, 0.75, nd) * R
    bend = rng.uniform(-0.25, 0.25) * R
    c_dom = np.stack([t, bend * (t / R) ** 2 + rng.normal(0, 0.05 * R, nd), rng.normal(0, 0.05 * R, nd)], 1)
    s_dom = rng.uniform(0.6, 0.9, size=nd) * width * R
    nt = int(rng.integers(30, 70))
    tt = rng.uniform(-0.85, 0.85, nt) * R
    c_det = np.stack([tt, bend * (tt / R) ** 2, np.zeros(nt)], 1)
    c_det[:, 1:] += points_in_ellipsoid(rng, nt, np.array([1.0, 0.8, 0.8]) * width * R)[:, 1:]
    s_det = rng.uniform(0.04, 0.08, size=nt) * R
    return _with_details(rng, c_dom, s_dom, c_det, s_det, diameter_A, fill=2.0 * width * width + 0.1)


def flat(rng: np.random.Generator, diameter_A: float) -> Density:
    """A flat disc or plate (thickness 0.25-0.45 of the diameter): round or oval face-on, a thin
    bar edge-on."""
    R = diameter_A / 2.0
    thick = float(rng.uniform(0.25, 0.45))
    aspect = float(rng.uniform(0.7, 1.0))
    nd = int(rng.integers(7, 15))
    c_dom = points_in_ellipsoid(rng, nd, np.array([0.7, 0.7 * aspect, 0.2 * thick]) * R)
    s_dom = rng.uniform(0.5, 0.7, size=nd) * thick * R
    nt = int(rng.integers(40, 90))
    c_det = points_in_ellipsoid(rng, nt, np.array([0.85, 0.85 * aspect, 0.5 * thick]) * R)
    s_det = rng.uniform(0.04, 0.08, size=nt) * R
    return _with_details(rng, c_dom, s_dom, c_det, s_det, diameter_A, fill=0.9 * thick * aspect + 0.1)


def ring(rng: np.random.Generator, diameter_A: float) -> Density:
    """A ring of 5-14 subunits around a central hole (e.g. a channel or a chaperonin top view);
    edge-on it is a bar."""
    R = diameter_A / 2.0
    n = int(rng.integers(5, 15))
    radius = float(rng.uniform(0.55, 0.7)) * R
    sub = float(rng.uniform(0.13, 0.18)) * R
    phi0 = rng.uniform(0, 2 * np.pi)
    centres, sigmas = [], []
    for k in range(n):
        a = phi0 + 2 * np.pi * k / n
        c = np.array([radius * np.cos(a), radius * np.sin(a), 0.0])
        centres.append(c[None] + points_in_ellipsoid(rng, 3, np.array([0.5, 0.5, 1.0]) * sub))
        sigmas.append(rng.uniform(0.8, 1.1, size=3) * sub)
    c_dom, s_dom = np.concatenate(centres), np.concatenate(sigmas)
    nt = int(rng.integers(30, 70))
    a = rng.uniform(0, 2 * np.pi, nt)
    rr = radius + rng.uniform(-1.2, 1.2, nt) * sub
    c_det = np.stack([rr * np.cos(a), rr * np.sin(a), rng.uniform(-1.5, 1.5, nt) * sub], 1)
    s_det = rng.uniform(0.04, 0.07, size=nt) * R
    return _with_details(rng, c_dom, s_dom, c_det, s_det, diameter_A, fill=0.35)


def symmetric(rng: np.random.Generator, diameter_A: float) -> Density:
    """A Cn (n = 2-8) or Dn assembly of one random subunit: repeats and pseudo-symmetric outlines
    (top views show n-fold patterns, side views one or two layers)."""
    n = int(rng.integers(2, 9))
    dihedral = bool(rng.uniform() < 0.4)
    d_sub = float(rng.uniform(0.4, 0.6)) * diameter_A
    c0, s0, m0 = blob(rng, d_sub, n_domains=(2, 4), n_details=(12, 30))
    rho = float(rng.uniform(0.3, 0.55)) * diameter_A / 2.0
    lift = float(rng.uniform(0.15, 0.3)) * diameter_A / 2.0 if dihedral else 0.0
    base = c0 + np.array([rho, 0.0, lift])
    parts = [Rotation.from_euler("z", 2 * np.pi * k / n).apply(base) for k in range(n)]
    if dihedral:  # the 2-fold axes perpendicular to z map z -> -z and y -> -y
        flip = Rotation.from_euler("x", np.pi)
        parts += [flip.apply(p) for p in parts]
    k = len(parts)
    fill = min(1.0, k * (d_sub / diameter_A) ** 3)  # k subunit balls in the bounding ball
    return finish(np.concatenate(parts), np.tile(s0, k), np.tile(m0, k), diameter_A, _mass(diameter_A, fill))


def membrane(rng: np.random.Generator, diameter_A: float) -> Density:
    """A membrane protein in a detergent micelle or a nanodisc: the declared diameter is the
    whole particle, belt included.

    The transmembrane domain (a solid cylinder of domains with helix rods on it, 0.4-0.6 of the
    belt's width) sits in a low-density belt (:data:`BELT_DENSITY` of protein): an oblate
    micelle, or a lipid disc with a denser scaffold-protein rim (nanodisc). Half of the proteins
    carry a soluble domain on one side, which side views show sticking out of the belt. Masses
    are density times volume, so the belt is grey and the protein dark, as in real micelles.
    """
    R = diameter_A / 2.0
    nanodisc = bool(rng.uniform() < 0.5)
    tm_r = float(rng.uniform(0.2, 0.3)) * R
    half_h = float(rng.uniform(0.25, 0.32)) * R
    tm_volume = np.pi * tm_r**2 * 2 * half_h
    # TM domain: a few domain Gaussians filling the cylinder, plus helix rods along z.
    n_dom = int(rng.integers(3, 7))
    c_dom = points_in_ellipsoid(rng, n_dom, np.array([0.5 * tm_r, 0.5 * tm_r, 0.6 * half_h]))
    s_dom = np.full(n_dom, 0.5 * tm_r)
    n_helix = int(rng.integers(4, 13))
    xy = points_in_ellipsoid(rng, n_helix, np.array([tm_r, tm_r, 0.0]))[:, :2]
    helix_sigma = 0.06 * R
    z = np.linspace(-half_h, half_h, max(3, int(2 * half_h / helix_sigma)))
    c_hel = np.concatenate([np.column_stack([np.full(z.size, x), np.full(z.size, y), z]) for x, y in xy])
    parts_c = [c_dom, c_hel]
    parts_s = [s_dom, np.full(len(c_hel), helix_sigma)]
    parts_m = [np.full(n_dom, 0.5 * tm_volume / n_dom), np.full(len(c_hel), 0.5 * tm_volume / len(c_hel))]
    protein_volume = tm_volume
    if rng.uniform() < 0.5:  # soluble domain on one side of the membrane
        d_sol = float(rng.uniform(0.5, 0.8)) * R
        cs, ss, ms = blob(rng, d_sol, n_domains=(2, 5), n_details=(15, 40))
        parts_c.append(cs + np.array([0.0, 0.0, half_h + 0.4 * d_sol]))
        parts_s.append(ss)
        sol_volume = 0.5 * np.pi / 6.0 * d_sol**3
        parts_m.append(ms / ms.sum() * sol_volume)
        protein_volume += sol_volume
    # Belt: Gaussians filling an annulus around the TM domain, flattened to the membrane slab.
    n_belt = int(rng.integers(60, 110))
    belt_out = float(rng.uniform(0.75, 0.85)) * R
    a = rng.uniform(0, 2 * np.pi, n_belt)
    rr = np.sqrt(rng.uniform((tm_r / belt_out) ** 2, 1.0, n_belt)) * belt_out
    zz = rng.uniform(-0.6, 0.6, n_belt) * half_h
    parts_c.append(np.column_stack([rr * np.cos(a), rr * np.sin(a), zz]))
    parts_s.append(np.full(n_belt, 0.4 * half_h))
    belt_volume = np.pi * (belt_out**2 - tm_r**2) * 2 * half_h
    parts_m.append(np.full(n_belt, BELT_DENSITY * belt_volume / n_belt))
    if nanodisc:  # scaffold protein: a dense thin rim around the lipid disc
        n_rim = 90
        a = np.linspace(0, 2 * np.pi, n_rim, endpoint=False)
        parts_c.append(np.column_stack([belt_out * np.cos(a), belt_out * np.sin(a), np.zeros(n_rim)]))
        parts_s.append(np.full(n_rim, 0.05 * R))
        parts_m.append(np.full(n_rim, 0.25 * protein_volume / n_rim))
    return finish(np.concatenate(parts_c), np.concatenate(parts_s), np.concatenate(parts_m), diameter_A,
                  _mass(diameter_A, 0.45))


def pseudoatomic(rng: np.random.Generator, diameter_A: float) -> Density:
    """A random pseudo-atomic model: beads along a chain folded into 2-6 domains of helices and
    strands, so a projection carries internal structure (rods, sheets, domain boundaries).

    Each bead stands for a few residues (about one helical turn); beads are spaced 1.2-1.5 sigma
    apart so a helix projects as a continuous rod. At most :data:`MAX_PSEUDO_ATOMS` beads: bigger
    proteins get coarser beads.
    """
    R = diameter_A / 2.0
    volume = 0.55 * 4.0 / 3.0 * np.pi * R**3  # packed protein in a 55 %-filled sphere
    bead_volume = max(450.0, volume / MAX_PSEUDO_ATOMS)  # ~ 4 residues of 133 A^3 at least
    sigma = 0.5 * bead_volume ** (1.0 / 3.0)
    n_beads = int(min(MAX_PSEUDO_ATOMS, volume / bead_volume))
    axes = rng.uniform(0.6, 1.0, size=3)
    axes /= axes.max()
    n_dom = int(rng.integers(2, 7))
    dom_c = points_in_ellipsoid(rng, n_dom, axes * 0.5 * R)
    dom_r = 0.55 * R * (1.0 / n_dom) ** (1.0 / 3.0) + 2 * sigma
    step = 1.3 * sigma
    beads: list[np.ndarray] = []
    per_dom = max(4, n_beads // n_dom)
    for d in range(n_dom):
        have = 0
        while have < per_dom:
            # one secondary-structure element: a straight helix (rod) or a strand pair (sheet)
            length = int(rng.integers(4, 12))
            start = dom_c[d] + points_in_ellipsoid(rng, 1, np.full(3, dom_r))[0]
            direction = rng.normal(size=3)
            direction /= np.linalg.norm(direction)
            t = np.arange(length)[:, None] * step
            rod = start[None] + t * direction[None]
            if rng.uniform() < 0.35:  # a sheet: two or three strands side by side
                side = np.cross(direction, rng.normal(size=3))
                side /= np.linalg.norm(side)
                strands = int(rng.integers(2, 4))
                rod = np.concatenate([rod + k * 1.6 * sigma * side[None] for k in range(strands)])
            # keep the element inside its domain (pull the far end back towards the centre)
            offset = rod - dom_c[d][None]
            norm = np.linalg.norm(offset, axis=1, keepdims=True)
            rod = dom_c[d][None] + offset * np.minimum(1.0, dom_r / np.maximum(norm, 1e-9))
            beads.append(rod)
            have += len(rod)
    centres = np.concatenate(beads)[:n_beads] * axes[None] / axes.mean()
    sigmas = np.full(len(centres), sigma)
    return finish(centres, sigmas, np.ones(len(centres)), diameter_A, _mass(diameter_A, 0.8))


#: Every family, by name (the order is fixed: it enters shape seeds).
FAMILIES: dict[str, Callable[[np.random.Generator, float], Density]] = {
    "blob": blob,
    "elongated": elongated,
    "flat": flat,
    "ring": ring,
    "symmetric": symmetric,
    "membrane": membrane,
    "pseudoatomic": pseudoatomic,
}


def make_density(family: str, rng: np.random.Generator, diameter_A: float) -> Density:
    """A random density of ``family`` (one of :data:`FAMILIES`) and ``diameter_A``."""
    try:
        fn = FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown shape family {family!r}; use one of {', '.join(FAMILIES)}") from None
    return fn(rng, float(diameter_A))
