"""Fourier cropping keeps low frequencies exactly, on the FrameMapping's pixel centres."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.fourier import fourier_resample, gaussian_lowpass, scaled_shape


def _wave(H, W, kx, ky, amp=3.0, offset=1.0, phase=0.3):
    def f(x, y):
        return amp * np.cos(2 * np.pi * (kx * x / W + ky * y / H) + phase) + offset
    return f


@pytest.mark.parametrize(
    ("H", "W", "h", "w"),
    [(300, 400, 150, 200), (301, 400, 151, 200), (300, 401, 100, 133), (64, 64, 64, 21), (99, 80, 33, 80)],
)
def test_low_frequency_sinusoid_survives_with_amplitude_and_position(H, W, h, w):
    f = _wave(H, W, kx=5, ky=3)
    y, x = np.mgrid[:H, :W]
    out = fourier_resample(f(x, y).astype(np.float32), (h, w))
    assert out.shape == (h, w) and out.dtype == np.float32
    # Values equal the wave sampled at the mapping's pixel centres: amplitude, mean and position.
    m = FrameMapping("m", "m.mrc", (H, W), (h, w))
    yy, xx = np.mgrid[:h, :w]
    xo, yo = m.to_original(xx, yy)
    np.testing.assert_allclose(out, f(xo, yo), atol=1e-4)
    assert out.mean() == pytest.approx(1.0, abs=1e-4)
    assert (out.max() - out.min()) / 2 == pytest.approx(3.0, rel=0.02)


def test_frequencies_above_new_nyquist_are_removed():
    H = W = 128
    y, x = np.mgrid[:H, :W]
    high = np.cos(2 * np.pi * 40 * x / W)  # 40 cycles: above the Nyquist of a 64-pixel image (32)
    out = fourier_resample(high.astype(np.float32), (64, 64))
    assert np.abs(out).max() < 1e-5  # no aliasing onto 64 - 40 = 24 cycles


@settings(max_examples=25, deadline=None)
@given(H=st.integers(8, 70), W=st.integers(8, 70), fh=st.floats(0.2, 1.0), fw=st.floats(0.2, 1.0))
def test_mean_preserved_any_sizes(H, W, fh, fw):
    h, w = max(1, int(H * fh)), max(1, int(W * fw))
    data = np.random.default_rng(H * 100 + W).standard_normal((H, W)).astype(np.float32) + 5
    out = fourier_resample(data, (h, w))
    assert out.shape == (h, w)
    assert out.mean() == pytest.approx(data.mean(), abs=1e-4)


def test_scaled_shape_keeps_aspect_ratio_k3():
    assert scaled_shape((4092, 5760), 5.625) == (727, 1024)
    assert scaled_shape((5760, 4092), 5.625) == (1024, 727)
    assert scaled_shape((4096, 4096), 4.0) == (1024, 1024)
    h, w = scaled_shape((4092, 5760), 5.625)
    assert abs(w / h - 5760 / 4092) < 1 / 727
    assert scaled_shape((500, 700), 0.5) == (1000, 1400)  # factors below 1 enlarge
    with pytest.raises(ValueError):
        scaled_shape((10, 10), 0.0)
    with pytest.raises(ValueError):
        fourier_resample(np.zeros((10, 10)), (0, 10))


@pytest.mark.parametrize(("H", "W", "h", "w"), [(64, 80, 128, 160), (63, 81, 100, 130), (50, 50, 50, 77)])
def test_upsampling_is_band_limited_interpolation_on_the_mapping_centres(H, W, h, w):
    # Fourier padding: a low-frequency wave comes out as the same wave sampled at the finer
    # pixels' centres (what the FrameMapping says), with its mean and amplitude.
    f = _wave(H, W, kx=4, ky=3)
    y, x = np.mgrid[:H, :W]
    out = fourier_resample(f(x, y).astype(np.float32), (h, w))
    assert out.shape == (h, w)
    m = FrameMapping("m", "m.mrc", (H, W), (h, w))
    yy, xx = np.mgrid[:h, :w]
    np.testing.assert_allclose(out, f(*m.to_original(xx, yy)), atol=1e-4)


def test_non_integer_binning_of_a_k3_frame_by_9_8():
    H, W = 4092, 5760
    h, w = scaled_shape((H, W), 9.8)
    f = _wave(H, W, kx=9, ky=5)
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    out = fourier_resample(f(x, y).astype(np.float32), (h, w))
    m = FrameMapping("k3", "k3.mrc", (H, W), (h, w))
    yy, xx = np.mgrid[:h, :w]
    np.testing.assert_allclose(out, f(*m.to_original(xx, yy)), atol=1e-3)


def test_fourier_crop_k3_frame_keeps_aspect_ratio():
    H, W = 4092, 5760
    f = _wave(H, W, kx=12, ky=7)
    y = np.arange(H, dtype=np.float32)[:, None]
    x = np.arange(W, dtype=np.float32)[None, :]
    out = fourier_resample(f(x, y).astype(np.float32), scaled_shape((H, W), 5.625))
    assert out.shape == (727, 1024)
    m = FrameMapping("k3", "k3.mrc", (H, W), (727, 1024))
    yy, xx = np.mgrid[:727, :1024]
    np.testing.assert_allclose(out, f(*m.to_original(xx, yy)), atol=1e-3)


def test_gaussian_lowpass_half_amplitude_at_resolution():
    n = 256
    y, x = np.mgrid[:n, :n]
    px = 2.0  # A/pixel; 32 cycles over 256 px = 1/8 per pixel = 1/16 per Angstrom
    wave = np.cos(2 * np.pi * 32 * x / n).astype(np.float32)
    out = gaussian_lowpass(wave, (px, px), resolution_A=16.0)
    assert np.abs(out).max() == pytest.approx(0.5, rel=1e-3)
    out = gaussian_lowpass(wave, (px, px), resolution_A=32.0)  # f * res = 2: 2**-4
    assert np.abs(out).max() == pytest.approx(1 / 16, rel=1e-3)
    dc = gaussian_lowpass(np.full((n, n), 2.0, np.float32), (px, px), 16.0)
    np.testing.assert_allclose(dc, 2.0, rtol=1e-5)
