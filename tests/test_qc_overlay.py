"""Overlay PNGs: exact pixel layout, circles where the picks are, and the deterministic sample."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_qc_helpers import BINNED_SHAPE, DIAMETER_PX, make_run

from samcryo_core.frame import FrameMapping
from samcryo_core.io.micrograph import read_micrograph
from samcryo_core.particles.picks_io import read_picks
from samcryo_core.qc.overlay import (
    COLORBAR_STRIP_PX,
    contrast_stretch,
    layout_for,
    render_overlay,
    select_sample,
)


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(int)


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("overlay")
    make_run(root)
    mapping = FrameMapping.read(root / "normalized/mic_02.json")
    image = read_micrograph(root / "normalized/mic_02.mrc").data
    picks = read_picks(root / "picks/mic_02.csv")
    with_picks = root / "with.png"
    without = root / "without.png"
    lay = render_overlay(image, mapping, picks, with_picks, title="")
    render_overlay(image, mapping, picks.iloc[0:0], without, title="")
    return mapping, picks, lay, _rgb(with_picks), _rgb(without), image


def test_png_dimensions_follow_layout(drawn) -> None:
    mapping, _, lay, img, _, _ = drawn
    rows, cols = BINNED_SHAPE
    assert lay.zoom >= 2 and lay.origin_y == 0 and lay.origin_x == 0
    assert img.shape[:2] == (rows * lay.zoom, cols * lay.zoom + COLORBAR_STRIP_PX)


def test_circles_drawn_at_picks(drawn) -> None:
    mapping, picks, lay, img, raw, _ = drawn
    radius_png = DIAMETER_PX / mapping.scale_x / 2 * lay.zoom
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    for p in picks.itertuples():
        cx, cy = lay.to_png(p.x_norm, p.y_norm)
        ring_x = np.clip(np.round(cx + radius_png * np.cos(angles)).astype(int), 0, lay.image_width_px - 1)
        ring_y = np.clip(np.round(cy + radius_png * np.sin(angles)).astype(int), 0, lay.image_height_px - 1)
        diff = np.abs(img[ring_y, ring_x] - raw[ring_y, ring_x]).sum(axis=1)
        assert (diff > 60).mean() > 0.8, f"no circle around pick at ({p.x_norm}, {p.y_norm})"
        # Coloured (FOM colormap), not grey: the raw image is greyscale.
        rgb = img[ring_y, ring_x]
        assert (rgb.max(axis=1) - rgb.min(axis=1) > 60).mean() > 0.8
        # The centre of a pick is left alone so the particle stays visible.
        cxi, cyi = round(cx), round(cy)
        assert np.abs(img[cyi, cxi] - raw[cyi, cxi]).sum() < 30
    # Far from every pick (bottom-right of the image) nothing changed.
    assert np.array_equal(img[-20:, lay.image_width_px - 40:lay.image_width_px - 5],
                          raw[-20:, lay.image_width_px - 40:lay.image_width_px - 5])


def test_raw_image_is_the_contrast_stretched_micrograph(drawn) -> None:
    """The image part is the normalized micrograph, grey, pixel for pixel."""
    mapping, _, lay, _, raw, image = drawn
    grey = raw[: lay.image_height_px, : lay.image_width_px]
    assert (grey.max(axis=2) - grey.min(axis=2)).max() <= 2
    block = grey[lay.zoom // 2 :: lay.zoom, lay.zoom // 2 :: lay.zoom, 0] / 255.0
    expected = contrast_stretch(image)
    assert block.shape == expected.shape
    assert np.abs(block - expected).max() < 0.02


def test_truth_and_below_threshold_styles(tmp_path: Path) -> None:
    make_run(tmp_path)
    mapping = FrameMapping.read(tmp_path / "normalized/mic_00.json")
    image = read_micrograph(tmp_path / "normalized/mic_00.mrc").data
    picks = read_picks(tmp_path / "picks/mic_00.csv")
    lay = render_overlay(image, mapping, picks, tmp_path / "a.png", threshold=0.99, title="",
                         truth_norm=np.array([[100.0, 60.0]]))
    img = _rgb(tmp_path / "a.png")
    x, y = (round(v) for v in lay.to_png(100.0, 60.0))
    assert img[y, x, 1] > 200 and img[y, x, 0] < 120  # green cross at the truth centre
    # All picks are below 0.99: drawn dashed cyan, not in FOM colours.
    p = picks.iloc[0]
    cx, cy = lay.to_png(p.x_norm, p.y_norm)
    r = DIAMETER_PX / mapping.scale_x / 2 * lay.zoom
    ring = [img[round(cy + r * np.sin(a)), round(cx + r * np.cos(a))] for a in np.linspace(0, 2 * np.pi, 36)]
    assert any(c[2] > 200 and c[1] > 180 and c[0] < 170 for c in ring)


def test_contrast_stretch_ignores_outliers() -> None:
    img = np.zeros((50, 50), np.float32)
    img[::2] = 1.0
    img[0, 0] = 1e6
    out = contrast_stretch(img)
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.isclose(out[2, 3], 1.0)  # the hot pixel does not grey out the rest
    assert np.all(contrast_stretch(np.full((4, 4), 3.0)) == 0)


def test_select_sample_is_deterministic() -> None:
    names = [f"m{i}" for i in range(10)]
    assert select_sample(names) == names
    assert select_sample(names, 3) == ["m0", "m1", "m2"]
    assert select_sample(names, None, 4) == ["m0", "m4", "m8"]
    assert select_sample(names, 2, 3) == ["m0", "m3"]
    with pytest.raises(ValueError):
        select_sample(names, 2, 0)


def test_layout_zoom_for_model_sizes() -> None:
    for size, zoom in ((1024, 1), (512, 2), (256, 4)):
        m = FrameMapping("m", "s", (size, size), (size, size))
        assert layout_for(m).zoom == zoom


def test_empty_picks_frame(tmp_path: Path) -> None:
    m = FrameMapping("m", "s", (64, 64), (64, 64))
    empty = pd.DataFrame(columns=["x", "y", "fom", "diameter_px", "x_norm", "y_norm", "area_px"])
    noise = np.random.default_rng(0).normal(size=(64, 64))
    render_overlay(noise, m, empty, tmp_path / "e.png", threshold=0.5)
    zoom = layout_for(m).zoom
    assert _rgb(tmp_path / "e.png").shape[:2] == (64 * zoom, 64 * zoom + COLORBAR_STRIP_PX)
