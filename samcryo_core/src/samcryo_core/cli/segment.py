"""``samcryo segment``: probability maps for one chunk of normalized micrographs.

``samcryo segment --manifest NORMALIZED_CHUNK.tsv --out-dir DIR --out CHUNK.tsv --variant V
[--checkpoint PATH] [--sha256 H] [--prompt-file P.pt | --prompt none] [--batch-size B]
[--device auto|cpu|cuda] [--threads N] [--tta none|flips|d4]``

The model is built once for the whole chunk (that is why the pipeline works in chunks), then the
chunk's ``ok`` micrographs go through it tile by tile, tiles batched across micrographs
(:mod:`samcryo_core.inference.segment`). Writes ``DIR/<mic>.mrc`` (float16 sigmoid probability,
normalized frame, same size as the normalized image so its ``<mic>.json`` sidecar applies
unchanged) and the chunk manifest with columns ``micrograph, status, reason, source, sidecar,
probability, stamp``.
"""

from __future__ import annotations

import argparse
import logging
import time

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import config_option

    parser.add_argument("--manifest", required=True, help="normalize chunk manifest (TSV)")
    parser.add_argument("--out-dir", required=True, help="folder for <mic>.mrc probability maps")
    parser.add_argument("--out", required=True, help="segment chunk manifest (TSV) to write")
    parser.add_argument("--variant", required=True, help="SAM variant (vit_b, vit_l, vit_h, cpu_small, tiny)")
    config_option(parser, "--checkpoint", key="model.checkpoint",
                  help="base SAM checkpoint (.pth), or samcryo:<file> for one shipped with samcryo; "
                  "omitted: the variant's shipped backbone (cpu_small), else random init (tiny)")
    config_option(parser, "--sha256", key="model.sha256", help="expected sha256 of --checkpoint")
    group = parser.add_mutually_exclusive_group()
    config_option(group, "--prompt-file", key="prompt_file", help="trained prompt file from 'samcryo train'")
    group.add_argument(
        "--prompt",
        default="none",
        choices=("none",),
        help="without --prompt-file: 'none' = plain SAM with the point grid (default)",
    )
    config_option(parser, "--batch-size", key="segment.batch_size", type=int,
                  help="model tiles per forward pass, across micrographs (default %(default)s)")
    config_option(parser, "--device", key="device", help="default %(default)s")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    config_option(parser, "--tta", key="segment.tta",
                  help="test-time augmentation: average logits over 4 flips or all 8 flips/rotations "
                  "(4x / 8x model time; default %(default)s)")
    config_option(parser, "--seed", key="train.seed", type=int,
                  help="seed for building a random-init base without a prompt file (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.inference.segment import SEGMENT_COLUMNS, segment_chunk
    from samcryo_core.manifest import read_manifest, write_manifest
    from samcryo_core.model.build import load_model, model_stamp
    from samcryo_core.model.device import resolve_device, set_threads
    from samcryo_core.weights import checkpoint_for, shipped_sha256

    set_threads(args.threads)
    device = resolve_device(args.device)
    args.checkpoint = checkpoint_for(args.checkpoint, args.variant)  # none given: the shipped backbone
    args.sha256 = args.sha256 or shipped_sha256(args.checkpoint)
    rows = read_manifest(args.manifest)
    t0 = time.perf_counter()
    model, info = load_model(
        args.variant,
        args.checkpoint,
        args.sha256,
        prompt_file=args.prompt_file,
        prompt=args.prompt,
        seed=args.seed,
    )
    model.to(device)
    t_load = time.perf_counter() - t0
    print(
        f"segment: {info['variant']}/{info['prompt_type']} on {device}, tta {args.tta} "
        f"(loaded in {t_load:.1f}s); "
        f"{sum(r.get('status') == 'ok' for r in rows)} of {len(rows)} micrographs ok",
        flush=True,
    )
    out_rows, stats = segment_chunk(
        rows,
        args.out_dir,
        model,
        batch_size=args.batch_size,
        device=device,
        tta=args.tta,
        model_stamp=model_stamp(info, args.checkpoint, seed=args.seed),
        progress=lambda line: print(f"segment: {line}", flush=True),
    )
    write_manifest(args.out, out_rows, SEGMENT_COLUMNS)
    print(
        f"segment: {stats.segmented} segmented ({stats.tiles} tiles), {stats.skipped} up to date, "
        f"{stats.failed} failed, {stats.carried_rejected} rejected upstream; model {stats.model_s:.1f}s "
        f"of {stats.total_s:.1f}s",
        flush=True,
    )
    for r in out_rows:
        if r["status"] != "ok" and r["reason"]:
            log.info("%s rejected: %s", r["micrograph"], r["reason"])
    return 0
