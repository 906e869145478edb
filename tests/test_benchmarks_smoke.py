"""Smoke tests of the benchmark scripts' core functions on tiny cases, so the benchmarks don't rot.

They check what the published numbers rest on: the shared scorer on hand-made cases (a perfect
picker scores 1, an empty one 0, best-F1 picks the right cut-off), mask -> centres, a per-child
peak-memory measurement, a tiny accuracy run (LoG + an untrained and a one-epoch samcryo picker
end to end) and every stage worker of the stage benchmark in-process on a small micrograph.
No test reads /work/shared (users don't have it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402


def _test_mic(xy, d=20.0, shape=(200, 300)) -> common.TestMicrograph:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return common.TestMicrograph("m", "m.mrc", xy, np.full(len(xy), d), shape)


def test_score_perfect_and_empty_picker():
    t = _test_mic([[50, 50], [150, 100], [250, 60]])
    perfect = pd.DataFrame({"x": t.truth_xy[:, 0] + 1, "y": t.truth_xy[:, 1], "fom": [0.9, 0.8, 0.7]})
    s = common.score_picks([t], {"m": perfect})
    assert (s["tp"], s["fp"], s["fn"]) == (3, 0, 0)
    assert s["f1"] == pytest.approx(1.0) and s["ap"] == pytest.approx(1.0)
    assert s["best_f1"] == pytest.approx(1.0)
    assert s["dice"] > 0.8
    empty = common.score_picks([t], {})
    assert (empty["tp"], empty["fn"], empty["f1"], empty["best_f1"]) == (0, 3, 0.0, 0.0)


def test_score_operating_point_and_best_f1():
    t = _test_mic([[50, 50], [150, 100]])
    # Two true picks with high FOM, two junk picks with low FOM: everything -> F1 2/3; cut at 0.5 -> 1.
    picks = pd.DataFrame({"x": [50, 150, 10, 280], "y": [50, 100, 190, 10], "fom": [0.9, 0.8, 0.2, 0.1]})
    all_picks = common.score_picks([t], {"m": picks})
    assert all_picks["f1"] == pytest.approx(2 / 3)
    assert all_picks["best_f1"] == pytest.approx(1.0)
    assert all_picks["best_f1_min_fom"] == pytest.approx(0.8)
    op = common.score_picks([t], {"m": picks}, min_fom=0.5)
    assert op["f1"] == pytest.approx(1.0) and op["n_picks"] == 2


def test_best_f1_never_cuts_inside_a_tie():
    # Ranks 1-2 share a FOM (one true, one junk): a cut-off keeps both or neither, never the first.
    t = _test_mic([[50, 50], [150, 100]])
    picks = pd.DataFrame({"x": [50, 10], "y": [50, 190], "fom": [0.7, 0.7]})
    s = common.score_picks([t], {"m": picks})
    assert s["best_f1"] == pytest.approx(0.5) and s["best_f1_min_fom"] == pytest.approx(0.7)


def test_centres_from_mask_splits_touching_discs():
    yy, xx = np.mgrid[0:100, 0:160]
    mask = ((xx - 40) ** 2 + (yy - 50) ** 2 <= 15**2) | ((xx - 66) ** 2 + (yy - 50) ** 2 <= 15**2)
    mask |= (xx - 130) ** 2 + (yy - 30) ** 2 <= 15**2
    xy = common.centres_from_mask(mask, 30.0)
    assert len(xy) == 3
    for cx, cy in [(40, 50), (66, 50), (130, 30)]:
        assert np.min(np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)) <= 4


def test_run_measured_reports_the_childs_own_peak_memory(tmp_path):
    # This test process (pytest + torch) is far bigger than a bare interpreter: a naive fork would
    # charge the child with the parent's RSS. The launcher must not.
    ballast = bytearray(300 * 2**20)
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    fill = "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    big = common.run_measured([sys.executable, "-c", fill])
    small = common.run_measured([sys.executable, "-c", "pass"], log_path=tmp_path / "log.txt")
    fail = common.run_measured([sys.executable, "-c", "raise SystemExit(3)"])
    assert big["rc"] == 0 and small["rc"] == 0 and fail["rc"] == 3
    assert small["peak_rss_mib"] < 100
    assert big["peak_rss_mib"] > small["peak_rss_mib"] + 150
    del ballast


def test_machine_info_has_what_the_docs_print():
    m = common.machine_info()
    for key in ("cpu_model", "cpu_cores", "ram_gib", "python", "torch", "date_utc"):
        assert m[key]
    assert "cores" in common.machine_line(m)


@pytest.mark.slow
def test_tiny_accuracy_run(tmp_path):
    import bench_accuracy

    prefix = tmp_path / "acc"
    rc = bench_accuracy.main([
        "--out-prefix", str(prefix), "--work-dir", str(tmp_path / "work"), "--snrs", "0.1",
        "--sim-size", "256", "--sim-particles", "6", "--n-test", "1", "--n-labelled", "2", "--epochs", "1",
        "--pickers", "log", "none", "prefix", "--fewshot-sizes", "1", "--fewshot-prompts", "prefix",
        "--fewshot-datasets", "sim_snr0.1", "--fewshot-steps", "1", "--no-real", "--tta", "flips",
    ])
    assert rc == 0
    result = json.loads(prefix.with_suffix(".json").read_text())
    assert [r["picker"] for r in result["rows"]] == ["log", "none", "prefix"]
    for r in result["rows"] + result["fewshot"]:
        assert r["n_truth"] > 0 and 0.0 <= r["f1"] <= 1.0 and 0.0 <= r["dice"] <= 1.0
    assert result["rows"][2]["epochs"] == 1 and result["rows"][2]["train_s"] > 0
    assert len(result["fewshot"]) == 1 and result["fewshot"][0]["n_labelled"] == 1
    assert "cpu_model" in result["machine"]
    assert result["config"]["tta"] == "flips"
    assert prefix.with_suffix(".csv").is_file()
    assert "| sim_snr0.1 | log |" in prefix.with_suffix(".md").read_text()


@pytest.mark.slow
def test_stage_workers_in_process(tmp_path):
    import bench_stages

    mrc = bench_stages.make_inputs(tmp_path, {"tiny": (768, 1024)}, n_particles=4)["tiny"]
    out = tmp_path / "run"
    runs = []
    for stage in bench_stages.STAGES:
        res = bench_stages.worker(stage, mrc, out, threads=1)
        assert res["wall_s"] >= 0 and res["peak_rss_self_mib"] > 0
        runs.append({"size": "tiny", "rep": 0, **res, "process_wall_s": res["wall_s"],
                     "peak_rss_mib": res["peak_rss_self_mib"]})
    seg = next(r for r in runs if r["stage"] == "segment")
    assert seg["model_forward_s"] > 0 and seg["io_pre_post_s"] >= 0
    # The extract stage scores a map rendered from the truth, so it must find particles.
    assert next(r for r in runs if r["stage"] == "extract")["n_picks"] >= 1
    assert (out / "relion").is_dir() and (out / "cryosparc" / "particles.star").is_file()
    summary = bench_stages.summarise(runs, "tiny")
    ratio = next(r for r in summary if r["stage"] == "ratio")
    assert ratio["log_over_samcryo_pick"] > 0 and 0 < ratio["model_share_of_segment"] <= 1


def test_merge_keeps_rows_that_are_not_redone():
    import bench_accuracy

    args = bench_accuracy.parse_args(["--snrs", "--pickers", "topaz", "--fewshot-sizes", "--merge"])
    prev = {"rows": [{"dataset": "sim_snr0.1", "picker": "topaz"},
                     {"dataset": "real_10028", "picker": "topaz"},
                     {"dataset": "real_10028", "picker": "log"}],
            "fewshot": [{"dataset": "real_10028", "picker": "head"}],
            "skipped": [{"dataset": "real_10028", "picker": "topaz", "reason": "png"}],
            "datasets": [{"name": "sim_snr0.1"}, {"name": "real_10028"}], "machine": {"cpu_model": "x"}}
    result = {"rows": [], "fewshot": [], "skipped": [], "datasets": []}
    bench_accuracy.merge_previous(result, prev, args)
    kept = [(r["dataset"], r["picker"]) for r in result["rows"]]
    assert kept == [("sim_snr0.1", "topaz"), ("real_10028", "log")]
    assert result["fewshot"] == prev["fewshot"] and result["skipped"] == []
    assert [d["name"] for d in result["datasets"]] == ["sim_snr0.1"]
    assert result["merged_from"]["machine"] == {"cpu_model": "x"}


def test_pretraining_gain_scores_each_particle_within_half_its_own_diameter():
    """Mixed sizes: a pick 12 px off a 20 px particle is a miss, 12 px off a 40 px one a hit."""
    import bench_pretraining_gain

    from samcryo_core.frame import FrameMapping

    mapping = FrameMapping("m", "m.mrc", (128, 128), (128, 128))
    yy, xx = np.mgrid[:128, :128]
    prob = np.zeros((128, 128), np.float32)
    for cx, cy in ((42, 30), (82, 90)):  # discs drawn 12 px right of the true centres below
        prob[(xx - cx) ** 2 + (yy - cy) ** 2 <= 100] = 0.9
    truth = pd.DataFrame({"x": [30.0, 70.0], "y": [30.0, 90.0], "diameter_px": [20.0, 40.0]})
    unseen = [{"mapping": mapping, "truth": truth}]
    s = bench_pretraining_gain.score([prob], unseen, diameter_px=20.0, threshold=0.5)
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 1)


def test_snr_binning_measures_the_native_snr_and_a_binning_gain(tmp_path):
    """Binning keeps the particles' low-resolution signal and averages noise away: the measured
    SNR at the detector pixel is the requested one, and it grows with every 2x binning."""
    import bench_snr_binning

    out = tmp_path / "snr.json"
    assert bench_snr_binning.main(["--quick", "--snr", "0.02", "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    s = res["summary"]
    assert s["native"]["snr_median"] == pytest.approx(0.02, rel=0.02)  # the simulator's own definition
    assert 1.0 < s["bin4"]["ratio_to_native_median"] < s["bin8"]["ratio_to_native_median"] < 64.0
    assert float(res["demo_snr_at_detector_pixel"]["0.2"]) < 0.2


def test_bench_scale_paired_difference_of_two_pickers():
    import bench_scale

    a = {"f1_per_micrograph": {"m1": 0.9, "m2": 0.8, "m3": 0.85}}
    b = {"f1_per_micrograph": {"m1": 0.85, "m2": 0.82, "m3": 0.80, "other": 0.1}}
    d = bench_scale.paired_difference(a, b)
    assert d["n"] == 3 and d["wins"] == 2
    assert d["mean"] == pytest.approx((0.05 - 0.02 + 0.05) / 3, abs=1e-4)
    assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    assert d["ci95"][0] >= -0.02 - 1e-9 and d["ci95"][1] <= 0.05 + 1e-9


def test_scale_tables_print_rows_from_the_results_file(tmp_path):
    import scale_tables

    row = {"f1": 0.8571, "precision": 0.77, "recall": 0.96}
    runs = {"a": {"real10028/up1x": {"head": row, "log": {"f1": 0.869, "precision": 0.78, "recall": 0.98}}},
            "b": {"real10028/up1x": {"head": {**row, "f1": 0.9}}}}
    (tmp_path / "scale.json").write_text(json.dumps({"runs": runs}))
    summary = scale_tables.summary_table(runs, ["a", "b"], "a")
    line = next(x for x in summary.splitlines() if x.startswith("| EMPIAR-10028 native"))
    assert line == "| EMPIAR-10028 native 1024 px | 0.857 | 0.900 | 0.869 | -0.012 | +0.031 |"
    assert "| sim crowding 40 % | - | - | - | - | - |" in summary  # not run: a dash, no zero
    table = scale_tables.set_table(runs, ["a", "b"], ["real10028/up1x"])
    assert "| `head` (default prompt) | a | 0.857 (0.77 / 0.96) |" in table
    assert "| built-in LoG | a | 0.869 (0.78 / 0.98) |" in table and "| built-in LoG | b |" not in table
    assert scale_tables.main(["--results", str(tmp_path / "scale.json"), "--labels", "a"]) == 0
    # a superseding label's run of a set replaces the row (marked), compared with its own LoG run;
    # the other labels keep the LoG run of their own settings
    runs["shipped"] = runs.pop("a")
    runs["shipped_label_spacing"] = {"real10028/up1x": {"head": {**row, "f1": 0.95}, "log": {"f1": 0.9}}}
    line = next(x for x in scale_tables.summary_table(runs, ["shipped", "b"], "shipped").splitlines()
                if x.startswith("| EMPIAR-10028 native"))
    assert line == "| EMPIAR-10028 native 1024 px | 0.950 * | 0.900 | 0.900 * | +0.050 | +0.031 |"


def test_pick_audit_sorts_picks_by_labels_and_reads_the_image_evidence():
    """Six dark discs, four labelled: a pick on an unlabelled disc is an FP the image backs (high
    LoG z), like the labelled ones, while background reads near 0; the labelled disc head misses
    is listed with the model's probability there and LoG finding it."""
    import bench_pick_audit

    from samcryo_core.frame import FrameMapping

    mapping = FrameMapping("m", "m.mrc", (256, 256), (256, 256))
    rng = np.random.default_rng(1)
    image = rng.normal(0.0, 0.3, (256, 256)).astype(np.float32)
    prob = np.zeros((256, 256), np.float32)
    yy, xx = np.mgrid[:256, :256]
    centres = [(40, 40), (120, 40), (200, 40), (40, 160), (120, 160), (200, 160)]
    for cx, cy in centres:
        image[(xx - cx) ** 2 + (yy - cy) ** 2 <= 100] -= 2.0
        prob[(xx - cx) ** 2 + (yy - cy) ** 2 <= 100] = 0.9
    xy = np.array(centres, dtype=float)

    def table(points):
        x, y = points[:, 0], points[:, 1]
        return pd.DataFrame({"x": x, "y": y, "x_norm": x, "y_norm": y})

    truth = xy[[0, 1, 2, 3]]
    head = table(xy[[0, 1, 2, 4, 5]])  # misses labelled disc 3, picks unlabelled 4 and 5
    log = table(xy[[0, 1, 2, 3, 4]])  # LoG finds disc 3 and shares the FP on disc 4
    res = bench_pick_audit.audit_micrograph(image, prob, mapping, head, log, truth, 20.0,
                                            np.random.default_rng(0), n_background=20)
    assert (len(res["tp"]), len(res["fp_shared"]), len(res["fp_head_only"])) == (3, 1, 1)
    assert min(res["tp"] + res["fp_shared"] + res["fp_head_only"]) > 2.0
    assert np.median(res["background"]) < 1.0
    (miss,) = res["fn"]
    assert (miss["x"], miss["y"], miss["log_finds"]) == (40.0, 160.0, True)
    assert miss["probability"] == pytest.approx(0.9)
    assert res["log_fn"] == 0
