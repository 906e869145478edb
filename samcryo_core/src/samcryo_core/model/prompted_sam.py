"""``PromptedSam``: a frozen SAM plus one trainable prompt, mapping micrographs to mask logits.

This is the one model class training and inference use. It hides everything SAM-specific: the
1-to-3 channel intensity mapping, the fixed grid of positive point prompts, single-mask output,
which tensors are frozen, and how a prompt hooks into SAM. See docs/prompts.md.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import torch
from torch import nn

from samcryo_core.errors import ConfigError, InputError
from samcryo_core.model.inputs import GREY_MEAN, GREY_STD, micrograph_to_sam_input, point_grid
from samcryo_core.model.prompts import PROMPTS, Prompt
from samcryo_core.model.prompts.base import parse_config
from samcryo_core.model.registry import build_sam

log = logging.getLogger(__name__)


def _under(name: str, prefixes: list[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


class PromptedSam(nn.Module):
    """SAM with a prompt: ``forward(images [B,1,S,S]) -> mask logits [B,1,S/4,S/4]``.

    Attributes:
        sam: the segment_anything ``Sam`` (frozen except what the prompt unfreezes).
        prompt: the prompt module (owns the prompt's new tensors).
        variant: SAM variant name (``vit_b``, ..., ``tiny``).
    """

    def __init__(self, sam: nn.Module, prompt: Prompt, variant: str) -> None:
        super().__init__()
        self.sam = sam
        self.prompt = prompt
        self.variant = variant
        self.register_buffer(
            "point_coords", point_grid(int(prompt.config.points_per_side), self.img_size), persistent=False
        )
        self.register_buffer("point_labels", torch.ones(1, self.point_coords.shape[1]), persistent=False)
        unfrozen = prompt.trainable_sam_modules(sam)
        for name, p in sam.named_parameters():
            p.requires_grad_(_under(name, unfrozen))
        for p in prompt.parameters():
            p.requires_grad_(True)
        self.train(False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(
        cls,
        variant: str,
        prompt: str,
        checkpoint: str | Path | None = None,
        prompt_config: dict[str, Any] | None = None,
        sha256: str | None = None,
    ) -> PromptedSam:
        """Build SAM ``variant`` (weights from ``checkpoint``, verified) with prompt type ``prompt``.

        ``prompt_config``: options of the prompt's config dataclass (docs/prompts.md); unknown
        keys raise ConfigError naming ``model.prompt_config.<key>``. The model is on the CPU in
        eval mode; move it with ``.to(device)`` and call ``.train()`` to train.
        """
        if prompt not in PROMPTS:
            raise ConfigError(
                "model.prompt", f"unknown prompt '{prompt}'", f"use one of {', '.join(PROMPTS)}"
            )
        prompt_cls = PROMPTS[prompt]
        config = parse_config(prompt_cls.config_class, prompt_config, prompt)
        sam = build_sam(variant, checkpoint=checkpoint, sha256=sha256)
        return cls(sam, prompt_cls(sam, config), variant)

    # ------------------------------------------------------------------ geometry
    @property
    def img_size(self) -> int:
        """Side S of the square input the image encoder takes (1024 for official SAM)."""
        return int(self.sam.image_encoder.img_size)

    @property
    def mask_size(self) -> int:
        """Side of the low-res mask logits (S/4: 256 for official SAM)."""
        return 4 * int(self.sam.prompt_encoder.image_embedding_size[0])

    @property
    def prompt_name(self) -> str:
        return self.prompt.name

    # ------------------------------------------------------------------ forward
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Mask logits ``[B,1,S/4,S/4]`` for normalized micrographs ``images [B,1,S,S]``."""
        S = self.img_size
        if images.dim() != 4 or images.shape[1] != 1 or images.shape[2] != S or images.shape[3] != S:
            raise ValueError(f"PromptedSam expects images of shape [B,1,{S},{S}], got {list(images.shape)}")
        x = micrograph_to_sam_input(images, self.sam.pixel_mean, self.sam.pixel_std)
        x = self.prompt.adapt_image(x)
        embeddings = self.prompt.encode(self.sam.image_encoder, x)
        with torch.no_grad():  # the prompt encoder is always frozen and its input fixed
            sparse, dense = self.sam.prompt_encoder(
                points=(self.point_coords, self.point_labels), boxes=None, masks=None
            )
            image_pe = self.sam.prompt_encoder.get_dense_pe()
        # MaskDecoder broadcasts one image over many prompt sets; we have one set per image.
        masks = [
            self.sam.mask_decoder(
                image_embeddings=embeddings[i : i + 1],
                image_pe=image_pe,
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
                multimask_output=False,
            )[0]
            for i in range(embeddings.shape[0])
        ]
        return torch.cat(masks, dim=0)

    # ------------------------------------------------------------------ training helpers
    def train(self, mode: bool = True) -> PromptedSam:
        """Set train mode on trainable parts only: fully frozen SAM modules always stay in eval."""
        super().train(mode)
        if mode:
            for module in self.sam.modules():
                if not any(p.requires_grad for p in module.parameters()):
                    module.eval()
        return self

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The tensors the optimizer should update (empty for ``none``)."""
        return [p for p in self.parameters() if p.requires_grad]

    def named_trainable_parameters(self) -> list[tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad]

    def frozen_parameter_names(self) -> list[str]:
        return [n for n, p in self.named_parameters() if not p.requires_grad]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only the trained tensors (detached, sharing storage): what a prompt checkpoint stores.

        Names are this module's parameter names, e.g. ``prompt.unet.down.0.0.weight`` or
        ``sam.mask_decoder.iou_token.weight``. Frozen SAM weights come from the SAM checkpoint.
        """
        return {n: p.detach() for n, p in self.named_trainable_parameters()}

    def load_trainable_state_dict(
        self, state: dict[str, torch.Tensor], source: str | Path = "<state dict>"
    ) -> None:
        """Load tensors saved by :meth:`trainable_state_dict`; names and shapes must match exactly.

        Raises InputError naming ``source`` (the prompt checkpoint file) when the checkpoint was
        made for another variant, prompt type or prompt config.
        """
        expected = dict(self.named_trainable_parameters())
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        shapes = sorted(
            f"{n}: {tuple(state[n].shape)} vs {tuple(expected[n].shape)}"
            for n in set(state) & set(expected)
            if tuple(state[n].shape) != tuple(expected[n].shape)
        )
        if missing or unexpected or shapes:
            detail = "; ".join(
                f"{label} {items[:3]}{' ...' if len(items) > 3 else ''}"
                for label, items in (("missing", missing), ("unexpected", unexpected), ("shape", shapes))
                if items
            )
            raise InputError(
                source,
                f"prompt weights do not fit {self.variant}/{self.prompt.name} ({detail})",
                "build the model with the variant, prompt and prompt_config the weights were trained "
                "with (stored in the checkpoint's describe() record)",
            )
        with torch.no_grad():
            for n, p in expected.items():
                p.copy_(state[n].to(device=p.device, dtype=p.dtype))

    def describe(self) -> dict[str, Any]:
        """Plain-data summary (goes into training logs and prompt checkpoints)."""
        n_total = sum(p.numel() for p in self.parameters())
        n_train = sum(p.numel() for p in self.trainable_parameters())
        return {
            "variant": self.variant,
            "prompt": self.prompt.name,
            "prompt_config": dataclasses.asdict(self.prompt.config),
            "img_size": self.img_size,
            "mask_size": self.mask_size,
            "n_points": int(self.point_coords.shape[1]),
            "input_mapping": f"grey = {GREY_MEAN:.3f} + {GREY_STD:.3f} * x on R,G,B, then SAM pixel_mean/std",
            "n_trainable": n_train,
            "n_total": n_total,
        }
