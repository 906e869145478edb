"""A scene in Angstrom rendered at several pixel sizes: the same particles at the same physical
places, the SNR kept per physical area, and the data-set and CLI layout of such renders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import starfile
from scipy import ndimage

from samcryo_core.cli import main
from samcryo_core.simulate import (
    SimulationParams,
    make_scene,
    render_scene,
    simulate_dataset,
    simulate_micrograph,
)

FIELD = SimulationParams(shape=(240, 320), pixel_size_A=3.0, diameters_A=(90.0, 130.0), n_particles=20,
                         snr=0.5, carbon_probability=1.0, ice_blobs=(1, 1), aggregates=(0, 0))


def dark_at_centres(m) -> float:
    """Fraction of particles whose low-passed centre is darker than the background median."""
    sm = ndimage.gaussian_filter(m.image.astype(np.float64), float(m.diameter_px.mean()) / 4)
    free = ~m.junk_mask & ~ndimage.binary_dilation(m.particle_mask, iterations=3)
    centres = sm[np.round(m.y).astype(int), np.round(m.x).astype(int)]
    return float(np.mean(centres < np.median(sm[free])))


def test_simulate_micrograph_is_its_scene_rendered():
    m = simulate_micrograph(FIELD, 4)
    gen = np.random.default_rng(4)
    again = render_scene(make_scene(FIELD, gen), gen)
    np.testing.assert_array_equal(m.image, again.image)
    assert m.pixel_size_A == 3.0 and m.snr == FIELD.snr
    np.testing.assert_allclose(m.x_A, m.scene.x_A)


def test_same_scene_at_two_pixel_sizes_has_the_same_truth_in_angstrom():
    scene = make_scene(FIELD, 11)
    fine = render_scene(scene, 1, pixel_size_A=2.0)
    coarse = render_scene(scene, 2, pixel_size_A=5.0)
    assert fine.image.shape == (360, 480) and coarse.image.shape == (144, 192)
    assert fine.n_particles == coarse.n_particles == scene.n_particles > 5
    np.testing.assert_allclose(fine.x_A, coarse.x_A, atol=1e-9)
    np.testing.assert_allclose(fine.y_A, coarse.y_A, atol=1e-9)
    np.testing.assert_allclose(fine.diameter_px * 2.0, coarse.diameter_px * 5.0)
    np.testing.assert_array_equal(fine.class_id, coarse.class_id)
    # the pixel coordinates map as the half-pixel convention says: (x + 0.5) * px
    np.testing.assert_allclose((coarse.x + 0.5) * 5.0, scene.x_A)
    # same junk in the same place (coverage of the field within a pixel's worth)
    assert abs(fine.junk_mask.mean() - coarse.junk_mask.mean()) < 0.02
    # SNR per physical area: per-pixel SNR grows with the pixel area
    assert fine.snr == pytest.approx(FIELD.snr * (2.0 / 3.0) ** 2)
    assert coarse.snr == pytest.approx(FIELD.snr * (5.0 / 3.0) ** 2)
    # and the particles are where the truth says at both scales
    assert dark_at_centres(fine) > 0.8 and dark_at_centres(coarse) > 0.8


def test_measured_snr_of_a_render_matches_its_pixel_size():
    p = dataclasses.replace(FIELD, junk=False, keep_clean=True, snr=0.05)
    scene = make_scene(p, 3)
    for px in (2.0, 4.5):
        m = render_scene(scene, 7, pixel_size_A=px)
        noise = m.image - m.clean
        measured = m.particle_signal[m.particle_mask].var() / noise.var()
        assert measured == pytest.approx(p.snr * (px / 3.0) ** 2, rel=0.15)


def test_dataset_at_several_pixel_sizes(tmp_path):
    summary = simulate_dataset(tmp_path, 2, FIELD, seed=5, prefix="s", render_pixel_sizes_A=(2.0, 6.0))
    assert len(summary) == 4
    for px in (2.0, 6.0):
        folder = tmp_path / f"px{px:g}"
        table = pd.read_csv(folder / "truth" / "summary.csv")
        assert list(table["micrograph"]) == ["s_0000", "s_0001"] and (table["pixel_size_A"] == px).all()
    for name in ("s_0000", "s_0001"):
        a = starfile.read(tmp_path / "px2" / "truth" / f"{name}.star")
        b = starfile.read(tmp_path / "px6" / "truth" / f"{name}.star")
        for col in ("rlnCoordinateX", "rlnCoordinateY"):
            np.testing.assert_allclose((a[col] + 0.5) * 2.0, (b[col] + 0.5) * 6.0, atol=1e-6)


def test_cli_render_pixel_size_shapes_coverage_and_style(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main(["simulate", "--out-dir", str(out), "--n", "1", "--shape", "128", "160", "--pixel-size", "4",
               "--diameters-A", "80", "--shapes", "ring", "--coverage", "0.15", "--style", "png8",
               "--more-junk", "--ice-gradient", "0.5", "--render-pixel-size", "4", "8", "--seed", "2"])
    assert rc == 0
    assert "px4/micrographs" in capsys.readouterr().out
    for px, shape in ((4, (128, 160)), (8, (64, 80))):
        from samcryo_core.io.micrograph import read_micrograph

        mic = read_micrograph(out / f"px{px}" / "micrographs" / "sim_0000.png")
        assert mic.data.shape == shape
        table = pd.read_csv(out / f"px{px}" / "truth" / "summary.csv")
        assert table.loc[0, "style"] == "png8" and table.loc[0, "coverage"] > 0
        assert {"n_filaments", "n_ethane", "n_holes", "n_crystals"} <= set(table.columns)


def test_cli_style_choices_are_the_simulators():
    from samcryo_core.cli.simulate import STYLE_CHOICES
    from samcryo_core.simulate import STYLES

    assert STYLE_CHOICES == STYLES
