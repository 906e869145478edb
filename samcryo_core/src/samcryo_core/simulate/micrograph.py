"""Render a scene into a micrograph with its ground truth; simulate one micrograph.

Image formation (intensity in units of the unscattered beam, background about 1.0), on a grid of
pixel size ``px`` (the scene's own, or any other: :func:`render_scene`):

    P      = sum of projected particle densities (positive)                 particles.py
    S      = irfft( CTF_relion * detector * rfft(P) )   (RELION sign: S > 0 for protein
             at low frequency, see ctf.py)
    c      = scale so that var(c * S over the particle discs) = snr_px * sigma^2
    J      = irfft( CTF_relion * detector * rfft(junk phase) )              junk.py
    clean  = illumination * ice transmission * (1 - c * S - J) * (1 - junk amplitude)
    image  = style(clean, sigma)                                            styles.py
    sigma  = 1 / sqrt(dose_e_per_A2 * px^2)

``snr_px = snr * (px / params.pixel_size_A)^2``: ``params.snr`` is the per-pixel SNR at the
scene's own pixel size, and rendering the same exposure at a coarser pixel keeps the SNR per
physical area (binning by f adds f^2 pixels' signal and noise). Protein therefore appears dark,
as in a raw micrograph. Truth coordinates are the particles' centres of mass, which the
z-projection keeps, in the rendered frame (x = column, y = row, 0-based: the density peak of a
particle at (x, y) is at ``image[y, x]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.fft
from scipy.spatial.transform import Rotation

from samcryo_core.simulate.ctf import relion_ctf
from samcryo_core.simulate.junk import JunkLayout, empty_layout, render_junk
from samcryo_core.simulate.noise import detector_power, frequency_radius
from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.particles import ParticleType, add_projection, random_rotations
from samcryo_core.simulate.scene import Scene, make_scene, particle_types
from samcryo_core.simulate.styles import render_style

__all__ = ["SimulatedMicrograph", "disc_mask", "particle_types", "render_scene", "simulate_micrograph"]


@dataclass
class SimulatedMicrograph:
    """A simulated micrograph and its truth.

    Attributes:
        image: ``(H, W)`` micrograph in the params' ``style``: float32 intensity (particles
            dark on a background of about 1.0; electron counts for ``counts``) or uint8 for
            ``png8``/``jpg``.
        x, y: particle centres, float64, in this image's frame (x = column, y = row, 0-based).
        diameter_px: nominal particle diameters in pixels.
        class_id: particle type (1-based, the order of ``params.diameters_A``).
        junk_mask: ``(H, W)`` bool, True on junk (carbon, ice, ethane, holes, crystals,
            aggregates, filaments; never a particle).
        params: the parameters used.
        seed: the integer seed used, if the micrograph was made from one (else ``None``).
        defocus_u_um, defocus_v_um, astigmatism_angle_deg: the drawn CTF.
        noise_std: background noise std (``sigma`` above).
        signal_scale: the factor ``c`` that set the requested SNR (0 with no particles).
        has_carbon, n_ice, n_aggregates: the drawn junk (``junk_counts`` has every kind).
        clean: noise-free image (only with ``params.keep_clean``).
        particle_signal: ``c * S``, the CTF-modulated particle signal whose variance over
            the particle discs defines the SNR (only with ``params.keep_clean``).
        particle_mask: the particle discs over which the SNR is measured.
        pixel_size_A: the pixel size it was rendered at.
        snr: the per-pixel SNR at that pixel size.
        style: the export style.
        junk_counts: number of objects of each junk kind.
        scene: the scene it was rendered from.
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
    pixel_size_A: float = 0.0
    snr: float = 0.0
    style: str = "float"
    junk_counts: dict = field(default_factory=dict)
    scene: Scene | None = None

    @property
    def defocus_um(self) -> float:
        """Mean defocus (micrometres, positive = underfocus)."""
        return 0.5 * (self.defocus_u_um + self.defocus_v_um)

    @property
    def n_particles(self) -> int:
        return int(self.x.size)

    @property
    def coverage(self) -> float:
        """Fraction of the image covered by the union of the particle discs."""
        return float(self.particle_mask.mean())

    @property
    def x_A(self) -> np.ndarray:
        """Particle x in Angstrom from the image's left edge (pixel-size independent)."""
        return (self.x + 0.5) * self.pixel_size_A

    @property
    def y_A(self) -> np.ndarray:
        """Particle y in Angstrom from the image's top edge (pixel-size independent)."""
        return (self.y + 0.5) * self.pixel_size_A


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


