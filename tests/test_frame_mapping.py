"""The coordinate-frame sidecar: the contract that keeps every exported pick in the right place."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samcryo_core.frame import FrameMapping


def k3_mapping() -> FrameMapping:
    # A K3 frame binned so that its long side fills a 1024 model input: 5760 x 4092 -> 1024 x 727.
    return FrameMapping(
        micrograph="k3", source="k3.mrc", original_shape=(4092, 5760), binned_shape=(727, 1024),
        model_size=1024, pad_y=(1024 - 727) // 2, pad_x=0, pixel_size_A=0.83, pixel_size_source="header",
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


def test_pixel_centres_and_padding():
    m = k3_mapping()
    # The centre of the first content pixel of the normalized image is the centre of the first
    # block of scale x scale original pixels.
    xo, yo = m.to_original(0, m.pad_y)
    assert xo == pytest.approx((m.scale_x - 1) / 2)
    assert yo == pytest.approx((m.scale_y - 1) / 2)
    rows, cols = m.content_slice()
    assert rows.stop - rows.start == 727 and cols.stop - cols.start == 1024


def test_x_is_column_y_is_row_no_flip():
    m = FrameMapping("a", "a.mrc", original_shape=(200, 400), binned_shape=(50, 100), model_size=100,
                     pad_y=25, pad_x=0)
    # A point near the top-left of the original stays near the top-left (small row) after mapping.
    xn, yn = m.to_normalized(10.0, 5.0)
    assert xn < 5 and yn - m.pad_y < 5


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
    H=st.integers(64, 8000), W=st.integers(64, 8000), model=st.sampled_from([128, 256, 512, 1024]),
    fx=st.floats(0, 1), fy=st.floats(0, 1),
)
def test_property_round_trip(H, W, model, fx, fy):
    s = max(H, W) / model
    bh, bw = max(1, round(H / s)), max(1, round(W / s))
    m = FrameMapping("p", "p.mrc", (H, W), (bh, bw), model, pad_y=(model - bh) // 2, pad_x=(model - bw) // 2)
    x, y = fx * (W - 1), fy * (H - 1)
    xn, yn = m.to_normalized(x, y)
    assert -0.5 - 1e-9 <= xn - m.pad_x <= bw - 0.5 + 1e-9
    assert -0.5 - 1e-9 <= yn - m.pad_y <= bh - 0.5 + 1e-9
    xo, yo = m.to_original(xn, yn)
    assert abs(xo - x) < 1e-6 and abs(yo - y) < 1e-6
