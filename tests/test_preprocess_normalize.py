"""normalize_micrograph: binned to the working scale, standardized, exact frame mapping."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_mrc import noise_image

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.contrast import robust_standardize
from samcryo_core.preprocess.normalize import normalize_micrograph
from samcryo_core.preprocess.scale import bin_factor, check_range, range_at_scale


def norm(data, *, px=1.0, diameter=40.0, particle_px=10.0, **kw):
    return normalize_micrograph(data, name="m", source="m.mrc", pixel_size_A=px, diameter_A=diameter,
                                particle_px=particle_px, **kw)


def test_particle_lands_at_the_working_size_and_aspect_ratio_is_kept():
    data = noise_image((300, 500)) * 50 + 1000
    img, m = norm(data, px=1.0, diameter=40.0, particle_px=10.0, pixel_size_source="header")
    # 40 A at 1 A/px = 40 px, working size 10 px: binned by 4, no padding, aspect ratio kept
    assert img.shape == (75, 125) == m.binned_shape and img.dtype == np.float32
    q25, q50, q75 = np.percentile(img, [25, 50, 75])
    assert q50 == pytest.approx(0.0, abs=1e-5) and (q75 - q25) / 1.349 == pytest.approx(1.0, abs=1e-4)
    assert m.scale_x == pytest.approx(4.0) and m.scale_y == pytest.approx(4.0)
    assert m.normalized_pixel_size_A == pytest.approx((4.0, 4.0))
    assert m.extra["bin_factor"] == pytest.approx(4.0) and m.extra["particle_px"] == 10.0
    assert m.extra["diameter_A"] == [40.0, 40.0] and m.extra["clip_percentiles"] == [0.5, 99.5]


@pytest.mark.parametrize("px", [0.8, 1.1, 1.77, 4.0])
def test_every_pixel_size_gives_the_same_particle_size(px):
    H = W = int(round(1024 * 4.0 / px / 8)) * 8  # the same 4096 A field of view
    data = noise_image((H, W))
    img, m = norm(data, px=px, diameter=160.0, particle_px=20.0)
    # 160 A always spans 20 normalized pixels: 8 A per normalized pixel, whatever the detector
    assert 160.0 / m.normalized_pixel_size_A[0] == pytest.approx(20.0, rel=0.01)
    assert img.shape[0] == pytest.approx(512, abs=1)


def test_small_particles_at_coarse_pixels_are_upsampled():
    data = noise_image((60, 90))
    img, m = norm(data, px=5.0, diameter=80.0, particle_px=20.0)  # 16 px -> 20 px: x1.25
    assert m.binned_shape == (75, 112) and m.scale_x < 1.0
    with pytest.raises(InputError, match="upsampling"):
        norm(data, px=5.0, diameter=10.0, particle_px=20.0)  # 2 px particles: 10x upsampling


def test_unknown_pixel_size_is_an_input_error_naming_the_fix():
    with pytest.raises(InputError, match="pixel_size_A"):
        normalize_micrograph(noise_image((64, 64)), name="m", source="m.png", pixel_size_A=None,
                             diameter_A=100.0, particle_px=20.0)


def test_range_rule_geometric_mean_and_too_wide_warning():
    from samcryo_core.model.scale import WorkingScale

    assert bin_factor(1.0, (100.0, 400.0), 20.0) == pytest.approx(200.0 / 20.0)
    lo, hi = range_at_scale((130.0, 190.0), 20.0)
    assert lo * hi == pytest.approx(400.0) and hi / lo == pytest.approx(190 / 130)
    scale = WorkingScale(20.0, 10.0, 36.0, "variant")
    assert scale.max_size_ratio() == pytest.approx(min((36 / 20) ** 2, (20 / 10) ** 2))
    assert check_range((130.0, 190.0), scale) is None
    warning = check_range((60.0, 400.0), scale)
    assert warning and "two runs" in warning and "6.7x" in warning


def test_clipping_limits_outliers():
    data = noise_image((200, 200))
    data[10, 10] = 1e6  # hot pixel
    out, stats = robust_standardize(data)
    assert stats.clip_hi < 10
    q25, q50, q75 = np.percentile(out, [25, 50, 75])
    assert q50 == pytest.approx(0.0, abs=1e-5) and (q75 - q25) / 1.349 == pytest.approx(1.0, abs=1e-4)
    assert out.max() < 5 and out.std() == pytest.approx(1.0, abs=0.05)  # Gaussian: IQR/1.349 = std
    with pytest.raises(ValueError, match="0 <= lo < hi <= 100"):
        robust_standardize(data, (50, 10))


def test_dark_junk_does_not_compress_the_background():
    """The ice background reaches the model on one scale whether or not a micrograph carries junk.

    With mean / std standardization a dark carbon edge over a tenth of the frame inflated the std
    and shrank the background's contrast (the cause of the false positives on clean micrographs in
    docs/benchmarks.md); median / IQR is set by the background.
    """
    rng = np.random.default_rng(3)
    clean = rng.normal(100.0, 5.0, (200, 200)).astype(np.float32)
    junk = clean.copy()
    junk[:, :20] -= 60.0  # carbon: 12 sigma darker over 10 % of the frame
    out_clean, _ = robust_standardize(clean)
    out_junk, stats = robust_standardize(junk)
    background = (slice(None), slice(40, None))
    ratio = out_junk[background].std() / out_clean[background].std()
    mean_std_ratio = 5.0 / junk.std()  # what mean / std standardization gave: 0.27
    assert ratio > 0.8 and mean_std_ratio < 0.35
    assert abs(float(np.median(out_junk[background]))) < 0.3  # centred on the ice, not the carbon
    assert stats.spread < 1.3 * 5.0  # the spread is the ice's (5), not the mixture's (~19)


def test_constant_middle_falls_back_to_std():
    data = np.zeros((100, 100), np.float32)
    data[:10] = 1.0  # IQR 0: three quarters of the image is one value
    out, stats = robust_standardize(data)
    assert stats.spread == pytest.approx(float(data.std()))
    assert np.isfinite(out).all()


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
    _, m = norm(noise_image((137, 211)), px=1.1, diameter=30.0, particle_px=12.0)
    m.write(tmp_path / "m.json")
    m2 = FrameMapping.read(tmp_path / "m.json")
    assert m2 == m
    _round_trip(m2, np.random.default_rng(1))


def test_sidecar_round_trip_k3_shape(tmp_path):
    H, W = 4092, 5760
    data = np.random.default_rng(0).standard_normal((H, W), dtype=np.float32)
    img, m = norm(data, px=0.83, diameter=150.0, particle_px=20.0)  # bin 9.04: non-integer
    assert img.shape == m.binned_shape == (453, 637)
    assert m.scale_x != m.scale_y  # rounding: separate factors matter
    m.write(tmp_path / "k3.json")
    _round_trip(FrameMapping.read(tmp_path / "k3.json"), np.random.default_rng(2))


def test_blob_lands_where_the_mapping_says():
    """Image content and sidecar agree: a blob's centre maps back to where it was drawn."""
    H, W = 600, 900
    x0, y0 = 613.0, 207.0
    y, x = np.mgrid[:H, :W]
    data = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * 20.0**2)).astype(np.float32)
    img, m = norm(data, px=1.0, diameter=60.0, particle_px=17.0, clip_percentiles=(0.0, 100.0))  # bin 3.53
    content = img - img.min()
    w = np.clip(content - 0.5 * content.max(), 0, None)
    yy, xx = np.mgrid[: img.shape[0], : img.shape[1]]
    cx, cy = (w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()
    xo, yo = m.to_original(cx, cy)
    assert abs(xo - x0) < 0.5 and abs(yo - y0) < 0.5


def test_lowpass_smooths():
    data = noise_image((256, 256))
    plain, _ = norm(data, px=1.0, diameter=20.0, particle_px=10.0)
    smooth, m = norm(data, px=1.0, diameter=20.0, particle_px=10.0, lowpass_A=20.0)
    # Neighbouring pixels correlate much more after a low-pass.
    def corr(a):
        return np.corrcoef(a[:, :-1].ravel(), a[:, 1:].ravel())[0, 1]
    assert corr(smooth) > corr(plain) + 0.3
    assert m.extra["lowpass_A"] == 20.0


def test_no_contrast_is_input_error():
    data = np.zeros((100, 100), np.float32)
    data[0, 0] = 1.0  # one pixel: gone after clipping (no binning at 1 px per px)
    with pytest.raises(InputError, match="m.mrc: image has no contrast left"):
        norm(data, px=1.0, diameter=10.0, particle_px=10.0)
