"""Do the labels agree with the particle diameter? Particles cannot overlap: labelled centres bound it.

Why: the particle diameter sets everything downstream -- the working scale (each micrograph is
binned so that a particle is the backbone's ``particle_px`` wide), the training targets (a disc of
that diameter per labelled particle), the seed spacing, area filters and duplicate distance of
extraction. Given too large a diameter on a crowded field, the target discs overlap and fuse into
one blob, the model learns to mark the whole field, and extraction cuts pieces a "diameter" wide
that each hold two or three particles. CryoPPP's circles for EMPIAR-10059 and 10947 are such a
diameter: 1.5-1.6 times the particles (their labelled centres sit 0.61-0.66 circle diameters
apart at the median); with the circle the default prompt reaches F1 0.55-0.56 on 10947, with the
labels' spacing 0.78-0.79 (docs/benchmarks.md). A user's box size, or a loose guess, does the same.

The labels tell: touching particles are one diameter apart, so the median distance from a
labelled particle to its nearest labelled neighbour is at least about one diameter on any field,
crowded or sparse (more on a sparse one, and unlabelled particles only make it larger). When it is
below :data:`MIN_MEDIAN_SPACING` of the smallest configured diameter, more than half the labelled
particles would overlap their neighbour by a fifth of a diameter or more, and training stops with
the labels' spacing as the fix, before hours of segmentation at the wrong scale. Elongated
particles packed side by side can legitimately sit closer than their longest dimension: a
diameter range ``[short side, long side]`` passes (the smallest diameter is what is compared).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from samcryo_core.errors import ConfigError
from samcryo_core.particles.diameter import Diameter, describe, diameter_bounds

if TYPE_CHECKING:
    from samcryo_core.training.labels import LabelSource

#: The labels' median nearest-neighbour distance must be at least this fraction of the smallest
#: diameter. On CryoPPP EMPIAR-10028 (touching ribosomes, circle = particle) the median is 1.18
#: diameters and the 10th percentile 0.89; on 10059 / 10947 (circle 1.5-1.6x the particle) the
#: median is 0.66 / 0.61.
MIN_MEDIAN_SPACING = 0.8
#: Fewer labelled particles with a neighbour than this say too little to stop a run.
MIN_PARTICLES = 20


def neighbour_distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Distance from each point to its nearest other point (same units); empty below two points."""
    xy = np.stack([np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)], axis=1)
    if len(xy) < 2:
        return np.zeros(0)
    from scipy.spatial import cKDTree

    return cKDTree(xy).query(xy, k=2)[0][:, 1]


@dataclass(frozen=True)
class LabelSpacing:
    """Nearest-neighbour spacing of the labelled particles, pooled over micrographs.

    Attributes:
        median_A: median distance of a labelled particle to its nearest labelled neighbour.
        n_particles: particles that had a neighbour on their micrograph (the median's sample).
        n_micrographs: micrographs that contributed.
    """

    median_A: float
    n_particles: int
    n_micrographs: int


def label_spacing(distances_A: Sequence[np.ndarray]) -> LabelSpacing | None:
    """Pool per-micrograph nearest-neighbour distances (Angstrom); None when there are fewer than
    :data:`MIN_PARTICLES` (mask labels and micrographs without a pixel size contribute none)."""
    parts = [np.asarray(d, dtype=np.float64) for d in distances_A if len(d)]
    pooled = np.concatenate(parts) if parts else np.zeros(0)
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size < MIN_PARTICLES:
        return None
    return LabelSpacing(float(np.median(pooled)), int(pooled.size), len(parts))


def labelled_spacing(pairs: Sequence[tuple[str | Path, LabelSource]],
                     pixel_size_A: float | None = None) -> LabelSpacing | None:
    """The spacing of the labelled particles of ``(micrograph, labels)`` pairs
    (:func:`samcryo_core.training.dataset.match_labels`), each micrograph at its header's pixel
    size or ``pixel_size_A``. Reads no pixels (MRC headers only): cheap enough for the workflow's
    start-up. Mask labels and micrographs without a pixel size contribute nothing. RELION
    alignment shifts are applied, as training applies them."""
    from samcryo_core.io.coordinates import particle_centres
    from samcryo_core.io.micrograph import read_pixel_size

    distances = []
    for image, source in pairs:
        px = read_pixel_size(image) or pixel_size_A
        if source.is_mask or not px:
            continue
        table = particle_centres(source.table, px)
        distances.append(neighbour_distances(table["x"].to_numpy(), table["y"].to_numpy()) * px)
    return label_spacing(distances)


def too_close(smallest_diameter: float, spacing: LabelSpacing | None) -> bool:
    """Whether the labels' spacing refuses a diameter (any one unit for both): the one rule that
    :func:`check_diameter` enforces for users and pre-training applies to its real sets."""
    return spacing is not None and spacing.median_A < MIN_MEDIAN_SPACING * smallest_diameter


def check_diameter(diameter_A: Diameter, spacing: LabelSpacing | None, *,
                   what: str = "training labels") -> None:
    """Raise when the labelled particles sit too close for the configured diameter (module doc).

    Raises:
        ConfigError: naming ``particle.diameter_A``, the labels' spacing and the value to set.
    """
    smallest, largest = diameter_bounds(diameter_A)
    if not too_close(smallest, spacing):
        return
    ratio = spacing.median_A / smallest
    raise ConfigError(
        "particle.diameter_A",
        f"the {spacing.n_particles} particles of the {what} ({spacing.n_micrographs} micrographs) "
        f"sit {spacing.median_A:.0f} A from their nearest labelled neighbour at the median, "
        f"{ratio:.2f} of the configured {describe(diameter_A, 'A')}: particles that size would "
        "overlap, so training discs fuse and picks hold several particles",
        f"set particle.diameter_A to the particles' own size, about {spacing.median_A:.0f} (the "
        f"labels' spacing) or less (a box size or a label circle is larger than the particle); for "
        f"elongated particles give a range [short side, long side], e.g. "
        f"[{spacing.median_A:.0f}, {largest:.0f}]; labels that hold a particle twice need their "
        "duplicates removed",
    )
