"""Build the prompted SAM: base SAM + (optionally) a trained prompt file, checked to match.

A prompt file only holds the trained tensors; the frozen SAM comes from the base checkpoint. The
prompt file records which base it was trained on (variant + sha256), and :func:`load_model`
refuses any other base, because a prompt on the wrong SAM gives plausible-looking garbage.

Random-initialised bases (small CPU variants without a checkpoint) are identified by
``random-init`` plus the seed used to build them; the model is rebuilt with that seed, which
reproduces the same frozen weights (SAM is built before the prompt, so the prompt type does not
change them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from samcryo_core.model.prompt_file import RANDOM_INIT, base_sha256, check_base, read_prompt_file


def build_base_model(
    variant: str,
    prompt: str,
    checkpoint: str | Path | None = None,
    sha256: str | None = None,
    prompt_config: dict | None = None,
    seed: int = 0,
):
    """``PromptedSam.build`` with torch seeded first, so random-init bases are reproducible."""
    import torch

    from samcryo_core.model import PromptedSam

    torch.manual_seed(int(seed))
    return PromptedSam.build(
        variant, prompt, checkpoint=checkpoint, prompt_config=prompt_config, sha256=sha256
    )


def load_model(
    variant: str,
    checkpoint: str | Path | None = None,
    sha256: str | None = None,
    prompt_file: str | Path | None = None,
    prompt: str = "none",
    seed: int = 0,
) -> tuple[Any, dict]:
    """Return ``(model in eval mode on CPU, info)``; ``info`` goes into logs and benchmarks.

    With ``prompt_file`` the prompt type and config come from the file and the base is checked
    against it; without one, ``prompt`` (normally ``none``: plain SAM with the point grid) is used.
    """
    info: dict = {
        "variant": variant,
        "base_checkpoint": None if checkpoint is None else Path(checkpoint).name,
    }
    if prompt_file is None:
        model = build_base_model(variant, prompt, checkpoint, sha256=sha256, seed=seed)
        info.update(
            prompt_type=prompt, prompt_file=None, base_sha256=sha256 or (None if checkpoint else RANDOM_INIT)
        )
    else:
        state, meta = read_prompt_file(prompt_file)
        # The base's sha256 (hashed here unless given) must be the one the prompt was trained on.
        base = base_sha256(checkpoint, sha256)
        info["base_sha256"] = base
        check_base(prompt_file, meta, variant, base)
        if base == RANDOM_INIT:
            seed = int(meta.get("base_seed", seed) or 0)
        model = build_base_model(
            variant,
            str(meta["prompt_type"]),
            checkpoint,
            sha256=sha256,
            prompt_config=meta.get("prompt_config") or {},
            seed=seed,
        )
        model.load_trainable_state_dict(state, source=prompt_file)
        info.update(
            prompt_type=meta["prompt_type"], prompt_file=str(prompt_file), training=meta.get("training")
        )
    model.eval()
    return model, info


def model_stamp(info: dict, checkpoint: str | Path | None = None, seed: int = 0) -> str:
    """What a probability map depends on in the model: variant, base and prompt (for stamps).

    The base is identified by its sha256 when known (official checkpoints, the shipped
    backbone), else by the file's size and modification time; the prompt by its content hash
    (a few MB at most); a random-init base by its seed.
    """
    from samcryo_core.model.loading import sha256_file
    from samcryo_core.stamps import file_stamp

    prompt = info.get("prompt_file")
    base = info.get("base_sha256") or (file_stamp(checkpoint) if checkpoint else RANDOM_INIT)
    parts = [str(info.get("variant")), str(base), str(info.get("prompt_type")),
             sha256_file(prompt) if prompt else "no-prompt-file"]
    if base == RANDOM_INIT:
        parts.append(f"seed={seed}")
    return "|".join(parts)
