"""Prefix prompt (deep visual prompt tuning): learnable tokens that every ViT block attends to.

The paper appends one learnable row of 64 tokens to the 64x64 patch grid before each block and
removes it after the block, each block having its own row. Appending a row literally to SAM's
grid interacts badly with SAM's attention:

* windowed blocks pad the 65x64 grid to a multiple of the window (14) and partition it, so only the
  bottom row of windows would ever see the prefix, and the padding changes;
* global blocks would give the prefix row a relative position (row 64) and force SAM to
  *interpolate* its relative-position tables from 127 to 129 entries, changing the attention
  between ordinary patches too.

Because the row is removed after the block, its only effect on the patch tokens is through the
attention keys and values. We implement exactly that effect, without those side effects: in each
prompted block the prefix tokens are normalized by the block's ``norm1`` and projected by its own
frozen ``qkv``; every patch query attends to its usual keys (its window, or the whole grid in
global blocks, with SAM's relative-position bias unchanged) *plus* all prefix keys (no positional
bias: the prefix has no position). Every window therefore sees the whole prefix. The prefix's own
outputs are never computed because they are discarded. With zero prefix tokens the block reduces
exactly to SAM's block (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from segment_anything.modeling.image_encoder import (
    add_decomposed_rel_pos,
    window_partition,
    window_unpartition,
)
from torch import nn

from samcryo_core.errors import ConfigError
from samcryo_core.model.prompts.base import Prompt, PromptConfig, encode_with, resolve_blocks


@dataclass
class PrefixConfig(PromptConfig):
    """Attributes (paper values as defaults):
    num_tokens: prefix tokens per block (64 = one row of the 64x64 grid).
    blocks: "all" (paper), "later_half" (paper's ablation, nearly as good) or block indexes.
    init_std: std of the normal init of the tokens (0.02, the ViT/VPT convention; our choice).
    lr: Adam learning rate (1e-4).
    """

    num_tokens: int = 64
    blocks: str | tuple[int, ...] = "all"
    init_std: float = 0.02
    lr: float | None = 1e-4

    def validate(self) -> None:
        super().validate()
        if int(self.num_tokens) < 1:
            raise ConfigError("model.prompt_config.num_tokens", "must be >= 1", "use 64")


def attention_with_prefix(attn: nn.Module, x: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
    """SAM ``Attention`` on tokens ``x [N,h,w,C]`` whose keys/values also include ``prefix [P,C]``.

    ``prefix`` must already be normalized by the block's ``norm1``. Patch-to-patch logits keep
    SAM's decomposed relative-position bias; patch-to-prefix logits get none.
    """
    N, h, w, _ = x.shape
    nh = attn.num_heads
    qkv = attn.qkv(x).reshape(N, h * w, 3, nh, -1).permute(2, 0, 3, 1, 4)
    q, k, v = qkv.reshape(3, N * nh, h * w, -1).unbind(0)
    P, d = prefix.shape[0], q.shape[-1]
    pkv = attn.qkv(prefix).reshape(P, 3, nh, d).permute(1, 2, 0, 3)  # 3, nh, P, d
    pk = pkv[1].unsqueeze(0).expand(N, nh, P, d).reshape(N * nh, P, d)
    pv = pkv[2].unsqueeze(0).expand(N, nh, P, d).reshape(N * nh, P, d)

    qs = q * attn.scale
    logits = qs @ k.transpose(-2, -1)
    if attn.use_rel_pos:  # SAM adds the bias from the unscaled queries
        logits = add_decomposed_rel_pos(logits, q, attn.rel_pos_h, attn.rel_pos_w, (h, w), (h, w))
    prefix_logits = qs @ pk.transpose(-2, -1)
    weights = torch.cat([logits, prefix_logits], dim=-1).softmax(dim=-1)
    out = weights @ torch.cat([v, pv], dim=1)
    out = out.view(N, nh, h, w, -1).permute(0, 2, 3, 1, 4).reshape(N, h, w, -1)
    return attn.proj(out)


def block_with_prefix(blk: nn.Module, x: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
    """SAM ``Block.forward`` with ``prefix [P,C]`` tokens appended before and removed after it."""
    shortcut = x
    xn = blk.norm1(x)
    pn = blk.norm1(prefix)
    if blk.window_size > 0:
        H, W = xn.shape[1], xn.shape[2]
        windows, pad_hw = window_partition(xn, blk.window_size)
        out = attention_with_prefix(blk.attn, windows, pn)
        out = window_unpartition(out, blk.window_size, pad_hw, (H, W))
    else:
        out = attention_with_prefix(blk.attn, xn, pn)
    x = shortcut + out
    return x + blk.mlp(blk.norm2(x))


class PrefixPrompt(Prompt):
    name = "prefix"
    config_class = PrefixConfig

    def __init__(self, sam: nn.Module, config: PrefixConfig) -> None:
        super().__init__(sam, config)
        encoder = sam.image_encoder
        self.block_indexes = resolve_blocks(config.blocks, len(encoder.blocks), "model.prompt_config.blocks")
        dim = encoder.patch_embed.proj.out_channels
        self.tokens = nn.Parameter(torch.empty(len(self.block_indexes), int(config.num_tokens), dim))
        nn.init.normal_(self.tokens, std=config.init_std)
        self._slot = {b: i for i, b in enumerate(self.block_indexes)}

    def trainable_sam_modules(self, sam: nn.Module) -> list[str]:
        return ["mask_decoder"]

    def encode(self, encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
        def forward(i: int, blk: nn.Module, t: torch.Tensor) -> torch.Tensor:
            slot = self._slot.get(i)
            return blk(t) if slot is None else block_with_prefix(blk, t, self.tokens[slot])

        return encode_with(encoder, x, forward)
