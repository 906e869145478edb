"""`samcryo train --prompt-config` reaches the prompt and is recorded for segment to rebuild it."""

from __future__ import annotations

import pytest

from samcryo_core.cli import main
from samcryo_core.model.prompt_file import read_prompt_file
from samcryo_core.simulate import SimulationParams, simulate_dataset

FEW_STEPS = ("--steps", "2", "--val-every", "1", "--diameter-A", "160")  # 160 A at 4 A/px


@pytest.mark.slow
def test_prompt_config_is_used_and_recorded(tmp_path):
    params = SimulationParams(shape=(256, 256), pixel_size_A=4.0, n_particles=6, junk=False)
    simulate_dataset(tmp_path / "data", 2, params, seed=3, prefix="lab")
    images = sorted(str(p) for p in (tmp_path / "data" / "micrographs").glob("*.mrc"))
    out = tmp_path / "prompt.pt"
    rc = main([
        "train", "--prompt", "head", "--variant", "tiny", "--images", *images,
        "--labels-dir", str(tmp_path / "data" / "truth"), *FEW_STEPS, "--threads", "1",
        "--prompt-config", '{"down_channels": [4, 4], "up_channels": 8, "out_channels": [4]}',
        "--out", str(out),
    ])
    assert rc == 0
    tensors, meta = read_prompt_file(out)
    assert meta["prompt_config"]["down_channels"] == [4, 4]
    assert meta["prompt_config"]["up_channels"] == 8
    # The light U-Net's first conv has 4 output channels: the options reached the model.
    assert tensors["prompt.unet.down.0.0.weight"].shape[0] == 4


def test_prompt_config_must_be_a_json_object(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--prompt", "head", "--variant", "tiny", "--images", "a.mrc", "--labels-dir", ".",
              "--out", "p.pt", "--prompt-config", "[1, 2]"])
    assert exc.value.code == 2
    assert "JSON object" in capsys.readouterr().err


@pytest.mark.slow
def test_train_from_one_particles_star_for_all_micrographs(tmp_path, capsys):
    """`samcryo train --labels particles.star`: the selected particles of a whole dataset, one file."""
    import pandas as pd
    import starfile

    params = SimulationParams(shape=(256, 256), pixel_size_A=4.0, n_particles=6, junk=False)
    simulate_dataset(tmp_path / "data", 3, params, seed=4, prefix="lab")
    images = sorted(str(p) for p in (tmp_path / "data" / "micrographs").glob("*.mrc"))
    rows = []
    for truth in sorted((tmp_path / "data" / "truth").glob("*.star")):
        t = starfile.read(truth)
        rows.append(pd.DataFrame({"rlnMicrographName": f"MotionCorr/job002/Movies/{truth.stem}.mrc",
                                  "rlnCoordinateX": t["rlnCoordinateX"],
                                  "rlnCoordinateY": t["rlnCoordinateY"], "rlnOpticsGroup": 1}))
    optics = pd.DataFrame({"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["g1"], "rlnImagePixelSize": [4.0]})
    starfile.write({"optics": optics, "particles": pd.concat(rows[:2] + rows[2:])},
                   tmp_path / "particles.star")
    out = tmp_path / "prompt.pt"
    rc = main(["train", "--prompt", "head", "--variant", "tiny", "--images", *images,
               "--labels", str(tmp_path / "particles.star"), *FEW_STEPS, "--threads", "1",
               "--prompt-config", '{"down_channels": [4, 4], "up_channels": 8, "out_channels": [4]}',
               "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert printed.count("particles.star ->") == 3  # every image labelled from the one file
    _, meta = read_prompt_file(out)
    assert sorted(meta["training"]["train_micrographs"] + meta["training"]["val_micrographs"]) == [
        "lab_0000", "lab_0001", "lab_0002"]
    # a micrograph the file does not know is named, not silently trained without labels
    (tmp_path / "extra.mrc").write_bytes((tmp_path / "data" / "micrographs" / "lab_0000.mrc").read_bytes())
    rc = main(["train", "--prompt", "head", "--variant", "tiny", "--images", *images,
               str(tmp_path / "extra.mrc"), "--labels", str(tmp_path / "particles.star"), *FEW_STEPS,
               "--out", str(tmp_path / "p2.pt")])
    assert rc == 1
    assert "no particles for 1 of 4 micrograph(s): extra" in capsys.readouterr().err
