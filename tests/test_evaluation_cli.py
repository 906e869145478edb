"""``samcryo evaluate``: per-micrograph CSV and overall JSON from manifests and truth files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from samcryo_core.cli import main
from samcryo_core.evaluation.score import read_truth
from samcryo_core.export.star_text import loop_block_text
from samcryo_core.frame import FrameMapping
from samcryo_core.manifest import write_manifest
from samcryo_core.particles.picks_io import write_picks

H, W = 400, 600


def picks_df(xy, fom, d=20.0):
    return pd.DataFrame(
        {
            "x": [p[0] for p in xy],
            "y": [p[1] for p in xy],
            "fom": fom,
            "diameter_px": d,
            "x_norm": 0.0,
            "y_norm": 0.0,
            "area_px": 0.0,
        }
    )


def truth_star(path, xy, d=20.0):
    rows = [(float(x), float(y), 1, d) for x, y in xy]
    path.write_text(
        loop_block_text("", ("rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber", "samcryoDiameterPx"), rows)
    )


def setup(tmp_path, flip=False):
    truth_dir = tmp_path / "truth"
    truth_dir.mkdir()
    FrameMapping("m", "m.mrc", (H, W), (128, 192)).write(tmp_path / "m.json")
    rows = []
    # m1: truth (100,100), (200,100), (300,300); picks: two hits + one miss.
    t1 = [(100, 100), (200, 100), (300, 300)]
    write_picks(tmp_path / "m1.csv", picks_df([(102, 100), (200, 104), (500, 50)], [0.9, 0.6, 0.8]))
    # m2: truth (50,50); no picks.
    t2 = [(50, 50)]
    write_picks(tmp_path / "m2.csv", picks_df([], []))
    for name, t in (("m1", t1), ("m2", t2)):
        truth_star(truth_dir / f"{name}.star", [(x, H - 1 - y) for x, y in t] if flip else t)
        rows.append(
            {
                "micrograph": name,
                "status": "ok",
                "reason": "",
                "source": f"{name}.mrc",
                "sidecar": str(tmp_path / "m.json"),
                "picks": str(tmp_path / f"{name}.csv"),
                "n_picks": 0,
            }
        )
    rows.append(
        {
            "micrograph": "m3",
            "status": "ok",
            "reason": "",
            "source": "m3.mrc",
            "sidecar": str(tmp_path / "m.json"),
            "picks": str(tmp_path / "m2.csv"),
            "n_picks": 0,
        }
    )
    rows.append({"micrograph": "m4", "status": "rejected", "reason": "ingest: bad", "source": "m4.mrc"})
    write_manifest(tmp_path / "chunk.tsv", rows)
    return truth_dir


@pytest.mark.parametrize("flip", [False, True])
def test_evaluate_cli(tmp_path, flip):
    truth_dir = setup(tmp_path, flip=flip)
    args = [
        "evaluate",
        "--picks-manifests",
        str(tmp_path / "chunk.tsv"),
        "--truth-dir",
        str(truth_dir),
        "--out-csv",
        str(tmp_path / "per.csv"),
        "--out-json",
        str(tmp_path / "all.json"),
    ]
    assert main(args + (["--flip-y"] if flip else [])) == 0
    per = pd.read_csv(tmp_path / "per.csv").set_index("micrograph")
    assert per.loc["m1", ["tp", "fp", "fn"]].tolist() == [2, 1, 1]
    assert per.loc["m1", "mean_error_px"] == pytest.approx(3.0)
    # Ranked: (102,100) 0.9 TP, (500,50) 0.8 FP, (200,104) 0.6 TP over 3 truths:
    # AP = 1/3 * 1 + 1/3 * 2/3 = 5/9.
    assert per.loc["m1", "ap"] == pytest.approx(5 / 9, abs=1e-6)
    assert per.loc["m2", ["tp", "fp", "fn", "recall"]].tolist() == [0, 0, 1, 0.0]
    assert 0 < per.loc["m1", "dice"] < 1 and per.loc["m2", "dice"] == 0.0
    overall = json.loads((tmp_path / "all.json").read_text())
    assert overall["micro"]["tp"] == 2 and overall["micro"]["fp"] == 1 and overall["micro"]["fn"] == 2
    assert overall["micro"]["precision"] == pytest.approx(2 / 3) and overall["micro"][
        "recall"
    ] == pytest.approx(0.5)
    assert overall["micro"]["ap"] == pytest.approx((1 / 4) * 1 + (1 / 4) * (2 / 3))
    assert overall["mean_per_micrograph"]["recall"] == pytest.approx((2 / 3 + 0) / 2)
    assert {s["micrograph"] for s in overall["skipped"]} == {"m3", "m4"}


def test_flip_is_needed_for_flipped_truth(tmp_path):
    truth_dir = setup(tmp_path, flip=True)
    main(
        [
            "evaluate",
            "--picks-manifests",
            str(tmp_path / "chunk.tsv"),
            "--truth-dir",
            str(truth_dir),
            "--out-csv",
            str(tmp_path / "per.csv"),
            "--out-json",
            str(tmp_path / "all.json"),
        ]
    )
    assert json.loads((tmp_path / "all.json").read_text())["micro"]["tp"] == 0


def test_truth_formats(tmp_path):
    frame = FrameMapping("t", "t.mrc", (400, 400), (100, 100), pixel_size_A=2.0)
    (tmp_path / "t.csv").write_text("x,y,diameter_px\n10,20,30\n")
    assert read_truth(tmp_path / "t.csv", "csv", mapping=frame).values.tolist() == [[10.0, 20.0, 30.0]]
    (tmp_path / "t.box").write_text("90\t180\t40\t40\n")
    assert read_truth(tmp_path / "t.box", "box", mapping=frame, diameter_px=30).values.tolist() == [
        [110.0, 200.0, 30.0]]
    flipped = read_truth(tmp_path / "t.box", "box", mapping=frame, diameter_px=30, flip_y=True)
    assert flipped["y"].tolist() == [199.0]
    from samcryo_core.errors import InputError

    with pytest.raises(InputError, match="no particle diameter"):
        read_truth(tmp_path / "t.box", "box", mapping=frame)
    truth_star(tmp_path / "e.star", [])
    assert read_truth(tmp_path / "e.star", "star", mapping=frame).empty