def _illumination(shape: tuple[int, int], strength: float, direction: float | None) -> np.ndarray | float:
    """A linear beam-intensity ramp of total relative change ``strength`` along ``direction``
    (uneven illumination)."""
    if strength <= 0 or direction is None:
        return 1.0
    H, W = shape
    yy = np.linspace(-0.5, 0.5, H, dtype=np.float32)[:, None] * (H / max(H, W))
    xx = np.linspace(-0.5, 0.5, W, dtype=np.float32)[None, :] * (W / max(H, W))
    return 1.0 + strength * (np.cos(direction) * xx + np.sin(direction) * yy)


def render_shape(scene: Scene, pixel_size_A: float) -> tuple[int, int]:
    """The image shape of ``scene`` at ``pixel_size_A`` (the field size over the pixel size)."""
    params = scene.params
    if np.isclose(pixel_size_A, params.pixel_size_A):
        return params.shape
    H_A, W_A = scene.size_A
    return max(1, int(round(H_A / pixel_size_A))), max(1, int(round(W_A / pixel_size_A)))


def render_scene(
    scene: Scene,
    rng: np.random.Generator | int | None = None,
    *,
    pixel_size_A: float | None = None,
    style: str | None = None,
) -> SimulatedMicrograph:
    """Image ``scene`` at ``pixel_size_A`` (default: its own) in ``style`` (default: its params').

    ``rng`` draws the noise (a Generator, an integer seed, or None for a fixed seed 0). The truth
    is every particle whose centre lies in the rendered image, in that image's pixels; the same
    scene at two pixel sizes gives the same centres in Angstrom (``x_A``, ``y_A``).
    """
    params = scene.params
    if isinstance(rng, np.random.Generator):
        gen = rng
    else:
        gen = np.random.default_rng(0 if rng is None else int(rng))
    px = float(params.pixel_size_A if pixel_size_A is None else pixel_size_A)
    style = params.style if style is None else style
    shape = render_shape(scene, px)
    if min(shape) < 8:
        raise ValueError(f"rendering a {scene.size_A[1]:.0f} x {scene.size_A[0]:.0f} A field at {px} A/px "
                         f"leaves {shape[1]} x {shape[0]} px")
    types = scene.types
    junk: JunkLayout = render_junk(scene.junk, shape, px) if params.junk else empty_layout(shape)

    x = scene.x_A / px - 0.5
    y = scene.y_A / px - 0.5
    inside = (x >= -0.5) & (x < shape[1] - 0.5) & (y >= -0.5) & (y < shape[0] - 0.5)
    x, y = x[inside], y[inside]
    type_idx = scene.type_index[inside]
    quats = scene.quaternions[inside]
    diam = np.array([types[i].diameter_A / px for i in type_idx], np.float64)
    canvas = np.zeros(shape, np.float32)
    for j in range(x.size):
        t = types[type_idx[j]]
        rotation = Rotation.from_quat(quats[j])
        add_projection(canvas, x[j], y[j], t.centres_A, t.sigmas_A, t.masses, rotation, px)

    # Optics and detector in Fourier space.
    du, dv = scene.defocus_u_um, scene.defocus_v_um
    transfer = relion_ctf(
        shape, px, defocus_u_A=du * 1e4, defocus_v_A=dv * 1e4, azimuth_deg=scene.astigmatism_angle_deg,
        voltage_kV=params.voltage_kV, cs_mm=params.cs_mm, amplitude_contrast=params.amplitude_contrast,
        bfactor_A2=params.bfactor_A2,
    )
    transfer *= np.sqrt(detector_power(frequency_radius(shape), params.detector_cutoff))
    sigma = 1.0 / np.sqrt(params.dose_e_per_A2 * px * px)
    snr = float(params.snr) * (px / params.pixel_size_A) ** 2
    pmask = disc_mask(shape, x, y, diam)
    signal = np.zeros(shape, np.float32)
    scale = 0.0
    if x.size:
        S = _filtered(canvas, transfer)
        var = float(S[pmask].var())
        if var > 0:
            scale = float(np.sqrt(snr * sigma**2 / var))
            signal = S * np.float32(scale)
    phase = signal
    if params.junk and (junk.phase_noise_units.any() or junk.protein.any()):
        # Aggregates and filaments are protein: same scale as the particles (or the SNR-defining
        # scale of a mean particle if this micrograph has none).
        agg_scale = scale if scale > 0 else _reference_scale(types, shape, px, transfer, sigma, snr)
        junk_phase = junk.phase_noise_units * np.float32(sigma) + junk.protein * np.float32(agg_scale)
        phase = signal + _filtered(junk_phase, transfer)

    illum = _illumination(shape, params.illumination_gradient, scene.illumination_direction)
    if scene.ice is not None:
        illum = illum * scene.ice.transmission(shape, px, scene.size_A)
    clean = (illum * (1.0 - phase) * (1.0 - junk.amplitude)).astype(np.float32)
    image = render_style(clean, float(sigma), params, gen, style, px)
    counts = {k: scene.junk.count(k) for k in ("ice", "ethane", "hole", "crystal", "aggregate", "filament")}
    return SimulatedMicrograph(
        image=image,
        x=x, y=y, diameter_px=diam,
        class_id=np.array([types[i].class_id for i in type_idx], np.int64),
        junk_mask=junk.mask,
        params=params, seed=None,
        defocus_u_um=du, defocus_v_um=dv, astigmatism_angle_deg=scene.astigmatism_angle_deg,
        noise_std=float(sigma), signal_scale=scale,
        has_carbon=scene.junk.carbon is not None, n_ice=counts["ice"], n_aggregates=counts["aggregate"],
        particle_mask=pmask,
        clean=clean if params.keep_clean else None,
        particle_signal=signal if params.keep_clean else None,
        pixel_size_A=px, snr=snr, style=style, junk_counts=counts, scene=scene,
    )


