"""``samcryo pick-log``: classical Laplacian-of-Gaussian picking of one normalized chunk.

Reads the normalize chunk manifest and writes the same picks CSVs and picks manifest as
``samcryo extract`` (:mod:`samcryo_core.pickers.log_chunk`), so export and evaluation treat both
pickers alike. Needs no model.
"""

from __future__ import annotations

import argparse

from samcryo_core.cli.common_args import add_picking_chunk_arguments, config_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_picking_chunk_arguments(parser, "normalize chunk manifest (TSV)")
    config_option(parser, "--threshold-sd", key="pick_log.threshold_sd", type=float,
                  help="minimum LoG response in standard deviations (default %(default)s)")
    config_option(parser, "--diameter-range-fraction", key="pick_log.diameter_range_fraction", type=float,
                  nargs=2, metavar=("LO", "HI"), help="diameters searched, as fractions of the "
                  "diameter (default %(default)s)")
    config_option(parser, "--n-scales", key="pick_log.n_scales", type=int,
                  help="number of diameters searched (default %(default)s)")
    config_option(parser, "--edge-margin-px", key="extract.edge_margin_px", type=float,
                  help="drop picks closer than this to the border, original pixels (default %(default)s)")
    config_option(parser, "--min-distance-fraction", key="extract.min_distance_fraction", type=float,
                  help="minimum distance between picks as a fraction of the diameter (default %(default)s)")
    config_option(parser, "--bright-particles", key="pick_log.bright_particles", action="store_true",
                  help="particles are brighter than the background (default: dark particles)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.manifest import read_manifest, write_manifest
    from samcryo_core.particles.chunk import PICKS_MANIFEST_COLUMNS, chunk_exit_code
    from samcryo_core.pickers.log_chunk import LogSettings, pick_log_chunk

    settings = LogSettings(
        diameter_A=args.diameter_A, diameter_px=args.diameter_px, threshold_sd=args.threshold_sd,
        diameter_range_fraction=tuple(args.diameter_range_fraction), n_scales=args.n_scales,
        edge_margin_px=args.edge_margin_px, min_distance_fraction=args.min_distance_fraction,
        bright_particles=args.bright_particles,
    )
    rows = read_manifest(args.manifest)
    result = pick_log_chunk(rows, args.out_dir, settings, manifest_path=args.manifest)
    write_manifest(args.out, result, PICKS_MANIFEST_COLUMNS)
    return chunk_exit_code(rows, result)
