"""``samcryo export``: picks of all chunks -> RELION, cryoSPARC and EMAN ``.box`` files.

Reads picks manifests (``micrograph, status, reason, source, sidecar, picks, n_picks``), writes
the formats asked for (see ``docs/export.md``; :func:`samcryo_core.export.run.export_picks`) and a
summary TSV listing every micrograph, including the rejected ones that were not exported and why.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--picks-manifests", nargs="+", required=True, metavar="CHUNK.tsv",
                        help="picks chunk manifests from 'samcryo extract' or 'samcryo pick-log'")
    from samcryo_core.cli.common_args import config_option  # defaults from the config schema

    parser.add_argument("--relion-dir",
                        help="folder for RELION _autopick.star files and autopick.star; a job folder "
                             "inside the project (e.g. External/job012) also gets "
                             "coords_suffix_autopick.star and RELION_OUTPUT_NODES.star")
    config_option(parser, "--project-dir", key="inputs.project_dir",
                  help="RELION project folder; STAR paths are relative to it (default: current folder)")
    config_option(parser, "--relion-version", key="export.relion_version",
                  help="'# version' header (30001 for 3.1/4, 50001 for 5) and output node format "
                       "(default %(default)s)")
    parser.add_argument("--keep-job-prefix", action="store_true",
                        help="keep '<JobType>/jobNNN/' in coordinate file paths (RELION drops it)")
    config_option(parser, "--micrographs-star", key="inputs.micrographs_star", metavar="STAR",
                        help="the micrographs STAR the picks belong to (named in RELION 3.1's "
                             "coords_suffix_autopick.star)")
    parser.add_argument("--cryosparc-star", metavar="F",
                        help="particles STAR for cryoSPARC Import Particle Stack")
    parser.add_argument("--cryosparc-cs", metavar="F",
                        help="native cryoSPARC particles .cs (location and pick_stats fields)")
    config_option(parser, "--cryosparc-basename", key="export.cryosparc_basename", action="store_true",
                  help="write file names only as micrograph names (match cryoSPARC exposures "
                       "with 'remove leading UID')")
    parser.add_argument("--cryosparc-exposures", metavar="CS",
                        help="cryoSPARC exposure list (.cs or CSV) the micrographs came from: their UIDs "
                             "go into location/micrograph_uid")
    parser.add_argument("--box-dir", help="folder for EMAN .box files")
    config_option(parser, "--box-size", key="export.box_size_px", type=int,
                  help="box size in original pixels for .box files")
    parser.add_argument("--min-fom", type=float, default=None, help="export only picks with fom >= X")
    parser.add_argument("--remove-stale-picks", action="store_true",
                        help="the manifests list the whole dataset: remove picks CSVs (with their "
                        "stamps) of micrographs they do not list (the workflow passes it)")
    parser.add_argument("--summary", metavar="F",
                        help="summary TSV (default: <relion-dir>/export_summary.tsv with --relion-dir)")


def options(args: argparse.Namespace):
    """:class:`~samcryo_core.export.run.ExportOptions` from the parsed export arguments."""
    from samcryo_core.export.run import ExportOptions

    return ExportOptions(
        relion_dir=args.relion_dir, project_dir=args.project_dir or ".", relion_version=args.relion_version,
        keep_job_prefix=args.keep_job_prefix, micrographs_star=args.micrographs_star,
        cryosparc_star=args.cryosparc_star, cryosparc_cs=args.cryosparc_cs,
        cryosparc_basename=args.cryosparc_basename, cryosparc_exposures=args.cryosparc_exposures,
        box_dir=args.box_dir, box_size=args.box_size, min_fom=args.min_fom, summary=args.summary,
        remove_stale_picks=args.remove_stale_picks,
    )


def run(args: argparse.Namespace) -> int:
    from samcryo_core.export.run import export_picks
    from samcryo_core.manifest import read_manifests

    export_picks(read_manifests(args.picks_manifests), options(args))
    return 0
