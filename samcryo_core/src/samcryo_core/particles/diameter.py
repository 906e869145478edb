"""The expected particle size: one diameter, or a (smallest, largest) range for mixed samples.

Why a range: many samples hold more than one particle size (a complex and its free subunits,
several conformations or oligomeric states, a mixture screened on one grid), and a single
diameter makes the picker's size filters reject the small ones as debris and the large ones as
aggregates. RELION's LoG picker takes ``--LoG_diam_min`` / ``--LoG_diam_max`` for the same
reason. With a range the filters span it: the smallest allowed area comes from the smallest
diameter, the largest from the largest, duplicates are judged at the smallest, and every pick
reports its own size (the diameter of a disc of its segmented area, clipped to the range).

A single number keeps the single-size behaviour exactly (``(d, d)`` everywhere), so existing
configs and their outputs do not change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: A diameter as the config and the CLI give it: one number, or ``(smallest, largest)``.
Diameter = float | tuple[float, float]


def as_diameter(value: float | Sequence[float]) -> Diameter:
    """One number, or a two-number ``[smallest, largest]`` list from a config or CLI.

    Raises:
        ValueError: not one or two positive numbers, or smallest > largest.
    """
    values = [float(value)] if isinstance(value, (int, float)) else [float(v) for v in value]
    if len(values) not in (1, 2) or not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"a particle diameter is one positive number or [smallest, largest], got {value!r}")
    if len(values) == 1 or values[0] == values[1]:
        return values[0]
    if values[0] > values[1]:
        raise ValueError(f"particle diameter range [{values[0]:g}, {values[1]:g}]: give the smallest first")
    return (values[0], values[1])


def diameter_bounds(diameter: Diameter) -> tuple[float, float]:
    """``(smallest, largest)``; a single diameter is both.

    Raises:
        ValueError: not positive, or the range is given largest first (library callers pass
            numbers directly, without :func:`as_diameter`).
    """
    if isinstance(diameter, tuple):
        lo, hi = float(diameter[0]), float(diameter[1])
    else:
        lo = hi = float(diameter)
    if not 0 < lo <= hi:
        raise ValueError(f"diameter_px must be > 0 (smallest first), got {diameter}")
    return lo, hi


def scale_diameter(diameter: Diameter, factor: float) -> Diameter:
    """The same diameter (or range) times ``factor`` (Angstrom -> pixels, say)."""
    lo, hi = diameter_bounds(diameter)
    return lo * factor if lo == hi else (lo * factor, hi * factor)


def typical_diameter(diameter: Diameter) -> float:
    """One representative size: the diameter itself, or the geometric mean of the range."""
    lo, hi = diameter_bounds(diameter)
    return math.sqrt(lo * hi)


def describe(diameter: Diameter, unit: str = "px") -> str:
    """``'40 px'`` or ``'32.5-47.5 px'`` for logs and messages."""
    lo, hi = diameter_bounds(diameter)
    return f"{lo:g} {unit}" if lo == hi else f"{lo:g}-{hi:g} {unit}"
