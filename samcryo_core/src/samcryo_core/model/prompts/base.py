"""What every prompt type shares: its config dataclass, its hooks into SAM, config parsing.

A prompt is an ``nn.Module`` that owns its own trainable tensors (U-Net, prefix tokens,
adapters) and tells :class:`~samcryo_core.model.prompted_sam.PromptedSam` which parts of SAM it
unfreezes. SAM itself is never modified, so the frozen weights stay exactly the official ones and
the trainable state dict holds only what was learned.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from samcryo_core.errors import ConfigError


@dataclass
class PromptConfig:
    """Options every prompt type has.

    Attributes:
        points_per_side: side of the fixed grid of positive point prompts given to SAM's frozen
            prompt encoder (all points form one prompt set -> one mask).
        lr: Adam learning rate the paper used for this prompt type (read by training).
    """

    points_per_side: int = 8
    lr: float | None = None

    def validate(self) -> None:
        """Raise ConfigError for values that cannot work."""
        if int(self.points_per_side) < 1:
            raise ConfigError(
                "model.prompt_config.points_per_side", f"must be >= 1, got {self.points_per_side}",
                "use e.g. 8 (an 8x8 grid of positive points)",
            )
        if self.lr is not None and not self.lr > 0:
            raise ConfigError("model.prompt_config.lr", f"must be > 0, got {self.lr}", "use e.g. 1e-4")


def parse_config(cls: type[PromptConfig], values: dict[str, Any] | None, prompt: str) -> PromptConfig:
    """Build a prompt's config dataclass from a (YAML) dict, naming unknown keys precisely."""
    values = dict(values or {})
    names = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if key not in names:
            raise ConfigError(
                f"model.prompt_config.{key}", f"not an option of the '{prompt}' prompt",
                f"valid options: {', '.join(sorted(names))}",
            )
    for f in dataclasses.fields(cls):
        if isinstance(values.get(f.name), list):
            values[f.name] = tuple(values[f.name])
    config = cls(**values)
    config.validate()
    return config


def resolve_blocks(blocks: str | Sequence[int], depth: int, key: str) -> tuple[int, ...]:
    """Turn ``"all"``, ``"later_half"`` or explicit indexes into sorted block indexes."""
    if blocks == "all":
        return tuple(range(depth))
    if blocks == "later_half":
        return tuple(range(depth // 2, depth))
    if isinstance(blocks, str):
        raise ConfigError(key, f"unknown block selection '{blocks}'", "use 'all', 'later_half' or a list")
    idx = sorted({int(i) for i in blocks})
    if not idx or idx[0] < 0 or idx[-1] >= depth:
        raise ConfigError(key, f"block indexes {list(blocks)} outside 0..{depth - 1}", "fix the list")
    return tuple(idx)


BlockForward = Callable[[int, nn.Module, torch.Tensor], torch.Tensor]


def encode_with(encoder: nn.Module, x: torch.Tensor, block_forward: BlockForward) -> torch.Tensor:
    """Run SAM's ImageEncoderViT with ``block_forward(i, block, tokens)`` in place of each block.

    Mirrors ``ImageEncoderViT.forward`` (patch embedding, absolute position embedding, blocks,
    neck) so prompts that act inside blocks reuse every frozen SAM weight unchanged.
    """
    x = encoder.patch_embed(x)
    if encoder.pos_embed is not None:
        x = x + encoder.pos_embed
    for i, blk in enumerate(encoder.blocks):
        x = block_forward(i, blk, x)
    return encoder.neck(x.permute(0, 3, 1, 2))


class Prompt(nn.Module):
    """Base class: a prompt that trains nothing of its own and changes nothing in SAM's forward."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[PromptConfig]] = PromptConfig

    def __init__(self, sam: nn.Module, config: PromptConfig) -> None:
        super().__init__()
        self.config = config

    def trainable_sam_modules(self, sam: nn.Module) -> list[str]:
        """Dotted names of SAM submodules this prompt unfreezes (e.g. ``mask_decoder``)."""
        return []

    def adapt_image(self, x: torch.Tensor) -> torch.Tensor:
        """Hook on SAM's normalized RGB input ``[B,3,S,S]`` before the image encoder."""
        return x

    def encode(self, encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Image embeddings ``[B,C,S/16,S/16]``; the default is the unchanged SAM encoder."""
        return encoder(x)
