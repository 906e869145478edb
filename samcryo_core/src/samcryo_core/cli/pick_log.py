"""``samcryo pick-log``: classical Laplacian-of-Gaussian picking of one normalized chunk.

Reads the normalize chunk manifest (columns ``micrograph, status, reason, source, normalized,
sidecar``) and writes the same picks CSVs and picks manifest as ``samcryo extract``, so export and
evaluation treat both pickers alike. Needs no model.
"""

from __future__ import annotations

import argparse

from samcryo_core.cli.extract import _exit_code, add_diameter_arguments
from samcryo_core.particles.chunk import PICKS_MANIFEST_COLUMNS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="normalize chunk manifest (TSV)")
    parser.add_argument("--out-dir", required=True, help="folder for <micrograph>.csv picks")
    parser.add_argument("--out", required=True, help="picks chunk manifest to write (TSV)")
    add_diameter_arguments(parser)
    parser.add_argument("--threshold-sd", type=float, default=2.0,
                        help="minimum LoG response in standard deviations (default 2.0)")
    parser.add_argument("--diameter-range-fraction", type=float, nargs=2, default=(0.8, 1.2),
                        metavar=("LO", "HI"), help="diameters searched, as fractions of the diameter "
                                                   "(default 0.8 1.2)")
    parser.add_argument("--n-scales", type=int, default=5, help="number of diameters searched (default 5)")
    parser.add_argument("--edge-margin-px", type=float, default=0.0,
                        help="drop picks closer than this to the border, original pixels (default 0)")
    parser.add_argument("--min-distance-fraction", type=float, default=0.5,
                        help="minimum distance between picks as a fraction of the diameter (default 0.5)")
    parser.add_argument("--bright-particles", action="store_true",
                        help="particles are brighter than the background (default: dark particles)")
    parser.add_argument("--redo", action="store_true", help="recompute picks CSVs that already exist")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.frame import FrameMapping
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.manifest import read_manifest, write_manifest
    from samcryo_core.particles.chunk import resolve_diameter_px, run_picking_chunk
    from samcryo_core.pickers.log_picker import pick_log

    def pick_one(row: dict):
        mapping = FrameMapping.read(row["sidecar"])
        diameter = resolve_diameter_px(mapping, row["sidecar"], diameter_px=args.diameter_px,
                                       diameter_A=args.diameter_A)
        image = read_micrograph(row["normalized"]).data
        return pick_log(
            image, mapping, diameter_px=diameter, threshold_sd=args.threshold_sd,
            diameter_range_fraction=tuple(args.diameter_range_fraction), n_scales=args.n_scales,
            edge_margin_px=args.edge_margin_px, min_distance_fraction=args.min_distance_fraction,
            bright=args.bright_particles,
        )

    rows = read_manifest(args.manifest)
    result = run_picking_chunk(rows, args.out_dir, pick_one, manifest_path=args.manifest, redo=args.redo)
    write_manifest(args.out, result, PICKS_MANIFEST_COLUMNS)
    return _exit_code(rows, result)
