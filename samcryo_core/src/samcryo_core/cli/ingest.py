"""``samcryo ingest``: validate one chunk of micrographs and write its chunk manifest.

Two modes:

* validate: ``samcryo ingest --out CHUNK.tsv [--out-dir DIR] [--micrographs-star S]
  [--cryosparc-csv C] [--project-dir D] [--pixel-size A] [--min-size N] [--rejections REJ.tsv]
  [PATH ...]`` checks each PATH (or, with no PATH, every micrograph listed in the STAR /
  cryoSPARC list) and writes one manifest row per micrograph: ``micrograph, status, reason,
  source, pixel_size_A, pixel_size_source, height, width, stamp``. With ``--out-dir`` each
  outcome is kept there with a stamp and a micrograph is read again only when its file changed
  (:mod:`samcryo_core.ingest.chunk`). For a PATH also listed in the STAR file (same micrograph
  name) the optics-group pixel size is used when the header has none. A bad micrograph becomes a
  ``rejected`` row; the exit code is 0 unless the command itself is misused.
* merge: ``samcryo ingest --merge-rejections OUT.tsv [--summary S.json] CHUNK.tsv ...`` gathers the
  rejected rows of all chunk manifests into OUT.tsv and prints ``accepted/rejected/inputs``; when
  every input was rejected it stops with exit code 1 and the most common reasons.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import add_input_list_arguments, config_option

    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="micrograph files of this chunk (or chunk manifests with --merge-rejections)")
    parser.add_argument("--out", help="chunk manifest (TSV) to write")
    parser.add_argument("--out-dir", metavar="DIR",
                        help="keep each micrograph's outcome here, so unchanged files are not read "
                        "again (default: validate every file)")
    add_input_list_arguments(parser)
    config_option(parser, "--min-size", key="inputs.min_size", type=int, metavar="N",
                  help="smallest accepted height/width in pixels (default %(default)s)")
    parser.add_argument("--rejections", metavar="REJ.tsv",
                        help="also write this chunk's rejected rows to REJ.tsv")
    parser.add_argument("--merge-rejections", metavar="OUT.tsv",
                        help="merge mode: PATHs are chunk manifests; write their rejected rows to OUT.tsv")
    parser.add_argument("--summary", metavar="S.json",
                        help="merge mode: also write {inputs, accepted, rejected} as JSON")


def _usage_error(msg: str) -> int:
    print(f"samcryo ingest: usage error: {msg}", file=sys.stderr)
    return 2


def _merge(args: argparse.Namespace) -> int:
    from samcryo_core.ingest.rejections import check_some_accepted, merge_rejections
    from samcryo_core.io.atomic import atomic_write_text

    if not args.paths:
        return _usage_error("--merge-rejections needs at least one chunk manifest")
    counts = merge_rejections(args.paths, args.merge_rejections)
    if args.summary:
        atomic_write_text(args.summary, json.dumps(counts.to_dict(), indent=2) + "\n")
    print(f"ingest: {counts.accepted} accepted, {counts.rejected} rejected of {counts.inputs} micrographs")
    check_some_accepted(counts, args.merge_rejections)
    return 0


def run(args: argparse.Namespace) -> int:
    if args.merge_rejections:
        return _merge(args)
    if not args.out:
        return _usage_error("--out CHUNK.tsv is required (or use --merge-rejections)")
    if args.min_size < 1:
        return _usage_error("--min-size must be at least 1")
    if args.pixel_size is not None and not args.pixel_size > 0:
        return _usage_error("--pixel-size must be positive")

    from samcryo_core.ingest.chunk import INGEST_CHUNK_COLUMNS, ingest_chunk
    from samcryo_core.ingest.naming import check_unique, micrograph_name
    from samcryo_core.ingest.sources import Source, list_sources
    from samcryo_core.manifest import REJECTED, write_manifest

    listed: list[Source] = []
    if args.micrographs_star or args.cryosparc_csv:
        listed = list_sources(micrographs_star=args.micrographs_star, cryosparc_csv=args.cryosparc_csv,
                              project_dir=args.project_dir)
    if args.paths:
        by_name = {s.micrograph: s for s in listed}
        sources = []
        for p in args.paths:
            name = micrograph_name(p)
            meta = by_name.get(name)
            sources.append(Source(name, p, meta.pixel_size_A if meta else None,
                                  meta.pixel_size_source if meta else None))
        check_unique([s.micrograph for s in sources], [s.path for s in sources])
    elif listed:
        sources = listed
    else:
        return _usage_error("give micrograph PATHs, --micrographs-star or --cryosparc-csv")

    rows = ingest_chunk(sources, config_pixel_size_A=args.pixel_size, min_size=args.min_size,
                        out_dir=args.out_dir)
    write_manifest(args.out, rows, INGEST_CHUNK_COLUMNS)
    if args.rejections:
        write_manifest(args.rejections, [r for r in rows if r["status"] == REJECTED], INGEST_CHUNK_COLUMNS)
    n_rej = sum(1 for r in rows if r["status"] == REJECTED)
    log.info("ingest: %d accepted, %d rejected of %d -> %s", len(rows) - n_rej, n_rej, len(rows), args.out)
    return 0
