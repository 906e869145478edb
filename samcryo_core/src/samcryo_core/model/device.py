"""Device choice and mixed precision, shared by training and inference.

``auto`` uses a GPU when torch sees one, so the same Snakemake rule runs on a laptop and on a
cluster GPU node. On CUDA the model runs under ``torch.autocast`` (bfloat16 where the GPU supports
it -- no loss scaling needed -- else float16); CPUs run in float32, where autocast brings nothing.
"""

from __future__ import annotations

import contextlib

from samcryo_core.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; an absent GPU asked for is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            "device", "CUDA requested but no GPU is visible to torch", "use --device cpu or auto"
        )
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError("device", f"unknown device '{device}'", "use auto, cpu or cuda")
    return device


def autocast_context(device: str):
    """Mixed precision on CUDA (bf16 if supported, else fp16); a no-op context on CPU."""
    import torch

    if not device.startswith("cuda"):
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


def set_threads(threads: int | None) -> None:
    """Limit torch's CPU threads (a SLURM job should use what it was given, not the whole node)."""
    import torch

    if threads is not None and threads > 0:
        torch.set_num_threads(int(threads))
