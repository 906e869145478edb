"""Run a picker over one chunk manifest: per-micrograph CSVs plus the picks chunk manifest.

``samcryo extract`` (SAM probability maps) and ``samcryo pick-log`` (classical LoG) differ only in
what they read and how they pick, so both use :func:`run_picking_chunk`. It keeps the manifest
contract of ``docs/architecture.md``: rows are never dropped, rejected rows are carried with their
reason, a micrograph that fails becomes ``rejected`` with the error text as reason (one bad file
never stops the chunk), and a micrograph whose picks CSV is current by its stamp is not redone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from samcryo_core import stamps
from samcryo_core.errors import InputError, SamcryoError, is_environment_failure
from samcryo_core.frame import FrameMapping
from samcryo_core.manifest import OK, STAMP, carry_rejected
from samcryo_core.particles.diameter import Diameter, describe, scale_diameter
from samcryo_core.particles.picks_io import read_picks, write_picks

log = logging.getLogger(__name__)

PICKS_MANIFEST_COLUMNS: tuple[str, ...] = (
    "micrograph", "status", "reason", "source", "sidecar", "picks", "n_picks", STAMP,
)


def safe_name(name: str, manifest: str | Path = "manifest") -> str:
    """Return ``name`` if it can be a file name inside an output folder, else raise InputError."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise InputError(manifest, f"micrograph name {name!r} cannot be used as a file name",
                         "names must be file stems without path separators or leading dots (see ingest)")
    return name


def resolve_diameter_px(mapping: FrameMapping, sidecar: str | Path, *,
                        diameter_px: Diameter | None, diameter_A: Diameter | None) -> Diameter:
    """Diameter (or range) in original pixels: given directly, or Angstrom / the sidecar's
    ``pixel_size_A``."""
    if diameter_px is not None:
        return diameter_px
    if diameter_A is None:
        raise ValueError("one of diameter_px or diameter_A is required")
    if not mapping.pixel_size_A or mapping.pixel_size_A <= 0:
        raise InputError(sidecar, f"micrograph '{mapping.micrograph}' has no pixel size, so a diameter "
                                  f"of {describe(diameter_A, 'A')} cannot be converted to pixels",
                         "give the diameter in pixels (--diameter-px) or set pixel_size_A in the config "
                         "and rerun normalize")
    return scale_diameter(diameter_A, 1.0 / float(mapping.pixel_size_A))


def run_picking_chunk(
    rows: list[dict],
    out_dir: str | Path,
    pick_one: Callable[[dict], pd.DataFrame],
    *,
    stage: str,
    settings: dict,
    manifest_path: str | Path = "manifest",
) -> list[dict]:
    """Pick every ``ok`` row with ``pick_one(row) -> picks``; return the picks-manifest rows.

    A micrograph is redone only when its stamp (:mod:`samcryo_core.stamps`: ``stage``,
    ``settings`` and the upstream row's stamp) changed. Errors that come from the data
    (:class:`SamcryoError`, ``OSError``, ``ValueError``, ``KeyError``) reject that micrograph
    only; failures of the machine (:func:`~samcryo_core.errors.is_environment_failure`) and
    anything else (a bug) propagate and fail the job.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result: list[dict] = []
    for row in rows:
        if row.get("status") != OK:
            _forget_picks(out_dir, row.get("micrograph", ""))  # picks of an earlier, accepted run
            result.append(carry_rejected(row, PICKS_MANIFEST_COLUMNS))
            continue
        name = None
        try:
            name = safe_name(row["micrograph"], manifest_path)
            csv_path = out_dir / f"{name}.csv"
            stamp = stamps.make_stamp(stage, settings, row.get(STAMP, ""))
            if stamps.is_current(out_dir, name, stamp, csv_path):
                picks = read_picks(csv_path)
                log.info("%s: up to date (%d picks), skipped", name, len(picks))
            else:
                picks = pick_one(row)
                write_picks(csv_path, picks)
                stamps.record(out_dir, name, stamp, stage, settings)
                log.info("%s: %d picks", name, len(picks))
        except (SamcryoError, OSError, ValueError, KeyError) as exc:
            if is_environment_failure(exc):
                raise
            log.warning("%s: rejected: %s", row.get("micrograph"), exc)
            if name is not None:
                _forget_picks(out_dir, name)
            result.append(carry_rejected(row, PICKS_MANIFEST_COLUMNS, f"picking failed: {exc}"))
            continue
        out = {c: row.get(c, "") for c in PICKS_MANIFEST_COLUMNS}
        out.update(picks=str(csv_path), n_picks=str(len(picks)), **{STAMP: stamp})
        result.append(out)
    return result


def _forget_picks(out_dir: Path, name: str) -> None:
    """Remove a micrograph's picks CSV and stamp: nothing stands behind them now (it is rejected)."""
    try:
        name = safe_name(name)
    except InputError:
        return
    (out_dir / f"{name}.csv").unlink(missing_ok=True)
    stamps.forget(out_dir, name)


def chunk_exit_code(rows: list[dict], result: list[dict]) -> int:
    """1 only when micrographs were given and every one failed here (a systematic problem)."""
    n_in = sum(r.get("status") == OK for r in rows)
    n_ok = sum(r.get("status") == OK for r in result)
    log.info("%d of %d micrographs picked (%d picks)", n_ok, n_in,
             sum(int(r["n_picks"]) for r in result if r.get("n_picks")))
    if n_in and not n_ok:
        log.error("every micrograph of the chunk failed; see the reasons in the manifest")
        return 1
    return 0
