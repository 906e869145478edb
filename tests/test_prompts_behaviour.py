"""Each prompt type on the tiny SAM: shapes, what trains, what stays frozen, behaviour at init."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from samcryo_core.model import PromptedSam
from samcryo_core.model.prompts.prefix import block_with_prefix

TRAINABLE = ["head", "prefix", "encoder", "finetune"]
# The paper-size head U-Net runs at full resolution: a few seconds per training test on a busy CPU.
HEAD_SLOW = pytest.param("head", marks=pytest.mark.slow)


def _build(prompt: str, seed: int = 0, **config) -> PromptedSam:
    torch.manual_seed(seed)  # SAM is built first, so equal seeds give equal frozen SAM weights
    return PromptedSam.build("tiny", prompt, prompt_config=config or None)


def _images(n: int = 2, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, 128, 128, generator=torch.Generator().manual_seed(seed))


def _train_steps(model: PromptedSam, steps: int = 2) -> None:
    model.train()
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-2)
    target = (torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(3)) > 0.5).float()
    for _ in range(steps):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(_images()), target).backward()
        opt.step()


@pytest.mark.parametrize("prompt", ["none", *TRAINABLE])
def test_forward_shape(prompt):
    model = _build(prompt)
    out = model(_images(3))
    assert out.shape == (3, 1, model.mask_size, model.mask_size) == (3, 1, 32, 32)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("prompt", [HEAD_SLOW, "prefix", "encoder", "finetune"])
def test_only_trainable_tensors_change(prompt):
    model = _build(prompt)
    before = {n: t.detach().clone() for n, t in model.state_dict().items()}
    trainable = {n for n, _ in model.named_trainable_parameters()}
    _train_steps(model)
    params = dict(model.named_parameters())
    for name, tensor in model.state_dict().items():
        if name not in trainable:
            assert torch.equal(tensor, before[name]), f"frozen tensor {name} changed"
            assert name not in params or params[name].grad is None
    changed = {n for n in trainable if not torch.equal(params[n].detach(), before[n])}
    for n in trainable - changed:  # unchanged only where no gradient reached the tensor
        assert params[n].grad is None or not params[n].grad.any()
    # The prompt's own tensors all learn; in SAM's decoder only the unused IoU head and the
    # three multimask outputs get no gradient (single-mask output).
    assert {n for n in trainable if n.startswith("prompt.")} <= changed
    for n in trainable - changed:
        assert "iou_prediction_head" in n or any(f"output_hypernetworks_mlps.{i}." in n for i in (1, 2, 3))


def test_none_trains_nothing():
    model = _build("none")
    assert model.trainable_parameters() == [] and model.trainable_state_dict() == {}
    assert len(model.frozen_parameter_names()) == len(list(model.parameters()))


@pytest.mark.parametrize(
    ("prompt", "config", "expected"),
    [
        ("head", {}, {"prompt.unet", "sam.mask_decoder"}),
        ("prefix", {}, {"prompt.tokens", "sam.mask_decoder"}),
        ("encoder", {}, {"prompt.adapters"}),
        ("finetune", {}, {"sam.mask_decoder", "sam.image_encoder.blocks.0", "sam.image_encoder.blocks.1"}),
        ("finetune", {"last_n_blocks": 1}, {"sam.mask_decoder", "sam.image_encoder.blocks.1"}),
        (
            "finetune", {"last_n_blocks": 0, "train_neck": True},
            {"sam.mask_decoder", "sam.image_encoder.neck"},
        ),
    ],
)
def test_what_each_prompt_trains(prompt, config, expected):
    model = _build(prompt, **config)
    names = [n for n, _ in model.named_trainable_parameters()]
    def under(n: str, r: str) -> bool:
        return n == r or n.startswith(r + ".")

    assert all(any(under(n, r) for r in expected) for n in names)
    assert all(any(under(n, r) for n in names) for r in expected)


def test_frozen_modules_stay_in_eval_mode():
    model = _build("finetune", last_n_blocks=1)
    model.train()
    enc = model.sam.image_encoder
    assert model.training and model.sam.mask_decoder.training and enc.blocks[1].training
    assert not enc.blocks[0].training and not enc.patch_embed.training
    assert not model.sam.prompt_encoder.training
    model.eval()
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize("prompt", [HEAD_SLOW, "encoder"])
def test_starts_exactly_as_frozen_sam(prompt):
    x = _images()
    with torch.no_grad():
        reference = _build("none")(x)
        adapted = _build(prompt)
        assert torch.equal(adapted(x), reference)
    _train_steps(adapted)
    with torch.no_grad():
        assert not torch.allclose(adapted.eval()(x), reference)


def test_head_residual_is_identity_at_init():
    model = _build("head")
    x = torch.randn(1, 3, 128, 128)
    assert torch.equal(model.prompt.adapt_image(x), x)
    assert model.prompt.unet(x).abs().max() == 0


def test_prefix_changes_the_output_but_not_the_grid():
    x = _images()
    with torch.no_grad():
        reference = _build("none")(x)
        model = _build("prefix")
        assert not torch.allclose(model(x), reference)
        sam_in = torch.randn(2, 3, 128, 128)
        emb = model.prompt.encode(model.sam.image_encoder, sam_in)
        assert emb.shape == model.sam.image_encoder(sam_in).shape == (2, 32, 8, 8)


def _random_block(model: PromptedSam, index: int):
    blk = model.sam.image_encoder.blocks[index]
    with torch.no_grad():  # SAM zero-initialises rel-pos tables; randomise them to test the bias path
        blk.attn.rel_pos_h.normal_()
        blk.attn.rel_pos_w.normal_()
    return blk


@pytest.mark.parametrize("index", [0, 1])  # tiny: block 0 windowed (4x4 windows), block 1 global
def test_prefix_block_without_tokens_is_sams_block(index):
    model = _build("prefix")
    blk = _random_block(model, index)
    assert (blk.window_size > 0) == (index == 0)
    x = torch.randn(2, 8, 8, 64)
    with torch.no_grad():
        out = block_with_prefix(blk, x, torch.empty(0, 64))
        assert out.shape == x.shape  # prefix removed after the block
        torch.testing.assert_close(out, blk(x), rtol=0, atol=1e-5)
        assert block_with_prefix(blk, x, torch.randn(5, 64)).shape == x.shape


def test_every_window_sees_the_prefix():
    model = _build("prefix")
    blk = _random_block(model, 0)
    x = torch.randn(1, 8, 8, 64)
    with torch.no_grad():
        a = block_with_prefix(blk, x, torch.randn(4, 64))
        b = block_with_prefix(blk, x, torch.randn(4, 64))
    changed = (a - b).abs().amax(dim=-1)[0]  # [8, 8] token grid
    assert (changed > 0).all()


def test_prefix_block_selection():
    assert _build("prefix", blocks="later_half").prompt.tokens.shape == (1, 64, 64)
    assert _build("prefix", blocks=[0], num_tokens=8).prompt.tokens.shape == (1, 8, 64)
    assert _build("encoder", blocks="all").prompt.block_indexes == (0, 1)
