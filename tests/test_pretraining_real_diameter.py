"""Pre-training's real tiles take the diameter their labels allow (pretraining.real.label_diameter_px).

CryoPPP's circles for the crowded sets are 1.5-1.6x the particles; binned and drawn at the circle,
the real tiles' targets fuse into near-total foreground. The rule is the one samcryo applies to a
user's labels (training.label_spacing.too_close), so these tests pin both ends of it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from samcryo_core.pretraining.real import RealMicrograph, label_diameter_px, normalize_real
from samcryo_core.training.label_spacing import MIN_MEDIAN_SPACING, LabelSpacing, too_close


def _lattice_micrograph(spacing: float, circle: float, name: str = "m") -> RealMicrograph:
    """A square lattice of labelled centres ``spacing`` px apart, each labelled with ``circle``."""
    g = np.arange(20.0, 380.0, spacing)
    x, y = (a.ravel() for a in np.meshgrid(g, g))
    image = np.random.default_rng(0).normal(size=(400, 400)).astype(np.float32)
    return RealMicrograph("set", "train", name, image, x, y,
                          np.full(x.size, circle))


def test_circles_larger_than_the_spacing_give_way_to_the_spacing():
    mics = [_lattice_micrograph(20.0, 32.0, "a"), _lattice_micrograph(20.0, 32.0, "b")]
    assert label_diameter_px(mics) == 20.0


def test_circles_the_labels_allow_are_kept():
    assert label_diameter_px([_lattice_micrograph(20.0, 20.0)]) is None  # touching: spacing = circle
    assert label_diameter_px([_lattice_micrograph(40.0, 32.0)]) is None  # sparse field
    assert label_diameter_px([]) is None


def test_too_close_is_the_start_up_check_threshold():
    spacing = LabelSpacing(median_A=80.0, n_particles=100, n_micrographs=3)
    assert not too_close(80.0 / MIN_MEDIAN_SPACING, spacing)        # exactly at the limit passes
    assert too_close(80.0 / MIN_MEDIAN_SPACING + 1.0, spacing)
    assert not too_close(1e6, None)                                  # too few labels never refuse


def test_the_allowed_diameter_sets_the_binning_and_the_target_discs():
    """Normalized at the allowed diameter, a crowded lattice's target keeps its gaps."""
    circle = _lattice_micrograph(20.0, 32.0)
    allowed = replace(circle, diameter_px=np.full(circle.x.size, 20.0))
    _, map_circle, mask_circle = normalize_real(circle, particle_px=20.0)
    _, map_allowed, mask_allowed = normalize_real(allowed, particle_px=20.0)
    assert map_circle.mean_scale == 1.6                    # binned by the circle: particles 12.5 px
    assert map_allowed.mean_scale == 1.0                   # by the spacing: particles span 20 px
    # touching discs of the particles' size leave the lattice's gaps as background; circle discs
    # overlap over most of them
    assert mask_allowed.mean() < 0.7
    assert mask_circle.mean() > 0.8
