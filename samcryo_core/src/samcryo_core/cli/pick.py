"""``samcryo pick``: pick a folder of micrographs with a trained prompt, no Snakemake, no config.

``samcryo pick --prompt-file P.pt --diameter-A D [DMAX] (--micrographs PATH|GLOB... |
--micrographs-star S | --cryosparc-csv C) [--project-dir D] [--pixel-size A] [--checkpoint C]
[--device auto|cpu|cuda] [--batch-size B] [--tta none|flips|d4] [--threads N] [--picker sam|log]
[--threshold F] [--box-size N] [--relion-version 3.1|4|5] --out DIR``

Runs ingest, normalize, segment and extract in one process (``samcryo_core.workflow.direct``;
like ``topaz extract`` or ``cryolo_predict.py``) and writes what ``samcryo export`` writes:
``DIR/relion/`` (``_autopick.star`` files + ``autopick.star``, paths relative to
``--project-dir``), ``DIR/cryosparc/particles.star`` and ``particles.cs``, ``DIR/box/`` with
``--box-size``, ``DIR/export_summary.tsv``; every candidate with its figure of merit stays in
``DIR/work/picks/<mic>.csv``. The working scale and normalization come from the prompt file.
"""

from __future__ import annotations

import argparse

from samcryo_core.cli.common_args import add_diameter_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options that mirror config keys take their defaults from the schema (one default per key)."""
    from samcryo_core.cli.common_args import add_input_list_arguments, config_option

    config_option(parser, "--prompt-file", key="prompt_file", help="prompt trained by 'samcryo train'")
    parser.add_argument("--picker", choices=("sam", "log"), default="sam",
                        help="sam: the prompt (default); log: the classical LoG picker, no prompt needed")
    add_diameter_argument(parser, required=True)
    parser.add_argument("--micrographs", nargs="*", default=[], metavar="PATH",
                        help="micrograph files or quoted globs ('Movies/*.mrc'; ** recurses)")
    add_input_list_arguments(parser)
    config_option(parser, "--checkpoint", key="model.checkpoint",
                  help="base SAM checkpoint the prompt was trained on (default: the shipped "
                       "cpu_small backbone, found by itself)")
    config_option(parser, "--sha256", key="model.sha256", help="expected sha256 of --checkpoint")
    config_option(parser, "--device", key="device", help="default %(default)s")
    config_option(parser, "--batch-size", key="segment.batch_size", type=int,
                  help="model tiles per forward pass (default %(default)s)")
    config_option(parser, "--tta", key="segment.tta", help="test-time augmentation (default %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: all)")
    config_option(parser, "--threshold", key="export.threshold", type=float,
                  help="export picks with figure of merit >= this (default %(default)s)")
    parser.add_argument("--box-size", type=int, default=None, help="also write EMAN .box files of this size")
    config_option(parser, "--relion-version", key="export.relion_version",
                  help="'# version' header of the RELION files (default %(default)s)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from samcryo_core.errors import ConfigError
    from samcryo_core.export.run import ExportOptions
    from samcryo_core.workflow.direct import DirectSettings, list_micrographs, pick_and_export

    if not (args.micrographs or args.micrographs_star or args.cryosparc_csv):
        raise ConfigError("--micrographs", "no micrographs given",
                          "give --micrographs 'folder/*.mrc', --micrographs-star or --cryosparc-csv")
    out = Path(args.out)
    settings = DirectSettings(
        diameter_A=args.diameter_A, prompt_file=args.prompt_file, picker=args.picker,
        checkpoint=args.checkpoint, sha256=args.sha256, pixel_size_A=args.pixel_size, device=args.device,
        batch_size=args.batch_size, tta=args.tta, threads=args.threads,
    )
    project_dir = args.project_dir or "."
    export = ExportOptions(
        relion_dir=str(out / "relion"), project_dir=project_dir, relion_version=args.relion_version,
        micrographs_star=args.micrographs_star, cryosparc_star=str(out / "cryosparc" / "particles.star"),
        cryosparc_cs=str(out / "cryosparc" / "particles.cs"), cryosparc_exposures=args.cryosparc_csv,
        box_dir=str(out / "box") if args.box_size else None, box_size=args.box_size,
        min_fom=args.threshold, summary=str(out / "export_summary.tsv"),
    )
    sources = list_micrographs(args.micrographs, micrographs_star=args.micrographs_star,
                               cryosparc_csv=args.cryosparc_csv, project_dir=project_dir)
    summary = pick_and_export(sources, out, settings, export,
                              progress=lambda line: print(f"pick: {line}", flush=True))
    exported = sum(int(s["n_exported"] or 0) for s in summary)
    print(f"pick: {exported} picks with figure of merit >= {args.threshold:g} -> {out}/relion, "
          f"{out}/cryosparc (summary {out}/export_summary.tsv)", flush=True)
    return 0
