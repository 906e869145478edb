"""The trained prompt file: only the trainable tensors plus plain metadata about the base model.

A prompt (head, prefix, encoder prompt) is a few hundred kB on top of a frozen SAM of hundreds
of MB; shipping only the trainable tensors keeps it small and makes explicit that it is
meaningless without the *same* base weights. The file therefore records the base variant and the
base checkpoint's file name and sha256 (``random-init`` plus the seed when SAM was built with
random weights), and :func:`check_base` refuses to combine a prompt with another base.

Layout (``torch.save`` of a dict with only tensors and plain Python types, so it loads with
``torch.load(..., weights_only=True)`` and never executes code)::

    {"format": "samcryo-prompt", "format_version": 1,
     "state_dict": {name: tensor, ...},           # model.trainable_state_dict()
     "meta": {"variant", "base_checkpoint", "base_sha256", "base_seed", "prompt_type",
              "prompt_config", "img_size", "mask_size", "samcryo_version", "training", ...}}
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from samcryo_core.errors import InputError
from samcryo_core.io.atomic import atomic_path

FORMAT = "samcryo-prompt"
FORMAT_VERSION = 1
RANDOM_INIT = "random-init"


def plain(obj: Any) -> Any:
    """Turn metadata into JSON-plain types (tuples -> lists, paths -> str) for weights_only loading."""
    return json.loads(json.dumps(obj, default=str))


def base_sha256(checkpoint: str | Path | None, sha256: str | None = None) -> str:
    """The identity of the base weights: the given/computed sha256, or ``random-init``."""
    if checkpoint is None:
        return RANDOM_INIT
    if sha256:
        return sha256.lower()
    from samcryo_core.model.loading import sha256_file

    return sha256_file(checkpoint)


def model_metadata(model: Any) -> dict:
    """Base/prompt description of a model, from ``describe()`` where available, else attributes."""
    desc: dict = {}
    if hasattr(model, "describe"):
        d = model.describe()
        if isinstance(d, dict):
            desc = dict(d)
    out = {
        "variant": desc.get("variant", getattr(model, "variant", None)),
        "prompt_type": desc.get("prompt_type", desc.get("prompt", getattr(model, "prompt_type", None))),
        "prompt_config": desc.get("prompt_config", getattr(model, "prompt_config", None)) or {},
        "img_size": int(getattr(model, "img_size", desc.get("img_size", 0)) or 0),
        "mask_size": int(getattr(model, "mask_size", desc.get("mask_size", 0)) or 0),
    }
    if hasattr(out["prompt_config"], "__dataclass_fields__"):
        from dataclasses import asdict

        out["prompt_config"] = asdict(out["prompt_config"])
    return plain(out)


def save_prompt_file(path: str | Path, state_dict: dict, meta: dict) -> None:
    """Write the prompt file atomically (tensors detached to CPU, metadata made plain)."""
    import torch

    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "state_dict": {k: v.detach().to("cpu").clone() for k, v in state_dict.items()},
        "meta": plain(meta),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_prompt_file(path: str | Path) -> tuple[dict, dict]:
    """Read ``(state_dict, meta)`` with ``weights_only=True``; a foreign file is an InputError."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "prompt file not found", "train one with 'samcryo train' or fix --prompt-file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise InputError(path, f"cannot read prompt file ({first})", "train the prompt again") from exc
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise InputError(path, "not a samcryo prompt file", "give a file written by 'samcryo train'")
    if int(obj.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(
            path,
            f"prompt file format {obj.get('format_version')} is newer than this samcryo",
            "upgrade samcryo",
        )
    return dict(obj["state_dict"]), dict(obj["meta"])


def check_base(path: str | Path, meta: dict, variant: str, sha256: str) -> None:
    """Refuse a prompt trained on another base model (variant or weights differ)."""
    if meta.get("variant") != variant:
        raise InputError(
            path,
            f"prompt was trained for SAM variant '{meta.get('variant')}', not '{variant}'",
            f"use --variant {meta.get('variant')} with its base checkpoint, or train a prompt for {variant}",
        )
    want = str(meta.get("base_sha256"))
    if want.lower() != str(sha256).lower():
        made = meta.get("base_checkpoint") or want
        raise InputError(
            path,
            f"prompt was trained on base weights {made} (sha256 {want}), "
            f"but the base given has sha256 {sha256}",
            "pass the same --checkpoint the prompt was trained with, or train a prompt for this checkpoint",
        )
