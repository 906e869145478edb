"""What SAM is shown: the intensity mapping of a micrograph and the fixed grid of point prompts.

Intensity mapping. samcryo's preprocessing gives each micrograph median 0 and robust standard
deviation (IQR / 1.349) 1 (:func:`samcryo_core.preprocess.normalize.normalize_micrograph`). SAM
was trained on 8-bit RGB photos and normalizes them itself with ``(rgb - pixel_mean) / pixel_std``
(ImageNet statistics). We show SAM a *grey* image whose grey value is ``GREY_MEAN + GREY_STD *
x``, i.e. a micrograph with SAM's average brightness and contrast, identical on R, G and B (as
when a PNG micrograph is loaded as RGB, which is what the SAM-for-cryo-EM papers do), and then
apply SAM's own per-channel normalization. No clipping to 0..255: clipping would only throw away
the tails of the contrast that preprocessing already chose, and keeps gradients flowing through
the head prompt.
"""

from __future__ import annotations

import torch

#: Mean and std of SAM's per-channel ImageNet statistics, averaged over R, G, B.
GREY_MEAN = (123.675 + 116.28 + 103.53) / 3.0
GREY_STD = (58.395 + 57.12 + 57.375) / 3.0


def micrograph_to_sam_input(
    images: torch.Tensor, pixel_mean: torch.Tensor, pixel_std: torch.Tensor
) -> torch.Tensor:
    """Map normalized micrographs ``[B,1,S,S]`` to SAM's normalized RGB input ``[B,3,S,S]``."""
    grey = GREY_MEAN + GREY_STD * images
    rgb = grey.expand(-1, 3, -1, -1)
    return (rgb - pixel_mean.view(1, 3, 1, 1)) / pixel_std.view(1, 3, 1, 1)


def point_grid(points_per_side: int, img_size: int) -> torch.Tensor:
    """Centres of a ``points_per_side`` x ``points_per_side`` grid, ``[1, N, 2]`` as (x, y) pixels.

    Points sit at the centres of equal cells, like segment_anything's automatic mask generator
    grid, in the model-input pixel frame that SAM's prompt encoder expects.
    """
    step = img_size / points_per_side
    centres = (torch.arange(points_per_side, dtype=torch.float32) + 0.5) * step
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=-1).unsqueeze(0)
