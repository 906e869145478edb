"""Tiling: grids that cover any frame with overlap, stitching without seams, frames that round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from samcryo_core.frame import FrameMapping
from samcryo_core.inference.segment import probability_map
from samcryo_core.inference.tiling import Stitcher, axis_origins, overlap_px, tile_grid
from samcryo_core.particles.extraction import extract_particles


@settings(max_examples=200, deadline=None)
@given(length=st.integers(1, 3000), tile=st.sampled_from([128, 512, 1024]), frac=st.floats(0.0, 0.49))
def test_axis_origins_cover_everything_with_the_overlap(length, tile, frac):
    overlap = int(frac * tile)
    origins = axis_origins(length, tile, overlap)
    assert origins[0] == 0
    if length <= tile:
        assert origins == [0]
        return
    assert origins[-1] == length - tile  # the last tile ends at the last pixel
    gaps = np.diff(origins)
    assert np.all(gaps > 0) and np.all(tile - gaps >= overlap)  # neighbours overlap by >= overlap


def test_overlap_is_a_particle_and_a_margin_at_most_half_a_tile():
    assert overlap_px(20.0, 512) == 30
    assert overlap_px(3.0, 512) == 8
    assert overlap_px(400.0, 512) == 256


class _PoolModel(torch.nn.Module):
    """A stand-in for PromptedSam: logits = 12 * (4x4 mean of the input - 0.5), at S/4."""

    img_size = 128

    def forward(self, x):
        return 12.0 * (torch.nn.functional.avg_pool2d(x, 4) - 0.5)


def _blobs(shape, centres, sigma=3.0):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    img = np.zeros(shape, np.float32)
    for x, y in centres:
        img += np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.clip(img, 0, 1)


def test_constant_logits_stitch_exactly_everywhere():
    grid = tile_grid((300, 470), 128, 30)
    st_ = Stitcher(grid)
    for origin in grid.origins:
        st_.add(origin, np.full((128, 128), 2.5, np.float32))
    np.testing.assert_allclose(st_.logits(), 2.5, rtol=1e-6)
    with pytest.raises(RuntimeError):
        Stitcher(grid).logits()


def test_a_micrograph_that_fits_one_tile_gets_exactly_the_untiled_map():
    model = _PoolModel()
    rng = np.random.default_rng(0)
    image = rng.normal(0, 1, (90, 117)).astype(np.float32)
    m = FrameMapping("a", "a.mrc", (180, 234), (90, 117),
                     extra={"diameter_A": [20.0, 20.0], "particle_px": 10.0})
    got = probability_map(model, image, m)
    padded = np.zeros((128, 128), np.float32)
    padded[:90, :117] = image
    with torch.inference_mode():
        logits = model(torch.from_numpy(padded)[None, None])
        up = torch.nn.functional.interpolate(logits, size=(128, 128), mode="bilinear", align_corners=False)
    want = torch.sigmoid(up)[0, 0, :90, :117].numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize(("shape", "original"), [((300, 470), (1200, 1880)), ((213, 389), (4092, 5760))])
def test_picks_on_seams_and_borders_map_back_without_duplicates(shape, original):
    """Blobs straddling every tile seam, near the outermost pixels and in the middle come back once
    each, within half a normalized pixel, and map to the original frame within half its pixel."""
    model = _PoolModel()
    m = FrameMapping("k", "k.mrc", original, shape, extra={"diameter_A": [10.0, 10.0], "particle_px": 10.0})
    grid = tile_grid(shape, 128, overlap_px(10.0, 128))
    assert len(grid) > 1
    seams = sorted({o + d for o in grid.cols[1:] for d in (0, 7)} | {o + 128 - 1 for o in grid.cols[:-1]})
    rows = sorted({o + 3 for o in grid.rows[1:]} | {o + 128 - 4 for o in grid.rows[:-1]} | {9, shape[0] - 10})
    centres = []
    for i, y in enumerate(rows):
        for x in seams[i % 2 :: 2] + [9.0, shape[1] - 10.0]:
            if all((x - a) ** 2 + (y - b) ** 2 > 16**2 for a, b in centres):
                centres.append((float(x), float(y)))
    image = _blobs(shape, centres)
    prob = probability_map(model, image, m)
    assert prob.shape == shape
    picks = extract_particles(prob, m, diameter_px=10.0 * m.mean_scale, min_area_fraction=0.05,
                              max_area_fraction=5.0)
    picks = picks[picks["fom"] >= 0.5]
    assert len(picks) == len(centres)  # no duplicates across seams, none lost
    from scipy.spatial import cKDTree

    truth = np.array(centres)
    d, idx = cKDTree(truth).query(picks[["x_norm", "y_norm"]].to_numpy())
    assert len(set(idx)) == len(centres) and d.max() < 0.5
    xo, yo = m.to_original(truth[idx, 0], truth[idx, 1])
    assert np.abs(picks["x"].to_numpy() - xo).max() < 0.5 * m.scale_x
    assert np.abs(picks["y"].to_numpy() - yo).max() < 0.5 * m.scale_y
