"""Encoder prompt: bottleneck adapters inside every ViT block; SAM's mask decoder stays frozen.

Each prompted block gets two adapters ``Linear(dim, dim*ratio) -> GELU -> Linear(back)``:
one in series after the attention (``a + adapter(a)`` on the attention output, before the
residual sum), one in parallel with the MLP on the same normalized input, scaled by 0.5
(``x + mlp(norm2(x)) + 0.5 * adapter(norm2(x))``). The up-projections start at zero, so the
adapted model is exactly frozen SAM at initialisation and training starts from SAM's behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from segment_anything.modeling.image_encoder import window_partition, window_unpartition
from torch import nn

from samcryo_core.errors import ConfigError
from samcryo_core.model.prompts.base import Prompt, PromptConfig, encode_with, resolve_blocks


@dataclass
class EncoderConfig(PromptConfig):
    """Attributes (paper values as defaults):
    ratio: bottleneck width / embedding width (0.25).
    mlp_scale: scale of the adapter beside the MLP (0.5).
    blocks: "all" (paper), "later_half" or block indexes.
    zero_init_up: zero the up-projections so training starts at frozen SAM (our choice).
    lr: Adam learning rate (1e-4).
    """

    ratio: float = 0.25
    mlp_scale: float = 0.5
    blocks: str | tuple[int, ...] = "all"
    zero_init_up: bool = True
    lr: float | None = 1e-4

    def validate(self) -> None:
        super().validate()
        if not 0 < self.ratio <= 4:
            raise ConfigError("model.prompt_config.ratio", f"must be in (0, 4], got {self.ratio}", "use 0.25")


class Adapter(nn.Module):
    """Bottleneck MLP ``dim -> hidden -> dim`` (no residual inside; callers add it)."""

    def __init__(self, dim: int, hidden: int, zero_init_up: bool) -> None:
        super().__init__()
        self.down = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, dim)
        if zero_init_up:
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.act(self.down(x)))


class BlockAdapters(nn.Module):
    """The two adapters of one ViT block."""

    def __init__(self, dim: int, config: EncoderConfig) -> None:
        super().__init__()
        hidden = max(1, round(dim * config.ratio))
        self.attn = Adapter(dim, hidden, config.zero_init_up)
        self.mlp = Adapter(dim, hidden, config.zero_init_up)


def block_with_adapters(blk: nn.Module, x: torch.Tensor, ad: BlockAdapters, mlp_scale: float) -> torch.Tensor:
    """SAM ``Block.forward`` with an adapter after attention and one beside the MLP."""
    shortcut = x
    xn = blk.norm1(x)
    if blk.window_size > 0:
        H, W = xn.shape[1], xn.shape[2]
        windows, pad_hw = window_partition(xn, blk.window_size)
        a = window_unpartition(blk.attn(windows), blk.window_size, pad_hw, (H, W))
    else:
        a = blk.attn(xn)
    a = a + ad.attn(a)
    x = shortcut + a
    xn2 = blk.norm2(x)
    return x + blk.mlp(xn2) + mlp_scale * ad.mlp(xn2)


class EncoderPrompt(Prompt):
    name = "encoder"
    config_class = EncoderConfig

    def __init__(self, sam: nn.Module, config: EncoderConfig) -> None:
        super().__init__(sam, config)
        encoder = sam.image_encoder
        self.block_indexes = resolve_blocks(config.blocks, len(encoder.blocks), "model.prompt_config.blocks")
        dim = encoder.patch_embed.proj.out_channels
        self.adapters = nn.ModuleList(BlockAdapters(dim, config) for _ in self.block_indexes)
        self._slot = {b: i for i, b in enumerate(self.block_indexes)}

    def encode(self, encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
        scale = float(self.config.mlp_scale)

        def forward(i: int, blk: nn.Module, t: torch.Tensor) -> torch.Tensor:
            slot = self._slot.get(i)
            return blk(t) if slot is None else block_with_adapters(blk, t, self.adapters[slot], scale)

        return encode_with(encoder, x, forward)
