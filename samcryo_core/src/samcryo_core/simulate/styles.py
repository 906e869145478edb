"""How a micrograph is exported: the noise and file style users actually hand to a picker.

Why styles: the same field reaches a picker as a raw counting-mode MRC (integer electron counts,
Poisson noise), as a contrast-normalized 8-bit PNG or JPG (CryoPPP ships these: the grey window
spans the whole image's range, so particles differ from the background by only a few grey
levels, and JPG adds block artefacts), or as a denoised micrograph (smooth, low noise, soft
edges). A backbone pre-trained on one of them sees the others as a new domain.

Every style starts from the noise-free intensity ``clean`` (background about 1.0) and the
background noise standard deviation ``sigma = 1 / sqrt(dose * pixel_size^2)`` of
:mod:`samcryo_core.simulate.micrograph`, so the SNR keeps its meaning:

- ``float``: ``clean + sigma * sqrt(clean) * n``, ``n`` unit Gaussian noise with the detector's
  coloured spectrum (:func:`~samcryo_core.simulate.noise.coloured_noise`); float32.
- ``counts``: Poisson electron counts with mean ``clean * dose * pixel_size^2`` (white noise, as
  a counting detector's summed frames); float32 holding integers.
- ``png8``: the ``float`` image mapped to 0-255 over ``median +- png_window_sigma`` noise
  standard deviations and rounded; uint8.
- ``jpg``: ``png8`` then JPEG-compressed at ``jpeg_quality`` and decoded; uint8.
- ``denoised``: ``clean`` plus the coloured noise divided by ``denoise_factor``, smoothed by a
  Gaussian of 1 pixel (a denoiser's output keeps little noise and blurs the finest detail);
  float32.
"""

from __future__ import annotations

import io

import numpy as np
from scipy import ndimage

from samcryo_core.simulate.noise import coloured_noise

STYLES = ("float", "counts", "png8", "jpg", "denoised")
#: File suffix each style is written with by :func:`samcryo_core.simulate.dataset.simulate_dataset`.
SUFFIX = {"float": ".mrc", "counts": ".mrc", "png8": ".png", "jpg": ".jpg", "denoised": ".mrc"}
DENOISED_BLUR_PX = 1.0


def _noise(shape: tuple[int, int], rng: np.random.Generator, params) -> np.ndarray:
    return coloured_noise(
        shape, rng, low_freq_rise=params.noise_low_freq_rise, low_freq_width=params.noise_low_freq_width,
        cutoff=params.detector_cutoff,
    )


def to_8bit(image: np.ndarray, sigma: float, window_sigma: float) -> np.ndarray:
    """Map ``median +- window_sigma * sigma`` to 0-255 and round (the CryoPPP export look)."""
    centre = float(np.median(image))
    half = window_sigma * sigma
    grey = (image - centre) / (2.0 * half) * 255.0 + 127.5
    return np.clip(np.rint(grey), 0, 255).astype(np.uint8)


def jpeg_roundtrip(image8: np.ndarray, quality: int) -> np.ndarray:
    """Encode an 8-bit image as JPEG at ``quality`` and decode it again."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image8, mode="L").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8).copy()


def render_style(clean: np.ndarray, sigma: float, params, rng: np.random.Generator, style: str,
                 pixel_size_A: float) -> np.ndarray:
    """Add noise to ``clean`` and export it in ``style`` (module docstring)."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; use one of {', '.join(STYLES)}")
    shape = clean.shape
    if style == "counts":
        lam = np.maximum(clean, 0.0).astype(np.float64) * params.dose_e_per_A2 * pixel_size_A**2
        return rng.poisson(lam).astype(np.float32)
    if style == "denoised":
        noisy = clean + np.float32(sigma / params.denoise_factor) * np.sqrt(np.maximum(clean, 0.01)) \
            * _noise(shape, rng, params)
        return ndimage.gaussian_filter(noisy.astype(np.float32), DENOISED_BLUR_PX)
    image = clean + np.float32(sigma) * np.sqrt(np.maximum(clean, 0.01)) * _noise(shape, rng, params)
    image = image.astype(np.float32, copy=False)
    if style == "float":
        return image
    image8 = to_8bit(image, sigma, params.png_window_sigma)
    return image8 if style == "png8" else jpeg_roundtrip(image8, params.jpeg_quality)
