"""SAM variants samcryo can build: the three official ones and two small ones for tests and CPU.

The official variants (``vit_b``, ``vit_l``, ``vit_h``) are built by segment_anything's own
builders with ``checkpoint=None`` (segment_anything would otherwise call ``torch.load`` without
``weights_only`` and could run code hidden in a checkpoint); weights are then loaded by
:mod:`samcryo_core.model.loading`. The small variants reuse the same segment_anything classes
(ImageEncoderViT, PromptEncoder, MaskDecoder, TwoWayTransformer, Sam) with a small embedding and
few blocks so that the whole pipeline can be exercised on a laptop CPU in seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from samcryo_core.errors import ConfigError

log = logging.getLogger(__name__)

#: Base URL of Meta's official SAM checkpoints (segment-anything README, "Model Checkpoints").
OFFICIAL_BASE_URL = "https://dl.fbaipublicfiles.com/segment_anything/"


@dataclass(frozen=True)
class SamVariant:
    """Architecture of one SAM variant plus, for official variants, its checkpoint file.

    ``sha256`` / ``size_bytes`` of the official files: Meta does not publish checksums. The values
    below are the git-lfs object ids and sizes of the same file names uploaded independently to
    several Hugging Face repositories (e.g. netradrishti/sam, mashb1t/misc, TencentARC/BrushNet,
    segments-arnaud/sam_vit_b), which all agree with each other; see docs/prompts.md.
    """

    name: str
    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    prompt_embed_dim: int = 256
    decoder_mlp_dim: int = 2048
    decoder_num_heads: int = 8
    iou_head_hidden_dim: int = 256
    checkpoint_file: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    #: Working scale: the particle diameter, in model-input pixels, this backbone picks best at,
    #: and the range it tolerates (see :mod:`samcryo_core.model.scale`). A checkpoint's own
    #: metadata (the JSON beside a shipped backbone) overrides these defaults.
    particle_px: float = 40.0
    particle_px_range: tuple[float, float] = (20.0, 80.0)
    #: Prompt options (and learning rate) recommended for this backbone, per prompt type, used
    #: where the config and the command line leave them unset (:func:`recommended_prompt_config`).
    #: Empty: the paper's values (the prompt configs' own defaults), made for vit_* on a GPU.
    prompt_defaults: dict = field(default_factory=dict)

    @property
    def official(self) -> bool:
        return self.checkpoint_file is not None

    @property
    def url(self) -> str | None:
        return OFFICIAL_BASE_URL + self.checkpoint_file if self.checkpoint_file else None

    @property
    def grid_size(self) -> int:
        """Side of the ViT token grid (64 for the official 1024-pixel models)."""
        return self.img_size // self.patch_size


VARIANTS: dict[str, SamVariant] = {
    "vit_b": SamVariant(
        "vit_b", 768, 12, 12, (2, 5, 8, 11),
        checkpoint_file="sam_vit_b_01ec64.pth",
        sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        size_bytes=375042383,
    ),
    "vit_l": SamVariant(
        "vit_l", 1024, 24, 16, (5, 11, 17, 23),
        checkpoint_file="sam_vit_l_0b3195.pth",
        sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        size_bytes=1249524607,
    ),
    "vit_h": SamVariant(
        "vit_h", 1280, 32, 16, (7, 15, 23, 31),
        checkpoint_file="sam_vit_h_4b8939.pth",
        sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        size_bytes=2564550879,
    ),
    # Unit tests: 8x8 tokens, 32x32 low-res mask, ~0.2 M parameters.
    "tiny": SamVariant(
        "tiny", 64, 2, 2, (1,), img_size=128, window_size=4,
        prompt_embed_dim=32, decoder_mlp_dim=64, decoder_num_heads=4, iou_head_hidden_dim=32,
        particle_px=20.0, particle_px_range=(10.0, 40.0),
    ),
    # CPU demo: 32x32 tokens, 128x128 low-res mask, ~2 M parameters. On a CPU the paper's
    # 48/96-channel head U-Net costs ~10x more per step than the light one, and the paper's
    # learning rates (head 5e-5) barely move a prompt in a few hundred steps; 1e-3 (finetune
    # 1e-4) is what docs/demo_backbone.md measured on this backbone.
    "cpu_small": SamVariant(
        "cpu_small", 128, 4, 4, (3,), img_size=512, window_size=8,
        prompt_embed_dim=128, decoder_mlp_dim=512, decoder_num_heads=8, iou_head_hidden_dim=128,
        particle_px=20.0, particle_px_range=(10.0, 36.0),
        prompt_defaults={
            "head": {"down_channels": [8, 8, 8], "up_channels": 16, "out_channels": [8], "lr": 1e-3},
            "prefix": {"lr": 1e-3},
            "encoder": {"lr": 1e-3},
            "finetune": {"lr": 1e-4},
        },
    ),
}


def recommended_prompt_config(variant: str, prompt: str, given: dict | None = None) -> dict:
    """The prompt options ``samcryo train`` uses: ``given`` over the variant's recommendation.

    Why per variant: one default per config key (``model.prompt_config``: ``{}``, ``train.lr``:
    null) must serve a CPU user of ``cpu_small`` and a GPU user of ``vit_h``; the backbone says
    what suits it, as it says its working scale. Keys in ``given`` always win.
    """
    base = dict(get_variant(variant).prompt_defaults.get(prompt, {}))
    return {**base, **(given or {})}


def get_variant(name: str) -> SamVariant:
    """Look up a variant by name; an unknown name is a config error naming ``model.variant``."""
    try:
        return VARIANTS[name]
    except KeyError:
        raise ConfigError(
            "model.variant", f"unknown SAM variant '{name}'", f"use one of {', '.join(VARIANTS)}"
        ) from None


def _build_from_spec(spec: SamVariant):
    """Build a SAM from segment_anything's classes following ``spec`` (random weights)."""
    import torch
    from segment_anything.modeling import (
        ImageEncoderViT,
        MaskDecoder,
        PromptEncoder,
        Sam,
        TwoWayTransformer,
    )

    grid = spec.grid_size
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=spec.depth,
            embed_dim=spec.embed_dim,
            img_size=spec.img_size,
            mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=spec.num_heads,
            patch_size=spec.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=spec.global_attn_indexes,
            window_size=spec.window_size,
            out_chans=spec.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=spec.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(spec.img_size, spec.img_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(
                depth=2,
                embedding_dim=spec.prompt_embed_dim,
                mlp_dim=spec.decoder_mlp_dim,
                num_heads=spec.decoder_num_heads,
            ),
            transformer_dim=spec.prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=spec.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )


def build_sam(variant: str, checkpoint: str | Path | None = None, sha256: str | None = None):
    """Build a SAM ``variant`` and load ``checkpoint`` safely (``weights_only=True``).

    ``checkpoint=None`` gives random weights (tests, parameter counts, or a small variant trained
    from scratch). ``sha256``: expected checksum of the file; when omitted and the file carries the
    official name of an official variant, the recorded official checksum is verified.
    Build under ``with torch.device("meta"):`` to count parameters without allocating memory.
    """
    from samcryo_core.model.loading import load_sam_weights, missing_checkpoint_error

    spec = get_variant(variant)
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise missing_checkpoint_error(Path(checkpoint), spec.name)  # before a slow vit_h build
    if spec.official:
        from segment_anything import sam_model_registry

        sam = sam_model_registry[spec.name](checkpoint=None)
    else:
        sam = _build_from_spec(spec)
    sam.eval()
    if checkpoint is not None:
        if sha256 is None and spec.official and Path(checkpoint).name == spec.checkpoint_file:
            sha256 = spec.sha256
        load_sam_weights(sam, checkpoint, sha256=sha256, variant=spec.name)
    elif spec.official:
        log.warning("SAM %s built with random weights (no model.checkpoint given)", spec.name)
    return sam
