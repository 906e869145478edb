"""`samcryo pick`: one command from micrographs and a prompt file to RELION/cryoSPARC files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import starfile

from samcryo_core.cli import main
from samcryo_core.simulate import SimulationParams, simulate_dataset

PARAMS = SimulationParams(shape=(256, 320), pixel_size_A=4.0, n_particles=8, snr=1.0, junk=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pick")
    simulate_dataset(root / "sim", 2, PARAMS, seed=5, prefix="mic")
    return root


def test_pick_a_folder_with_the_log_picker_writes_every_format(data, monkeypatch, capsys):
    monkeypatch.chdir(data)
    assert main(["pick", "--picker", "log", "--diameter-A", "160", "--micrographs", "sim/micrographs/*.mrc",
                 "--threshold", "0.3", "--box-size", "64", "--out", "out"]) == 0
    out = data / "out"
    index = starfile.read(out / "relion/autopick.star")
    assert index["rlnMicrographName"].tolist() == ["sim/micrographs/mic_0000.mrc",
                                                   "sim/micrographs/mic_0001.mrc"]
    n = sum(len(starfile.read(data / p)) for p in index["rlnMicrographCoordinates"])
    assert n >= 12  # 16 particles at SNR 1
    assert len(starfile.read(out / "cryosparc/particles.star")) == n
    from cryosparc.dataset import Dataset

    assert len(Dataset.load(str(out / "cryosparc/particles.cs"))) == n
    assert sorted(p.name for p in (out / "box").iterdir()) == ["mic_0000.box", "mic_0001.box"]
    summary = pd.read_csv(out / "export_summary.tsv", sep="\t")
    assert summary["n_exported"].sum() == n
    assert sorted(p.name for p in (out / "work/picks").glob("*.csv")) == ["mic_0000.csv", "mic_0001.csv"]
    assert f"{n} picks" in capsys.readouterr().out


def test_pick_refuses_before_picking(data, monkeypatch, capsys):
    monkeypatch.chdir(data / "sim")
    assert main(["pick", "--picker", "log", "--diameter-A", "160", "--out", "o"]) == 1
    assert "no micrographs given" in capsys.readouterr().err
    # RELION names micrographs relative to its project: one outside it stops the run at once
    assert main(["pick", "--picker", "log", "--diameter-A", "160", "--micrographs",
                 str(data / "sim/micrographs/*.mrc"), "--project-dir", "truth", "--out", "o"]) == 1
    assert "outside the project folder" in capsys.readouterr().err
    assert not (data / "sim/o/work").exists()
    assert main(["pick", "--diameter-A", "160", "--micrographs", "micrographs/*.mrc", "--out", "o"]) == 1
    assert "no prompt file" in capsys.readouterr().err


@pytest.mark.slow
def test_pick_with_a_prompt_equals_the_workflow_stages(data, monkeypatch):
    """The one command picks exactly what ingest -> normalize -> segment -> extract pick."""
    monkeypatch.chdir(data)
    images = sorted(str(p) for p in (data / "sim/micrographs").glob("*.mrc"))
    assert main(["train", "--prompt", "head", "--variant", "tiny", "--images", *images, "--labels-dir",
                 "sim/truth", "--diameter-A", "160", "--steps", "2", "--val-every", "1", "--threads", "1",
                 "--prompt-config", '{"down_channels": [4, 4], "up_channels": 8, "out_channels": [4]}',
                 "--out", "head.pt"]) == 0
    assert main(["pick", "--prompt-file", "head.pt", "--diameter-A", "160", "--micrographs", *images,
                 "--threads", "1", "--threshold", "0.0", "--out", "direct"]) == 0

    from samcryo_core.model.prompt_file import read_prompt_file

    _, meta = read_prompt_file("head.pt")
    px = meta["working_scale"]["particle_px"]
    assert main(["ingest", "--out", "st/ingest.tsv", *images]) == 0
    assert main(["normalize", "--manifest", "st/ingest.tsv", "--out-dir", "st/norm", "--out", "st/norm.tsv",
                 "--particle-px", str(px), "--diameter-A", "160"]) == 0
    assert main(["segment", "--manifest", "st/norm.tsv", "--out-dir", "st/prob", "--out", "st/prob.tsv",
                 "--variant", "tiny", "--prompt-file", "head.pt", "--batch-size", "2", "--threads", "1"]) == 0
    assert main(["extract", "--manifest", "st/prob.tsv", "--out-dir", "st/picks", "--out", "st/picks.tsv",
                 "--diameter-A", "160"]) == 0
    for name in ("mic_0000", "mic_0001"):
        direct = pd.read_csv(data / "direct/work/picks" / f"{name}.csv")
        staged = pd.read_csv(data / "st/picks" / f"{name}.csv")
        pd.testing.assert_frame_equal(direct, staged)
