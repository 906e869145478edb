"""``samcryo evaluate``: picks against ground truth -> per-micrograph CSV + overall JSON.

Scores the picks at or above ``--threshold`` (what export writes) and AP over every candidate
(:mod:`samcryo_core.evaluation.score`).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import config_option

    parser.add_argument("--picks-manifests", nargs="+", required=True, metavar="CHUNK.tsv",
                        help="picks chunk manifests from 'samcryo extract' or 'samcryo pick-log'")
    parser.add_argument("--truth-dir", required=True, help="folder with one truth file per micrograph "
                                                           "(<micrograph>.star|.csv|.box)")
    config_option(parser, "--truth-format", key="evaluate.truth_format",
                  help="format of the truth files (default %(default)s)")
    config_option(parser, "--flip-y", key="evaluate.flip_y", action="store_true",
                  help="truth y counts from the bottom of the MRC (CryoPPP): use row = H - 1 - y")
    parser.add_argument("--diameter-px", type=float, default=None,
                        help="particle diameter (original pixels) for every true particle; overrides "
                             "samcryoDiameterPx / diameter_px in the truth files")
    config_option(parser, "--distance-fraction", key="evaluate.distance_fraction", type=float,
                  help="match when centres are within this x diameter (default %(default)s)")
    parser.add_argument("--threshold", "--min-fom", type=float, default=None, dest="threshold",
                        help="score picks with fom >= X, as exported (default: every candidate); AP "
                        "always ranks every candidate")
    parser.add_argument("--out-csv", required=True, help="per-micrograph table (CSV)")
    parser.add_argument("--out-json", required=True, help="overall scores (JSON)")


def run(args: argparse.Namespace) -> int:
    import json

    from samcryo_core.evaluation.score import evaluate_run
    from samcryo_core.io.atomic import atomic_write_text
    from samcryo_core.manifest import read_manifests

    table, overall = evaluate_run(
        read_manifests(args.picks_manifests), args.truth_dir, truth_format=args.truth_format,
        flip_y=args.flip_y, diameter_px=args.diameter_px, distance_fraction=args.distance_fraction,
        threshold=args.threshold,
    )
    atomic_write_text(args.out_csv, table.to_csv(index=False, lineterminator="\n", float_format="%.6f"))
    atomic_write_text(args.out_json, json.dumps(overall, indent=2) + "\n")
    return 0
