"""A tiny pre-training run writes a backbone that loads through samcryo's real, verified path."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from samcryo_core.errors import InputError
from samcryo_core.model import PromptedSam, build_sam
from samcryo_core.model.loading import load_state_dict, sha256_file
from samcryo_core.pretraining import PretrainConfig, pretrain, read_backbone_metadata
from samcryo_core.pretraining.train import build_trainable_model

TINY = dict(
    variant="tiny",
    micrograph_size=256,
    pixel_size_A=(14.0, 18.0),
    batch_size=1,
    steps=2,
    warmup_steps=1,
    val_micrographs=1,
    val_every=1,
    threads=1,
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("pretrain") / "tiny_backbone.pt"
    lines: list[str] = []
    result = pretrain(PretrainConfig(**TINY), out, progress=lines.append, log_every=1)
    return out, result, lines


@pytest.mark.slow
def test_run_writes_weights_sidecars_and_progress(tiny_run):
    out, result, lines = tiny_run
    assert out.is_file() and result.steps_done == 2 and result.best_step in (1, 2)
    sha = sha256_file(out)
    assert result.sha256 == sha
    assert out.with_suffix(".sha256").read_text() == f"{sha}  {out.name}\n"
    meta = read_backbone_metadata(out)
    assert meta["sha256"] == sha and meta["size_bytes"] == out.stat().st_size
    assert meta["variant"] == "tiny" and meta["recipe"]["steps"] == 2
    assert meta["trained_modules"] == ["image_encoder", "mask_decoder"]
    assert [h["step"] for h in meta["history"]] == [1, 2]
    assert {"val_dice", "val_precision", "val_recall", "val_f1"} <= set(meta["history"][0])
    json.dumps(meta)  # plain data
    assert any(line.startswith("step 1/2 loss") for line in lines)
    assert any("val Dice" in line for line in lines)


@pytest.mark.slow
def test_checkpoint_loads_through_the_real_path_with_its_sha256(tiny_run):
    out, result, _ = tiny_run
    state = load_state_dict(out, sha256=result.sha256)  # weights_only=True inside
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {torch.float16}
    sam = build_sam("tiny", checkpoint=out, sha256=result.sha256)
    for k, v in state.items():
        torch.testing.assert_close(sam.state_dict()[k], v.to(sam.state_dict()[k].dtype))
    # every prompt type builds on it, and the frozen weights are the pre-trained ones
    for prompt in ("none", "head", "prefix", "encoder"):
        model = PromptedSam.build("tiny", prompt, checkpoint=out, sha256=result.sha256)
        w = model.sam.image_encoder.patch_embed.proj.weight
        torch.testing.assert_close(w, state["image_encoder.patch_embed.proj.weight"].float())
        logits = model(torch.zeros(1, 1, 128, 128))
        assert logits.shape == (1, 1, 32, 32) and torch.isfinite(logits).all()


@pytest.mark.slow
def test_wrong_sha256_is_refused(tiny_run):
    out, _, _ = tiny_run
    with pytest.raises(InputError, match="sha256 mismatch"):
        PromptedSam.build("tiny", "head", checkpoint=out, sha256="0" * 64)


@pytest.mark.slow
def test_training_changed_the_weights_and_is_deterministic(tiny_run, tmp_path):
    out, result, _ = tiny_run
    trained = load_state_dict(out)
    init = build_trainable_model("tiny", 0).sam.state_dict()
    key = "image_encoder.blocks.0.attn.qkv.weight"
    assert not torch.equal(trained[key], init[key].half())  # a step of Adam moved every weight
    # prompt encoder was not trained: its random features are shipped unchanged (float16-rounded)
    pe = "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"
    torch.testing.assert_close(trained[pe].float(), init[pe].half().float())
    again = pretrain(PretrainConfig(**TINY), tmp_path / "again.pt", progress=None)
    redo = load_state_dict(tmp_path / "again.pt")
    assert again.best_step == result.best_step
    for k in trained:
        np.testing.assert_array_equal(trained[k].numpy(), redo[k].numpy())
