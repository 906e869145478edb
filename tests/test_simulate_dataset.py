"""The simulated data set on disk: MRC + pixel size, truth STAR files, summary, CLI."""

from __future__ import annotations

import dataclasses

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from samcryo_core.cli import main
from samcryo_core.errors import ConfigError
from samcryo_core.simulate import SimulationParams, micrograph_seed, simulate_dataset, simulate_micrograph

PARAMS = SimulationParams(shape=(128, 192), pixel_size_A=5.0, diameters_A=(100.0,), n_particles=8,
                          carbon_probability=1.0)


def test_dataset_layout_star_mrc_and_summary(tmp_path):
    summary = simulate_dataset(tmp_path, 3, PARAMS, seed=4, prefix="toy")
    names = ["toy_0000", "toy_0001", "toy_0002"]
    assert list(summary["micrograph"]) == names
    on_disk = pd.read_csv(tmp_path / "truth" / "summary.csv")
    assert list(on_disk.columns[:5]) == ["micrograph", "n_particles", "snr", "defocus_um", "seed"]
    assert list(on_disk["micrograph"]) == names
    for i, name in enumerate(names):
        with mrcfile.open(tmp_path / "micrographs" / f"{name}.mrc") as mrc:
            data = mrc.data.copy()
            assert float(mrc.voxel_size.x) == pytest.approx(5.0)
            assert float(mrc.voxel_size.y) == pytest.approx(5.0)
        assert data.shape == (128, 192) and data.dtype == np.float32
        mic = simulate_micrograph(PARAMS, int(on_disk.loc[i, "seed"]))
        np.testing.assert_array_equal(data, mic.image)  # summary seed regenerates the micrograph
        star = starfile.read(tmp_path / "truth" / f"{name}.star")
        assert list(star.columns) == [
            "rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber", "samcryoDiameterPx"]
        np.testing.assert_allclose(star["rlnCoordinateX"], mic.x, atol=1e-5)
        np.testing.assert_allclose(star["rlnCoordinateY"], mic.y, atol=1e-5)
        np.testing.assert_array_equal(star["rlnClassNumber"], mic.class_id)
        np.testing.assert_allclose(star["samcryoDiameterPx"], 20.0)
        assert on_disk.loc[i, "n_particles"] == len(star)
        with mrcfile.open(tmp_path / "truth" / "junk" / f"{name}.mrc") as mrc:
            np.testing.assert_array_equal(mrc.data.astype(bool), mic.junk_mask)
    assert on_disk["seed"].tolist() == [micrograph_seed(4, i) for i in range(3)]
    # no temporary files left behind by the atomic writes
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]


def test_star_file_is_one_unnamed_data_block(tmp_path):
    simulate_dataset(tmp_path, 1, PARAMS, seed=0, prefix="a")
    text = (tmp_path / "truth" / "a_0000.star").read_text()
    blocks = [line for line in text.splitlines() if line.startswith("data_")]
    assert blocks == ["data_"]


def test_dataset_is_deterministic(tmp_path):
    simulate_dataset(tmp_path / "one", 2, PARAMS, seed=9)
    simulate_dataset(tmp_path / "two", 2, PARAMS, seed=9)
    for name in ["sim_0000", "sim_0001"]:
        with mrcfile.open(tmp_path / "one" / "micrographs" / f"{name}.mrc") as a, \
                mrcfile.open(tmp_path / "two" / "micrographs" / f"{name}.mrc") as b:
            np.testing.assert_array_equal(a.data, b.data)
        assert (tmp_path / "one" / "truth" / f"{name}.star").read_text().splitlines()[3:] == \
            (tmp_path / "two" / "truth" / f"{name}.star").read_text().splitlines()[3:]


def test_micrograph_without_particles_writes_empty_truth(tmp_path):
    simulate_dataset(tmp_path, 1, dataclasses.replace(PARAMS, n_particles=0), seed=1, prefix="empty")
    star = starfile.read(tmp_path / "truth" / "empty_0000.star")
    assert len(star) == 0 or star.empty


def test_bad_prefix_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="prefix"):
        simulate_dataset(tmp_path, 1, PARAMS, prefix="../evil")


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "sim"
    rc = main([
        "simulate", "--out-dir", str(out), "--n", "2", "--shape", "96", "160", "--pixel-size", "5",
        "--diameters-A", "80", "120", "--particles-per-micrograph", "6", "--snr", "0.02",
        "--defocus-um", "1.5", "2.5", "--touching-fraction", "0.2", "--seed", "3", "--prefix", "cli",
    ])
    assert rc == 0
    assert "wrote 2 micrographs" in capsys.readouterr().out
    summary = pd.read_csv(out / "truth" / "summary.csv")
    assert list(summary["micrograph"]) == ["cli_0000", "cli_0001"]
    assert summary["defocus_um"].between(1.5, 2.5).all()
    assert (summary["snr"] == 0.02).all()
    for name in summary["micrograph"]:
        with mrcfile.open(out / "micrographs" / f"{name}.mrc") as mrc:
            assert mrc.data.shape == (96, 160)
            assert float(mrc.voxel_size.x) == pytest.approx(5.0)
        star = starfile.read(out / "truth" / f"{name}.star")
        assert set(star["rlnClassNumber"]) <= {1, 2}


def test_cli_no_junk_and_bad_value(tmp_path, capsys):
    out = tmp_path / "nj"
    assert main(["simulate", "--out-dir", str(out), "--n", "1", "--shape", "64", "64", "--pixel-size", "5",
                 "--diameters-A", "60", "--no-junk"]) == 0
    with mrcfile.open(out / "truth" / "junk" / "sim_0000.mrc") as mrc:
        assert not mrc.data.any()
    assert main(["simulate", "--out-dir", str(out), "--n", "1", "--snr", "-1"]) == 1
    assert "snr" in capsys.readouterr().err
