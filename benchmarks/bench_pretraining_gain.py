#!/usr/bin/env python
"""How much does the pre-trained ``cpu_small`` backbone help few-shot picking on the demo's data?

The question of the issue "The first command": the demo adapts a *frozen* backbone with a
trainable prompt. This benchmark runs the same few-shot recipe on

* the shipped pre-trained backbone (``samcryo_core/weights/cpu_small_backbone.pt``, loaded through
  ``PromptedSam.build(..., checkpoint, sha256=...)``: the real path, float16-stored weights), and
* a randomly initialised backbone (seed 0, what ``model.checkpoint: null`` gives),

for each prompt type asked for (``none`` = zero-shot, no training), on demo-like data: the demo's
protein (160 A, simulator ``type_seed`` 0, which pre-training never saw), 4 A/px, 1024 x 1024,
SNR 0.01 (the simulator's default), junk on. Every micrograph is binned to the backbone's working
scale (the sample's [smallest, largest] diameter, as a config gives it). Labelled
micrographs go through the training code path (``load_example`` -> ``split_train_val`` ->
``TileDataset`` -> ``train_prompt``, budget in epochs: ``common.train_epochs``), unseen
micrographs through ``normalize_micrograph`` -> ``probability_map`` (tiled) ->
``extract_particles`` (the demo's extraction defaults) and are scored with samcryo's evaluation
(``common.score_picks``: Hungarian matching within 0.5 x each true particle's diameter). For each
run it records the F1 of the checkpoint ``train_prompt`` keeps (best validation Dice) at several
FOM thresholds, the unseen-set F1 after every epoch (to choose the demo's epochs), and wall times.

    .venv/bin/python benchmarks/bench_pretraining_gain.py                 # default comparison
    .venv/bin/python benchmarks/bench_pretraining_gain.py --prompts head --epochs 6 --n-train 4 --n-test 2

Writes benchmarks/results/pretraining_gain.json (``--out``). Runs on 2 CPU threads.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

ROOT = common.REPO
WEIGHTS = ROOT / "samcryo_core/src/samcryo_core/weights/cpu_small_backbone.pt"
THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
PIXEL_SIZE_A = 4.0  # the simulator's default, the demo's


def demo_data(cache: Path, n_train: int, n_test: int, snr: float, seed: int,
              diameters_A: tuple[float, ...] = (160.0,)) -> tuple[Path, Path]:
    """Simulate (once) the labelled and unseen demo-like sets; return their folders."""
    from samcryo_core.simulate import SimulationParams, simulate_dataset

    # demo defaults otherwise: type_seed 0, 4 A/px, 1024^2, junk
    params = SimulationParams(snr=snr, diameters_A=tuple(diameters_A))
    sizes = "-".join(f"{d:g}" for d in diameters_A)
    train_dir = cache / f"train_n{n_train}_snr{snr}_s{seed}_d{sizes}"
    test_dir = cache / f"test_n{n_test}_snr{snr}_s{seed}_d{sizes}"
    for d, n, s in ((train_dir, n_train, seed), (test_dir, n_test, seed + 1)):
        if not (d / "truth" / "summary.csv").is_file():
            simulate_dataset(d, n, params, seed=s, prefix=d.name.split("_")[0])
    return train_dir, test_dir


def load_unseen(test_dir: Path, particle_px: float, diameter_A) -> list[dict]:
    """Unseen micrographs at the working scale with their truth (original frame)."""
    from samcryo_core.evaluation.score import read_truth

    out = []
    for mrc in sorted((test_dir / "micrographs").glob("*.mrc")):
        img, mapping = common.normalize_file(mrc, name=mrc.stem, diameter_A=diameter_A,
                                             particle_px=particle_px)
        truth = read_truth(test_dir / "truth" / f"{mrc.stem}.star", "star", mapping=mapping)
        out.append({"image": img, "mapping": mapping, "truth": truth})
    return out


def predict(model, unseen: list[dict], tta: str = "none") -> tuple[list[np.ndarray], float]:
    """Tiled probability maps of the unseen micrographs and the seconds per micrograph."""
    from samcryo_core.inference.segment import probability_map

    t0 = time.perf_counter()
    probs = [probability_map(model, u["image"], u["mapping"], tta=tta) for u in unseen]
    return probs, (time.perf_counter() - t0) / max(1, len(unseen))


def candidates(probs: list[np.ndarray], unseen: list[dict], diameter_px) -> list[pd.DataFrame]:
    """Every candidate of each map (demo extraction defaults; the threshold comes at scoring)."""
    from samcryo_core.particles.extraction import extract_particles

    return [extract_particles(prob, u["mapping"], diameter_px=diameter_px)
            for prob, u in zip(probs, unseen, strict=True)]


def score_candidates(picks: list[pd.DataFrame], unseen: list[dict], threshold: float) -> dict:
    """Pooled particle P/R/F1 of the candidates with FOM >= ``threshold`` (samcryo's evaluation:
    each true particle matched within half its own diameter, as ``samcryo evaluate`` does)."""
    tests, by_name = [], {}
    for df, u in zip(picks, unseen, strict=True):
        m, t = u["mapping"], u["truth"]
        tests.append(common.TestMicrograph(m.micrograph, m.source, t[["x", "y"]].to_numpy(np.float64),
                                           t["diameter_px"].to_numpy(np.float64), tuple(m.original_shape)))
        by_name[m.micrograph] = df
    s = common.score_picks(tests, by_name, min_fom=threshold)
    return {"threshold": threshold, "precision": round(s["precision"], 4), "recall": round(s["recall"], 4),
            "f1": round(s["f1"], 4), "tp": s["tp"], "fp": s["fp"], "fn": s["fn"]}


def score(probs: list[np.ndarray], unseen: list[dict], diameter_px, threshold: float) -> dict:
    """Pooled particle P/R/F1 over the unseen set at one FOM threshold."""
    return score_candidates(candidates(probs, unseen, diameter_px), unseen, threshold)


def build(backbone: str, prompt: str, prompt_config: dict | None, sha256: str | None):
    from samcryo_core.model.build import build_base_model

    ckpt = WEIGHTS if backbone == "pretrained" else None
    return build_base_model(
        "cpu_small", prompt, ckpt, sha256=sha256 if ckpt else None, prompt_config=prompt_config, seed=0
    )


def run_one(
    backbone: str, prompt: str, args, train_dir: Path, unseen: list[dict], sha256: str | None, workdir: Path
) -> dict:
    """One (backbone, prompt) cell: train (unless ``none``), then score the unseen set."""
    from samcryo_core.model.prompt_file import read_prompt_file
    from samcryo_core.model.prompts.head import CPU_DEMO_HEAD_CONFIG
    from samcryo_core.training.dataset import load_example, match_labels, split_train_val

    config = dict(CPU_DEMO_HEAD_CONFIG) if prompt == "head" else None
    model = build(backbone, prompt, config, sha256)
    row: dict = {"backbone": backbone, "prompt": prompt, "prompt_config": config or "defaults"}
    curve: list[dict] = []
    if prompt != "none":
        images = sorted((train_dir / "micrographs").glob("*.mrc"))
        pairs = match_labels(images, labels_dir=train_dir / "truth")
        examples = [load_example(i, lbl, particle_px=args.particle_px, diameter_A=args.diameter_A)
                    for i, lbl in pairs]
        train, val = split_train_val(examples, 0.2, args.seed)
        lr = args.lr.get(prompt)
        epoch_box = {"n": 0}

        def progress(line: str) -> None:  # called after every epoch's validation, weights as trained
            if line.startswith("step"):
                epoch_box["n"] += 1
                if args.curve:
                    model.eval()
                    probs, _ = predict(model, unseen)  # per-epoch curve: no TTA (8x cheaper)
                    model.train()
                    s = score(probs, unseen, args.diameter_px, 0.5)
                    curve.append(
                        {
                            "epoch": epoch_box["n"],
                            "f1": s["f1"],
                            "precision": s["precision"],
                            "recall": s["recall"],
                        }
                    )
                    line += f" | unseen F1 {s['f1']:.3f}"
            print(f"  [{backbone}/{prompt}] {line}", file=sys.stderr, flush=True)

        t0 = time.perf_counter()
        result, per_epoch, _ = common.train_epochs(
            model, train, val, epochs=args.epochs, lr=lr, out_path=workdir / f"{backbone}_{prompt}.pt",
            seed=args.seed, progress=progress,
            base_meta={"base_sha256": sha256 if backbone == "pretrained" else "random-init"},
        )
        train_s = time.perf_counter() - t0
        state, _meta = read_prompt_file(result.out_path)
        model.load_trainable_state_dict(state, source=result.out_path)
        row.update(
            n_train=len(train),
            n_val=len(val),
            epochs=args.epochs,
            steps=result.steps,
            lr=lr or "prompt default",
            best_epoch=math.ceil(result.best_step / per_epoch),
            best_val_dice=round(result.best_val_dice, 4),
            train_seconds_incl_curve=round(train_s, 1),
            n_trainable=sum(p.numel() for p in model.trainable_parameters()),
        )
    model.eval()
    probs, infer_s = predict(model, unseen, args.tta)
    picks = candidates(probs, unseen, args.diameter_px)
    by_thr = [score_candidates(picks, unseen, t) for t in THRESHOLDS]
    best = max(by_thr, key=lambda s: s["f1"])
    at05 = next(s for s in by_thr if s["threshold"] == 0.5)
    row.update(
        f1_at_0_5=at05["f1"],
        precision_at_0_5=at05["precision"],
        recall_at_0_5=at05["recall"],
        best_threshold=best["threshold"],
        f1_best_threshold=best["f1"],
        by_threshold=by_thr,
        infer_seconds_per_micrograph=round(infer_s, 3),
        f1_per_epoch=curve,
    )
    print(
        f"[{backbone}/{prompt}] F1@0.5 {at05['f1']:.3f} (P {at05['precision']:.3f} R {at05['recall']:.3f}); "
        f"best F1 {best['f1']:.3f} at {best['threshold']}",
        file=sys.stderr,
        flush=True,
    )
    return row


def gain_table(rows: list[dict]) -> dict:
    """F1 at threshold 0.5 of pre-trained vs random backbone, per prompt with both."""
    gain = {}
    for prompt in dict.fromkeys(r["prompt"] for r in rows):
        cell = {r["backbone"]: r for r in rows if r["prompt"] == prompt}
        if {"pretrained", "random"} <= set(cell):
            p, r = cell["pretrained"], cell["random"]
            gain[prompt] = {
                "f1_pretrained": p["f1_at_0_5"],
                "f1_random": r["f1_at_0_5"],
                "gain_f1_at_0_5": round(p["f1_at_0_5"] - r["f1_at_0_5"], 4),
                "f1_best_threshold_pretrained": p["f1_best_threshold"],
                "f1_best_threshold_random": r["f1_best_threshold"],
            }
    return gain


def main(argv: list[str] | None = None) -> int:
    import torch

    from samcryo_core.io.atomic import atomic_write_text
    from samcryo_core.model.loading import sha256_file
    from samcryo_core.pretraining.export import read_backbone_metadata

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prompts", nargs="+", default=["none", "head", "encoder"])
    p.add_argument(
        "--backbones", nargs="+", default=["pretrained", "random"], choices=["pretrained", "random"]
    )
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--n-train", type=int, default=8, help="labelled micrographs (train + validation)")
    p.add_argument("--n-test", type=int, default=10, help="unseen micrographs scored")
    p.add_argument("--snr", type=float, default=0.01)
    p.add_argument("--diameters-A", type=float, nargs="+", default=[160.0],
                   help="particle types of the simulated data (the demo: 130 160 190)")
    p.add_argument("--tta", default="none", choices=("none", "flips", "d4"),
                   help="test-time augmentation when scoring (the demo config uses d4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--lr",
        type=json.loads,
        default={"head": 1e-3, "prefix": 1e-3, "encoder": 1e-3, "finetune": 1e-4},
        help="JSON {prompt: lr}; a prompt not listed uses its config default",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--section", default=None, help="key of this setting in the JSON (default: the SNR)")
    p.add_argument("--no-curve", dest="curve", action="store_false", help="skip per-epoch unseen F1")
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "samcryo_bench_pretraining")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pretraining_gain.json")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    # Extraction's expected size, as a config gives it: the sample's [smallest, largest] at 4 A/px.
    from samcryo_core.particles.diameter import as_diameter, scale_diameter

    args.diameter_A = as_diameter([min(args.diameters_A), max(args.diameters_A)])
    args.diameter_px = scale_diameter(args.diameter_A, 1.0 / PIXEL_SIZE_A)
    scale = common.working_scale("cpu_small", WEIGHTS)
    args.particle_px = scale.particle_px

    sha = sha256_file(WEIGHTS)
    meta = read_backbone_metadata(WEIGHTS)
    if meta.get("sha256") != sha:
        raise SystemExit(f"{WEIGHTS}: sha256 {sha} differs from its .json ({meta.get('sha256')})")
    t0 = time.perf_counter()
    train_dir, test_dir = demo_data(args.cache, args.n_train, args.n_test, args.snr, args.seed,
                                    tuple(args.diameters_A))
    unseen = load_unseen(test_dir, args.particle_px, args.diameter_A)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for prompt in args.prompts:
            for backbone in args.backbones:
                rows.append(run_one(backbone, prompt, args, train_dir, unseen, sha, Path(work)))
    section = {
        "data": {
            "proteins_A": args.diameters_A,
            "extract_diameter_px": args.diameter_px,
            "protein": "simulator type_seed 0 shapes (not seen in pre-training)",
            "tta": args.tta,
            "pixel_size_A": PIXEL_SIZE_A,
            "working_scale": scale.to_dict(),
            "shape": [1024, 1024],
            "snr": args.snr,
            "junk": True,
            "labelled": args.n_train,
            "unseen": args.n_test,
            "seed": args.seed,
        },
        "epochs": args.epochs,
        "runs": rows,
        "seconds": round(time.perf_counter() - t0, 1),
        "load_average_at_end": list(os.getloadavg()),
    }
    # One file for all SNRs: a run at another SNR adds its section, a rerun replaces its own.
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if result.get("weights", {}).get("sha256") != sha:
        result = {}  # results of other weights are not comparable
    result.update(
        {
            "what": "few-shot particle picking on demo-like simulated micrographs, frozen pre-trained vs "
            "frozen random-init cpu_small backbone (same prompt recipe, same data)",
            "scoring": "samcryo extract_particles (demo defaults, the sample's diameter range) at each FOM "
            "threshold, scored with samcryo_core.evaluation (Hungarian matching within 0.5 x each true "
            "particle's diameter), pooled over the unseen micrographs",
            "weights": {
                "file": WEIGHTS.name,
                "sha256": sha,
                "selected_step": meta.get("selected_step"),
                "train_seconds": meta.get("train_seconds"),
            },
            "threads": args.threads,
            "note": "2-core machine shared with other jobs (see load averages): times are upper bounds "
            "for an idle laptop",
        }
    )
    # Runs of other prompts at this SNR (earlier invocations) are kept; the same cells are replaced.
    key = args.section or f"{args.snr:g}"
    previous = result.setdefault("by_snr", {}).get(key, {})
    done = {(r["backbone"], r["prompt"]) for r in rows}
    rows = [r for r in previous.get("runs", []) if (r["backbone"], r["prompt"]) not in done] + rows
    section["runs"] = rows
    section["gain"] = gain = gain_table(rows)
    result["by_snr"][key] = section
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(json.dumps(gain, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
