"""SAM models for samcryo: variants, safe checkpoint loading and the prompt-adapted ``PromptedSam``.

See docs/prompts.md for the prompt types and the interface training and inference rely on.
"""

from __future__ import annotations

from samcryo_core.model.loading import load_state_dict, sha256_file
from samcryo_core.model.prompted_sam import PromptedSam
from samcryo_core.model.prompts import PROMPTS
from samcryo_core.model.registry import VARIANTS, build_sam, get_variant

__all__ = ["PROMPTS", "VARIANTS", "PromptedSam", "build_sam", "get_variant", "load_state_dict", "sha256_file"]
