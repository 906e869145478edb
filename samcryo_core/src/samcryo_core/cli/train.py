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

from samcryo_core.cli.common_args import add_diameter_argument, config_option

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
    config_option(parser, "--checkpoint", key="model.checkpoint",
                  help="base SAM checkpoint (.pth), or samcryo:<file> for one shipped with samcryo; "
                  "omitted: the variant's shipped backbone (cpu_small), else random init (tiny)")
    config_option(parser, "--sha256", key="model.sha256", help="expected sha256 of --checkpoint")
    add_diameter_argument(parser, required=True)
    config_option(parser, "--particle-px", key="model.particle_px", type=float, metavar="P",
                  help="working scale: particle diameter in model-input pixels (default: the "
                  "backbone's own, see docs/training.md)")
    config_option(parser, "--pixel-size", key="inputs.pixel_size_A", type=float, metavar="A",
                  help="pixel size in Angstrom of images whose header has none (PNG, JPEG)")
    parser.add_argument("--images", nargs="+", required=True, metavar="IMG", help="labelled micrographs")
    lab = parser.add_mutually_exclusive_group(required=True)
    config_option(lab, "--labels", key="train.labels", nargs="+", metavar="LBL",
                  help="label files matched to the images by name, or one file for all images that "
                  "names each particle's micrograph (RELION particles.star, cryoSPARC .cs/CSV)")
    lab.add_argument("--labels-dir", metavar="DIR", help="folder of label files named after the micrographs")
    config_option(parser, "--label-format", key="train.label_format", help="default %(default)s: by suffix")
    config_option(parser, "--diameter-px", key="train.diameter_px", type=float, metavar="D",
                  help="particle diameter in pixels of the original micrograph (overrides a diameter "
                  "column)")
    config_option(parser, "--flip-y", key="train.flip_y", action="store_true",
                  help="labels count y from the bottom (CryoPPP on raw MRC): row = H-1-y")
    config_option(parser, "--steps", key="train.steps", type=int,
                  help="optimizer steps at most (default %(default)s)")
    config_option(parser, "--val-every", key="train.val_every", type=int,
                  help="validate every this many steps (default %(default)s)")
    config_option(parser, "--patience", key="train.patience", type=int,
                  help="stop after this many validations without improvement (default %(default)s; "
                  "0 = never)")
    config_option(parser, "--target-disc-fraction", key="train.target_disc_fraction", type=float,
                  metavar="F", help="draw target discs at F x the particle diameter (default %(default)s)")
    config_option(parser, "--lr", key="train.lr", type=float,
                  help="Adam lr (default: the variant's recommendation for the prompt type, else the "
                  "paper's; docs/training.md)")
    config_option(parser, "--batch-size", key="train.batch_size", type=int,
                  help="model tiles per step (default %(default)s)")
    config_option(parser, "--val-fraction", key="train.val_fraction", type=float,
                  help="default %(default)s (1 image when <= 5)")
    config_option(parser, "--seed", key="train.seed", type=int,
                  help="seed for init, split, order, augmentation (default %(default)s)")
    config_option(parser, "--device", key="device", help="default %(default)s")
    parser.add_argument("--out", required=True, metavar="PROMPT.pt", help="prompt file to write")
    parser.add_argument("--log", default=None, metavar="LOG.csv", help="training log (default <out>.log.csv)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    config_option(parser, "--no-augment", key="train.augment", inverted=True, action="store_true",
                  help="no flips/90-degree rotations")
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing <out>.last.pt")
    parser.add_argument(
        "--prompt-config", type=_json_object, default=None, metavar="JSON",
        help='options of the prompt type as a JSON object, e.g. \'{"down_channels": [8, 8, 8]}\' '
        "(docs/prompts.md); stored in the prompt file so segment rebuilds the same prompt",
    )
    config_option(parser, "--clip-percentiles", key="normalize.clip_percentiles", type=float, nargs=2,
                  metavar=("LO", "HI"), help="as in samcryo normalize (default %(default)s)")
    config_option(parser, "--lowpass-A", key="normalize.lowpass_A", type=float, metavar="X",
                  help="as in samcryo normalize")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.model.build import build_base_model
    from samcryo_core.model.device import resolve_device, set_threads
    from samcryo_core.model.prompt_file import RANDOM_INIT, base_sha256
    from samcryo_core.model.registry import recommended_prompt_config
    from samcryo_core.model.scale import working_scale
    from samcryo_core.training.dataset import TileDataset, load_example, match_labels, split_train_val
    from samcryo_core.training.label_spacing import check_diameter, labelled_spacing
    from samcryo_core.training.trainer import train_prompt
    from samcryo_core.weights import checkpoint_for, shipped_sha256

    set_threads(args.threads)
    device = resolve_device(args.device)
    # no --checkpoint: the variant's shipped backbone; options the user did not give: the
    # variant's recommendation for this prompt (model.registry), as the workflow does
    args.checkpoint = checkpoint_for(args.checkpoint, args.variant)
    args.sha256 = args.sha256 or shipped_sha256(args.checkpoint)
    args.prompt_config = recommended_prompt_config(args.variant, args.prompt, args.prompt_config) or None
    pairs = match_labels(args.images, args.labels, args.labels_dir, label_format=args.label_format)
    check_diameter(args.diameter_A, labelled_spacing(pairs, args.pixel_size))  # before any training
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
