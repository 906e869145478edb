"""The oracle matched-filter benchmark: its template, its filter and its two limits.

Why these checks: the benchmark's numbers are only evidence if the oracle finds (nearly) every
particle when the signal is strong, falls to the chance level when there is none (the same
micrographs with the particle signal scaled to nothing), and its template sits where the truth
coordinates point (a shifted template would cost F1 that no picker could be blamed for).
Everything runs on 256 x 256 micrographs.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import bench_oracle as bo
from benchmarks import oracle_filter as of

SHAPE = (256, 256)


@pytest.mark.parametrize("bin_factor", [1, 2])
def test_template_is_centred(bin_factor: int) -> None:
    params = bo.demo_params(0.1, SHAPE)
    box, centre = of.render_template(params, n_rotations=16, bin_factor=bin_factor)
    cx, cy = of.centre_of_mass(box)
    assert box.shape[0] == box.shape[1] and box.min() > -1e-3 * box.max()
    assert abs(cx - centre) < 0.5 and abs(cy - centre) < 0.5


def test_demo_params_match_cli_defaults() -> None:
    params = bo.demo_params(0.01)
    assert params.shape == (1024, 1024) and params.pixel_size_A == 4.0
    assert params.diameters_A == (160.0,) and params.n_particles == 80 and params.junk
    assert params.defocus_um == (1.0, 3.0) and params.snr == 0.01


def test_map_noise_is_unit_z_without_particles() -> None:
    """The analytic noise std of the whitened filter output matches the measured one."""
    params = bo.demo_params(bo.CHANCE_SNR, SHAPE)
    mic = bo.demo_micrograph(params, 0)
    tpl = of.render_template(params, n_rotations=8)
    filt = of.oracle_filter(mic, tpl, of.padded_shape(SHAPE, tpl[0].shape[0]))
    z = of.score_map(mic.image, mic.junk_mask, filt)
    assert 0.8 < of.robust_std(z[~mic.junk_mask]) < 1.25


def test_oracle_finds_particles_at_high_snr_and_chance_at_none() -> None:
    kw = dict(n=2, shape=SHAPE, n_rotations=16, dataset_seed=2, model_size=None)
    high = bo.run_snr(5.0, **kw, bank=4)
    low = bo.run_snr(1e-4, **kw)
    chance = bo.run_snr(bo.CHANCE_SNR, **kw)
    assert high["n_particles"] > 5
    assert high["f1_best_per_micrograph_threshold"] > 0.9
    assert high["f1_best_pooled_threshold"] > 0.9
    assert high["oracle_mean_z_at_truth"] > 5
    assert high["bank_f1_best_per_micrograph_threshold"] > 0.9  # single projections find them too
    # No information: as good as the chance row (same layouts, no particle signal), far from high.
    assert low["f1_best_per_micrograph_threshold"] < chance["f1_best_per_micrograph_threshold"] + 0.1
    assert low["f1_best_per_micrograph_threshold"] < 0.6
    # The TP/FP/FN that match_picks gives at the chosen thresholds add up.
    s = high["original_scale"]["best_pooled_threshold"]
    assert s["tp"] + s["fn"] == high["n_particles"]


def test_integrated_snr() -> None:
    r = of.integrated_snr(0.01, 40.0)
    assert r["disc_area_px"] == pytest.approx(1256.6, abs=0.1)
    assert r["integrated_snr"] == pytest.approx(12.566, abs=1e-3)
    assert r["ideal_detection_snr"] == pytest.approx(np.sqrt(12.566), abs=1e-3)


def test_quick_cli_writes_json_and_markdown(tmp_path) -> None:
    out = tmp_path / "oracle.json"
    assert bo.main(["--quick", "--n", "1", "--snrs", "1", "--n-rotations", "8", "--bank", "0",
                    "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert [r["snr"] for r in result["rows"]] == [1.0, bo.CHANCE_SNR]
    assert result["settings"]["model_size"] == 128 and "model_f1_best_pooled_threshold" in result["rows"][0]
    assert "| 1 |" in out.with_suffix(".md").read_text()


def test_mixture_cli_reports_recall_per_class(tmp_path) -> None:
    """Two particle types (as ``samcryo simulate --diameters-A 130 190``): max over per-type
    z-maps, each truth matched within half its own diameter, recall per class in JSON and markdown."""
    params = bo.demo_params(1.0, SHAPE, (130, 190), keep_clean=True)
    assert params.diameters_A == (130.0, 190.0)
    mic = bo.demo_micrograph(params, 0)
    # Per-particle SKE d' splits the micrograph's total exactly.
    dp = of.ske_dprime_per_particle(mic)
    assert len(dp) == mic.n_particles
    assert np.sqrt(np.mean(dp**2)) == pytest.approx(of.ske_dprime(mic), rel=1e-6)
    out = tmp_path / "mix.json"
    assert bo.main(["--quick", "--n", "3", "--snrs", "1", "--n-rotations", "8", "--bank", "2", "--no-chance",
                    "--diameters-A", "130", "190", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    s = result["settings"]
    assert s["diameters_A"] == [130.0, 190.0] and s["match_distance_px"] == [16.25, 23.75]
    assert s["min_distance_px"] == 16.25
    (row,) = result["rows"]
    for key in ("recall_by_class_best_pooled_threshold", "recall_by_class_best_per_micrograph_threshold",
                "model_recall_by_class_best_pooled_threshold", "bank_recall_by_class_best_pooled_threshold"):
        assert set(row[key]) == {"1", "2"}, key
    assert all(c["n_particles"] > 0 for c in row["per_class"])
    assert sum(c["n_particles"] for c in row["per_class"]) == row["n_particles"]
    assert all(r > 0.8 for r in row["recall_by_class_best_pooled_threshold"].values())
    assert row["f1_best_pooled_threshold"] > 0.9
    md = out.with_suffix(".md").read_text()
    assert "recall 130 A (one pooled thr)" in md and "| 1 | 2 | 190 A (47.5 px) |" in md