def simulate_micrograph(
    params: SimulationParams, rng: np.random.Generator | int | None = None
) -> SimulatedMicrograph:
    """Simulate one micrograph. Same ``params`` and same integer seed give the same result.

    ``rng`` may be a ``numpy.random.Generator`` (consumed), an integer seed, or ``None`` to use
    ``params.seed``. The scene (:func:`~samcryo_core.simulate.scene.make_scene`) and then the
    noise are drawn from the one generator.
    """
    seed: int | None = None
    if rng is None:
        seed = int(params.seed)
    elif not isinstance(rng, np.random.Generator):
        seed = int(rng)
    gen = np.random.default_rng(seed) if seed is not None else rng
    assert isinstance(gen, np.random.Generator)
    mic = render_scene(make_scene(params, gen), gen)
    mic.seed = seed
    return mic


def _reference_scale(types: tuple[ParticleType, ...], shape: tuple[int, int], px: float, transfer: np.ndarray,
                     sigma: float, snr: float) -> float:
    """Signal scale a lone particle of the first type would get at this CTF (for aggregates on
    micrographs without particles, so their contrast stays protein-like)."""
    canvas = np.zeros(shape, np.float32)
    t = types[0]
    cx, cy = (shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0
    rotation = random_rotations(1, np.random.default_rng(0))[0]
    add_projection(canvas, cx, cy, t.centres_A, t.sigmas_A, t.masses, rotation, px)
    S = _filtered(canvas, transfer)
    m = disc_mask(shape, np.array([cx]), np.array([cy]), np.array([t.diameter_A / px]))
    var = float(S[m].var())
    return float(np.sqrt(snr * sigma**2 / var)) if var > 0 else 0.0
