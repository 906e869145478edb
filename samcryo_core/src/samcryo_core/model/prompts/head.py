"""Head prompt: a small U-Net in front of the frozen image encoder, applied as a residual.

The U-Net learns an image-to-image correction ``x + unet(x)`` of SAM's normalized RGB input, so
SAM sees micrographs "translated" towards the images it knows; SAM's mask decoder is trained with
it. Architecture (paper defaults): one 3x3 conv + LeakyReLU(0.1) per level, 48/48/48 channels on
the way down (max-pool between levels), 96 channels per level on the way up (bilinear upsampling +
skip concatenation), then 64 and 32 channel output convs and a 1x1 conv back to 3 channels.
No normalization layers (batch size 1 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from samcryo_core.errors import ConfigError
from samcryo_core.model.prompts.base import Prompt, PromptConfig
from samcryo_core.model.registry import VARIANTS


@dataclass
class HeadConfig(PromptConfig):
    """Attributes (paper values as defaults):
    down_channels: channels per encoder level (48, 48, 48); len = number of levels.
    up_channels: channels of every decoder level (96).
    out_channels: the output convs after the decoder (64, 32).
    negative_slope: LeakyReLU slope (0.1).
    zero_init_output: zero the final 1x1 conv so the model starts as frozen SAM (our choice).
    lr: Adam learning rate (5e-5).
    """

    down_channels: tuple[int, ...] = (48, 48, 48)
    up_channels: int = 96
    out_channels: tuple[int, ...] = (64, 32)
    negative_slope: float = 0.1
    zero_init_output: bool = True
    lr: float | None = 5e-5

    def validate(self) -> None:
        super().validate()
        if len(self.down_channels) < 1 or min(self.down_channels) < 1 or self.up_channels < 1:
            raise ConfigError(
                "model.prompt_config.down_channels", "needs >= 1 positive level", "use [48, 48, 48]"
            )


#: A light U-Net for the CPU demo (``cpu_small``): the paper's 48/96-channel U-Net runs at full
#: image resolution and costs ~2 s per 512x512 forward on one CPU thread, this one ~0.2 s
#: (benchmarks/results/model_params.json). Not the paper's configuration; ``cpu_small``
#: recommends it (its ``prompt_defaults`` in :mod:`samcryo_core.model.registry`, the one home).
CPU_DEMO_HEAD_CONFIG: dict = {k: v for k, v in VARIANTS["cpu_small"].prompt_defaults["head"].items()
                              if k != "lr"}


def _conv(cin: int, cout: int, slope: float) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(slope))


class UNet(nn.Module):
    """Plain U-Net ``channels -> channels`` for images whose side is divisible by 2**(levels-1)."""

    def __init__(self, config: HeadConfig, channels: int = 3) -> None:
        super().__init__()
        slope = config.negative_slope
        downs = list(config.down_channels)
        self.down = nn.ModuleList()
        cin = channels
        for c in downs:
            self.down.append(_conv(cin, c, slope))
            cin = c
        self.up = nn.ModuleList()
        for skip in reversed(downs[:-1]):
            self.up.append(_conv(cin + skip, config.up_channels, slope))
            cin = config.up_channels
        outs = []
        for c in config.out_channels:
            outs.append(_conv(cin, c, slope))
            cin = c
        self.out = nn.Sequential(*outs)
        self.final = nn.Conv2d(cin, channels, 1)
        if config.zero_init_output:
            nn.init.zeros_(self.final.weight)
            nn.init.zeros_(self.final.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, layer in enumerate(self.down):
            if i > 0:
                x = F.max_pool2d(x, 2)
            x = layer(x)
            skips.append(x)
        for layer, skip in zip(self.up, reversed(skips[:-1]), strict=True):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = layer(torch.cat([x, skip], dim=1))
        return self.final(self.out(x))


class HeadPrompt(Prompt):
    name = "head"
    config_class = HeadConfig

    def __init__(self, sam: nn.Module, config: HeadConfig) -> None:
        super().__init__(sam, config)
        self.unet = UNet(config)

    def trainable_sam_modules(self, sam: nn.Module) -> list[str]:
        return ["mask_decoder"]

    def adapt_image(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.unet(x)
