"""SAM models for samcryo: variants, safe checkpoint loading and the prompt-adapted ``PromptedSam``.

See docs/prompts.md for the prompt types and the interface training and inference rely on.

The names are imported lazily (PEP 562): the Snakefile looks up a variant's input size
(``samcryo_core.model.registry.get_variant``) at parse time, and importing this package must not
pull in torch there -- that made every Snakemake process (and every ``snakemake -n``) hold about
700 MB and take seconds longer to start.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "load_state_dict": "samcryo_core.model.loading",
    "sha256_file": "samcryo_core.model.loading",
    "PromptedSam": "samcryo_core.model.prompted_sam",
    "PROMPTS": "samcryo_core.model.prompts",
    "VARIANTS": "samcryo_core.model.registry",
    "build_sam": "samcryo_core.model.registry",
    "get_variant": "samcryo_core.model.registry",
}

__all__ = ["PROMPTS", "VARIANTS", "PromptedSam", "build_sam", "get_variant", "load_state_dict", "sha256_file"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'samcryo_core.model' has no attribute {name!r}")
