"""Crowding: placement by target coverage from sparse to 40 % of the area with touching
particles, and ice-thickness gradients."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from samcryo_core.errors import ConfigError
from samcryo_core.simulate import SimulationParams, make_scene, simulate_micrograph
from samcryo_core.simulate.scene import ICE_THICKNESS_A, INELASTIC_MFP_A

BASE = SimulationParams(shape=(320, 320), pixel_size_A=5.0, diameters_A=(80.0, 100.0), junk=False, snr=0.1,
                        illumination_gradient=0.0)


def closest_ratio(m) -> np.ndarray:
    """Per particle: distance to its nearest neighbour over the pair's mean diameter."""
    d = np.hypot(m.x[:, None] - m.x[None, :], m.y[:, None] - m.y[None, :])
    mean_d = 0.5 * (m.diameter_px[:, None] + m.diameter_px[None, :])
    np.fill_diagonal(d, np.inf)
    return (d / mean_d).min(axis=1)


@pytest.mark.parametrize(("coverage", "touching"), [(0.03, 0.0), (0.15, 0.0), (0.3, 0.1), (0.4, 0.3)])
def test_coverage_is_reached_within_tolerance(coverage, touching):
    p = dataclasses.replace(BASE, coverage=coverage, touching_fraction=touching)
    m = simulate_micrograph(p, 1)
    # the last particle may overshoot by at most one disc (20 px: 0.003 of this image)
    assert coverage <= m.coverage < coverage + 0.01
    assert m.coverage == pytest.approx(make_scene(p, 1).coverage(), abs=1e-9)
    ratio = closest_ratio(m)
    if touching == 0:
        assert ratio.min() >= p.min_distance_factor - 1e-9  # no overlap when none is asked for
    else:
        assert (ratio < 0.95).sum() >= 0.1 * m.n_particles  # touching and overlapping pairs
    border = p.border_margin_factor * m.diameter_px
    assert np.all((m.x >= border - 1e-9) & (m.x <= 319 - border + 1e-9))


def test_crowded_field_is_placed_quickly_and_stays_off_junk():
    p = dataclasses.replace(BASE, shape=(512, 512), coverage=0.4, touching_fraction=0.3, junk=True,
                            carbon_probability=1.0, carbon_fraction=(0.1, 0.1), ice_blobs=(1, 1))
    import time

    t0 = time.perf_counter()
    m = simulate_micrograph(p, 2)
    assert time.perf_counter() - t0 < 5.0
    assert m.coverage > 0.35  # 40 % of the image asked for, 10 % of it carbon plus an ice blob
    from samcryo_core.simulate.micrograph import disc_mask

    assert not (disc_mask(m.image.shape, m.x, m.y, m.diameter_px) & m.junk_mask).any()


def test_coverage_overrides_the_count_and_is_validated():
    p = dataclasses.replace(BASE, coverage=0.2, n_particles=3)
    assert simulate_micrograph(p, 0).n_particles > 3
    with pytest.raises(ConfigError, match="coverage"):
        dataclasses.replace(BASE, coverage=0.9)


def test_ice_gradient_darkens_the_thick_side():
    p = dataclasses.replace(BASE, coverage=0.05, ice_gradient=1.0, keep_clean=True)
    m = simulate_micrograph(p, 3)
    ice = m.scene.ice
    assert ice is not None and ice.gradient == 1.0
    t = ice.transmission(m.image.shape, p.pixel_size_A, m.scene.size_A)
    # a relative thickness change of 1.0 across the field: transmission from exp(+0.5 T/mfp) to
    # exp(-0.5 T/mfp) along the gradient (less at the corners' projection)
    span = np.log(t.max() / t.min())
    assert span == pytest.approx(ICE_THICKNESS_A / INELASTIC_MFP_A, rel=0.5)
    thick = t < np.median(t)
    assert m.clean[thick].mean() < m.clean[~thick].mean()
    flat = simulate_micrograph(dataclasses.replace(p, ice_gradient=0.0), 3)
    assert flat.scene.ice is None


def test_meniscus_thickens_away_from_its_centre():
    p = dataclasses.replace(BASE, coverage=0.05, ice_meniscus=1.5, keep_clean=True)
    m = simulate_micrograph(p, 4)
    ice = m.scene.ice
    t = ice.transmission(m.image.shape, p.pixel_size_A, m.scene.size_A)
    yy, xx = np.mgrid[0:320, 0:320]
    r = np.hypot((xx + 0.5) * 5.0 - ice.cx_A, (yy + 0.5) * 5.0 - ice.cy_A)
    near, far = r < np.percentile(r, 25), r > np.percentile(r, 75)
    assert t[near].mean() > t[far].mean()
