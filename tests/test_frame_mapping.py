"""The coordinate-frame sidecar: the contract that keeps every exported pick in the right place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samcryo_core.frame import FrameMapping


def k3_mapping() -> FrameMapping:
    # A K3 frame binned by about 5.63: 5760 x 4092 -> 1024 x 727 (whole pixels: x and y differ).
    return FrameMapping(
        micrograph="k3", source="k3.mrc", original_shape=(4092, 5760), binned_shape=(727, 1024),
        pixel_size_A=0.83, pixel_size_source="header",
    )


def test_scales_are_separate_per_axis():
    m = k3_mapping()
    assert m.scale_x == pytest.approx(5760 / 1024)
    assert m.scale_y == pytest.approx(4092 / 727)
    assert m.scale_x != m.scale_y  # a single factor would misplace picks on K3 frames


def test_round_trip_within_half_pixel_on_non_square_frame():
    m = k3_mapping()
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 5759, 500)
    y = rng.uniform(0, 4091, 500)
    xn, yn = m.to_normalized(x, y)
    xo, yo = m.to_original(xn, yn)
    assert np.max(np.abs(xo - x)) < 1e-9
    assert np.max(np.abs(yo - y)) < 1e-9
    # Rounding to a normalized pixel and mapping back lands within half a binned pixel.
    xo2, yo2 = m.to_original(np.round(xn), np.round(yn))
    assert np.all(np.abs(xo2 - x) <= 0.5 * m.scale_x + 1e-9)
    assert np.all(np.abs(yo2 - y) <= 0.5 * m.scale_y + 1e-9)


def test_pixel_centres():
    m = k3_mapping()
    # The centre of the first pixel of the normalized image is the centre of the first block of
    # scale x scale original pixels; the last one's is the last block's.
    xo, yo = m.to_original(0, 0)
    assert xo == pytest.approx((m.scale_x - 1) / 2)
    assert yo == pytest.approx((m.scale_y - 1) / 2)
    xo, yo = m.to_original(1023, 726)
    assert xo == pytest.approx(5759 - (m.scale_x - 1) / 2)
    assert yo == pytest.approx(4091 - (m.scale_y - 1) / 2)
    assert m.mean_scale == pytest.approx((m.scale_x + m.scale_y) / 2)


def test_upsampling_mapping_has_scales_below_one():
    m = FrameMapping("u", "u.mrc", original_shape=(100, 80), binned_shape=(125, 100))
    assert m.scale_x == pytest.approx(0.8) and m.scale_y == pytest.approx(0.8)
    xn, yn = m.to_normalized(79.0, 99.0)
    assert xn == pytest.approx((79.0 + 0.5) / 0.8 - 0.5) and yn == pytest.approx((99.0 + 0.5) / 0.8 - 0.5)


def test_x_is_column_y_is_row_no_flip():
    m = FrameMapping("a", "a.mrc", original_shape=(200, 400), binned_shape=(50, 100))
    # A point near the top-left of the original stays near the top-left (small row) after mapping.
    xn, yn = m.to_normalized(10.0, 5.0)
    assert xn < 5 and yn < 5


def test_version_1_sidecar_is_refused_with_the_fix(tmp_path):
    d = k3_mapping().to_dict()
    d["sidecar_version"] = 1
    with pytest.raises(ValueError, match="rerun 'samcryo normalize'"):
        FrameMapping.from_dict(d)


def test_sidecar_json_round_trip(tmp_path):
    m = k3_mapping()
    p = tmp_path / "k3.json"
    m.write(p)
    d = json.loads(p.read_text())
    assert d["scale_x"] == pytest.approx(m.scale_x) and d["original_shape"] == [4092, 5760]
    assert FrameMapping.read(p) == m
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


@settings(max_examples=200, deadline=None)
@given(
    H=st.integers(64, 8000), W=st.integers(64, 8000), factor=st.floats(0.25, 40.0),
    fx=st.floats(0, 1), fy=st.floats(0, 1),
)
def test_property_round_trip(H, W, factor, fx, fy):
    from samcryo_core.preprocess.fourier import scaled_shape

    bh, bw = scaled_shape((H, W), factor)
    m = FrameMapping("p", "p.mrc", (H, W), (bh, bw))
    x, y = fx * (W - 1), fy * (H - 1)
    xn, yn = m.to_normalized(x, y)
    # every original pixel centre lies inside the normalized image's extent
    assert -0.5 - 1e-9 <= xn <= bw - 0.5 + 1e-9
    assert -0.5 - 1e-9 <= yn <= bh - 0.5 + 1e-9
    xo, yo = m.to_original(xn, yn)
    assert abs(xo - x) < 1e-6 and abs(yo - y) < 1e-6
