"""How much to bin one micrograph: bring the particle to the backbone's working size.

The rule for a size range ``[smallest, largest]`` (mixed samples): the *geometric mean*
``sqrt(smallest * largest)`` is binned to ``particle_px``. On a log scale it is the middle of the
range, so both ends miss the working size by the same factor ``sqrt(largest / smallest)`` (a
130-190 A sample: 0.83x and 1.21x), whereas binning the arithmetic mean or one end would push the
other end further out. A range is too wide for one scale when its ends leave the backbone's
tolerated sizes, i.e. when ``largest / smallest`` exceeds
:meth:`~samcryo_core.model.scale.WorkingScale.max_size_ratio` (3.2 for ``cpu_small``);
:func:`check_range` says so, and the fix is two runs with narrower ranges.

Non-integer factors are fine (Fourier binning resamples to any shape); a factor below 1
*upsamples* (Fourier padding), for particles smaller than the working size at the detector's
pixel size, e.g. an 80 A particle at 5 A/px. Factors below :data:`MIN_BIN_FACTOR` would invent a
micrograph 16x the size and are refused.
"""

from __future__ import annotations

import math

from samcryo_core.model.scale import WorkingScale
from samcryo_core.particles.diameter import Diameter, diameter_bounds, typical_diameter

#: Smallest allowed binning factor (4x upsampling): below it the pixel size or diameter is wrong.
MIN_BIN_FACTOR = 0.25


def bin_factor(pixel_size_A: float, diameter_A: Diameter, particle_px: float) -> float:
    """Original pixels per normalized pixel that bring the particle to ``particle_px``.

    ``diameter_A`` is one diameter or ``(smallest, largest)``; a range is represented by its
    geometric mean (module docstring).

    Raises:
        ValueError: a non-positive pixel size, or a factor below :data:`MIN_BIN_FACTOR`.
    """
    if not (pixel_size_A and pixel_size_A > 0 and math.isfinite(pixel_size_A)):
        raise ValueError(f"pixel size {pixel_size_A!r} A is not a positive number")
    factor = typical_diameter(diameter_A) / float(pixel_size_A) / float(particle_px)
    if factor < MIN_BIN_FACTOR:
        raise ValueError(
            f"a {typical_diameter(diameter_A):g} A particle at {pixel_size_A:g} A/px is only "
            f"{typical_diameter(diameter_A) / pixel_size_A:.1f} px wide; reaching the working size of "
            f"{particle_px:g} px would need {1 / factor:.1f}x upsampling (pixel size or diameter wrong?)")
    return factor


def range_at_scale(diameter_A: Diameter, particle_px: float) -> tuple[float, float]:
    """Smallest and largest particle in model-input pixels after binning (module docstring)."""
    lo, hi = diameter_bounds(diameter_A)
    mid = typical_diameter(diameter_A)
    return particle_px * lo / mid, particle_px * hi / mid


def check_range(diameter_A: Diameter, scale: WorkingScale) -> str | None:
    """A warning when ``diameter_A``'s ends leave the sizes ``scale`` tolerates, else None."""
    lo_px, hi_px = range_at_scale(diameter_A, scale.particle_px)
    if scale.min_px <= lo_px + 1e-9 and hi_px <= scale.max_px + 1e-9:
        return None
    lo, hi = diameter_bounds(diameter_A)
    return (f"particle sizes {lo:g}-{hi:g} A land at {lo_px:.1f}-{hi_px:.1f} px at the model input, "
            f"outside the {scale.min_px:g}-{scale.max_px:g} px the backbone handles (one scale serves "
            f"ranges up to {scale.max_size_ratio():.1f}x; this one is {hi / lo:.1f}x): the smallest "
            "or largest particles will be missed. Pick the sample in two runs with narrower "
            "particle.diameter_A ranges")
