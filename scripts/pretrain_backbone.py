#!/usr/bin/env python
"""Pre-train samcryo's CPU backbone (``cpu_small``) on simulated (and real) micrographs and export it.

The recipe lives in ``samcryo_core.pretraining`` (docs/demo_backbone.md); this is its command
line. Recipe v2 (the default) draws every shape family, crowding up to 40 %, every kind of junk
and every export style, and with ``--real-root`` mixes in the real CryoPPP dev sets (train splits;
centres from ``scripts/derive_centres.py``). A full run and a leave-10028-out run:

    .venv/bin/python scripts/pretrain_backbone.py --out /tmp/v2.pt \
        --real-root /work/shared/data/cryoppp-dev --steps 15000 --val-every 500
    .venv/bin/python scripts/pretrain_backbone.py --out /tmp/v2_no10028.pt \
        --real-root /work/shared/data/cryoppp-dev --leave-out 10028 --steps 15000 --val-every 500

The shipped v1 weights were made in three stages with ``--recipe v1`` (each continues from the
one before on new micrographs; stage 1 is the defaults):

    .venv/bin/python scripts/pretrain_backbone.py --recipe v1 --out /tmp/stage1.pt
    .venv/bin/python scripts/pretrain_backbone.py --recipe v1 --out /tmp/stage2.pt \
        --init-from /tmp/stage1.pt --seed 1 --steps 1200 --lr 1e-3 --warmup-steps 20 \
        --curriculum-fraction 0 --val-every 100 --max-minutes 20
    .venv/bin/python scripts/pretrain_backbone.py --recipe v1 \
        --out samcryo_core/src/samcryo_core/weights/cpu_small_backbone.pt \
        --init-from /tmp/stage2.pt --seed 2 --steps 15000 --lr 8e-4 --warmup-steps 100 \
        --curriculum-fraction 0 --val-every 500 --max-minutes 150

Each writes the weights (a plain SAM state dict), ``<stem>.json`` (recipe, real micrographs used,
training history, validation metrics, sha256, the parent stage) and ``<stem>.sha256``.
Deterministic for a given ``--seed`` and ``--steps``; ``--max-minutes`` stops early and so depends
on the machine's speed. Progress goes to stderr, one line every few steps plus every validation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from samcryo_core.pretraining.recipe import PretrainConfig

DEFAULT_OUT = (
    Path(__file__).resolve().parents[1] / "samcryo_core/src/samcryo_core/weights/cpu_small_backbone.pt"
)
DEFAULT_CENTRES = Path(__file__).resolve().parents[1] / "benchmarks/data/cryoppp_centres"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = PretrainConfig()
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="weights file to write (.pt)")
    p.add_argument(
        "--variant", default=d.variant, help="SAM variant to pre-train (cpu_small; tiny for tests)"
    )
    p.add_argument("--steps", type=int, default=d.steps, help="optimizer steps")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="simulated micrographs per step")
    p.add_argument("--lr", type=float, default=d.lr, help="peak AdamW learning rate")
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="linear warm-up steps")
    p.add_argument("--seed", type=int, default=d.seed, help="seeds the model and every simulated micrograph")
    p.add_argument("--threads", type=int, default=d.threads, help="torch CPU threads")
    p.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop after this much wall time (makes the result machine-dependent)",
    )
    p.add_argument(
        "--micrograph-size",
        type=int,
        default=d.micrograph_size,
        help="simulated micrograph side (px) before binning to the model input",
    )
    p.add_argument(
        "--snr",
        type=float,
        nargs=2,
        default=list(d.snr),
        metavar=("LO", "HI"),
        help="SNR range (log-uniform)",
    )
    p.add_argument(
        "--snr-start",
        type=float,
        nargs=2,
        default=list(d.snr_start),
        metavar=("LO", "HI"),
        help="SNR range of the first micrographs (curriculum start)",
    )
    p.add_argument(
        "--curriculum-fraction",
        type=float,
        default=d.curriculum_fraction,
        help="fraction of the steps over which the SNR range moves from --snr-start to --snr (0: none)",
    )
    p.add_argument("--val-micrographs", type=int, default=d.val_micrographs, help="validation micrographs")
    p.add_argument("--val-every", type=int, default=d.val_every, help="validate every N steps")
    p.add_argument(
        "--init-from", type=Path, default=None, help="continue from this exported backbone (a later stage)"
    )
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="stored tensor type")
    p.add_argument(
        "--real-root", type=Path, default=None,
        help="mix in the real labelled sets under this folder (e.g. /work/shared/data/cryoppp-dev); "
             "train splits are trained on, valid splits validated on, test splits never read",
    )
    p.add_argument("--real-centres", type=Path, default=DEFAULT_CENTRES,
                   help="their derived centres (scripts/derive_centres.py)")
    p.add_argument("--real-sets", nargs="+", default=list(d.real_sets), help="real sets to use")
    p.add_argument("--leave-out", nargs="+", default=[], metavar="SET",
                   help="real sets never read (leave-one-dataset-out proof)")
    p.add_argument("--real-fraction", type=float, default=d.real_fraction,
                   help="share of training examples cut from real micrographs")
    p.add_argument("--select-on", choices=("sim", "real", "all"), default=d.select_on,
                   help="validation pool that picks the exported step")
    p.add_argument("--recipe", choices=("v2", "v1"), default="v2",
                   help="v1: the shipped cpu_small recipe's data (blobs, float style, particle counts, "
                        "whole fields)")
    return p.parse_args(argv)


#: The v1 recipe's simulated data (the shipped cpu_small backbone), as PretrainConfig overrides.
V1 = dict(shape_families=("blob",), styles=("float",), coverage=None, more_junk=False,
          ice_gradient=(0.0, 0.0), ice_meniscus=(0.0, 0.0), tile_field=False, touching_fraction=(0.0, 0.2))


def main(argv: list[str] | None = None) -> int:
    from samcryo_core.errors import SamcryoError
    from samcryo_core.pretraining import pretrain

    args = parse_args(argv)
    try:
        config = PretrainConfig(
            variant=args.variant,
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            warmup_steps=args.warmup_steps,
            seed=args.seed,
            threads=args.threads,
            max_minutes=args.max_minutes,
            micrograph_size=args.micrograph_size,
            snr=tuple(args.snr),
            snr_start=tuple(args.snr_start),
            curriculum_fraction=args.curriculum_fraction,
            val_micrographs=args.val_micrographs,
            val_every=args.val_every,
            real_root=None if args.real_root is None else str(args.real_root),
            real_centres=str(args.real_centres),
            real_sets=tuple(args.real_sets),
            leave_out=tuple(args.leave_out),
            real_fraction=args.real_fraction,
            select_on=args.select_on,
            **(V1 if args.recipe == "v1" else {}),
        )
        result = pretrain(
            config,
            args.out,
            dtype=args.dtype,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            init_from=args.init_from,
        )
    except SamcryoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {result.out_path} (sha256 {result.sha256}); best step {result.best_step}, "
        f"validation {result.best_val}; {result.steps_done} steps in {result.seconds / 60:.1f} min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
