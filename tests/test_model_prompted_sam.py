"""PromptedSam's interface: state dicts, describe(), config errors, input mapping, point grid."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from samcryo_core.errors import ConfigError, InputError
from samcryo_core.model import PromptedSam
from samcryo_core.model.inputs import micrograph_to_sam_input, point_grid


def _build(prompt: str, seed: int = 0, **config) -> PromptedSam:
    torch.manual_seed(seed)
    return PromptedSam.build("tiny", prompt, prompt_config=config or None)


def _x() -> torch.Tensor:
    return torch.randn(2, 1, 128, 128, generator=torch.Generator().manual_seed(5))


def _train(model: PromptedSam) -> None:
    model.train()
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-2)
    for _ in range(2):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(_x()), torch.ones(2, 1, 32, 32)).backward()
        opt.step()
    model.eval()


@pytest.mark.parametrize("prompt", ["head", "prefix", "encoder", "finetune"])
def test_trainable_state_dict_round_trip_through_a_file(prompt, tmp_path):
    light = {"down_channels": [8, 8], "up_channels": 8, "out_channels": [8]} if prompt == "head" else {}
    trained = _build(prompt, **light)
    _train(trained)
    sd = trained.trainable_state_dict()
    assert set(sd) == {n for n, _ in trained.named_trainable_parameters()}
    path = tmp_path / "prompt.pt"
    torch.save({"describe": trained.describe(), "state": sd}, path)

    fresh = _build(prompt, **light)  # same frozen SAM, untrained prompt
    with torch.no_grad():
        assert not torch.equal(fresh(_x()), trained(_x()))
        saved = torch.load(path, map_location="cpu", weights_only=True)
        fresh.load_trainable_state_dict(saved["state"], source=path)
        assert torch.equal(fresh(_x()), trained(_x()))


def test_wrong_shapes_are_refused_naming_the_file():
    small = _build("prefix", num_tokens=8).trainable_state_dict()
    with pytest.raises(InputError, match="shape") as info:
        _build("prefix").load_trainable_state_dict(small, source="run1/prompt.pt")
    assert "run1/prompt.pt" in str(info.value)


def test_other_prompt_type_is_refused():
    head = _build("head").trainable_state_dict()
    model = _build("prefix")
    with pytest.raises(InputError, match="missing .*unexpected"):
        model.load_trainable_state_dict(head)
    partial = dict(model.trainable_state_dict())
    partial.pop("prompt.tokens")
    with pytest.raises(InputError, match="missing"):
        model.load_trainable_state_dict(partial)


def test_describe_counts_parameters():
    model = _build("encoder")
    info = model.describe()
    assert info["variant"] == "tiny" and info["prompt"] == "encoder"
    assert info["prompt_config"]["ratio"] == 0.25 and info["prompt_config"]["lr"] == 1e-4
    assert info["n_trainable"] == sum(p.numel() for p in model.trainable_parameters())
    assert info["n_total"] == sum(p.numel() for p in model.parameters()) > info["n_trainable"] > 0
    assert info["img_size"] == 128 and info["mask_size"] == 32 and info["n_points"] == 64
    n_frozen = sum(p.numel() for n, p in model.named_parameters() if n in set(model.frozen_parameter_names()))
    assert n_frozen + info["n_trainable"] == info["n_total"]


def test_paper_defaults():
    assert _build("head").prompt.config.lr == 5e-5
    assert _build("head").prompt.config.down_channels == (48, 48, 48)
    assert _build("prefix").prompt.config.num_tokens == 64
    assert _build("finetune").prompt.config.last_n_blocks == 2


def test_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="model.prompt_config.nope"):
        _build("head", nope=1)
    with pytest.raises(ConfigError, match="'model.prompt'"):
        PromptedSam.build("tiny", "lora")
    with pytest.raises(ConfigError, match="model.prompt_config.blocks"):
        _build("prefix", blocks=[7])
    with pytest.raises(ConfigError, match="last_n_blocks"):
        _build("finetune", last_n_blocks=3)
    with pytest.raises(ConfigError, match="points_per_side"):
        _build("none", points_per_side=0)


def test_yaml_lists_become_tuples():
    assert _build("head", down_channels=[16, 16], out_channels=[8]).prompt.config.down_channels == (16, 16)


def test_wrong_image_shape_is_refused():
    with pytest.raises(ValueError, match=r"\[B,1,128,128\]"):
        _build("none")(torch.zeros(1, 1, 64, 64))


def test_input_mapping_is_grey_at_sams_mean_and_contrast():
    sam = _build("none").sam
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3)
    mapped = micrograph_to_sam_input(x, sam.pixel_mean, sam.pixel_std)
    rgb = mapped * sam.pixel_std.view(1, 3, 1, 1) + sam.pixel_mean.view(1, 3, 1, 1)
    assert torch.allclose(rgb[0, 0], rgb[0, 2]) and torch.allclose(rgb[0, 1], rgb[0, 2])  # grey
    assert torch.allclose(rgb[0, 0, 0], torch.tensor([114.495 - 57.63, 114.495, 114.495 + 57.63]))


def test_point_grid_cell_centres():
    g = point_grid(2, 128)
    assert g.tolist() == [[[32.0, 32.0], [96.0, 32.0], [32.0, 96.0], [96.0, 96.0]]]
    assert _build("none", points_per_side=3).point_coords.shape == (1, 9, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = _build("prefix")
    with torch.no_grad():
        cpu = model(_x())
        gpu = model.to("cuda")(_x().cuda()).cpu()
    torch.testing.assert_close(gpu, cpu, rtol=1e-3, atol=1e-3)
