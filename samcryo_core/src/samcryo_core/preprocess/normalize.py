"""Turn any micrograph into the contrast-normalized model-scale image plus its frame mapping.

Training, inference, pre-training and the benchmarks all call :func:`normalize_micrograph`, so a
labelled PNG and a facility MRC go through identical preprocessing:

1. Fourier-resample (:mod:`~samcryo_core.preprocess.fourier`) by the micrograph's own factor
   ``f = (diameter_A / pixel_size_A) / particle_px`` (:func:`~samcryo_core.preprocess.scale.bin_factor`),
   so the particle spans the backbone's working size ``particle_px`` whatever the detector, pixel
   size or frame size. The shape ``(round(H / f), round(W / f))`` keeps the aspect ratio; no
   padding (``segment`` tiles the image). Rounding makes the x and y factors differ slightly, so
   the :class:`~samcryo_core.frame.FrameMapping` stores the exact ``W / w`` and ``H / h``.
2. Optional Gaussian low-pass at ``lowpass_A`` Angstrom.
3. Percentile clipping and standardization (:mod:`~samcryo_core.preprocess.contrast`).
"""

from __future__ import annotations

import numpy as np

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.particles.diameter import Diameter, diameter_bounds
from samcryo_core.preprocess.contrast import DEFAULT_CLIP_PERCENTILES, robust_standardize
from samcryo_core.preprocess.fourier import fourier_resample, gaussian_lowpass, scaled_shape
from samcryo_core.preprocess.scale import bin_factor


def normalize_micrograph(
    data: np.ndarray,
    *,
    name: str,
    source: str,
    pixel_size_A: float | None,
    diameter_A: Diameter,
    particle_px: float,
    pixel_size_source: str | None = None,
    clip_percentiles: tuple[float, float] = DEFAULT_CLIP_PERCENTILES,
    lowpass_A: float | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, FrameMapping]:
    """Bin to the working scale, filter and standardize one micrograph.

    Args:
        data: 2-D image ``[rows, cols]`` in the original frame (e.g. ``Micrograph.data``).
        name: micrograph name (goes into the sidecar).
        source: original file path (goes into the sidecar).
        pixel_size_A: original pixel size in Angstrom (required: it sets the binning).
        diameter_A: particle diameter in Angstrom, or ``(smallest, largest)``.
        particle_px: the backbone's working particle size in model-input pixels
            (:func:`samcryo_core.model.scale.working_scale`).
        pixel_size_source: where the pixel size came from (``header``/``star``/``config``...).
        clip_percentiles: ``(lo, hi)`` percentiles for clipping before standardization.
        lowpass_A: Gaussian low-pass resolution in Angstrom (amplitude 1/2 there), or None.
        workers: scipy.fft threads (None = 1).

    Returns:
        ``(image, mapping)``: float32 ``[h, w]`` and its FrameMapping.

    Raises:
        InputError: unknown pixel size, a binning the micrograph cannot take, or no contrast.
    """
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise InputError(source, f"expected a 2-D micrograph, got shape {arr.shape}",
                         "read it with samcryo_core.io.micrograph.read_micrograph")
    if pixel_size_A is None:
        raise InputError(source, "the pixel size is unknown, so the micrograph cannot be binned to "
                         "the model's particle size", "set inputs.pixel_size_A in the config (or "
                         "--pixel-size) to the pixel size in Angstrom")
    try:
        factor = bin_factor(pixel_size_A, diameter_A, particle_px)
    except ValueError as exc:
        raise InputError(source, str(exc), "check inputs.pixel_size_A and particle.diameter_A") from None
    H, W = int(arr.shape[0]), int(arr.shape[1])
    h, w = scaled_shape((H, W), factor)
    if min(h, w) < 8:
        raise InputError(source, f"binning {W} x {H} px by {factor:.2f} leaves {w} x {h} px: the "
                         "micrograph is smaller than a few particles", "check the pixel size and "
                         "particle.diameter_A, or leave this micrograph out")
    img = fourier_resample(arr, (h, w), workers=workers)

    if lowpass_A is not None:
        binned_px = (pixel_size_A * W / w, pixel_size_A * H / h)
        img = gaussian_lowpass(img, binned_px, float(lowpass_A), workers=workers)

    try:
        img, stats = robust_standardize(img, clip_percentiles)
    except ValueError as exc:
        raise InputError(source, str(exc), "leave this micrograph out (it holds no usable image)") from exc

    lo, hi = diameter_bounds(diameter_A)
    mapping = FrameMapping(
        micrograph=name,
        source=str(source),
        original_shape=(H, W),
        binned_shape=(h, w),
        pixel_size_A=float(pixel_size_A),
        pixel_size_source=pixel_size_source,
        extra={
            "binning": "fourier_resample",
            "bin_factor": factor,
            "particle_px": float(particle_px),
            "diameter_A": [lo, hi],
            "clip_percentiles": [float(clip_percentiles[0]), float(clip_percentiles[1])],
            "clip_values": [stats.clip_lo, stats.clip_hi],
            "content_median_before": stats.centre,
            "content_robust_std_before": stats.spread,
            "lowpass_A": None if lowpass_A is None else float(lowpass_A),
        },
    )
    return img.astype(np.float32, copy=False), mapping
