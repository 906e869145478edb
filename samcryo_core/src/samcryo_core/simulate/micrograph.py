"""Simulate one micrograph with its ground truth.

Image formation (intensity in units of the unscattered beam, background about 1.0):

    P      = sum of projected particle densities (positive)                 particles.py
    S      = irfft( CTF_relion * detector * rfft(P) )   (RELION sign: S > 0 for protein
             at low frequency, see ctf.py)
    c      = scale so that var(c * S over the particle discs) = snr * sigma^2
    J      = irfft( CTF_relion * detector * rfft(junk phase) )              junk.py
    clean  = illumination * (1 - c * S - J) * (1 - junk amplitude)
    image  = clean + sigma * sqrt(clean) * n,   n: unit coloured noise       noise.py
    sigma  = 1 / sqrt(dose_e_per_A2 * pixel_size_A^2)

Protein therefore appears dark, as in a raw micrograph. Truth coordinates are the particles'
centres of mass, which the z-projection keeps, in the original frame (x = column, y = row,
0-based: the density peak of a particle at (x, y) is at ``image[y, x]``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import scipy.fft

from samcryo_core.simulate.ctf import relion_ctf
from samcryo_core.simulate.junk import JunkLayout, empty_layout, make_junk
from samcryo_core.simulate.noise import coloured_noise, detector_power, frequency_radius
from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import ParticleType, add_projection, make_particle_type, random_rotations
from samcryo_core.simulate.placement import place_particles


@dataclass
class SimulatedMicrograph:
    """A simulated micrograph and its truth.

    Attributes:
        image: ``(H, W)`` float32 micrograph, particles dark on a background of about 1.0.
        x, y: particle centres, float64, original frame (x = column, y = row, 0-based).
        diameter_px: nominal particle diameters in pixels.
        class_id: particle type (1-based, the order of ``params.diameters_A``).
        junk_mask: ``(H, W)`` bool, True on carbon, ice and aggregates (never a particle).
        params: the parameters used.
        seed: the integer seed used, if the micrograph was made from one (else ``None``).
        defocus_u_um, defocus_v_um, astigmatism_angle_deg: the drawn CTF.
        noise_std: background noise std (``sigma`` above).
        signal_scale: the factor ``c`` that set the requested SNR (0 with no particles).
        has_carbon, n_ice, n_aggregates: the drawn junk.
        clean: noise-free image (only with ``params.keep_clean``).
        particle_signal: ``c * S``, the CTF-modulated particle signal whose variance over
            the particle discs defines the SNR (only with ``params.keep_clean``).
        particle_mask: the particle discs over which the SNR is measured.
    """

    image: np.ndarray
    x: np.ndarray
    y: np.ndarray
    diameter_px: np.ndarray
    class_id: np.ndarray
    junk_mask: np.ndarray
    params: SimulationParams
    seed: int | None
    defocus_u_um: float
    defocus_v_um: float
    astigmatism_angle_deg: float
    noise_std: float
    signal_scale: float
    has_carbon: bool
    n_ice: int
    n_aggregates: int
    particle_mask: np.ndarray
    clean: np.ndarray | None = None
    particle_signal: np.ndarray | None = None

    @property
    def defocus_um(self) -> float:
        """Mean defocus (micrometres, positive = underfocus)."""
        return 0.5 * (self.defocus_u_um + self.defocus_v_um)

    @property
    def n_particles(self) -> int:
        return int(self.x.size)


@functools.lru_cache(maxsize=32)
def particle_types(diameters_A: tuple[float, ...], type_seed: int) -> tuple[ParticleType, ...]:
    """The particle types of a parameter set (cached: every micrograph reuses them)."""
    return tuple(make_particle_type(d, type_seed, class_id=i + 1) for i, d in enumerate(diameters_A))


def disc_mask(shape: tuple[int, int], x: np.ndarray, y: np.ndarray, diameters: np.ndarray) -> np.ndarray:
    """Union of discs (diameter in px) at ``(x, y)`` (column, row)."""
    H, W = shape
    mask = np.zeros(shape, bool)
    for cx, cy, d in zip(x, y, diameters, strict=True):
        r = 0.5 * d
        x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)) + 1, W)
        y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)) + 1, H)
        if x0 >= x1 or y0 >= y1:
            continue
        xx = np.arange(x0, x1)[None, :] - cx
        yy = np.arange(y0, y1)[:, None] - cy
        mask[y0:y1, x0:x1] |= xx * xx + yy * yy <= r * r
    return mask


def _filtered(canvas: np.ndarray, transfer: np.ndarray) -> np.ndarray:
    return scipy.fft.irfft2(scipy.fft.rfft2(canvas) * transfer, s=canvas.shape).astype(np.float32, copy=False)


def _illumination(shape: tuple[int, int], strength: float, rng: np.random.Generator) -> np.ndarray | float:
    """A linear beam-intensity ramp of total relative change ``strength`` along a random
    direction (uneven illumination / ice thickness gradient)."""
    if strength <= 0:
        return 1.0
    H, W = shape
    phi = rng.uniform(0, 2 * np.pi)
    yy = np.linspace(-0.5, 0.5, H, dtype=np.float32)[:, None] * (H / max(H, W))
    xx = np.linspace(-0.5, 0.5, W, dtype=np.float32)[None, :] * (W / max(H, W))
    return 1.0 + strength * (np.cos(phi) * xx + np.sin(phi) * yy)


def simulate_micrograph(
    params: SimulationParams, rng: np.random.Generator | int | None = None
) -> SimulatedMicrograph:
    """Simulate one micrograph. Same ``params`` and same integer seed give the same result.

    ``rng`` may be a ``numpy.random.Generator`` (consumed), an integer seed, or ``None`` to use
    ``params.seed``.
    """
    seed: int | None = None
    if rng is None:
        seed = int(params.seed)
    elif not isinstance(rng, np.random.Generator):
        seed = int(rng)
    gen = np.random.default_rng(seed) if seed is not None else rng
    assert isinstance(gen, np.random.Generator)
    shape = params.shape
    px = params.pixel_size_A
    types = particle_types(params.diameters_A, params.type_seed)

    # Optics of this micrograph (RELION: DefocusU/V positive for underfocus, angle from x).
    defocus = float(gen.uniform(*params.defocus_um))
    astig = float(gen.uniform(0.0, params.astigmatism_um))
    angle = float(gen.uniform(0.0, 180.0))
    du, dv = defocus + 0.5 * astig, defocus - 0.5 * astig

    junk: JunkLayout = make_junk(params, gen) if params.junk else empty_layout(shape)

    # Particles: types, positions, orientations.
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
        forbidden=junk.forbidden if junk.forbidden.any() else None,
        junk_clearance_px=params.junk_clearance_factor * max(params.diameters_px),
    )
    type_idx, diam = type_idx[kept], diam[kept]
    rotations = random_rotations(len(kept), gen)
    canvas = np.zeros(shape, np.float32)
    for j in range(len(kept)):
        t = types[type_idx[j]]
        add_projection(canvas, x[j], y[j], t.centres_A, t.sigmas_A, t.masses, rotations[j], px)

    # Optics and detector in Fourier space.
    transfer = relion_ctf(
        shape, px, defocus_u_A=du * 1e4, defocus_v_A=dv * 1e4, azimuth_deg=angle,
        voltage_kV=params.voltage_kV, cs_mm=params.cs_mm, amplitude_contrast=params.amplitude_contrast,
        bfactor_A2=params.bfactor_A2,
    )
    transfer *= np.sqrt(detector_power(frequency_radius(shape), params.detector_cutoff))
    sigma = 1.0 / np.sqrt(params.dose_e_per_A2 * px * px)
    pmask = disc_mask(shape, x, y, diam)
    signal = np.zeros(shape, np.float32)
    scale = 0.0
    if len(kept):
        S = _filtered(canvas, transfer)
        var = float(S[pmask].var())
        if var > 0:
            scale = float(np.sqrt(params.snr * sigma**2 / var))
            signal = S * np.float32(scale)
    phase = signal
    if params.junk and (junk.phase_noise_units.any() or junk.protein.any()):
        # Aggregates are protein: same scale as the particles (or the SNR-defining scale of a
        # mean particle if this micrograph has none).
        agg_scale = scale if scale > 0 else _reference_scale(params, types, transfer, sigma)
        junk_phase = junk.phase_noise_units * np.float32(sigma) + junk.protein * np.float32(agg_scale)
        phase = signal + _filtered(junk_phase, transfer)

    illum = _illumination(shape, params.illumination_gradient, gen)
    clean = (illum * (1.0 - phase) * (1.0 - junk.amplitude)).astype(np.float32)
    noise = coloured_noise(
        shape, gen, low_freq_rise=params.noise_low_freq_rise, low_freq_width=params.noise_low_freq_width,
        cutoff=params.detector_cutoff,
    )
    image = clean + np.float32(sigma) * np.sqrt(np.maximum(clean, 0.01)) * noise

    return SimulatedMicrograph(
        image=image.astype(np.float32, copy=False),
        x=x, y=y, diameter_px=diam,
        class_id=np.array([types[i].class_id for i in type_idx], np.int64),
        junk_mask=junk.mask,
        params=params, seed=seed,
        defocus_u_um=du, defocus_v_um=dv, astigmatism_angle_deg=angle,
        noise_std=float(sigma), signal_scale=scale,
        has_carbon=junk.has_carbon, n_ice=junk.n_ice, n_aggregates=junk.n_aggregates,
        particle_mask=pmask,
        clean=clean if params.keep_clean else None,
        particle_signal=signal if params.keep_clean else None,
    )


def _reference_scale(params: SimulationParams, types: tuple[ParticleType, ...], transfer: np.ndarray,
                     sigma: float) -> float:
    """Signal scale a lone particle of the first type would get at this CTF (for aggregates on
    micrographs without particles, so their contrast stays protein-like)."""
    shape = params.shape
    canvas = np.zeros(shape, np.float32)
    t = types[0]
    cx, cy = (shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0
    rotation = random_rotations(1, np.random.default_rng(0))[0]
    add_projection(canvas, cx, cy, t.centres_A, t.sigmas_A, t.masses, rotation, params.pixel_size_A)
    S = _filtered(canvas, transfer)
    m = disc_mask(shape, np.array([cx]), np.array([cy]), np.array([t.diameter_A / params.pixel_size_A]))
    var = float(S[m].var())
    return float(np.sqrt(params.snr * sigma**2 / var)) if var > 0 else 0.0
