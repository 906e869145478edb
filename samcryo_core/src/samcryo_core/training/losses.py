"""Dice + binary cross-entropy on the low-resolution mask logits (as in the SAM-for-cryo-EM paper).

Particles cover a few percent of a micrograph, so plain BCE is dominated by background and a
model can reach a low loss by predicting nothing; the soft Dice term measures overlap of the
foreground and keeps gradients on the particles. Both are computed at the decoder's native
``S/4`` resolution, where the targets are drawn, so no upsampling blurs the loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """``1 - soft Dice`` per image, averaged over the batch.

    ``eps`` (Laplace smoothing) keeps the loss defined and small for an empty target that the
    model also predicts empty.
    """
    prob = torch.sigmoid(logits.float()).flatten(1)
    t = target.float().flatten(1)
    inter = (prob * t).sum(1)
    denom = prob.sum(1) + t.sum(1)
    return (1.0 - (2.0 * inter + eps) / (denom + eps)).mean()


def dice_bce_loss(
    logits: torch.Tensor, target: torch.Tensor, dice_weight: float = 1.0, bce_weight: float = 1.0
) -> torch.Tensor:
    """``dice_weight * soft Dice loss + bce_weight * BCE-with-logits`` (float32 for stability)."""
    if logits.shape != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target {tuple(target.shape)} differ in shape")
    bce = F.binary_cross_entropy_with_logits(logits.float(), target.float())
    return dice_weight * soft_dice_loss(logits, target) + bce_weight * bce
