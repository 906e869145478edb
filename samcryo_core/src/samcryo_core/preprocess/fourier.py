"""Fourier cropping: bin a micrograph to another shape without aliasing.

Cryo-EM micrographs are binned by keeping only the low spatial frequencies the smaller image can
represent (the standard in RELION / cryoSPARC "Fourier crop"): unlike pixel averaging or
interpolation this keeps the signal below the new Nyquist frequency unchanged and removes
everything above it, so high-frequency noise cannot fold back (alias) onto particle-sized
features.

The transform is done one axis at a time: first the real FFT along columns (x), of which only the
``w // 2 + 1`` lowest frequencies are kept, then the complex FFT along rows (y) of just those
columns. For a 5760 x 4092 K3 micrograph going to 1024 x 727 that skips about 7/8 of the
second-axis work compared with a full ``rfft2``.

Conventions: frequencies ``|k| < n/2`` of each output axis are kept; for an even output size the
Nyquist bin (``k = n/2``), which a real image cannot hold with both its +/- halves, is set to zero.
Amplitudes are preserved: a sinusoid of amplitude ``A`` below the new Nyquist frequency comes out
with amplitude ``A`` and the mean is unchanged.

Sample positions: a plain Fourier crop samples the image at original coordinates ``i * s``
(``s = N / n``), but :class:`~samcryo_core.frame.FrameMapping` says binned pixel ``i`` is centred on
original coordinate ``(i + 0.5) * s - 0.5``, the centre of the ``s`` pixels it replaces. The two
differ by ``(s - 1) / 2`` original pixels (2.3 px for a K3 frame binned to 1024), a systematic
shift of every pick. A phase ramp ``exp(2 pi i k d / N)`` with ``d = (s - 1) / 2`` applied to the
kept coefficients moves the samples onto the mapping's centres (exact for the band-limited
result), so image content and sidecar agree.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft


def scaled_shape(shape: tuple[int, int], factor: float) -> tuple[int, int]:
    """Shape after binning by ``factor`` original pixels per new pixel (aspect ratio kept).

    ``(round(H / factor), round(W / factor))``, at least 1 each; ``factor < 1`` enlarges. The
    exact per-axis factors ``H / h`` and ``W / w`` differ slightly after rounding, which is why
    :class:`~samcryo_core.frame.FrameMapping` keeps them separately.
    """
    if not factor > 0:
        raise ValueError(f"binning factor must be positive, got {factor}")
    H, W = int(shape[0]), int(shape[1])
    return max(1, round(H / factor)), max(1, round(W / factor))


def _phase_ramp(k: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """Factors that shift samples by ``(s - 1) / 2`` input pixels (``s = n_in / n_out``)."""
    shift = (n_in / n_out - 1.0) / 2.0
    return np.exp(2j * np.pi * k * shift / n_in).astype(np.complex64)


def _resample_columns(F: np.ndarray, W: int, w: int) -> np.ndarray:
    """rfft coefficients of ``W`` columns -> those of ``w`` columns (crop or zero-pad), re-centred."""
    if w == W:
        return F
    if w < W:
        G = F[:, : w // 2 + 1]
        G = G * _phase_ramp(np.arange(w // 2 + 1), W, w)[None, :]
        if w % 2 == 0:
            G[:, w // 2] = 0  # Nyquist of the output along x
        return G
    G = np.zeros((F.shape[0], w // 2 + 1), dtype=F.dtype)
    G[:, : W // 2 + 1] = F * _phase_ramp(np.arange(W // 2 + 1), W, w)[None, :]
    if W % 2 == 0:
        G[:, W // 2] = 0  # the input's Nyquist has no unique +/- split: drop it
    return G


def _resample_rows(F: np.ndarray, H: int, h: int) -> np.ndarray:
    """Full fft coefficients of ``H`` rows -> those of ``h`` rows (crop or zero-pad), re-centred."""
    if h < H:
        top = (h + 1) // 2
        G = np.empty((h, F.shape[1]), dtype=F.dtype)
        G[:top] = F[:top]
        if h // 2:
            G[top:] = F[H - h // 2 :]
        G *= _phase_ramp(np.rint(sfft.fftfreq(h) * h), H, h)[:, None]
        if h % 2 == 0:
            G[h // 2] = 0  # Nyquist of the output along y
        return G
    F = F * _phase_ramp(np.rint(sfft.fftfreq(H) * H), H, h)[:, None]
    if H % 2 == 0:
        F[H // 2] = 0  # the input's Nyquist has no unique +/- split: drop it
    top = (H + 1) // 2
    G = np.zeros((h, F.shape[1]), dtype=F.dtype)
    G[:top] = F[:top]
    if H // 2:
        G[h - H // 2 :] = F[H - H // 2 :]
    return G


def fourier_resample(data: np.ndarray, out_shape: tuple[int, int], workers: int | None = None) -> np.ndarray:
    """Fourier-resample a 2-D image to ``out_shape``; float32 result.

    Each axis is cropped in Fourier space when it shrinks (binning) and zero-padded when it grows
    (band-limited interpolation), so non-integer factors in either direction are exact up to the
    band limit and pixel centres land where :class:`~samcryo_core.frame.FrameMapping` says.

    Args:
        data: 2-D real image (any float or integer dtype; a memory map is read, not copied).
        out_shape: ``(rows, cols)`` wanted.
        workers: threads for scipy.fft (None = scipy's default, 1).
    """
    H, W = data.shape
    h, w = int(out_shape[0]), int(out_shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"fourier_resample cannot go from {(H, W)} to {(h, w)}")
    if (h, w) == (H, W):
        return np.array(data, dtype=np.float32)
    src = data if data.dtype in (np.float32, np.float64) else np.asarray(data, dtype=np.float32)

    F = _resample_columns(sfft.rfft(src, axis=1, workers=workers), W, w)
    if h != H:
        F = _resample_rows(sfft.fft(F, axis=0, workers=workers, overwrite_x=True), H, h)
        out = sfft.irfft2(F, s=(h, w), workers=workers, overwrite_x=True)
    else:
        out = sfft.irfft(F, n=w, axis=1, workers=workers, overwrite_x=True)
    # The forward transform sums H*W pixels, the inverse divides by h*w.
    out *= (h * w) / (H * W)
    return out.astype(np.float32, copy=False)


def gaussian_lowpass(
    data: np.ndarray, pixel_size_A: tuple[float, float], resolution_A: float, workers: int | None = None,
) -> np.ndarray:
    """Gaussian low-pass whose amplitude falls to 1/2 at spatial frequency ``1 / resolution_A``.

    Transfer function ``exp(-ln 2 * (f * resolution_A)^2)`` with ``f`` in 1/Angstrom, using the
    per-axis pixel size ``(x, y)`` so non-square binning is handled exactly.
    """
    if resolution_A <= 0:
        raise ValueError(f"low-pass resolution must be positive, got {resolution_A}")
    h, w = data.shape
    px, py = pixel_size_A
    fy = sfft.fftfreq(h, d=py)[:, None]
    fx = sfft.rfftfreq(w, d=px)[None, :]
    H = np.exp(-np.log(2.0) * ((fx**2 + fy**2) * resolution_A**2)).astype(np.float32)
    F = sfft.rfft2(np.asarray(data, dtype=np.float32), workers=workers)
    F *= H
    return sfft.irfft2(F, s=(h, w), workers=workers).astype(np.float32, copy=False)
