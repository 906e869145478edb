"""Decide, per micrograph, whether samcryo can use it, and settle its pixel size.

A facility dataset always holds a few bad files (a truncated transfer, a movie instead of a summed
micrograph, an all-zero frame from a failed exposure). Each is *rejected with a reason* rather than
crashing the chunk, and the reason is the :class:`~samcryo_core.errors.InputError` text, which
names the file and says what to do.

Checks, in order: readable (format, truncation, MRC mode), a single 2-D image, at least
``min_size`` pixels along both axes, no NaN / Inf pixels, not constant, and a known pixel size.

Pixel size priority: the MRC header (the file describes itself), then the list it came from
(RELION optics group / cryoSPARC exposure), then the configured ``pixel_size_A``. When two known
values differ by more than 1 %, a warning names both values and the file: a wrong pixel size
silently rescales every particle diameter given in Angstrom.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from samcryo_core.errors import InputError
from samcryo_core.ingest.sources import Source
from samcryo_core.io.micrograph import read_micrograph
from samcryo_core.manifest import OK, REJECTED

log = logging.getLogger(__name__)

# Smallest side accepted by default: a few particle diameters even for small proteins; smaller
# images are thumbnails or crops, not micrographs.
DEFAULT_MIN_SIZE = 256
# Relative disagreement between pixel-size sources that is worth a warning.
PIXEL_SIZE_TOLERANCE = 0.01

HEADER = "header"
CONFIG = "config"


@dataclass(frozen=True)
class ValidationResult:
    """Outcome of :func:`validate_micrograph` for one source.

    ``ok`` results carry the pixel size, where it came from, and the shape; rejected ones carry
    ``reason`` (the InputError text) and whatever was learnt before the failure.
    """

    source: Source
    ok: bool
    reason: str = ""
    pixel_size_A: float | None = None  # noqa: N815 (Angstrom unit suffix)
    pixel_size_source: str | None = None
    height: int | None = None
    width: int | None = None

    @property
    def status(self) -> str:
        return OK if self.ok else REJECTED

    def to_row(self) -> dict:
        """Row of the ingest chunk manifest (columns as in docs/architecture.md)."""
        return {
            "micrograph": self.source.micrograph,
            "status": self.status,
            "reason": self.reason,
            "source": self.source.path,
            "pixel_size_A": "" if self.pixel_size_A is None else f"{self.pixel_size_A:.6g}",
            "pixel_size_source": self.pixel_size_source or "",
            "height": "" if self.height is None else self.height,
            "width": "" if self.width is None else self.width,
        }


def one_line(text: str) -> str:
    """Make a reason safe for a TSV cell (no tabs or newlines)."""
    return " ".join(str(text).split())


def resolve_pixel_size(
    path: str,
    candidates: list[tuple[str, float | None]],
    tolerance: float = PIXEL_SIZE_TOLERANCE,
) -> tuple[float | None, str | None]:
    """First known value of ``candidates`` (``(source, value)`` in priority order).

    Logs a warning naming both values and ``path`` whenever two known values differ by more than
    ``tolerance`` (relative to the value that wins).
    """
    known = [(s, float(v)) for s, v in candidates if v is not None]
    if not known:
        return None, None
    best_src, best = known[0]
    for src, v in known[1:]:
        if abs(v - best) > tolerance * best:
            log.warning(
                "%s: pixel size from %s (%.4g A) and from %s (%.4g A) differ by more than %.0f%%; "
                "using %s (%.4g A)", path, best_src, best, src, v, tolerance * 100, best_src, best,
            )
    return best, best_src


def _check_pixels(path: str, data: np.ndarray, min_size: int) -> None:
    h, w = data.shape
    if h < min_size or w < min_size:
        raise InputError(path, f"image is {w} x {h} pixels, smaller than min_size {min_size}",
                         "give full-size micrographs or lower ingest min_size")
    if not np.isfinite(np.sum(data, dtype=np.float64)):
        n_nan = int(np.count_nonzero(np.isnan(data)))
        n_inf = int(np.count_nonzero(np.isinf(data)))
        raise InputError(path, f"image has {n_nan} NaN and {n_inf} Inf pixels",
                         "re-run motion correction or leave the micrograph out")
    lo, hi = float(np.min(data)), float(np.max(data))
    if lo == hi:
        raise InputError(path, f"image is constant (every pixel is {lo:g})",
                         "the exposure is empty or failed; leave it out")


def validate_micrograph(
    source: Source,
    *,
    config_pixel_size_A: float | None = None,
    min_size: int = DEFAULT_MIN_SIZE,
) -> ValidationResult:
    """Open and check one micrograph; never raises for a bad file (returns a rejection).

    Args:
        source: the input (name, path, pixel size from its list).
        config_pixel_size_A: configured pixel size, the last resort.
        min_size: smallest accepted height and width in pixels.
    """
    path = source.path
    height = width = None
    px = px_src = None
    try:
        mic = read_micrograph(path)
        height, width = mic.shape
        _check_pixels(path, mic.data, min_size)
        px, px_src = resolve_pixel_size(path, [
            (HEADER, mic.header_pixel_size_A),
            (source.pixel_size_source or "list", source.pixel_size_A),
            (CONFIG, config_pixel_size_A),
        ])
        if px is None:
            raise InputError(path, "pixel size unknown (not in the MRC header, the STAR optics "
                             "table or the config)", "set pixel_size_A in the config")
    except InputError as exc:
        log.info("rejected %s: %s", source.micrograph, exc)
        return ValidationResult(source, False, one_line(str(exc)), px, px_src, height, width)
    return ValidationResult(source, True, "", px, px_src, height, width)
