"""``samcryo extract``: probability maps of one chunk -> per-micrograph candidate CSVs + manifest.

Reads the segment chunk manifest (columns ``micrograph, status, reason, source, sidecar,
probability, stamp``), writes ``<out-dir>/<micrograph>.csv`` (original frame, see
``docs/coordinates.md``; every candidate above ``--floor`` with its figure of merit: the user's
threshold is applied at export) and the picks manifest ``micrograph, status, reason, source,
sidecar, picks, n_picks, stamp`` (:mod:`samcryo_core.particles.extraction`).
"""

from __future__ import annotations

import argparse

from samcryo_core.cli.common_args import add_picking_chunk_arguments, config_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_picking_chunk_arguments(parser, "segment chunk manifest (TSV)")
    config_option(parser, "--floor", key="extract.floor", type=float,
                  help="probability floor of candidates; the threshold is applied at export "
                  "(default %(default)s)")
    config_option(parser, "--min-circularity", key="extract.min_circularity", type=float,
                  help="minimum 4*pi*area/perimeter^2 of a component (default %(default)s)")
    config_option(parser, "--area-range", key="extract.area_range", type=float, nargs=2,
                  metavar=("LO", "HI"), help="allowed component area as a fraction of a disc of the "
                  "diameter (default %(default)s)")
    config_option(parser, "--edge-margin-px", key="extract.edge_margin_px", type=float,
                  help="drop picks closer than this to the border, original pixels (default %(default)s)")
    config_option(parser, "--min-distance-fraction", key="extract.min_distance_fraction", type=float,
                  help="picks closer than this x diameter are duplicates; the higher FOM is kept "
                  "(default %(default)s)")
    config_option(parser, "--no-split", key="extract.split_touching", inverted=True, action="store_true",
                  help="do not split touching particles (watershed)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.manifest import read_manifest, write_manifest
    from samcryo_core.particles.chunk import PICKS_MANIFEST_COLUMNS, chunk_exit_code
    from samcryo_core.particles.extract_chunk import ExtractSettings, extract_chunk

    lo, hi = args.area_range
    settings = ExtractSettings(
        diameter_A=args.diameter_A, diameter_px=args.diameter_px, floor=args.floor,
        area_range=(lo, hi), min_circularity=args.min_circularity, edge_margin_px=args.edge_margin_px,
        min_distance_fraction=args.min_distance_fraction, split_touching=not args.no_split,
    )
    rows = read_manifest(args.manifest)
    result = extract_chunk(rows, args.out_dir, settings, manifest_path=args.manifest)
    write_manifest(args.out, result, PICKS_MANIFEST_COLUMNS)
    return chunk_exit_code(rows, result)
