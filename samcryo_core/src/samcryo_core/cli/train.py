"""``samcryo train``: few-shot training of a prompt from a handful of labelled micrographs.

``samcryo train --prompt {head,prefix,encoder,finetune} --variant V [--checkpoint PATH]
[--sha256 H] --diameter-A D [DMAX] [--particle-px P] [--pixel-size A] --images IMG...
(--labels LBL... | --labels-dir DIR) [--label-format auto|star|csv|box|cs|mask] [--diameter-px D]
[--flip-y] [--steps N] [--val-every K] [--patience P] [--lr X] [--batch-size B]
[--val-fraction F] [--seed S] [--device auto|cpu|cuda] --out PROMPT.pt [--log LOG.csv]
[--threads N] [--no-augment] [--no-resume] [--clip-percentiles LO HI] [--lowpass-A X]``

Images go through the same reader and normalization as ``samcryo normalize`` -- binned to the
backbone's working scale (so pass the same ``--particle-px``, ``--clip-percentiles`` and
``--lowpass-A`` as there) -- and training draws model tiles from them, as ``segment`` sees them;
labels become filled discs at the model's mask resolution (docs/training.md). ``--labels`` may
be one file for all images that names each particle's micrograph (a RELION ``particles.star``, a
cryoSPARC particles ``.cs`` or CSV): it is split by micrograph file name. The best
validation by pixel Dice is saved to ``--out``; ``<out>.last.pt`` lets an interrupted run
continue when the command is rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from samcryo_core.cli.common_args import add_diameter_argument

PROMPT_TYPES = ("head", "prefix", "encoder", "finetune")


def _json_object(text: str) -> dict:
    """argparse type: a JSON object (the prompt's options)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object ({{...}}), got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--prompt", required=True, choices=PROMPT_TYPES, help="prompt type to train")
    parser.add_argument("--variant", required=True, help="SAM variant (vit_b, vit_l, vit_h, cpu_small, tiny)")
    parser.add_argument("--checkpoint", default=None,
                        help="base SAM checkpoint (.pth; samcryo:cpu_small_backbone.pt = the shipped "
                        "backbone); omit for random init")
    parser.add_argument("--sha256", default=None, help="expected sha256 of --checkpoint")
    add_diameter_argument(parser, required=True)
    parser.add_argument("--particle-px", type=float, default=None, metavar="P",
                        help="working scale: particle diameter in model-input pixels (default: the "
                        "backbone's own, see docs/training.md)")
    parser.add_argument("--pixel-size", type=float, default=None, metavar="A",
                        help="pixel size in Angstrom of images whose header has none (PNG, JPEG)")
    parser.add_argument("--images", nargs="+", required=True, metavar="IMG", help="labelled micrographs")
    lab = parser.add_mutually_exclusive_group(required=True)
    lab.add_argument("--labels", nargs="+", metavar="LBL",
                     help="label files matched to the images by name, or one file for all images that "
                     "names each particle's micrograph (RELION particles.star, cryoSPARC .cs/CSV)")
    lab.add_argument("--labels-dir", metavar="DIR", help="folder of label files named after the micrographs")
    parser.add_argument(
        "--label-format",
        default="auto",
        choices=("auto", "star", "csv", "box", "cs", "mask"),
        help="default: by suffix",
    )
    parser.add_argument(
        "--diameter-px",
        type=float,
        default=None,
        metavar="D",
        help="particle diameter in pixels of the original micrograph (overrides a diameter column)",
    )
    parser.add_argument(
        "--flip-y",
        action="store_true",
        help="labels count y from the bottom (CryoPPP on raw MRC): row = H-1-y",
    )
    parser.add_argument("--steps", type=int, default=300, help="optimizer steps at most (default 300)")
    parser.add_argument("--val-every", type=int, default=25,
                        help="validate every this many steps (default 25)")
    parser.add_argument("--patience", type=int, default=4,
                        help="stop after this many validations without improvement (default 4; 0 = never)")
    parser.add_argument("--target-disc-fraction", type=float, default=1.0, metavar="F",
                        help="draw target discs at F x the particle diameter (default 1.0)")
    parser.add_argument(
        "--lr", type=float, default=None, help="Adam lr (default: the paper's for the prompt)"
    )
    parser.add_argument("--batch-size", type=int, default=1, help="model tiles per step (default 1)")
    parser.add_argument("--val-fraction", type=float, default=0.2, help="default 0.2 (1 image when <= 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed for init, split, order, augmentation")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default auto")
    parser.add_argument("--out", required=True, metavar="PROMPT.pt", help="prompt file to write")
    parser.add_argument("--log", default=None, metavar="LOG.csv", help="training log (default <out>.log.csv)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-augment", action="store_true", help="no flips/90-degree rotations")
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing <out>.last.pt")
    parser.add_argument(
        "--prompt-config", type=_json_object, default=None, metavar="JSON",
        help='options of the prompt type as a JSON object, e.g. \'{"down_channels": [8, 8, 8]}\' '
        "(docs/prompts.md); stored in the prompt file so segment rebuilds the same prompt",
    )
    parser.add_argument(
        "--clip-percentiles",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="as in samcryo normalize",
    )
    parser.add_argument("--lowpass-A", type=float, default=None, metavar="X", help="as in samcryo normalize")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.model.build import build_base_model
    from samcryo_core.model.device import resolve_device, set_threads
    from samcryo_core.model.prompt_file import RANDOM_INIT, base_sha256
    from samcryo_core.model.scale import working_scale
    from samcryo_core.training.dataset import TileDataset, load_example, match_labels, split_train_val
    from samcryo_core.training.trainer import train_prompt
    from samcryo_core.weights import resolve_checkpoint

    args.checkpoint = resolve_checkpoint(args.checkpoint)
    set_threads(args.threads)
    device = resolve_device(args.device)
    pairs = match_labels(args.images, args.labels, args.labels_dir, label_format=args.label_format)
    scale = working_scale(args.variant, args.checkpoint, args.particle_px)
    model = build_base_model(
        args.variant, args.prompt, args.checkpoint, sha256=args.sha256, prompt_config=args.prompt_config,
        seed=args.seed,
    )
    base = base_sha256(args.checkpoint, args.sha256)
    norm: dict = {}
    if args.clip_percentiles is not None:
        norm["clip_percentiles"] = tuple(args.clip_percentiles)
    if args.lowpass_A is not None:
        norm["lowpass_A"] = args.lowpass_A
    examples = []
    for img, lbl in pairs:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ex = load_example(
                img, lbl, particle_px=scale.particle_px, diameter_A=args.diameter_A,
                pixel_size_A=args.pixel_size, label_format=args.label_format,
                diameter_px=args.diameter_px, flip_y=args.flip_y,
                disc_fraction=args.target_disc_fraction, normalize_options=norm,
            )
        for w in caught:
            print(f"train: warning: {w.message}", file=sys.stderr)
        print(f"train: {ex.name}: {lbl.path} -> {ex.image.shape[1]} x {ex.image.shape[0]} px at "
              f"{scale.particle_px:g} px per particle, {100 * ex.mask.mean():.1f}% particle pixels",
              flush=True)
        examples.append(ex)
    train, val = split_train_val(examples, args.val_fraction, args.seed)
    if len(examples) == 1:
        print(
            "train: warning: a single labelled micrograph is used for training and validation",
            file=sys.stderr,
        )
    print(
        f"train: {args.variant}/{args.prompt} on {device}: {len(train)} training, {len(val)} validation "
        f"micrographs ({', '.join(e.name for e in val)})",
        flush=True,
    )
    base_meta = {
        "base_checkpoint": None if args.checkpoint is None else str(args.checkpoint).rsplit("/", 1)[-1],
        "base_sha256": base,
        "base_seed": args.seed if base == RANDOM_INIT else None,
        "label_format": args.label_format,
        "flip_y": bool(args.flip_y),
        "diameter_px": args.diameter_px,
        "working_scale": scale.to_dict(),
        "target_disc_fraction": args.target_disc_fraction,
        "normalization": norm,
    }
    result = train_prompt(
        model,
        TileDataset(train, tile=model.img_size, augment=not args.no_augment),
        TileDataset(val, tile=model.img_size),
        steps=args.steps,
        val_every=args.val_every,
        patience=args.patience or None,
        lr=args.lr,
        batch_size=args.batch_size,
        out_path=args.out,
        log_path=args.log,
        seed=args.seed,
        device=device,
        resume=not args.no_resume,
        progress=lambda line: print(f"train: {line}", flush=True),
        base_meta=base_meta,
    )
    print(
        f"train: best val Dice {result.best_val_dice:.4f} at step {result.best_step}/{result.steps} "
        f"-> {result.out_path} (log {result.log_path})",
        flush=True,
    )
    return 0
