"""normalize_micrograph: square standardized output, exact frame mapping, padding rules."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_mrc import noise_image

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.contrast import robust_standardize
from samcryo_core.preprocess.normalize import normalize_micrograph


def test_output_is_square_standardized_and_padded():
    data = noise_image((300, 500)) * 50 + 1000
    img, m = normalize_micrograph(data, 128, name="m", source="m.mrc", pixel_size_A=1.0,
                                  pixel_size_source="header")
    assert img.shape == (128, 128) and img.dtype == np.float32
    assert m.binned_shape == (77, 128) and (m.pad_y, m.pad_x) == (25, 0)
    content = img[m.content_slice()]
    assert content.mean() == pytest.approx(0.0, abs=1e-5)
    assert content.std() == pytest.approx(1.0, abs=1e-4)
    assert np.all(img[:25] == 0) and np.all(img[25 + 77 :] == 0)
    assert m.scale_x == pytest.approx(500 / 128) and m.scale_y == pytest.approx(300 / 77)
    assert m.normalized_pixel_size_A == pytest.approx((500 / 128, 300 / 77))
    assert m.extra["clip_percentiles"] == [0.5, 99.5]


def test_clipping_limits_outliers():
    data = noise_image((200, 200))
    data[10, 10] = 1e6  # hot pixel
    out, stats = robust_standardize(data)
    assert stats.clip_hi < 10
    assert out.max() < 5 and out.std() == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="0 <= lo < hi <= 100"):
        robust_standardize(data, (50, 10))


def test_small_image_is_padded_not_upsampled():
    data = noise_image((60, 90))
    img, m = normalize_micrograph(data, 128, name="s", source="s.png", pad_value=0.0)
    assert m.binned_shape == (60, 90) and m.scale_x == 1.0 and m.scale_y == 1.0
    assert (m.pad_y, m.pad_x) == (34, 19)
    np.testing.assert_allclose(img[m.content_slice()], robust_standardize(data)[0], atol=1e-6)


def _round_trip(m: FrameMapping, rng):
    H, W = m.original_shape
    x = rng.uniform(0, W - 1, 500)
    y = rng.uniform(0, H - 1, 500)
    xn, yn = m.to_normalized(x, y)
    # A pick lands on a whole normalized pixel, then is mapped back.
    xb, yb = m.to_original(np.round(xn), np.round(yn))
    assert np.all(np.abs(xb - x) <= 0.5 * m.scale_x + 1e-9)
    assert np.all(np.abs(yb - y) <= 0.5 * m.scale_y + 1e-9)
    # Without rounding the mapping is exact both ways.
    xe, ye = m.to_original(xn, yn)
    np.testing.assert_allclose(xe, x, atol=1e-9)
    np.testing.assert_allclose(ye, y, atol=1e-9)
    # In the normalized frame the round trip lands within half a normalized pixel.
    xn2, yn2 = m.to_normalized(xb, yb)
    assert np.all(np.abs(xn2 - xn) <= 0.5 + 1e-9) and np.all(np.abs(yn2 - yn) <= 0.5 + 1e-9)


def test_sidecar_round_trip_small(tmp_path):
    _, m = normalize_micrograph(noise_image((137, 211)), 64, name="m", source="m.mrc", pixel_size_A=1.1)
    m.write(tmp_path / "m.json")
    m2 = FrameMapping.read(tmp_path / "m.json")
    assert m2 == m
    _round_trip(m2, np.random.default_rng(1))


def test_sidecar_round_trip_k3_shape(tmp_path):
    H, W = 4092, 5760
    data = np.random.default_rng(0).standard_normal((H, W), dtype=np.float32)
    img, m = normalize_micrograph(data, 1024, name="k3", source="k3.mrc", pixel_size_A=0.83)
    assert img.shape == (1024, 1024)
    assert m.binned_shape == (727, 1024) and (m.pad_y, m.pad_x) == (148, 0)
    assert m.scale_x != m.scale_y  # rounding: separate factors matter
    m.write(tmp_path / "k3.json")
    _round_trip(FrameMapping.read(tmp_path / "k3.json"), np.random.default_rng(2))


def test_blob_lands_where_the_mapping_says():
    """Image content and sidecar agree: a blob's centre maps back to where it was drawn."""
    H, W = 600, 900
    x0, y0 = 613.0, 207.0
    y, x = np.mgrid[:H, :W]
    data = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * 20.0**2)).astype(np.float32)
    img, m = normalize_micrograph(data, 256, name="b", source="b.mrc", clip_percentiles=(0.0, 100.0))
    content = img - img[m.content_slice()].min()
    content[:m.pad_y] = 0
    content[m.pad_y + m.binned_shape[0]:] = 0
    w = np.clip(content - 0.5 * content.max(), 0, None)
    yy, xx = np.mgrid[:256, :256]
    cx, cy = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    xo, yo = m.to_original(cx, cy)
    assert abs(xo - x0) < 0.5 and abs(yo - y0) < 0.5


def test_lowpass_needs_pixel_size_and_smooths():
    data = noise_image((256, 256))
    with pytest.raises(InputError, match="needs the pixel size"):
        normalize_micrograph(data, 128, name="m", source="m.mrc", lowpass_A=20.0)
    plain, _ = normalize_micrograph(data, 128, name="m", source="m.mrc", pixel_size_A=1.0)
    smooth, m = normalize_micrograph(data, 128, name="m", source="m.mrc", pixel_size_A=1.0, lowpass_A=20.0)
    # Neighbouring pixels correlate much more after a low-pass.
    def corr(a):
        return np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    assert corr(smooth) > corr(plain) + 0.3
    assert m.extra["lowpass_A"] == 20.0


def test_no_contrast_is_input_error():
    data = np.zeros((100, 100), np.float32)
    data[0, 0] = 1.0  # one pixel: gone after clipping (no binning at model size 128)
    with pytest.raises(InputError, match="m.mrc: image has no contrast left"):
        normalize_micrograph(data, 128, name="m", source="m.mrc")
