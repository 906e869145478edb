"""Contrast transfer function in RELION's convention, on an ``rfft2`` frequency grid.

Why RELION's convention and why the sign matters: a prototype simulator drew particles bright,
and the encoder pre-trained on it learned nothing useful for real data, where protein is dark.

RELION (``ctf.h``/``ctf.cpp``) computes, with DefocusU/V positive for underfocus,

    gamma = K1 * (-defocus(theta)) * k^2 + K2 * k^4 - phase_shift - K3
    CTF   = -sin(gamma) * exp(-B k^2 / 4)

with ``K1 = pi * lambda``, ``K2 = pi/2 * Cs * lambda^3``, ``K3 = atan(Q0 / sqrt(1 - Q0^2))``
and ``defocus(theta) = DefocusU cos^2(theta - azimuth) + DefocusV sin^2(theta - azimuth)``.
At k = 0 this is ``+Q0`` and the first lobe is positive. RELION applies this CTF to projections
of a *positive* density and compares them with contrast-inverted particle images (RELION wants
"white" particles; ``relion_preprocess --invert_contrast`` makes them so). The raw micrograph is
therefore the *negative* of the CTF-filtered projection: ``image = background * (1 - CTF * P)``,
so protein (positive density P) appears DARK. :func:`samcryo_core.simulate.micrograph` uses
exactly that.
"""

from __future__ import annotations

import math

import numpy as np


def electron_wavelength_A(voltage_kV: float) -> float:
    """Relativistic electron wavelength in Angstrom (the constant RELION uses)."""
    volts = voltage_kV * 1e3
    return 12.2643247 / math.sqrt(volts * (1.0 + volts * 0.978466e-6))


def rfft_frequencies(shape: tuple[int, int], pixel_size_A: float) -> tuple[np.ndarray, np.ndarray]:
    """Spatial frequencies (1/Angstrom) of an ``rfft2`` grid: ``ky`` as a column, ``kx`` as a row.

    ``kx`` runs along columns (image x), ``ky`` along rows (image y), so astigmatism angles are
    measured from the x axis as in RELION.
    """
    H, W = shape
    ky = np.fft.fftfreq(H, d=pixel_size_A).astype(np.float32)[:, None]
    kx = np.fft.rfftfreq(W, d=pixel_size_A).astype(np.float32)[None, :]
    return ky, kx


def relion_ctf(
    shape: tuple[int, int],
    pixel_size_A: float,
    *,
    defocus_u_A: float,
    defocus_v_A: float,
    azimuth_deg: float = 0.0,
    voltage_kV: float = 300.0,
    cs_mm: float = 2.7,
    amplitude_contrast: float = 0.1,
    bfactor_A2: float = 0.0,
    phase_shift_deg: float = 0.0,
) -> np.ndarray:
    """The CTF on an ``rfft2`` grid of an ``(H, W)`` image, float32 ``(H, W // 2 + 1)``.

    Positive at low frequency (``+amplitude_contrast`` at k = 0) as in RELION; multiply the
    Fourier transform of a positive projected density by it, then *subtract* the result from
    the background to get a dark-particle micrograph.
    """
    ky, kx = rfft_frequencies(shape, pixel_size_A)
    k2 = kx * kx + ky * ky
    lam = electron_wavelength_A(voltage_kV)
    K1 = math.pi * lam
    K2 = math.pi / 2.0 * (cs_mm * 1e7) * lam**3
    K3 = math.atan(amplitude_contrast / math.sqrt(1.0 - amplitude_contrast**2))
    K5 = math.radians(phase_shift_deg)
    # defocus(theta) = mean + half_diff * cos(2 (theta - azimuth)), written without atan2:
    # cos(2(t - a)) k^2 = (kx^2 - ky^2) cos 2a + 2 kx ky sin 2a.
    mean = 0.5 * (defocus_u_A + defocus_v_A)
    half = 0.5 * (defocus_u_A - defocus_v_A)
    a = math.radians(azimuth_deg)
    defocus_k2 = mean * k2 + half * ((kx * kx - ky * ky) * math.cos(2 * a) + 2.0 * kx * ky * math.sin(2 * a))
    gamma = K1 * (-defocus_k2) + K2 * k2 * k2 - K5 - K3
    ctf = -np.sin(gamma)
    if bfactor_A2:
        ctf *= np.exp(-bfactor_A2 / 4.0 * k2)
    return ctf.astype(np.float32, copy=False)
