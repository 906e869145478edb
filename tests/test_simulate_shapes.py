"""Particle shape families: sized to their declared diameter, centred, reproducible, and each
with the feature that makes it a family (a rod is long, a plate flat, a ring has a hole, a
pseudo-atomic model is made of many small beads)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from samcryo_core.errors import ConfigError
from samcryo_core.simulate import FAMILIES, SimulationParams, make_particle_type, simulate_micrograph
from samcryo_core.simulate.particles import add_projection, random_rotations

DIAMETER_A = 160.0
PX = 2.0  # 80 px across: the disc test is not limited by pixelation


def projection(t, rotation, box: int = 120) -> np.ndarray:
    canvas = np.zeros((box, box))
    c = (box - 1) / 2.0
    add_projection(canvas, c, c, t.centres_A, t.sigmas_A, t.masses, rotation, PX)
    return canvas


def principal_extents(t) -> np.ndarray:
    """Mass-weighted standard deviations of the Gaussian centres along the principal axes."""
    w = t.masses / t.masses.sum()
    cov = (t.centres_A * w[:, None]).T @ t.centres_A
    return np.sqrt(np.sort(np.linalg.eigvalsh(cov)))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_fits_its_declared_diameter_and_is_centred(family):
    for seed in (0, 1, 2):
        t = make_particle_type(DIAMETER_A, seed, family=family)
        assert t.family == family
        extent = np.max(np.linalg.norm(t.centres_A, axis=1) + 1.5 * t.sigmas_A)
        assert extent == pytest.approx(DIAMETER_A / 2)
        com = (t.masses[:, None] * t.centres_A).sum(axis=0) / t.masses.sum()
        np.testing.assert_allclose(com, 0.0, atol=1e-6)
        # rendered in several orientations: the mass lies inside the disc of the diameter and the
        # particle fills a good part of it (not a dot)
        box = 120
        c = (box - 1) / 2.0
        r = np.hypot(*np.meshgrid(np.arange(box) - c, np.arange(box) - c, indexing="ij"))
        for rot in random_rotations(4, np.random.default_rng(seed)):
            img = projection(t, rot, box)
            total = img.sum()
            assert total == pytest.approx(t.masses.sum(), rel=0.01)
            assert img[r <= DIAMETER_A / 2 / PX].sum() / total > 0.97
            r_outer = np.sqrt((img * r**2).sum() / total)  # radius of gyration, px
            assert 0.12 * DIAMETER_A / PX < r_outer < 0.5 * DIAMETER_A / PX


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_shapes_are_reproducible_and_vary_with_the_seed(family):
    a = make_particle_type(DIAMETER_A, 5, family=family)
    b = make_particle_type(DIAMETER_A, 5, family=family)
    np.testing.assert_array_equal(a.centres_A, b.centres_A)
    c = make_particle_type(DIAMETER_A, 6, family=family)
    assert a.centres_A.shape != c.centres_A.shape or not np.allclose(a.centres_A, c.centres_A)


def test_blob_family_is_the_original_particle():
    """The demo's protein (160 A, seed 0) must not change with the families added."""
    t = make_particle_type(160.0, 0)
    # the values the simulator gave before the families existed
    assert t.family == "blob" and len(t.masses) == 52
    np.testing.assert_allclose(t.centres_A[0], [16.518432875379467, 26.635622792600586, -10.364470674839424])
    assert t.sigmas_A[-1] == pytest.approx(9.055196097793848)
    assert t.masses.sum() == pytest.approx(1.6**3)


def test_rods_are_long_and_plates_are_flat():
    for seed in range(3):
        rod = principal_extents(make_particle_type(DIAMETER_A, seed, family="elongated"))
        assert rod[2] / rod[1] > 2.0
        plate = principal_extents(make_particle_type(DIAMETER_A, seed, family="flat"))
        assert plate[0] / plate[1] < 0.5
        blob = principal_extents(make_particle_type(DIAMETER_A, seed, family="blob"))
        assert blob[0] / blob[2] > 0.4


def test_ring_has_a_hole_in_its_top_view():
    for seed in range(3):
        t = make_particle_type(DIAMETER_A, seed, family="ring")
        img = projection(t, Rotation.identity())  # the ring lies in the xy plane: top view
        c = 59
        assert img[c - 2:c + 3, c - 2:c + 3].mean() < 0.3 * img.max()


def test_membrane_protein_sits_in_a_low_density_belt():
    """Side view: the belt reaches far beyond the protein at the membrane plane, but is grey."""
    for seed in range(3):
        t = make_particle_type(DIAMETER_A, seed, family="membrane")
        side = projection(t, Rotation.from_euler("x", 90, degrees=True))
        profile = side.sum(axis=0)  # along the membrane plane
        c = 59
        rim = int(0.3 * DIAMETER_A / PX)
        assert profile[c - rim] > 0.05 * profile[c] and profile[c + rim] > 0.05 * profile[c]
        assert profile[c - rim] < 0.8 * profile[c] and profile[c + rim] < 0.8 * profile[c]


def test_pseudoatomic_model_is_many_small_beads():
    t = make_particle_type(DIAMETER_A, 0, family="pseudoatomic")
    assert len(t.masses) >= 200
    assert np.max(t.sigmas_A) < DIAMETER_A / 20
    # internal structure: more power at helix-scale frequencies than a blob of the same size
    def detail_power(family):
        img = projection(make_particle_type(DIAMETER_A, 0, family=family), Rotation.identity())
        spec = np.abs(np.fft.rfft2(img / img.sum())) ** 2
        k = np.hypot(np.fft.fftfreq(img.shape[0])[:, None], np.fft.rfftfreq(img.shape[1])[None, :]) / PX
        return spec[(k > 1 / 20) & (k < 1 / 8)].sum() / spec[k < 1 / 20].sum()

    assert detail_power("pseudoatomic") > detail_power("blob")


def test_micrograph_with_one_family_per_type():
    p = SimulationParams(shape=(192, 192), pixel_size_A=5.0, diameters_A=(100.0, 150.0), n_particles=10,
                         shape_families=("ring", "membrane"), junk=False)
    m = simulate_micrograph(p, 0)
    assert m.n_particles > 0
    assert [t.family for t in m.scene.types] == ["ring", "membrane"]
    assert set(m.class_id) <= {1, 2}


def test_unknown_family_is_a_config_error():
    with pytest.raises(ConfigError, match="shape_families"):
        SimulationParams(shape_families=("cube",))
    with pytest.raises(ConfigError, match="shape_families"):
        three = SimulationParams(diameters_A=(100.0, 150.0, 200.0))
        dataclasses.replace(three, shape_families=("ring", "flat"))
