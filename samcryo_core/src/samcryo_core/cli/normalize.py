"""``samcryo normalize``: bin one chunk of ingested micrographs to the model's particle size.

``samcryo normalize --manifest INGEST_CHUNK.tsv --out-dir DIR --out CHUNK.tsv --particle-px P
--diameter-A D [DMAX] [--clip-percentiles LO HI] [--lowpass-A X] [--dtype float16|float32]
[--workers K]``

Each micrograph is Fourier-binned by its own factor, so the particle spans ``P`` pixels (the
backbone's working scale), then contrast-normalized (:mod:`samcryo_core.preprocess.chunk`).
Writes ``DIR/<mic>.mrc``, ``DIR/<mic>.json`` (frame sidecar) and the chunk manifest with columns
``micrograph, status, reason, source, normalized, sidecar, stamp``.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import add_diameter_argument, config_option

    parser.add_argument("--manifest", required=True, help="ingest chunk manifest (TSV)")
    parser.add_argument("--out-dir", required=True, help="folder for <mic>.mrc and <mic>.json")
    parser.add_argument("--out", required=True, help="normalize chunk manifest (TSV) to write")
    parser.add_argument("--particle-px", type=float, required=True, metavar="P",
                        help="particle diameter in model-input pixels (the backbone's working scale)")
    add_diameter_argument(parser, required=True)
    config_option(parser, "--clip-percentiles", key="normalize.clip_percentiles", type=float, nargs=2,
                  metavar=("LO", "HI"), help="percentile clipping before standardization "
                  "(default %(default)s)")
    config_option(parser, "--lowpass-A", key="normalize.lowpass_A", type=float, metavar="X",
                  help="Gaussian low-pass at X Angstrom (default: none)")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float32",
                        help="MRC data type of the normalized images (default float32)")
    parser.add_argument("--workers", type=int, default=1, help="FFT threads (default 1)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.manifest import read_manifest, write_manifest
    from samcryo_core.preprocess.chunk import NORMALIZE_COLUMNS, NormalizeSettings, normalize_chunk

    lo, hi = args.clip_percentiles
    problem = ("--clip-percentiles needs 0 <= LO < HI <= 100" if not 0 <= lo < hi <= 100 else
               "--lowpass-A must be positive" if args.lowpass_A is not None and not args.lowpass_A > 0
               else None)
    if problem:
        print(f"samcryo normalize: usage error: {problem}", file=sys.stderr)
        return 2
    settings = NormalizeSettings(particle_px=args.particle_px, diameter_A=args.diameter_A,
                                 clip_percentiles=(lo, hi), lowpass_A=args.lowpass_A, dtype=args.dtype)
    rows = normalize_chunk(read_manifest(args.manifest), args.out_dir, settings, workers=args.workers)
    write_manifest(args.out, rows, NORMALIZE_COLUMNS)
    return 0
