"""The working scale of a backbone: how many model-input pixels a particle should span.

Why it exists: a ViT backbone learns particles at the pixel sizes it was shown. The shipped
``cpu_small`` backbone saw particles of 10-36 px (median about 20 px) at its 512 px input; a
micrograph squeezed whole into the input shows a 191 A particle of a 4096 px, 1.77 A/px frame as
13.5 px, and at 0.8 A/px on a 5760 px frame as 4 px, far outside what it learnt. So every
micrograph is binned by its own factor until the particle has the backbone's working size
(:func:`samcryo_core.preprocess.scale.bin_factor`), and the model runs on tiles
(:mod:`samcryo_core.inference.tiling`) instead of on the whole micrograph.

Where the number comes from, in order:

1. ``model.particle_px`` in the config (an explicit choice, e.g. after a sweep on one's own data);
2. the ``working_scale`` record of the checkpoint's metadata JSON (a shipped backbone says what it
   was pre-trained at: ``cpu_small_backbone.json``);
3. the variant's default in :mod:`samcryo_core.model.registry` (official ``vit_b/l/h``: 40 px,
   tolerated 20-80 px: SAM saw objects of every size at 1024 px, and the SAM-for-cryo-EM paper's
   CryoPPP inputs, 4k micrographs resized to 1024 px, showed particles of about 33-56 px).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from samcryo_core.errors import ConfigError


@dataclass(frozen=True)
class WorkingScale:
    """Particle diameter in model-input pixels: the best size and the tolerated range.

    Attributes:
        particle_px: the diameter (model-input pixels) micrographs are binned to.
        min_px, max_px: sizes the backbone still handles (its pre-training distribution); a
            particle size range whose ends fall outside cannot be served by one scale.
        source: where ``particle_px`` came from (``config``, ``checkpoint`` or ``variant``).
    """

    particle_px: float
    min_px: float
    max_px: float
    source: str

    def __post_init__(self) -> None:
        if not (0 < self.min_px <= self.max_px and self.particle_px > 0):
            raise ConfigError("model.particle_px", f"working scale {self.particle_px} px with range "
                              f"[{self.min_px}, {self.max_px}] is not valid",
                              "give a positive model.particle_px")

    def max_size_ratio(self) -> float:
        """Widest ``largest / smallest`` diameter ratio one scale serves (see :func:`check_range`).

        The geometric mean of a range is binned to ``particle_px``, so its ends land at
        ``particle_px * sqrt(smallest / largest)`` and ``particle_px * sqrt(largest / smallest)``;
        both must stay inside ``[min_px, max_px]``.
        """
        return min((self.max_px / self.particle_px) ** 2, (self.particle_px / self.min_px) ** 2)

    def to_dict(self) -> dict:
        return {"particle_px": self.particle_px, "range_px": [self.min_px, self.max_px],
                "source": self.source}


def checkpoint_working_scale(checkpoint: str | Path | None) -> tuple[float, float, float] | None:
    """``(particle_px, min_px, max_px)`` from the JSON beside a checkpoint, if it records one."""
    if checkpoint is None:
        return None
    meta = Path(checkpoint).with_suffix(".json")
    if not meta.is_file():
        return None
    try:
        record = json.loads(meta.read_text(encoding="utf-8")).get("working_scale")
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(record, dict) or "particle_px" not in record:
        return None
    lo, hi = record.get("range_px", (record["particle_px"], record["particle_px"]))
    return float(record["particle_px"]), float(lo), float(hi)


def working_scale(variant: str, checkpoint: str | Path | None = None,
                  particle_px: float | None = None) -> WorkingScale:
    """The working scale of ``variant`` (+ ``checkpoint``), or the explicit ``particle_px``.

    An explicit ``particle_px`` keeps the backbone's tolerated range (it only moves the target
    inside or outside it; :func:`check_range` warns about the consequences).
    """
    from samcryo_core.model.registry import get_variant

    spec = get_variant(variant)
    declared = checkpoint_working_scale(checkpoint)
    if declared is not None:
        best, lo, hi = declared
        source = "checkpoint"
    else:
        best, (lo, hi) = spec.particle_px, spec.particle_px_range
        source = "variant"
    if particle_px is not None:
        if not (isinstance(particle_px, (int, float)) and math.isfinite(particle_px) and particle_px >= 4):
            raise ConfigError("model.particle_px", f"{particle_px!r} is not a particle size in pixels",
                              "use a number of model-input pixels >= 4 (or null for the backbone's own)")
        best, source = float(particle_px), "config"
    return WorkingScale(float(best), float(lo), float(hi), source)
