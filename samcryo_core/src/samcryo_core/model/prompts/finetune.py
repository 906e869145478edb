"""Baseline ``finetune``: unfreeze SAM's mask decoder and the last N image-encoder blocks.

The conventional alternative to prompting that the paper compares against. No new tensors are
added; the unfrozen SAM weights themselves are trained (and saved in the trainable state dict).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from samcryo_core.errors import ConfigError
from samcryo_core.model.prompts.base import Prompt, PromptConfig


@dataclass
class FinetuneConfig(PromptConfig):
    """Attributes:
    last_n_blocks: number of final ViT blocks unfrozen (0 = mask decoder only). Default 2.
    train_neck: also unfreeze the encoder neck (convs after the last block). Default False.
    lr: 1e-5; the paper does not give one for fine-tuning, a smaller rate than the prompts'
        is the usual choice when pretrained weights themselves move.
    """

    last_n_blocks: int = 2
    train_neck: bool = False
    lr: float | None = 1e-5

    def validate(self) -> None:
        super().validate()
        if int(self.last_n_blocks) < 0:
            raise ConfigError("model.prompt_config.last_n_blocks", "must be >= 0", "use e.g. 2")


class FinetunePrompt(Prompt):
    name = "finetune"
    config_class = FinetuneConfig

    def __init__(self, sam: nn.Module, config: FinetuneConfig) -> None:
        super().__init__(sam, config)
        depth = len(sam.image_encoder.blocks)
        if config.last_n_blocks > depth:
            raise ConfigError(
                "model.prompt_config.last_n_blocks",
                f"{config.last_n_blocks} exceeds the encoder depth {depth}", f"use at most {depth}",
            )

    def trainable_sam_modules(self, sam: nn.Module) -> list[str]:
        depth = len(sam.image_encoder.blocks)
        names = ["mask_decoder"]
        names += [f"image_encoder.blocks.{i}" for i in range(depth - self.config.last_n_blocks, depth)]
        if self.config.train_neck:
            names.append("image_encoder.neck")
        return names
