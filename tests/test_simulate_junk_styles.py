"""Things not to pick (filaments, ethane, holes in the ice, ice crystals) and the export styles
(raw counts, CryoPPP-style 8-bit PNG/JPG, denoised): marked, never in the truth, and with the
statistics each style promises."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from samcryo_core.simulate import STYLES, SimulationParams, make_scene, render_scene, simulate_dataset
from samcryo_core.simulate.micrograph import disc_mask, simulate_micrograph
from samcryo_core.simulate.noise import radial_power_bands

NO_OLD_JUNK = dict(carbon_probability=0.0, ice_blobs=(0, 0), aggregates=(0, 0))
BASE = SimulationParams(shape=(256, 256), pixel_size_A=4.0, diameters_A=(100.0,), n_particles=12, snr=0.2,
                        keep_clean=True, illumination_gradient=0.0, **NO_OLD_JUNK)


@pytest.mark.parametrize(("kind", "key", "brighter"), [
    ("filament", "filaments", False),
    ("ethane", "ethane_clusters", False),
    ("hole", "ice_holes", True),
    ("crystal", "ice_crystals", False),
])
def test_each_new_junk_kind_is_marked_contrasted_and_never_picked(kind, key, brighter):
    p = dataclasses.replace(BASE, **{key: (1, 1)})
    found = 0
    for seed in range(4):  # junk may fall mostly outside the field; look at a few fields
        m = simulate_micrograph(p, seed)
        assert m.junk_counts[kind] >= 1
        assert not (disc_mask(m.image.shape, m.x, m.y, m.diameter_px) & m.junk_mask).any()
        if m.junk_mask.mean() < 0.005:
            continue
        found += 1
        free = ~ndimage.binary_dilation(m.junk_mask | m.particle_mask, iterations=4)
        lp = ndimage.gaussian_filter(m.clean.astype(np.float64), 2.0)
        inside = ndimage.binary_erosion(m.junk_mask, iterations=1)
        if brighter:
            assert lp[inside].mean() > lp[free].mean() + 0.02
        else:
            assert lp[inside].mean() < lp[free].mean() - 0.001
    assert found >= 2


def test_new_junk_off_by_default_keeps_old_micrographs():
    """The new kinds draw nothing unless asked for: default parameters give the same scene."""
    p = SimulationParams(shape=(128, 128), pixel_size_A=5.0, diameters_A=(80.0,), n_particles=6)
    a, b = make_scene(p, 3), make_scene(dataclasses.replace(p, filaments=(0, 0), ice_holes=(0, 0)), 3)
    np.testing.assert_array_equal(a.x_A, b.x_A)
    assert a.junk.count("filament") == 0 and a.junk.count("crystal") == 0


def particles_dark(m) -> float:
    img = m.image.astype(np.float64)
    sm = ndimage.gaussian_filter(img, float(m.diameter_px.mean()) / 4)
    bg = ~ndimage.binary_dilation(m.particle_mask, iterations=4)
    return float(np.mean(sm[np.round(m.y).astype(int), np.round(m.x).astype(int)] < np.median(sm[bg])))


@pytest.mark.parametrize("style", STYLES)
def test_every_style_shows_dark_particles_where_the_truth_is(style):
    scene = make_scene(BASE, 5)
    m = render_scene(scene, 1, style=style)
    assert m.style == style and m.image.shape == (256, 256)
    assert m.image.dtype == (np.uint8 if style in ("png8", "jpg") else np.float32)
    assert particles_dark(m) > 0.8


def test_counts_are_poisson_electrons():
    p = dataclasses.replace(BASE, style="counts", n_particles=0, dose_e_per_A2=20.0)
    m = simulate_micrograph(p, 2)
    expected = 20.0 * 4.0**2  # electrons per pixel
    assert np.all(m.image == np.round(m.image)) and m.image.min() >= 0
    assert m.image.mean() == pytest.approx(expected * m.clean.mean(), rel=0.01)
    assert m.image.var() == pytest.approx(m.image.mean(), rel=0.1)  # Poisson: variance = mean
    low, high = radial_power_bands(m.image, [(0.02, 0.1), (0.3, 0.5)])
    assert low / high == pytest.approx(1.0, rel=0.25)  # counting noise is white


def test_png8_is_the_cryoppp_look():
    """8-bit, centred on mid-grey, and with a wide window the particles span few grey levels."""
    scene = make_scene(BASE, 6)
    narrow = render_scene(scene, 1, style="png8")
    wide_scene = dataclasses.replace(scene, params=dataclasses.replace(BASE, png_window_sigma=60.0))
    wide = render_scene(wide_scene, 1, style="png8")
    assert abs(float(np.median(narrow.image)) - 127.5) < 3
    assert float(wide.image.std()) < 4.0 < float(narrow.image.std())
    assert particles_dark(wide) > 0.7  # still visible after the quantisation


def test_jpg_is_a_compressed_png8():
    scene = make_scene(BASE, 7)
    png = render_scene(scene, 1, style="png8").image.astype(np.float64)
    jpg = render_scene(scene, 1, style="jpg").image.astype(np.float64)
    assert not np.array_equal(png, jpg)
    assert np.corrcoef(png.ravel(), jpg.ravel())[0, 1] > 0.9


def test_denoised_is_smooth_and_low_noise():
    scene = make_scene(dataclasses.replace(BASE, n_particles=0), 8)
    raw = render_scene(scene, 1, style="float")
    den = render_scene(scene, 1, style="denoised")
    assert den.image.std() < raw.image.std() / 4
    # smooth: little power near Nyquist relative to the raw image's spectrum shape
    raw_low, raw_high = radial_power_bands(raw.image, [(0.02, 0.1), (0.35, 0.5)])
    den_low, den_high = radial_power_bands(den.image, [(0.02, 0.1), (0.35, 0.5)])
    assert den_high / den_low < 0.2 * raw_high / raw_low


def test_styles_write_their_file_types(tmp_path):
    from samcryo_core.io.micrograph import read_micrograph

    for style, suffix in (("png8", ".png"), ("jpg", ".jpg"), ("counts", ".mrc")):
        out = tmp_path / style
        simulate_dataset(out, 1, dataclasses.replace(BASE, style=style, keep_clean=False), seed=1)
        path = out / "micrographs" / f"sim_0000{suffix}"
        mic = read_micrograph(path)
        assert mic.data.shape == (256, 256)
        if style == "png8":  # lossless: the file holds exactly the rendered image
            seed = int(pd.read_csv(out / "truth" / "summary.csv")["seed"][0])
            m = simulate_micrograph(dataclasses.replace(BASE, style=style, keep_clean=False), seed)
            np.testing.assert_array_equal(np.asarray(mic.data, np.uint8), m.image)
