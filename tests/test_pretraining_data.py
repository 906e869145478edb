"""Pre-training data, recipe v2: every family, coverage, junk kind and style is drawn; tiles are
at the working scale; real labelled micrographs are mixed in from their train split only, their
valid split is validated on, and a left-out set is never read."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile

from samcryo_core.errors import ConfigError
from samcryo_core.pretraining import PretrainConfig, draw_simulation_params, make_example, validation_set
from samcryo_core.pretraining.data import TRAIN
from samcryo_core.pretraining.real import load_split
from samcryo_core.simulate import FAMILIES, STYLES, SimulationParams, simulate_micrograph

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(micrograph_size=256, pixel_size_A=(14.0, 18.0), val_micrographs=1)
V1 = dict(shape_families=("blob",), styles=("float",), coverage=None, more_junk=False,
          ice_gradient=(0.0, 0.0), ice_meniscus=(0.0, 0.0), tile_field=False, touching_fraction=(0.0, 0.2))
V1_FIELDS = ("shape", "pixel_size_A", "diameters_A", "type_weights", "type_seed", "n_particles",
             "touching_fraction", "snr", "dose_e_per_A2", "noise_low_freq_rise", "detector_cutoff",
             "illumination_gradient")


def test_v2_draws_cover_every_family_style_coverage_and_junk():
    cfg = PretrainConfig()
    draws = [draw_simulation_params(cfg, np.random.default_rng([0, i]), v2_rng=np.random.default_rng([1, i]))
             for i in range(200)]
    assert {f for p in draws for f in p.shape_families} == set(FAMILIES)
    assert {p.style for p in draws} == set(STYLES)
    cov = np.array([p.coverage for p in draws])
    assert cov.min() >= 0.02 and cov.max() <= 0.4 and (cov > 0.3).sum() > 20 and (cov < 0.1).sum() > 20
    for key in ("filaments", "ethane_clusters", "ice_holes", "ice_crystals"):
        share = np.mean([getattr(p, key)[1] > 0 for p in draws])
        assert 0.1 < share < 0.35, key
    assert max(p.ice_gradient for p in draws) > 0.8 and max(p.ice_meniscus for p in draws) > 1.2
    windows = [p.png_window_sigma for p in draws]
    assert min(windows) < 5 and max(windows) > 40


def test_v2_parameters_do_not_move_the_v1_draws():
    """v2 parameters come from their own stream: a v1 recipe draws the v1 parameters it always did."""
    cfg = PretrainConfig(**V1)
    a = draw_simulation_params(cfg, np.random.default_rng(5), v2_rng=np.random.default_rng(1))
    b = draw_simulation_params(cfg, np.random.default_rng(5), v2_rng=np.random.default_rng(2))
    c = draw_simulation_params(PretrainConfig(), np.random.default_rng(5), v2_rng=np.random.default_rng(3))
    for key in V1_FIELDS:
        assert getattr(a, key) == getattr(b, key), key
        if key != "touching_fraction":  # v2 widens its range; the same draw lands further out
            assert getattr(a, key) == getattr(c, key), key
    assert set(a.shape_families) == {"blob"} and a.style == "float" and a.coverage is None
    assert a.filaments == (0, 0) and a.ice_gradient == 0.0


def test_tiles_are_at_the_working_scale_and_fields_fit_the_tile():
    cfg = PretrainConfig(micrograph_size=1024, pixel_size_A=(6.0, 8.0), val_micrographs=1)
    for i in range(4):
        ex = make_example(cfg, TRAIN, i, 128, 32)
        assert ex.image.shape == (128, 128) and ex.source == "sim"
        H, W = ex.mapping.original_shape
        assert H == W < 1024  # only the field one tile needs was simulated
        assert min(ex.mapping.binned_shape) >= 128 - 8
        d = float(np.median(ex.diameter_px)) / ex.mapping.mean_scale
        lo, hi = ex.mapping.extra["diameter_A"]
        spread = 1.3 * math.sqrt(hi / lo)
        assert cfg.particle_px / spread * 0.95 <= d <= cfg.particle_px * spread * 1.05


def write_fake_real_set(root: Path, centres: Path, name: str, splits=("train", "valid", "test"),
                        n: int = 2) -> None:
    """A CryoPPP-like set: 8-bit PNG micrographs from the simulator and their centres STAR files."""
    params = SimulationParams(shape=(256, 256), pixel_size_A=5.0, diameters_A=(100.0,), n_particles=15,
                              snr=0.5, style="png8", junk=False)
    from PIL import Image

    for split in splits:
        for i in range(n):
            mic = simulate_micrograph(params, sum(map(ord, name + split)) * 10 + i)
            stem = f"{split}_{i:02d}_{name}"
            (root / name / split / "images").mkdir(parents=True, exist_ok=True)
            Image.fromarray(mic.image).save(root / name / split / "images" / f"{stem}.png")
            if split == "test":
                continue  # derive_centres.py never writes test centres
            (centres / name / split).mkdir(parents=True, exist_ok=True)
            table = pd.DataFrame({"rlnMicrographName": f"{stem}.png", "rlnCoordinateX": mic.x,
                                  "rlnCoordinateY": mic.y, "samcryoDiameterPx": mic.diameter_px})
            starfile.write(table, centres / name / split / f"{stem}.star")


@pytest.fixture()
def real_config(tmp_path):
    root, centres = tmp_path / "real", tmp_path / "centres"
    for name in ("setA", "setB"):
        write_fake_real_set(root, centres, name)
    load_split.cache_clear()
    yield PretrainConfig(**SMALL, real_root=str(root), real_centres=str(centres),
                         real_sets=("setA", "setB"), real_fraction=0.5)
    load_split.cache_clear()


def test_real_tiles_are_mixed_in_from_the_train_split(real_config):
    exs = [make_example(real_config, TRAIN, i, 128, 32) for i in range(24)]
    sources = [e.source for e in exs]
    assert 6 <= sum(s != "sim" for s in sources) <= 18  # about real_fraction
    assert {"setA", "setB"} <= set(sources)
    for e in exs:
        assert e.image.shape == (128, 128) and e.mask.shape == (32, 32) and np.isfinite(e.image).all()
        if e.source != "sim":
            assert "train_" in e.name and e.mask.any()
    # the simulated examples are the same whatever the real share
    sim_only = dataclasses.replace(real_config, real_fraction=0.0)
    for i, e in enumerate(exs):
        if e.source == "sim":
            np.testing.assert_array_equal(e.image, make_example(sim_only, TRAIN, i, 128, 32).image)
    again = make_example(real_config, TRAIN, 3, 128, 32)
    np.testing.assert_array_equal(again.image, exs[3].image)


def test_real_valid_split_is_validated_and_left_out_set_never_read(real_config, tmp_path):
    val = validation_set(real_config, 128, 32)
    assert [e.source for e in val] == ["sim", "setA", "setA", "setB", "setB"]
    assert all("valid_" in e.name for e in val[1:])
    # leaving setB out: delete it entirely, nothing may try to read it
    import shutil

    shutil.rmtree(tmp_path / "real" / "setB")
    shutil.rmtree(tmp_path / "centres" / "setB")
    load_split.cache_clear()
    cfg = dataclasses.replace(real_config, leave_out=("setB",))
    assert {e.source for e in validation_set(cfg, 128, 32)} == {"sim", "setA"}
    assert {make_example(cfg, TRAIN, i, 128, 32).source for i in range(12)} <= {"sim", "setA"}


def test_real_data_config_errors():
    with pytest.raises(ConfigError, match="real_centres"):
        PretrainConfig(real_root="/nowhere")
    with pytest.raises(ConfigError, match="leave_out"):
        PretrainConfig(real_root="/nowhere", real_centres="/c", leave_out=("99999",))
    with pytest.raises(ConfigError, match="select_on"):
        PretrainConfig(select_on="test")
    with pytest.raises(ConfigError, match="shape_families"):
        PretrainConfig(styles=("tiff",))


def test_committed_cryoppp_centres_hold_no_test_split():
    """The derived centres in the repository: train and valid only, with their diameter and accuracy."""
    base = REPO / "benchmarks" / "data" / "cryoppp_centres"
    manifest = pd.read_csv(base / "manifest.csv")
    assert set(manifest["split"]) == {"train", "valid"}
    assert set(manifest["set"].astype(str)) == {"10028", "10059", "10947"}
    assert not list(base.rglob("test"))
    for _, row in manifest.iterrows():
        table = starfile.read(base / row["star"])
        assert len(table) == row["n_particles"] > 0
        assert (table["samcryoDiameterPx"] > 0).all()
        for col in ("rlnCoordinateX", "rlnCoordinateY"):
            assert table[col].between(-1, 1024).all()
    accuracy = json.loads((base / "accuracy.json").read_text())
    for name, r in accuracy["synthetic"].items():
        assert r["recall"] > 0.9 and r["precision"] > 0.9, name


@pytest.mark.slow
def test_pretraining_run_with_real_data_records_it(real_config, tmp_path):
    import torch

    from samcryo_core.pretraining import pretrain, read_backbone_metadata

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cfg = dataclasses.replace(real_config, variant="tiny", steps=2, warmup_steps=1, val_every=2,
                                  threads=1, leave_out=("setB",), select_on="all")
        result = pretrain(cfg, tmp_path / "tiny.pt", progress=None)
    finally:
        torch.set_num_threads(n)
    meta = read_backbone_metadata(tmp_path / "tiny.pt")
    assert meta["kind"].endswith("(simulated and real micrographs)")
    assert meta["real_data"]["sets"] == ["setA"] and meta["real_data"]["left_out"] == ["setB"]
    assert meta["real_data"]["test_split"] == "never read"
    assert all("/train_" in m for m in meta["real_data"]["train_micrographs"])
    assert meta["recipe"]["leave_out"] == ["setB"]
    last = meta["history"][-1]
    assert {"val_f1", "real_val_f1", "val_setA_f1", "all_val_f1"} <= set(last)
    assert result.steps_done == 2
