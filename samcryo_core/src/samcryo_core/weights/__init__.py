"""Weights shipped inside samcryo_core: the pre-trained CPU backbone for ``cpu_small``.

``cpu_small_backbone.pt`` is a plain segment_anything ``Sam`` state dict (float16 tensors, about
4 MB) made by ``scripts/pretrain_backbone.py`` on simulated micrographs of proteins other than the
demo's; ``cpu_small_backbone.json`` records its sha256, recipe and validation metrics, and
``MODEL_CARD.md`` says what it is good for and what not. Load it like any SAM checkpoint::

    from samcryo_core.model import PromptedSam
    from samcryo_core.weights import cpu_small_backbone

    path, sha256 = cpu_small_backbone()
    model = PromptedSam.build("cpu_small", "head", checkpoint=path, sha256=sha256)

Why the checksum comes from the JSON next to the file rather than from a constant in code:
re-running the recipe writes a new file and a new JSON together, and the loader still verifies
that the bytes it reads are the ones the JSON describes.
"""

from __future__ import annotations

import json
from pathlib import Path

from samcryo_core.errors import ConfigError

WEIGHTS_DIR = Path(__file__).resolve().parent
CPU_SMALL_BACKBONE = WEIGHTS_DIR / "cpu_small_backbone.pt"


SHIPPED_PREFIX = "samcryo:"


def resolve_checkpoint(value: str | None) -> str | None:
    """Turn ``samcryo:<file>`` (a weights file shipped in this package) into its absolute path.

    Why: a config must name the shipped backbone in a way that works from any working directory
    (Snakemake runs with ``-d`` in a RELION project folder, or from another clone); a path
    relative to the repository would not. Any other value is returned unchanged.
    """
    if value is None or not str(value).startswith(SHIPPED_PREFIX):
        return value
    name = str(value)[len(SHIPPED_PREFIX):]
    if not name or "/" in name or name.startswith("."):
        raise ConfigError(
            "model.checkpoint", f"'{value}' does not name a file shipped in samcryo_core",
            f"use {SHIPPED_PREFIX}{CPU_SMALL_BACKBONE.name} or a path",
        )
    return str(WEIGHTS_DIR / name)


#: What ``model.checkpoint: null`` (or no ``--checkpoint``) means per variant: the backbone shipped
#: with samcryo. Variants not listed start from random weights (``tiny``, tests only) or need the
#: official file (``vit_*``, refused at start-up without one).
SHIPPED_BACKBONES = {"cpu_small": SHIPPED_PREFIX + CPU_SMALL_BACKBONE.name}


def checkpoint_for(value: str | None, variant: str) -> str | None:
    """The checkpoint file a config or command line means: ``value`` resolved
    (:func:`resolve_checkpoint`), or the variant's shipped backbone when ``value`` is None.

    Why: a new user who names ``cpu_small`` and no checkpoint must get the pre-trained backbone,
    not a random one that picks nothing.
    """
    if value is None:
        value = SHIPPED_BACKBONES.get(variant)
    return resolve_checkpoint(value)


def shipped_sha256(path: str | Path | None) -> str | None:
    """The recorded sha256 of a weights file shipped in this package, else None."""
    if path is None or Path(path).resolve().parent != WEIGHTS_DIR:
        return None
    meta = Path(path).resolve().with_suffix(".json")
    if not meta.is_file():
        return None
    return str(json.loads(meta.read_text(encoding="utf-8")).get("sha256") or "") or None


def backbone_metadata(path: str | Path = CPU_SMALL_BACKBONE) -> dict:
    """The JSON record written beside a backbone file by the pre-training export."""
    meta = Path(path).with_suffix(".json")
    if not meta.is_file():
        raise ConfigError(
            "model.checkpoint",
            f"{meta} is missing (the backbone's sha256 and recipe)",
            "reinstall samcryo_core or re-run scripts/pretrain_backbone.py",
        )
    return json.loads(meta.read_text(encoding="utf-8"))


def cpu_small_backbone() -> tuple[Path, str]:
    """``(path, sha256)`` of the shipped ``cpu_small`` backbone, for ``PromptedSam.build``."""
    if not CPU_SMALL_BACKBONE.is_file():
        raise ConfigError(
            "model.checkpoint",
            f"{CPU_SMALL_BACKBONE} is missing",
            "reinstall samcryo_core or re-run scripts/pretrain_backbone.py",
        )
    return CPU_SMALL_BACKBONE, str(backbone_metadata()["sha256"])
