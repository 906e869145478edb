"""``samcryo export``: picks of all chunks -> RELION 4/5, cryoSPARC and EMAN ``.box`` files.

Reads picks manifests (``micrograph, status, reason, source, sidecar, picks, n_picks``), writes
the formats asked for (see ``docs/export.md``) and a summary TSV listing every micrograph, including
the rejected ones that were not exported and why.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ("micrograph", "status", "reason", "source", "n_picks", "n_exported")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import config_option

    parser.add_argument("--picks-manifests", nargs="+", required=True, metavar="CHUNK.tsv",
                        help="picks chunk manifests from 'samcryo extract' or 'samcryo pick-log'")
    parser.add_argument("--relion-dir", help="folder for RELION _autopick.star files and autopick.star")
    config_option(parser, "--project-dir", key="inputs.project_dir",
                  help="RELION project folder; STAR paths are relative to it (default: current folder)")
    config_option(parser, "--relion-version", key="export.relion_version",
                  help="'# version' header: 30001 for 3.1/4, 50001 for 5 (default %(default)s)")
    parser.add_argument("--keep-job-prefix", action="store_true",
                        help="keep '<JobType>/jobNNN/' in coordinate file paths (RELION drops it)")
    parser.add_argument("--cryosparc-star", metavar="F",
                        help="particles STAR for cryoSPARC Import Particle Stack")
    config_option(parser, "--cryosparc-basename", key="export.cryosparc_basename", action="store_true",
                  help="write file names only in rlnMicrographName (match cryoSPARC exposures "
                       "with 'remove leading UID')")
    parser.add_argument("--box-dir", help="folder for EMAN .box files")
    config_option(parser, "--box-size", key="export.box_size_px", type=int,
                  help="box size in original pixels for .box files")
    parser.add_argument("--min-fom", type=float, default=None, help="export only picks with fom >= X")
    parser.add_argument("--remove-stale-picks", action="store_true",
                        help="the manifests list the whole dataset: remove picks CSVs (with their "
                        "stamps) of micrographs they do not list (the workflow passes it)")
    parser.add_argument("--summary", metavar="F",
                        help="summary TSV (default: <relion-dir>/export_summary.tsv with --relion-dir)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from samcryo_core.errors import ConfigError, InputError
    from samcryo_core.export.cryosparc import cryosparc_tools_available, write_cryosparc_star
    from samcryo_core.export.eman_box import write_boxes
    from samcryo_core.export.picks_set import MicrographPicks
    from samcryo_core.export.relion import write_relion
    from samcryo_core.export.stale import remove_stale_picks
    from samcryo_core.manifest import OK, read_manifests, write_manifest
    from samcryo_core.particles.picks_io import read_picks

    args.project_dir = args.project_dir or "."
    if not (args.relion_dir or args.cryosparc_star or args.box_dir):
        raise ConfigError("export", "no output asked for",
                          "give --relion-dir, --cryosparc-star and/or --box-dir")
    if args.box_dir and not args.box_size:
        raise ConfigError("--box-size", "needed with --box-dir", "give the box size in original pixels")

    # sorted by micrograph: the files do not depend on how the micrographs were chunked
    rows = sorted(read_manifests(args.picks_manifests), key=lambda r: r.get("micrograph", ""))
    names = [r.get("micrograph", "") for r in rows]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        raise InputError(", ".join(args.picks_manifests), f"micrographs listed twice: {', '.join(dups[:5])}",
                         "give each chunk manifest once")

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
        except InputError as exc:
            log.error("%s: not exported: %s", row["micrograph"], exc)
            entry["status"] = "rejected"
            entry["reason"] = f"export: {exc}"
            summary.append(entry)
            continue
        item = MicrographPicks(row["micrograph"], row["source"], picks)
        items.append(item)
        entry["n_picks"] = len(picks)
        entry["n_exported"] = len(item.above(args.min_fom))
        summary.append(entry)

    if args.relion_dir:
        res = write_relion(items, args.relion_dir, project_dir=args.project_dir,
                           relion_version=args.relion_version, min_fom=args.min_fom,
                           keep_job_prefix=args.keep_job_prefix)
        log.info("RELION: %d coordinate files, %d picks, index %s", len(res.coordinate_files), res.n_picks,
                 res.index)
    if args.cryosparc_star:
        n = write_cryosparc_star(args.cryosparc_star, items, project_dir=args.project_dir,
                                 basename=args.cryosparc_basename, min_fom=args.min_fom)
        log.info("cryoSPARC: %d particles in %s (Import Particle Stack)", n, args.cryosparc_star)
        if not cryosparc_tools_available():
            log.info("cryosparc-tools is not installed: no .cs file or external job was made; "
                     "import the STAR with Import Particle Stack instead")
    if args.box_dir:
        boxes = write_boxes(items, args.box_dir, args.box_size, min_fom=args.min_fom)
        log.info("EMAN: %d .box files in %s", len(boxes), args.box_dir)

    if args.remove_stale_picks:  # micrographs that left the inputs (rejected ones: in extract)
        remove_stale_picks({Path(r["picks"]).parent for r in rows if r.get("picks")}, names)

    summary_path = args.summary
    if summary_path is None and args.relion_dir:
        summary_path = str(Path(args.relion_dir) / "export_summary.tsv")
    if summary_path:
        write_manifest(summary_path, summary, SUMMARY_COLUMNS)
    skipped = [s for s in summary if s["status"] != OK]
    log.info("exported %d micrographs; %d skipped (rejected)%s", len(items), len(skipped),
             "".join(f"\n  {s['micrograph']}: {s['reason']}" for s in skipped[:20]))
    return 0
