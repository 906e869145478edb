"""Matched-filter initialisation of SAM's patch embedding for pre-training from scratch.

Why: trained from random weights on simulated micrographs, ``cpu_small`` learned nothing useful
in the CPU budget. With the SNR curriculum it still predicted only background after 70 steps
(loss flat at 1.24), and even over-fitting two SNR-0.1 micrographs for 20 steps left particle
and background probabilities within 0.01 of each other. The image encoder first has to discover
what every classical picker starts from: dark blobs of the particle's size at some position in
each 16 x 16 patch. So we give it that. Part of the filters of the patch-embedding convolution
(``image_encoder.patch_embed.proj``, a ``patch x patch`` stride-``patch`` convolution) start as
dark Gaussian blobs of several widths on a grid of sub-patch positions (zero-mean, so flat
illumination gives no response), three as the patch's mean and linear ramps (ice gradients,
carbon edges); the rest keep their random init. Every weight is then trained as usual; only the
starting point differs. The filter responses have the same noise standard deviation as PyTorch's
default initialisation would give, so the transformer blocks see features of the usual scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Gaussian widths (pixels of the model input) of the blob filters: particles of 12-30 px
#: diameter at 512 px (96-250 A at ~4 A/px, binned 2x) have sigma of about 2-7 px.
BLOB_SIGMAS = (1.5, 3.0, 5.0)
#: Blob centres per patch side (4 -> a 4 x 4 grid of sub-positions).
BLOB_POSITIONS = 4


def blob_filters(
    patch: int, sigmas: tuple[float, ...] = BLOB_SIGMAS, positions: int = BLOB_POSITIONS
) -> np.ndarray:
    """``[n, patch, patch]`` unit-norm filters: zero-mean dark blobs, then mean and ramps."""
    c = np.arange(patch, dtype=np.float64) + 0.5
    yy, xx = np.meshgrid(c, c, indexing="ij")
    filters = []
    centres = (np.arange(positions) + 0.5) * patch / positions
    for s in sigmas:
        for cy in centres:
            for cx in centres:
                g = -np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2.0 * s * s))  # dark blob -> positive
                g -= g.mean()
                filters.append(g)
    filters += [np.ones_like(xx), xx - xx.mean(), yy - yy.mean()]
    out = np.stack(filters)
    return out / np.linalg.norm(out.reshape(len(out), -1), axis=1)[:, None, None]


def init_patch_embedding(sam: Any, noise_std: float | None = None) -> int:
    """Overwrite the first filters of ``sam``'s patch embedding with :func:`blob_filters`.

    The three input channels carry the same grey image (:mod:`samcryo_core.model.inputs`), so each
    filter is split equally over them. ``noise_std``: the response std to unit white noise
    (default: that of PyTorch's default init of this convolution, ``1/sqrt(3)``). Returns the
    number of filters set.
    """
    import torch

    proj = sam.image_encoder.patch_embed.proj
    out_ch, in_ch, kh, kw = proj.weight.shape
    if kh != kw:
        raise ValueError(f"patch embedding kernel is not square: {kh} x {kw}")
    bank = blob_filters(kh)
    n = min(out_ch, len(bank))
    std = (1.0 / np.sqrt(3.0)) if noise_std is None else float(noise_std)
    # Identical channels: response = sum_c w_c * x = (w / in_ch) * in_ch * x, so put w/in_ch on each.
    w = torch.from_numpy(bank[:n] * std / in_ch).to(proj.weight.dtype)
    with torch.no_grad():
        proj.weight[:n] = w[:, None].expand(n, in_ch, kh, kw)
        if proj.bias is not None:
            proj.bias[:n] = 0.0
    return n
