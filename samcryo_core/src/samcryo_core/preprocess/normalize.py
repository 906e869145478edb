"""Turn any micrograph into the square, contrast-normalized model input plus its frame mapping.

Training, inference and the demo all call :func:`normalize_micrograph`, so a labelled PNG and a
facility MRC go through identical preprocessing:

1. Fourier-crop (:mod:`~samcryo_core.preprocess.fourier`) so the longer side becomes
   ``model_size`` with the aspect ratio kept: ``s = max(H, W) / model_size``, binned shape
   ``(round(H / s), round(W / s))``. Rounding makes the x and y factors differ slightly on
   non-square frames (5760 x 4092 -> 1024 x 727), so the :class:`~samcryo_core.frame.FrameMapping`
   stores the exact per-axis scales ``W / w`` and ``H / h``. Images whose longer side is already
   ``<= model_size`` are *not* upsampled (that would invent detail and change the apparent particle
   size): they are only padded, with scale 1.
2. Optional Gaussian low-pass at ``lowpass_A`` Angstrom (needs the pixel size).
3. Percentile clipping and standardization over the content (:mod:`~samcryo_core.preprocess.contrast`).
4. Centered padding to ``model_size`` x ``model_size`` with ``pad_value`` (default 0, which after
   standardization is the micrograph mean, so padding carries no edge the model could pick on).
   ``pad_y = (model_size - h) // 2`` rows above, ``pad_x = (model_size - w) // 2`` columns left.
"""

from __future__ import annotations

import numpy as np

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.contrast import DEFAULT_CLIP_PERCENTILES, robust_standardize
from samcryo_core.preprocess.fourier import binned_shape, fourier_crop, gaussian_lowpass


def normalize_micrograph(
    data: np.ndarray,
    model_size: int,
    *,
    name: str,
    source: str,
    pixel_size_A: float | None = None,
    pixel_size_source: str | None = None,
    clip_percentiles: tuple[float, float] = DEFAULT_CLIP_PERCENTILES,
    lowpass_A: float | None = None,
    pad_value: float = 0.0,
    workers: int | None = None,
) -> tuple[np.ndarray, FrameMapping]:
    """Bin, filter, standardize and pad one micrograph.

    Args:
        data: 2-D image ``[rows, cols]`` in the original frame (e.g. ``Micrograph.data``).
        model_size: side of the square output.
        name: micrograph name (goes into the sidecar).
        source: original file path (goes into the sidecar).
        pixel_size_A: original pixel size, needed only for ``lowpass_A``; recorded in the sidecar.
        pixel_size_source: where the pixel size came from (``header``/``star``/``config``...).
        clip_percentiles: ``(lo, hi)`` percentiles for clipping before standardization.
        lowpass_A: Gaussian low-pass resolution in Angstrom (amplitude 1/2 there), or None.
        pad_value: value of padding pixels in standardized units.
        workers: scipy.fft threads (None = 1).

    Returns:
        ``(image, mapping)``: float32 ``[model_size, model_size]`` and its FrameMapping.

    Raises:
        InputError: low-pass requested without a pixel size, or no contrast after clipping.
    """
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise InputError(source, f"expected a 2-D micrograph, got shape {arr.shape}",
                         "read it with samcryo_core.io.micrograph.read_micrograph")
    H, W = int(arr.shape[0]), int(arr.shape[1])
    h, w = binned_shape((H, W), model_size)
    img = fourier_crop(arr, (h, w), workers=workers)

    if lowpass_A is not None:
        if pixel_size_A is None:
            raise InputError(source, f"low-pass at {lowpass_A} A needs the pixel size, which is unknown",
                             "set pixel_size_A in the config or drop the low-pass")
        binned_px = (pixel_size_A * W / w, pixel_size_A * H / h)
        img = gaussian_lowpass(img, binned_px, float(lowpass_A), workers=workers)

    try:
        img, stats = robust_standardize(img, clip_percentiles)
    except ValueError as exc:
        raise InputError(source, str(exc), "leave this micrograph out (it holds no usable image)") from exc

    pad_y = (model_size - h) // 2
    pad_x = (model_size - w) // 2
    out = np.full((model_size, model_size), pad_value, dtype=np.float32)
    out[pad_y : pad_y + h, pad_x : pad_x + w] = img

    mapping = FrameMapping(
        micrograph=name,
        source=str(source),
        original_shape=(H, W),
        binned_shape=(h, w),
        model_size=int(model_size),
        pad_y=pad_y,
        pad_x=pad_x,
        pixel_size_A=None if pixel_size_A is None else float(pixel_size_A),
        pixel_size_source=pixel_size_source,
        extra={
            "binning": "fourier_crop",
            "clip_percentiles": [float(clip_percentiles[0]), float(clip_percentiles[1])],
            "clip_values": [stats.clip_lo, stats.clip_hi],
            "content_mean_before": stats.mean,
            "content_std_before": stats.std,
            "lowpass_A": None if lowpass_A is None else float(lowpass_A),
            "pad_value": float(pad_value),
        },
    )
    return out, mapping
