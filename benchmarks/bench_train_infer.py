"""Time and peak memory of one training step per prompt type and of inference through ``segment``.

Each case runs in its own subprocess so that its peak resident memory (``ru_maxrss``; tracemalloc
does not see torch's allocations) is its own. Reported per case: median seconds over the
repetitions, peak RSS of the process (MiB) and the RSS right after building the model, so the
step's own memory is ``peak - after_build``.

Inference compares the full ``segment_chunk`` path (read normalized MRC + sidecar, cut tiles,
batch, model, upsample, stitch, sigmoid, float16 MRC write) with the bare ``model(x)`` time on the
same batches: the pipeline should add less than 10% over the model itself. Each micrograph is
``normalize_micrograph`` output at the variant's working scale that fills exactly one model tile
(a 4x-binned noise image), so both paths see the same tiles.

Models use random weights (no checkpoint needed): timings do not depend on the weight values.

    .venv/bin/python benchmarks/bench_train_infer.py [--vit-b] [--out benchmarks/results/train_infer.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPTS = ("head", "prefix", "encoder", "finetune")


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _train_case(variant: str, prompt: str, reps: int, threads: int) -> dict:
    import torch

    from samcryo_core.model.build import build_base_model
    from samcryo_core.training.losses import dice_bce_loss

    torch.set_num_threads(threads)
    model = build_base_model(variant, prompt, seed=0)
    after_build = _rss_mib()
    S, M = model.img_size, model.mask_size
    x = torch.randn(1, 1, S, S)
    t = (torch.rand(1, 1, M, M) > 0.9).float()
    opt = torch.optim.Adam(model.trainable_parameters(), lr=1e-4)
    model.train()
    times = []
    for _ in range(reps + 1):  # the first step is warm-up (allocator, lazy init)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = dice_bce_loss(model(x), t)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return {
        "case": "train_step",
        "variant": variant,
        "prompt": prompt,
        "img_size": S,
        "batch_size": 1,
        "n_trainable": sum(p.numel() for p in model.trainable_parameters()),
        "reps": reps,
        "step_s_median": statistics.median(times[1:]) if reps else times[0],
        "step_s_all": [round(v, 4) for v in times],
        "rss_after_build_mib": round(after_build, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }


def _infer_case(variant: str, n_mics: int, batch_size: int, reps: int, threads: int) -> dict:
    import numpy as np
    import torch

    from samcryo_core.inference.segment import segment_chunk
    from samcryo_core.io.mrc_write import write_mrc
    from samcryo_core.model.build import build_base_model
    from samcryo_core.model.scale import working_scale
    from samcryo_core.preprocess.normalize import normalize_micrograph

    torch.set_num_threads(threads)
    model = build_base_model(variant, "none", seed=0).eval()
    after_build = _rss_mib()
    S = model.img_size
    particle_px = working_scale(variant).particle_px
    rng = np.random.default_rng(0)
    bare, pipe, model_in_pipe = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = []
        images = []
        for i in range(n_mics):
            name = f"mic_{i:03d}"
            # 4S x 4S at 1 A/px with particles of 4 x particle_px A: binned 4x to one S x S tile
            image, mapping = normalize_micrograph(
                rng.normal(0, 1, (4 * S, 4 * S)).astype(np.float32), name=name, source=f"/raw/{name}.mrc",
                pixel_size_A=1.0, diameter_A=4.0 * particle_px, particle_px=particle_px)
            assert image.shape == (S, S), image.shape
            write_mrc(tmp / f"{name}.mrc", image, mapping.normalized_pixel_size_A)
            mapping.write(tmp / f"{name}.json")
            images.append(image)
            rows.append(
                {
                    "micrograph": name,
                    "status": "ok",
                    "reason": "",
                    "source": f"/raw/{name}.mrc",
                    "normalized": str(tmp / f"{name}.mrc"),
                    "sidecar": str(tmp / f"{name}.json"),
                }
            )
        images = torch.from_numpy(np.stack(images))[:, None]
        with torch.inference_mode():
            model(images[:batch_size])  # warm-up
        for r in range(reps):
            t0 = time.perf_counter()
            with torch.inference_mode():
                for k in range(0, n_mics, batch_size):
                    model(images[k : k + batch_size])
            bare.append(time.perf_counter() - t0)
            out_dir = tmp / f"prob_{r}"
            out_rows, stats = segment_chunk(rows, out_dir, model, batch_size=batch_size, device="cpu")
            assert all(o["status"] == "ok" for o in out_rows), out_rows
            pipe.append(stats.total_s)
            model_in_pipe.append(stats.model_s)
            tiles = stats.tiles
    bare_m, pipe_m = statistics.median(bare), statistics.median(pipe)
    return {
        "case": "inference",
        "variant": variant,
        "prompt": "none",
        "img_size": S,
        "n_micrographs": n_mics,
        "batch_size": batch_size,
        "reps": reps,
        "bare_model_s_median": round(bare_m, 4),
        "segment_path_s_median": round(pipe_m, 4),
        "model_time_inside_segment_s_median": round(statistics.median(model_in_pipe), 4),
        "tiles_per_micrograph": tiles / n_mics,
        "per_micrograph_bare_s": round(bare_m / n_mics, 4),
        "per_micrograph_segment_s": round(pipe_m / n_mics, 4),
        "throughput_bare_mic_per_s": round(n_mics / bare_m, 3),
        "throughput_segment_mic_per_s": round(n_mics / pipe_m, 3),
        "pipeline_overhead_fraction": round(pipe_m / bare_m - 1.0, 4),
        "rss_after_build_mib": round(after_build, 1),
        "peak_rss_mib": round(_rss_mib(), 1),
    }


def _run_case(spec: dict, timeout: float) -> dict:
    """Run one case in a fresh interpreter; its ru_maxrss is then the case's own peak."""
    cmd = [sys.executable, __file__, "--case", json.dumps(spec)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {timeout:.0f}s"}
    if proc.returncode != 0:
        return {**spec, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "failed"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s_including_startup"] = round(time.perf_counter() - t0, 2)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_infer.json"))
    ap.add_argument("--vit-b", action="store_true", help="also vit_b at 1024 (minutes on a CPU)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per case (default 1)")
    ap.add_argument("--variants", nargs="+", default=["tiny", "cpu_small"])
    args = ap.parse_args()
    if args.case:
        spec = json.loads(args.case)
        kind = spec.pop("kind")
        result = _train_case(**spec) if kind == "train" else _infer_case(**spec)
        print(json.dumps(result))
        return 0

    plan: list[tuple[dict, float]] = []
    reps = {"tiny": (5, 5), "cpu_small": (3, 3), "vit_b": (0, 1)}  # vit_b: one (cold) training step
    for variant in [*args.variants, *(["vit_b"] if args.vit_b else [])]:
        tr, ir = reps.get(variant, (1, 1))
        for prompt in PROMPTS:
            plan.append(
                (
                    {
                        "kind": "train",
                        "variant": variant,
                        "prompt": prompt,
                        "reps": tr,
                        "threads": args.threads,
                    },
                    900.0,
                )
            )
        n = {"tiny": 32, "cpu_small": 8, "vit_b": 2}.get(variant, 2)
        b = {"tiny": 8, "cpu_small": 4, "vit_b": 1}.get(variant, 1)
        plan.append(
            (
                {
                    "kind": "infer",
                    "variant": variant,
                    "n_mics": n,
                    "batch_size": b,
                    "reps": ir,
                    "threads": args.threads,
                },
                900.0,
            )
        )
    results = []
    t0 = time.perf_counter()
    for spec, timeout in plan:
        res = _run_case(spec, timeout)
        print(json.dumps(res), flush=True)
        results.append(res)
    import torch

    report = {
        "benchmark": "bench_train_infer",
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpu_threads_used": args.threads,
            "torch": torch.__version__,
            "cuda": torch.cuda.is_available(),
        },
        "notes": "random-init weights; medians over reps after one warm-up; peak_rss_mib = ru_maxrss of the "
        "case's own subprocess (includes python+torch, see rss_after_build_mib); "
        "pipeline_overhead_fraction = segment_chunk time / bare model time - 1",
        "total_wall_s": round(time.perf_counter() - t0, 1),
        "results": results,
    }
    from samcryo_core.io.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
