"""The normalize stage: one chunk of ingested micrographs -> model-scale images + frame sidecars.

For each ``ok`` row of the ingest manifest it writes ``<out_dir>/<mic>.mrc`` (the normalized
image; MRC pixel size = normalized pixel size, x and y separately) and ``<out_dir>/<mic>.json``
(the :class:`~samcryo_core.frame.FrameMapping` sidecar). A micrograph is redone only when its
stamp changed (:mod:`samcryo_core.stamps`: the settings below, the pixel size, or the source
file's size and modification time), so a rerun after a crash or a changed file redoes only what
needs it. A micrograph whose *input* is unusable becomes a ``rejected`` row with its reason; a
failure of the machine (full disk, I/O error, out of memory) stops the job instead.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from samcryo_core import stamps
from samcryo_core.errors import InputError, is_environment_failure
from samcryo_core.manifest import OK, STAMP, carry_rejected
from samcryo_core.particles.diameter import Diameter, diameter_bounds

log = logging.getLogger(__name__)

NORMALIZE_COLUMNS = ("micrograph", "status", "reason", "source", "normalized", "sidecar", STAMP)
STAGE = "normalize"


@dataclass(frozen=True)
class NormalizeSettings:
    """Everything that shapes a normalized image (all of it goes into the stamp)."""

    particle_px: float
    diameter_A: Diameter
    clip_percentiles: tuple[float, float] = (0.5, 99.5)
    lowpass_A: float | None = None
    dtype: str = "float32"

    def stamp_dict(self) -> dict:
        d = asdict(self)
        d["diameter_A"] = list(diameter_bounds(self.diameter_A))
        d["clip_percentiles"] = [float(v) for v in self.clip_percentiles]
        return d


def _one(row: dict, out_dir: Path, settings: NormalizeSettings, workers: int | None) -> dict:
    from samcryo_core.ingest.validate import one_line
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.io.mrc_write import write_mrc
    from samcryo_core.preprocess.normalize import normalize_micrograph

    name, source = row["micrograph"], row.get("source", "")
    mrc_path, json_path = out_dir / f"{name}.mrc", out_dir / f"{name}.json"
    px_text = (row.get("pixel_size_A") or "").strip()
    stamp_settings = {**settings.stamp_dict(), "pixel_size_A": px_text}
    # the ingest stamp (validation of this very file) and the file itself, so a file replaced
    # after ingest is never taken for the one that was normalized
    stamp = stamps.make_stamp(STAGE, stamp_settings, row.get(STAMP, ""), stamps.file_stamp(source))
    done = {"micrograph": name, "status": OK, "reason": "", "source": source,
            "normalized": str(mrc_path), "sidecar": str(json_path), STAMP: stamp}
    if stamps.is_current(out_dir, name, stamp, mrc_path, json_path):
        log.info("%s: up to date, skipped", name)
        return done
    try:
        mic = read_micrograph(source)
        img, mapping = normalize_micrograph(
            mic.data, name=name, source=source,
            pixel_size_A=float(px_text) if px_text else mic.pixel_size_A,
            pixel_size_source=(row.get("pixel_size_source") or None),
            diameter_A=settings.diameter_A, particle_px=settings.particle_px,
            clip_percentiles=tuple(settings.clip_percentiles), lowpass_A=settings.lowpass_A,
            workers=workers,
        )
        write_mrc(mrc_path, img, mapping.normalized_pixel_size_A, dtype=settings.dtype)
        mapping.write(json_path)
        stamps.record(out_dir, name, stamp, STAGE, stamp_settings)  # last: the commit point
    except Exception as exc:
        if is_environment_failure(exc) or not isinstance(exc, (InputError, OSError, ValueError)):
            raise
        stamps.forget(out_dir, name)
        reason = str(exc) if isinstance(exc, InputError) else f"{source}: normalize failed ({exc})"
        log.warning("rejected %s: %s", name, reason)
        return carry_rejected(row, NORMALIZE_COLUMNS, one_line(reason))
    log.info("%s: %d x %d -> %d x %d px (bin %.3f)", name, mapping.original_shape[1],
             mapping.original_shape[0], mapping.binned_shape[1], mapping.binned_shape[0],
             mapping.extra["bin_factor"])
    return done


def normalize_chunk(rows: list[dict], out_dir: str | Path, settings: NormalizeSettings,
                    workers: int | None = None) -> list[dict]:
    """Normalize the ``ok`` rows of an ingest manifest; return the normalize-manifest rows.

    Rows rejected at ingest are carried forward with their reason; output rows keep the input
    order and have exactly :data:`NORMALIZE_COLUMNS`.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = [_one(r, out_dir, settings, workers) if r.get("status") == OK
           else carry_rejected(r, NORMALIZE_COLUMNS) for r in rows]
    n_ok = sum(r["status"] == OK for r in out)
    log.info("normalize: %d ok, %d rejected", n_ok, len(out) - n_ok)
    return out
