"""Prompt types for adapting SAM, one module each, and the ``PROMPTS`` registry.

``none`` and ``finetune`` are baselines; ``head``, ``prefix`` and ``encoder`` are the three
prompt-based learning strategies of He et al., arXiv:2311.16140. See docs/prompts.md.
"""

from __future__ import annotations

from samcryo_core.model.prompts.base import Prompt, PromptConfig
from samcryo_core.model.prompts.encoder import EncoderConfig, EncoderPrompt
from samcryo_core.model.prompts.finetune import FinetuneConfig, FinetunePrompt
from samcryo_core.model.prompts.head import HeadConfig, HeadPrompt
from samcryo_core.model.prompts.none import NoneConfig, NonePrompt
from samcryo_core.model.prompts.prefix import PrefixConfig, PrefixPrompt

PROMPTS: dict[str, type[Prompt]] = {
    "none": NonePrompt,
    "head": HeadPrompt,
    "prefix": PrefixPrompt,
    "encoder": EncoderPrompt,
    "finetune": FinetunePrompt,
}

__all__ = [
    "PROMPTS", "Prompt", "PromptConfig",
    "NoneConfig", "HeadConfig", "PrefixConfig", "EncoderConfig", "FinetuneConfig",
]
