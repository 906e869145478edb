"""Centres from filled-circle masks (how the CryoPPP 256 px labels become pre-training
centres): exact on clean masks, accurate on crowded, area-averaged small masks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from samcryo_core.evaluation.matching import match_picks
from samcryo_core.pretraining.centres import (
    binarize,
    centres_from_mask,
    disc_union,
    estimate_radius,
    to_image_frame,
)


def random_circles(rng, n: int, radius: float, size: int, min_sep: float) -> np.ndarray:
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        p = rng.uniform(radius, size - radius, 2)
        if all(np.hypot(p[0] - a, p[1] - b) >= min_sep for a, b in pts):
            pts.append((float(p[0]), float(p[1])))
    return np.array(pts)


def small_mask(full: np.ndarray, size: int) -> np.ndarray:
    """Area-average to ``size`` (grey edges, like CryoPPP's 256 px masks), 0-255."""
    t = torch.from_numpy(full.astype(np.float32))[None, None]
    return F.interpolate(t, size=(size, size), mode="area")[0, 0].numpy() * 255.0


def test_separate_circles_are_found_exactly():
    rng = np.random.default_rng(0)
    truth = random_circles(rng, 25, 10.0, 256, min_sep=24.0)
    mask = disc_union((256, 256), truth[:, 0], truth[:, 1], 10.0).astype(np.uint8) * 255
    c = centres_from_mask(mask)
    assert c.radius == pytest.approx(10.0, abs=0.3)
    m = match_picks(np.stack([c.x, c.y], 1), truth, 2.5)
    assert m.tp == 25 and m.fp == 0 and m.mean_error_px < 0.5
    assert c.explained > 0.97 and c.spill < 0.03


def test_crowded_overlapping_circles_in_a_quarter_size_mask():
    """Like EMPIAR-10059: 36 px circles at 1024 px, about half of the image covered, overlaps down
    to half a diameter, shipped as a 256 px mask."""
    rng = np.random.default_rng(1)
    r = 18.0
    truth = random_circles(rng, 600, r, 1024, min_sep=r)
    full = disc_union((1024, 1024), truth[:, 0], truth[:, 1], r)
    assert 0.4 < full.mean() < 0.65
    mask = small_mask(full, 256)
    radius = estimate_radius(binarize(mask))
    assert radius * 4 == pytest.approx(r, rel=0.05)
    c = centres_from_mask(mask, radius)
    x, y = to_image_frame(c.x, c.y, mask.shape, (1024, 1024))
    m = match_picks(np.stack([x, y], 1), truth, 0.25 * 2 * r)
    assert m.recall > 0.93 and m.precision > 0.93
    assert m.mean_error_px < 0.1 * 2 * r


def test_image_frame_mapping_is_the_pixel_centre_convention():
    x, y = to_image_frame(np.array([0.0, 255.0]), np.array([0.0, 127.5]), (256, 256), (1024, 1024))
    np.testing.assert_allclose(x, [1.5, 1021.5])
    np.testing.assert_allclose(y, [1.5, 511.5])


def test_radius_from_several_masks_borrows_single_circles():
    """A mask where every circle touches another still gets its radius from the set."""
    rng = np.random.default_rng(2)
    sparse = random_circles(rng, 10, 6.0, 128, min_sep=20.0)
    pairs = np.concatenate([[p, p + [7.0, 0.0]] for p in random_circles(rng, 6, 6.0, 110, min_sep=30.0)])
    a = disc_union((128, 128), sparse[:, 0], sparse[:, 1], 6.0)
    b = disc_union((128, 128), pairs[:, 0], pairs[:, 1], 6.0)
    assert estimate_radius([a, b]) == pytest.approx(6.0, abs=0.3)


def test_empty_mask_gives_no_centres():
    c = centres_from_mask(np.zeros((64, 64)), 5.0)
    assert c.x.size == 0
