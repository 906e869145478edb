"""Baseline ``none``: frozen SAM zero-shot with the fixed point grid; nothing is trained."""

from __future__ import annotations

from dataclasses import dataclass

from samcryo_core.model.prompts.base import Prompt, PromptConfig


@dataclass
class NoneConfig(PromptConfig):
    """No options beyond the point grid; ``lr`` stays None because nothing is trained."""


class NonePrompt(Prompt):
    """SAM exactly as published: the lower bound every prompt must beat."""

    name = "none"
    config_class = NoneConfig
