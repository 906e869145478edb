"""Trainable-parameter counts of every prompt type for vit_b, vit_h and cpu_small, plus CPU timings.

Why: the point of prompting is to train a tiny fraction of SAM. This table shows how tiny, per
prompt and per SAM size, with the paper's default prompt configurations. The official variants
are built on PyTorch's ``meta`` device (shapes only, no memory, no checkpoint needed), so the
script runs anywhere in seconds. For ``cpu_small`` it also times one forward pass and one
training step (forward + backward + Adam) per 512x512 image on the CPU.

Usage: python benchmarks/bench_model_params.py [--out benchmarks/results/model_params.json]
       [--no-timing] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from samcryo_core.io.atomic import atomic_write_text
from samcryo_core.model import PromptedSam
from samcryo_core.model.prompts import PROMPTS
from samcryo_core.model.prompts.head import CPU_DEMO_HEAD_CONFIG

VARIANTS = ("vit_b", "vit_h", "cpu_small")


def count(variant: str, prompt: str) -> dict:
    if variant == "cpu_small":
        model = PromptedSam.build(variant, prompt)
    else:
        with torch.device("meta"):
            model = PromptedSam.build(variant, prompt)
    info = model.describe()
    return {
        "variant": variant,
        "prompt": prompt,
        "n_trainable": info["n_trainable"],
        "n_total": info["n_total"],
        "pct_trainable": round(100.0 * info["n_trainable"] / info["n_total"], 3),
        "n_prompt_own": sum(p.numel() for p in model.prompt.parameters()),
        "prompt_config": info["prompt_config"],
    }


def time_cpu_small(prompt: str, config: dict | None = None, repeats: int = 3) -> dict:
    torch.manual_seed(0)
    model = PromptedSam.build("cpu_small", prompt, prompt_config=config)
    x = torch.randn(1, 1, model.img_size, model.img_size)
    target = torch.zeros(1, 1, model.mask_size, model.mask_size)
    with torch.no_grad():
        model(x)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            model(x)
        fwd = (time.perf_counter() - t0) / repeats
    row = {"prompt": prompt, "prompt_config": config or "paper defaults", "forward_s": round(fwd, 3),
           "n_trainable": sum(p.numel() for p in model.trainable_parameters())}
    if model.trainable_parameters():
        model.train()
        opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-4)
        t0 = time.perf_counter()
        for _ in range(repeats):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(model(x), target).backward()
            opt.step()
        row["train_step_s"] = round((time.perf_counter() - t0) / repeats, 3)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "model_params.json")
    parser.add_argument("--no-timing", action="store_true", help="skip the cpu_small CPU timings")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for timings (1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    logging.getLogger("samcryo_core.model.registry").setLevel(logging.ERROR)  # "random weights" on purpose

    rows = [count(v, p) for v in VARIANTS for p in PROMPTS]
    print(f"{'variant':<10} {'prompt':<9} {'trainable':>12} {'total':>13} {'%':>8}")
    for r in rows:
        print(f"{r['variant']:<10} {r['prompt']:<9} {r['n_trainable']:>12,} {r['n_total']:>13,} "
              f"{r['pct_trainable']:>8.3f}")
    result = {
        "benchmark": "bench_model_params",
        "torch": torch.__version__,
        "machine": platform.machine(),
        "note": "counts with the paper-default prompt configs; vit_* built on the meta device",
        "rows": rows,
    }
    if not args.no_timing:
        timings = [time_cpu_small(p) for p in PROMPTS]
        timings.append(time_cpu_small("head", CPU_DEMO_HEAD_CONFIG))
        result["cpu_small_timing"] = {
            "threads": args.threads,
            "image": "1x1x512x512, batch 1, seconds per image (mean of 3 after warm-up)",
            "rows": timings,
        }
        for t in timings:
            print(f"cpu_small {t['prompt']:<9} forward {t['forward_s']:.3f} s  "
                  f"train step {t.get('train_step_s', float('nan')):.3f} s")
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
