"""Test-time augmentation: average the model's logits over flips and 90-degree rotations.

Why: a micrograph has no preferred orientation, but a frozen ViT backbone is not equivariant
to flips or rotations, so each orientation of the same micrograph gives a slightly different,
partly independent guess about weak particles. Averaging the logits of the orientations (each
turned back to the original orientation first) cancels much of that variance. On the CPU demo
(SNR 0.1, `head` prompt) the 8-fold D4 average raised particle F1 from 0.765 to 0.795 with no
retraining (docs/demo.md). The price is model time: ``flips`` costs 4x, ``d4`` 8x a single pass,
which is small for `cpu_small` (about 0.1 s per micrograph) and large for `vit_h` on a GPU.

Every transform used is exactly invertible on the square model input (``segment`` feeds square
``img_size`` tiles), so averaged tile maps stay aligned pixel for pixel before stitching.
"""

from __future__ import annotations

from typing import Any

# (quarter turns, horizontal flip) of each orientation. A horizontal flip is torch.flip on the
# last (column) axis; rotation is torch.rot90 over the (row, column) axes.
TTA_TRANSFORMS: dict[str, tuple[tuple[int, bool], ...]] = {
    "none": ((0, False),),
    "flips": ((0, False), (0, True), (2, False), (2, True)),  # identity, mirror x, mirror y, 180
    "d4": tuple((k, f) for k in range(4) for f in (False, True)),  # all 8 symmetries of a square
}
TTA_MODES = tuple(TTA_TRANSFORMS)


def check_mode(mode: str) -> str:
    """Return ``mode`` if it is a known TTA mode, else raise ``ValueError`` naming the choices."""
    if mode not in TTA_TRANSFORMS:
        raise ValueError(f"unknown test-time augmentation '{mode}'; use one of {', '.join(TTA_MODES)}")
    return mode


def _forward(x: Any, quarter_turns: int, flip: bool) -> Any:
    import torch

    y = torch.rot90(x, quarter_turns, dims=(-2, -1)) if quarter_turns else x
    return torch.flip(y, dims=(-1,)) if flip else y


def _inverse(y: Any, quarter_turns: int, flip: bool) -> Any:
    import torch

    y = torch.flip(y, dims=(-1,)) if flip else y
    return torch.rot90(y, -quarter_turns, dims=(-2, -1)) if quarter_turns else y


def tta_logits(model: Any, x: Any, mode: str = "none") -> Any:
    """``model(x)`` averaged over the orientations of ``mode``; ``x`` is ``[B, 1, S, S]``.

    With ``none`` this is exactly ``model(x)``. Logits (not probabilities) are averaged, so a
    confident orientation is not flattened by the sigmoid; the caller applies the sigmoid once.
    """
    transforms = TTA_TRANSFORMS[check_mode(mode)]
    if len(transforms) == 1:
        return model(x)
    total = None
    for quarter_turns, flip in transforms:
        out = _inverse(model(_forward(x, quarter_turns, flip)), quarter_turns, flip).float()
        total = out if total is None else total + out
    return total / len(transforms)
