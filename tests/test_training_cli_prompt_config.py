"""`samcryo train --prompt-config` reaches the prompt and is recorded for segment to rebuild it."""

from __future__ import annotations

import pytest

from samcryo_core.cli import main
from samcryo_core.simulate import SimulationParams, simulate_dataset
from samcryo_core.training.prompt_file import read_prompt_file

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
