"""Fourier cropping: bin a micrograph to a smaller shape without aliasing.

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


def binned_shape(shape: tuple[int, int], model_size: int) -> tuple[int, int]:
    """Shape after binning so that the longer side becomes ``model_size`` (aspect ratio kept).

    ``s = max(H, W) / model_size``; the result is ``(round(H / s), round(W / s))``. An image whose
    longer side is already ``<= model_size`` is not upsampled: its shape is returned unchanged.
    """
    H, W = int(shape[0]), int(shape[1])
    if model_size <= 0:
        raise ValueError(f"model_size must be positive, got {model_size}")
    if max(H, W) <= model_size:
        return H, W
    s = max(H, W) / model_size
    return max(1, min(model_size, round(H / s))), max(1, min(model_size, round(W / s)))


def _phase_ramp(k: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """Factors that shift samples by ``(s - 1) / 2`` input pixels (``s = n_in / n_out``)."""
    shift = (n_in / n_out - 1.0) / 2.0
    return np.exp(2j * np.pi * k * shift / n_in).astype(np.complex64)


def fourier_crop(data: np.ndarray, out_shape: tuple[int, int], workers: int | None = None) -> np.ndarray:
    """Fourier-crop a 2-D image to ``out_shape`` (each side <= the input's); float32 result.

    Args:
        data: 2-D real image (any float or integer dtype; a memory map is read, not copied).
        out_shape: ``(rows, cols)`` wanted.
        workers: threads for scipy.fft (None = scipy's default, 1).
    """
    H, W = data.shape
    h, w = int(out_shape[0]), int(out_shape[1])
    if h > H or w > W or h < 1 or w < 1:
        raise ValueError(f"fourier_crop cannot go from {(H, W)} to {(h, w)} (only crop)")
    if (h, w) == (H, W):
        return np.array(data, dtype=np.float32)
    src = data if data.dtype in (np.float32, np.float64) else np.asarray(data, dtype=np.float32)

    # Columns (x): keep the w // 2 + 1 non-negative frequencies.
    F = sfft.rfft(src, axis=1, workers=workers)[:, : w // 2 + 1]
    if w < W:
        F *= _phase_ramp(np.arange(w // 2 + 1), W, w)[None, :]
        if w % 2 == 0:
            F[:, w // 2] = 0  # Nyquist of the output along x
    # Rows (y): only if they shrink; keep frequencies 0..ceil(h/2)-1 and -(h//2)..-1.
    if h < H:
        F = sfft.fft(F, axis=0, workers=workers, overwrite_x=True)
        top = (h + 1) // 2
        G = np.empty((h, F.shape[1]), dtype=F.dtype)
        G[:top] = F[:top]
        if h // 2:
            G[top:] = F[H - h // 2 :]
        G *= _phase_ramp(np.rint(sfft.fftfreq(h) * h), H, h)[:, None]
        if h % 2 == 0:
            G[h // 2] = 0  # Nyquist of the output along y
        out = sfft.irfft2(G, s=(h, w), workers=workers, overwrite_x=True)
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
