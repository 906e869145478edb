"""The simulator's physics and truth: dark particles where the truth says, the requested SNR,
a noise spectrum not dominated by low frequencies, junk marked and never picked."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from scipy import ndimage

from samcryo_core.errors import ConfigError
from samcryo_core.simulate import SimulationParams, make_particle_type, relion_ctf, simulate_micrograph
from samcryo_core.simulate.ctf import electron_wavelength_A
from samcryo_core.simulate.noise import radial_power_bands

SMALL = SimulationParams(
    shape=(256, 384), pixel_size_A=4.0, diameters_A=(120.0,), n_particles=25, junk=False,
    illumination_gradient=0.0,
)


def lowpass(image: np.ndarray, diameter_px: float) -> np.ndarray:
    return ndimage.gaussian_filter(image.astype(np.float64), diameter_px / 4.0)


def test_same_seed_same_micrograph_and_different_seed_differs():
    p = dataclasses.replace(SMALL, junk=True, carbon_probability=1.0)
    a, b = simulate_micrograph(p, 7), simulate_micrograph(p, 7)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.junk_mask, b.junk_mask)
    c = simulate_micrograph(p, 8)
    assert not np.array_equal(a.image, c.image)
    # params.seed is the default seed
    d = simulate_micrograph(dataclasses.replace(p, seed=7))
    np.testing.assert_array_equal(a.image, d.image)


def test_output_types_and_non_square_shape():
    m = simulate_micrograph(dataclasses.replace(SMALL, shape=(200, 330)), 1)
    assert m.image.shape == (200, 330) and m.image.dtype == np.float32
    assert m.junk_mask.shape == (200, 330) and m.junk_mask.dtype == bool
    assert m.x.shape == m.y.shape == m.diameter_px.shape == m.class_id.shape
    assert m.n_particles > 0
    assert np.all((m.x >= 0) & (m.x <= 329) & (m.y >= 0) & (m.y <= 199))
    assert np.isfinite(m.image).all()


@pytest.mark.parametrize("defocus", [1.0, 3.0])
def test_particles_are_dark_at_truth_centres(defocus):
    """RELION CTF sign: protein is DARK after the CTF at 1-3 um underfocus (low-passed)."""
    p = dataclasses.replace(SMALL, snr=0.05, defocus_um=(defocus, defocus))
    m = simulate_micrograph(p, 3)
    d = float(m.diameter_px.mean())
    sm = lowpass(m.image, d)
    centres = sm[np.round(m.y).astype(int), np.round(m.x).astype(int)]
    background = sm[~ndimage.binary_dilation(m.particle_mask, iterations=int(d / 4))]
    assert centres.mean() < background.mean()
    assert np.mean(centres < np.median(background)) > 0.8
    # The noise-free signal agrees: protein lowers the intensity.
    m2 = simulate_micrograph(dataclasses.replace(p, keep_clean=True), 3)
    clean_lp = lowpass(m2.clean, d)
    assert np.all(clean_lp[np.round(m2.y).astype(int), np.round(m2.x).astype(int)] < 1.0)


def test_particles_visible_at_default_snr_on_average():
    """At the default SNR 0.01 single particles are barely visible, but on average the truth
    centres are clearly darker than random background points."""
    p = dataclasses.replace(SMALL, shape=(512, 512), n_particles=60)
    assert p.snr == 0.01
    m = simulate_micrograph(p, 11)
    sm = lowpass(m.image, float(m.diameter_px.mean()))
    centres = sm[np.round(m.y).astype(int), np.round(m.x).astype(int)]
    bg_mask = ~ndimage.binary_dilation(m.particle_mask, iterations=8)
    rng = np.random.default_rng(0)
    ys, xs = np.nonzero(bg_mask)
    pick = rng.choice(ys.size, size=200, replace=False)
    random_bg = sm[ys[pick], xs[pick]]
    assert np.median(centres) < np.median(random_bg)
    assert np.mean(centres < np.median(random_bg)) > 0.7


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_x_is_column_and_y_is_row(seed):
    """One particle on a non-square image: the darkest low-passed pixel is at data[y, x]."""
    p = dataclasses.replace(SMALL, shape=(160, 416), n_particles=1, snr=1.0, keep_clean=True)
    m = simulate_micrograph(p, seed)
    assert m.n_particles == 1
    d = float(m.diameter_px[0])
    row, col = np.unravel_index(np.argmin(lowpass(m.image, d)), m.image.shape)
    assert abs(col - m.x[0]) < d / 4 and abs(row - m.y[0]) < d / 4
    # the noise-free projection's darkest point too
    row, col = np.unravel_index(np.argmin(lowpass(m.clean, d)), m.image.shape)
    assert abs(col - m.x[0]) < d / 6 and abs(row - m.y[0]) < d / 6


@pytest.mark.parametrize("snr", [0.003, 0.01, 0.1])
def test_measured_snr_matches_requested(snr):
    p = dataclasses.replace(SMALL, shape=(384, 384), n_particles=30, snr=snr, keep_clean=True)
    m = simulate_micrograph(p, 5)
    noise = m.image - m.clean
    measured = m.particle_signal[m.particle_mask].var() / noise.var()
    assert measured == pytest.approx(snr, rel=0.1)
    # Noise level in the image background matches the documented sigma = 1/sqrt(dose px^2).
    bg = ~ndimage.binary_dilation(m.particle_mask, iterations=10)
    assert m.image[bg].std() == pytest.approx(m.noise_std, rel=0.1)


def test_noise_spectrum_not_dominated_by_low_frequencies():
    p = dataclasses.replace(SMALL, shape=(512, 512), n_particles=0)
    m = simulate_micrograph(p, 2)
    low, mid, high = radial_power_bands(m.image, [(0.0, 0.05), (0.1, 0.2), (0.3, 0.5)])
    assert 1.1 < low / mid < 3.0  # a modest low-frequency rise, not a dominant one
    assert high < mid  # detector roll-off towards Nyquist
    flat = simulate_micrograph(dataclasses.replace(p, detector_cutoff=None, noise_low_freq_rise=0.0), 2)
    low, mid, high = radial_power_bands(flat.image, [(0.0, 0.05), (0.1, 0.2), (0.3, 0.5)])
    assert low / high == pytest.approx(1.0, rel=0.25)


def test_junk_is_marked_dark_and_never_in_truth():
    p = dataclasses.replace(
        SMALL, shape=(512, 512), n_particles=60, junk=True, carbon_probability=1.0,
        carbon_fraction=(0.2, 0.2), ice_blobs=(1, 1), aggregates=(1, 1), keep_clean=True,
    )
    m = simulate_micrograph(p, 4)
    assert m.has_carbon and m.n_ice == 1 and m.n_aggregates == 1
    assert 0.2 < m.junk_mask.mean() < 0.6
    assert m.n_particles > 10
    # no particle disc touches the junk mask
    from samcryo_core.simulate.micrograph import disc_mask

    assert not (disc_mask(m.image.shape, m.x, m.y, m.diameter_px) & m.junk_mask).any()
    # junk is darker than the free background (carbon and ice absorb)
    free = ~m.junk_mask & ~ndimage.binary_dilation(m.particle_mask, iterations=5)
    assert m.clean[m.junk_mask].mean() < m.clean[free].mean() - 0.03


def test_no_junk_switch_gives_empty_mask():
    p = dataclasses.replace(SMALL, junk=False, carbon_probability=1.0, ice_blobs=(2, 2))
    m = simulate_micrograph(p, 0)
    assert not m.junk_mask.any() and not m.has_carbon and m.n_ice == 0


def test_touching_fraction_makes_touching_pairs():
    base = dataclasses.replace(SMALL, shape=(512, 512), n_particles=60)

    def closest_pair_ratio(m):
        d = np.hypot(m.x[:, None] - m.x[None, :], m.y[:, None] - m.y[None, :])
        mean_d = 0.5 * (m.diameter_px[:, None] + m.diameter_px[None, :])
        np.fill_diagonal(d, np.inf)
        return d / mean_d

    apart = closest_pair_ratio(simulate_micrograph(base, 3))
    assert apart.min() >= base.min_distance_factor - 1e-9
    touching = closest_pair_ratio(simulate_micrograph(dataclasses.replace(base, touching_fraction=0.4), 3))
    assert (touching.min(axis=1) < 0.95).sum() >= 10


def test_particle_types_reproducible_and_sized():
    a, b = make_particle_type(150.0, seed=3), make_particle_type(150.0, seed=3)
    np.testing.assert_array_equal(a.centres_A, b.centres_A)
    c = make_particle_type(150.0, seed=4)
    assert not np.array_equal(a.centres_A, c.centres_A)
    extent = np.max(np.linalg.norm(a.centres_A, axis=1) + 1.5 * a.sigmas_A)
    assert extent == pytest.approx(75.0)
    com = (a.masses[:, None] * a.centres_A).sum(axis=0) / a.masses.sum()
    np.testing.assert_allclose(com, 0.0, atol=1e-9)


def test_two_types_get_their_class_ids_and_diameters():
    p = dataclasses.replace(SMALL, diameters_A=(100.0, 160.0), n_particles=30)
    m = simulate_micrograph(p, 9)
    assert set(np.unique(m.class_id)) == {1, 2}
    np.testing.assert_allclose(m.diameter_px[m.class_id == 1], 25.0)
    np.testing.assert_allclose(m.diameter_px[m.class_id == 2], 40.0)


def test_relion_ctf_convention():
    """RELION: +Q0 at k = 0, positive first lobe, -sin(gamma) with gamma as in ctf.h."""
    shape, px = (128, 128), 2.0
    ctf = relion_ctf(shape, px, defocus_u_A=15000, defocus_v_A=15000, amplitude_contrast=0.1)
    assert ctf[0, 0] == pytest.approx(0.1, abs=1e-6)
    assert ctf[0, 1] > 0.1  # rising first lobe
    k = 10 / (128 * px)  # kx at column 10
    lam = electron_wavelength_A(300)
    gamma = np.pi * lam * (-15000) * k**2 + np.pi / 2 * 2.7e7 * lam**3 * k**4 - np.arctan(0.1 / np.sqrt(0.99))
    assert ctf[0, 10] == pytest.approx(-np.sin(gamma), abs=1e-5)
    assert lam == pytest.approx(0.019687, abs=1e-5)  # 300 kV


def test_bad_params_raise_config_error():
    with pytest.raises(ConfigError, match="snr"):
        SimulationParams(snr=0)
    with pytest.raises(ConfigError, match="shape"):
        SimulationParams(shape=(10, 1024))
    with pytest.raises(ConfigError, match="defocus_um"):
        SimulationParams(defocus_um=(3.0, 1.0))
    with pytest.raises(ConfigError, match="touching_fraction"):
        SimulationParams(touching_fraction=1.5)


def test_full_size_micrograph_is_fast():
    p = SimulationParams(carbon_probability=1.0, ice_blobs=(2, 2), aggregates=(2, 2))
    simulate_micrograph(p, 0)  # warm the type cache and imports
    t0 = time.perf_counter()
    m = simulate_micrograph(p, 1)
    elapsed = time.perf_counter() - t0
    assert m.image.shape == (1024, 1024)
    assert elapsed < 1.0, f"1024 x 1024 micrograph took {elapsed:.2f} s"


def test_density_parameter_and_empty_micrograph_with_aggregates():
    dense = dataclasses.replace(SMALL, particles_per_megapixel=200.0)  # 256 x 384 -> about 20
    assert dense.particle_count() == round(200.0 * 256 * 384 / 1e6)
    assert simulate_micrograph(dense, 0).n_particles == dense.particle_count()
    # No particles but an aggregate: the aggregate still gets protein-like (finite, dark) contrast.
    p = dataclasses.replace(SMALL, n_particles=0, junk=True, carbon_probability=0.0, ice_blobs=(0, 0),
                            aggregates=(1, 1), keep_clean=True)
    m = simulate_micrograph(p, 5)
    assert m.n_particles == 0 and m.n_aggregates == 1 and m.junk_mask.any()
    assert np.isfinite(m.image).all()
    assert lowpass(m.clean, 30)[m.junk_mask].mean() < lowpass(m.clean, 30)[~m.junk_mask].mean()
