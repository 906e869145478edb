"""Export one run: picks manifests -> every asked-for format, plus a summary of every micrograph.

``samcryo export``, ``samcryo pick`` and ``samcryo relion-external`` all end here, so a RELION job
folder, a cryoSPARC ``.cs`` and a ``.box`` folder are written the same way whichever command made
the picks. Rejected micrographs are not exported; the summary lists them with their reasons.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from samcryo_core.errors import ConfigError, InputError
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.manifest import OK, write_manifest

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("micrograph", "status", "reason", "source", "n_picks", "n_exported")


@dataclass(frozen=True)
class ExportOptions:
    """What to write (see ``docs/export.md``); paths are as given, relative to the working folder.

    Attributes:
        relion_dir: folder for the ``_autopick.star`` files and index (a RELION job folder such as
            ``External/job012`` inside ``project_dir`` also gets the job files).
        project_dir: the RELION project folder every STAR path is relative to.
        relion_version: ``3.1``, ``4`` or ``5`` (``# version`` header, output node format).
        keep_job_prefix: keep ``<JobType>/jobNNN/`` in coordinate file paths.
        micrographs_star: the micrographs STAR the picks belong to (RELION 3.1's coords_suffix).
        cryosparc_star: particles STAR for *Import Particle Stack*.
        cryosparc_cs: native particles ``.cs``.
        cryosparc_basename: file names only as cryoSPARC micrograph names.
        cryosparc_exposures: cryoSPARC exposure list the micrographs came from (their UIDs go
            into ``location/micrograph_uid``).
        box_dir, box_size: EMAN ``.box`` folder and box size in original pixels.
        min_fom: export only picks with ``fom >= min_fom``.
        summary: summary TSV (default ``<relion_dir>/export_summary.tsv`` with ``relion_dir``).
        remove_stale_picks: the rows list the whole dataset: remove picks CSVs (with their stamps)
            of micrographs they do not list (the workflow sets it; :mod:`export.stale`).
    """

    relion_dir: str | None = None
    project_dir: str = "."
    relion_version: str = "4"
    keep_job_prefix: bool = False
    micrographs_star: str | None = None
    cryosparc_star: str | None = None
    cryosparc_cs: str | None = None
    cryosparc_basename: bool = False
    cryosparc_exposures: str | None = None
    box_dir: str | None = None
    box_size: int | None = None
    min_fom: float | None = None
    summary: str | None = None
    remove_stale_picks: bool = False

    def check(self) -> None:
        """Raise :class:`ConfigError` when nothing is asked for or an option lacks its partner."""
        if not (self.relion_dir or self.cryosparc_star or self.cryosparc_cs or self.box_dir):
            raise ConfigError("export", "no output asked for",
                              "give --relion-dir, --cryosparc-star, --cryosparc-cs and/or --box-dir")
        if self.box_dir and not self.box_size:
            raise ConfigError("--box-size", "needed with --box-dir", "give the box size in original pixels")


def _exposure_uids(opts: ExportOptions) -> dict[str, int]:
    """Micrograph name -> cryoSPARC exposure UID, from the exposure list the inputs came from."""
    if not opts.cryosparc_exposures:
        return {}
    from samcryo_core.ingest.sources import read_cryosparc_exposures

    return {s.micrograph: s.cryosparc_uid for s in read_cryosparc_exposures(opts.cryosparc_exposures)
            if s.cryosparc_uid is not None}


def gather(rows: Sequence[dict], opts: ExportOptions) -> tuple[list[MicrographPicks], list[dict]]:
    """The exportable micrographs of picks-manifest rows, and one summary row per micrograph."""
    from samcryo_core.frame import FrameMapping
    from samcryo_core.particles.picks_io import read_picks

    names = [r.get("micrograph", "") for r in rows]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError("picks manifests", f"micrographs listed twice: {', '.join(dups[:5])}",
                         "give each chunk manifest once")
    uids = _exposure_uids(opts)
    items: list[MicrographPicks] = []
    summary: list[dict] = []
    for row in rows:
        entry = {c: row.get(c, "") for c in SUMMARY_COLUMNS}
        entry["n_exported"] = 0
        if row.get("status") != OK:
            entry["reason"] = row.get("reason") or "rejected upstream"
            summary.append(entry)
            continue
        try:
            picks = read_picks(row["picks"])
            sidecar = row.get("sidecar") or ""
            # the frame sidecar gives the shape and pixel size the .cs export needs
            mapping = FrameMapping.read(sidecar) if sidecar and Path(sidecar).is_file() else None
        except (InputError, OSError, ValueError) as exc:
            log.error("%s: not exported: %s", row["micrograph"], exc)
            entry["status"] = "rejected"
            entry["reason"] = f"export: {exc}"
            summary.append(entry)
            continue
        item = MicrographPicks(
            row["micrograph"], row["source"], picks,
            shape=None if mapping is None else tuple(mapping.original_shape),
            pixel_size_A=None if mapping is None else mapping.pixel_size_A,
            micrograph_uid=uids.get(row["micrograph"]),
        )
        items.append(item)
        entry["n_picks"] = len(picks)
        entry["n_exported"] = len(item.above(opts.min_fom))
        summary.append(entry)
    return items, summary


def export_picks(rows: Sequence[dict], opts: ExportOptions) -> list[dict]:
    """Write every format ``opts`` asks for from picks-manifest rows; return the summary rows.

    Raises:
        ConfigError: nothing asked for, or ``box_dir`` without ``box_size``.
        InputError: duplicate micrographs, or a micrograph RELION could not name.
    """
    from samcryo_core.export.cryosparc import write_cryosparc_cs, write_cryosparc_star
    from samcryo_core.export.eman_box import write_boxes
    from samcryo_core.export.relion import write_relion
    from samcryo_core.export.stale import remove_stale_picks

    opts.check()
    # sorted by micrograph: the files do not depend on how the micrographs were chunked
    rows = sorted(rows, key=lambda r: r.get("micrograph", ""))
    items, summary = gather(rows, opts)
    if opts.relion_dir:
        res = write_relion(items, opts.relion_dir, project_dir=opts.project_dir,
                           relion_version=opts.relion_version, min_fom=opts.min_fom,
                           keep_job_prefix=opts.keep_job_prefix, micrographs_star=opts.micrographs_star)
        jobs = f" (job files: {', '.join(p.name for p in res.job_files)})" if res.job_files else ""
        log.info("RELION: %d coordinate files, %d picks, index %s%s", len(res.coordinate_files), res.n_picks,
                 res.index, jobs)
    cs_kwargs = dict(project_dir=opts.project_dir, basename=opts.cryosparc_basename, min_fom=opts.min_fom)
    if opts.cryosparc_star:
        n = write_cryosparc_star(opts.cryosparc_star, items, **cs_kwargs)
        log.info("cryoSPARC: %d particles in %s (Import Particle Stack)", n, opts.cryosparc_star)
    if opts.cryosparc_cs:
        n = write_cryosparc_cs(opts.cryosparc_cs, items, **cs_kwargs)
        linked = sum(1 for i in items if i.micrograph_uid)
        log.info("cryoSPARC: %d particles in %s (%d of %d micrographs carry their exposure UID)", n,
                 opts.cryosparc_cs, linked, len(items))
    if opts.box_dir:
        boxes = write_boxes(items, opts.box_dir, opts.box_size, min_fom=opts.min_fom)
        log.info("EMAN: %d .box files in %s", len(boxes), opts.box_dir)
    if opts.remove_stale_picks:  # micrographs that left the inputs (rejected ones: in extract)
        remove_stale_picks({Path(r["picks"]).parent for r in rows if r.get("picks")},
                           [r.get("micrograph", "") for r in rows])
    summary_path = opts.summary
    if summary_path is None and opts.relion_dir:
        summary_path = str(Path(opts.relion_dir) / "export_summary.tsv")
    if summary_path:
        write_manifest(summary_path, summary, SUMMARY_COLUMNS)
    skipped = [s for s in summary if s["status"] != OK]
    log.info("exported %d micrographs; %d skipped (rejected)%s", len(items), len(skipped),
             "".join(f"\n  {s['micrograph']}: {s['reason']}" for s in skipped[:20]))
    return summary
