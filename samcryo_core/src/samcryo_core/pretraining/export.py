"""Write a pre-trained backbone in the one format samcryo loads: a plain ``Sam`` state dict.

Why a plain state dict: :func:`samcryo_core.model.loading.load_state_dict` reads checkpoints with
``torch.load(weights_only=True)`` and ``PromptedSam.build(variant, prompt, checkpoint, sha256=...)``
loads them strictly, exactly like an official SAM ``.pth``. Nothing samcryo-specific is pickled;
the facts about the file (sha256, recipe, training history, metrics) go into a JSON sidecar
``<stem>.json`` and a ``<stem>.sha256`` line in ``sha256sum`` format, so users can verify the
file with standard tools and the workflow can pass the checksum to the loader.

float16 storage halves the file (about 4 MB for ``cpu_small``); loading copies the tensors into
the float32 model (the float16-rounded values are what every later measurement used).
torch writes a random serialization id into every file, so a re-run of the recipe reproduces the
weights' values, not the file's bytes: its sha256 is recorded per file.
"""

from __future__ import annotations

import io
import json
import os
import platform
from pathlib import Path
from typing import Any

from samcryo_core.io.atomic import atomic_write_bytes, atomic_write_text

DTYPES = ("float32", "float16")


def sidecar_paths(path: str | Path) -> tuple[Path, Path]:
    """``(json metadata, .sha256)`` paths beside a weights file."""
    p = Path(path)
    return p.with_suffix(".json"), p.with_suffix(".sha256")


def backbone_state_dict(sam: Any, dtype: str = "float16") -> dict:
    """The ``Sam`` module's state dict, detached on the CPU, floats cast to ``dtype``."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    target = getattr(torch, dtype)
    out = {}
    for k, v in sam.state_dict().items():
        t = v.detach().cpu()
        out[k] = t.to(target).clone() if t.is_floating_point() else t.clone()
    return out


def export_backbone(sam: Any, path: str | Path, metadata: dict, dtype: str = "float16") -> str:
    """Write ``path`` (state dict), ``<stem>.json`` and ``<stem>.sha256`` atomically; return the sha256.

    ``metadata`` (plain data) is stored under ``"recipe"``-level keys as given, plus ``variant``
    is expected in it; the file facts (``sha256``, ``size_bytes``, ``dtype``, ``n_params``,
    library versions) are added here.
    """
    import torch

    from samcryo_core import __version__
    from samcryo_core.model.loading import sha256_file

    path = Path(path)
    state = backbone_state_dict(sam, dtype)
    buf = io.BytesIO()  # in memory: the archive's inner name is then not the temporary file's
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())
    digest = sha256_file(path)
    meta_path, sha_path = sidecar_paths(path)
    record = {
        "file": path.name,
        "format": "segment_anything Sam state dict (torch.save, loads with weights_only=True)",
        "sha256": digest,
        "size_bytes": path.stat().st_size,
        "dtype": dtype,
        "n_params": int(sum(v.numel() for k, v in state.items() if v.is_floating_point())),
        "samcryo_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        **metadata,
    }
    atomic_write_text(meta_path, json.dumps(record, indent=2, sort_keys=False) + "\n")
    atomic_write_text(sha_path, f"{digest}  {path.name}\n")
    for p in (path, meta_path, sha_path):  # shipped files are for everyone, whatever the umask
        os.chmod(p, 0o644)
    return digest


def update_backbone_metadata(path: str | Path, changes: dict) -> None:
    """Rewrite the JSON sidecar with ``changes`` merged in (the weights file is not touched).

    Used at the end of a run: the weights were exported at their best validation step, the
    sidecar then gains the complete training history.
    """
    meta_path, _ = sidecar_paths(path)
    record = read_backbone_metadata(path)
    record.update(changes)
    atomic_write_text(meta_path, json.dumps(record, indent=2, sort_keys=False) + "\n")


def read_backbone_metadata(path: str | Path) -> dict:
    """The JSON sidecar of a weights file (raises FileNotFoundError if it is missing)."""
    meta_path, _ = sidecar_paths(path)
    return json.loads(meta_path.read_text())
