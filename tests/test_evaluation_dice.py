"""Pixel Dice of filled circles at 256 x 256, on hand-countable masks."""

from __future__ import annotations

import numpy as np
import pytest

from samcryo_core.evaluation.dice import circle_mask, dice, picks_dice


def test_one_pixel_circles():
    # Original 256 x 256: scale 1. Diameter 1 -> radius 0.5 -> only the centre pixel.
    truth = [(10, 10), (20, 20)]
    pred = [(10, 10), (30, 30), (40, 40)]
    assert circle_mask(truth, 1.0, (256, 256)).sum() == 2
    assert picks_dice(pred, 1.0, truth, 1.0, (256, 256)) == pytest.approx(2 * 1 / (3 + 2))


def test_three_by_three_discs_shifted_by_one():
    # Diameter 3 -> radius 1.5 -> the 3 x 3 block (corners at sqrt(2) < 1.5, (2,0) at 2 > 1.5).
    a = circle_mask([(50, 50)], 3.0, (256, 256))
    b = circle_mask([(51, 50)], 3.0, (256, 256))
    assert a.sum() == b.sum() == 9
    assert a[49:52, 49:52].all()
    assert dice(a, b) == pytest.approx(2 * 6 / 18)


def test_non_square_micrograph_gives_ellipse():
    # 512 rows x 1024 cols -> 256 x 256: sx = 0.25, sy = 0.5. Centre maps to pixel (100, 100)
    # for x = 401.5, y = 200.5. Diameter 12 -> radii 1.5 (x) and 3 (y): columns -1..1, rows -3..3
    # at dx = 0 (7 px) and rows -2..2 at dx = +-1 (2 x 5 px): 17 px.
    m = circle_mask([(401.5, 200.5)], 12.0, (512, 1024))
    assert m.sum() == 17
    rows, cols = np.nonzero(m)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (97, 103, 99, 101)


def test_empty_and_edge():
    assert dice(np.zeros((4, 4), bool), np.zeros((4, 4), bool)) == 1.0
    assert dice(np.ones((4, 4), bool), np.zeros((4, 4), bool)) == 0.0
    # A circle half outside the image is clipped, not wrapped.
    m = circle_mask([(0, 0)], 3.0, (256, 256))
    assert m.sum() == 4 and m[:2, :2].all()
    with pytest.raises(ValueError):
        dice(np.zeros((2, 2)), np.zeros((3, 3)))
