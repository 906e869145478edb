"""CPU seconds of extraction (probability map -> candidates) per micrograph, for a code version.

Why: extraction grew seeds for dense grids (h-maxima of the probability, residual seeds, pieces of
bounded reach); this measures what that costs on the maps of the scale benchmark's runs
(``benchmarks/bench_scale.py`` leaves them under ``benchmarks/results/tmp/scale/runs``), with the
code of this checkout or of another (``--repo``, run in a subprocess with that checkout's
``samcryo_core`` first on the path). The maps are the same for both, so the ratio is the cost of
the extraction code alone.

    python benchmarks/bench_extract_cost.py --runs after/scale/px1.77_4096 shipped/realcrowded/10059
    python benchmarks/bench_extract_cost.py --repo ../session_start --label before ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

RUNS = common.REPO / "benchmarks" / "results" / "tmp" / "scale" / "runs"
WORKER = r"""
import glob, json, sys, time
import numpy as np
from samcryo_core.frame import FrameMapping
from samcryo_core.io.micrograph import read_micrograph
from samcryo_core.particles.extraction import extract_particles
run, prompt, diameter = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
diameter = tuple(diameter) if isinstance(diameter, list) else diameter
out = []
for f in sorted(glob.glob(f"{run}/results/*/{prompt}/probability/*.mrc")):
    mic = f.split("/")[-1][:-4]
    side = glob.glob(f"{run}/results/normalized/*/{mic}.json")[0]
    m = FrameMapping.read(side)
    prob = read_micrograph(f).data.astype(np.float32)
    px = m.pixel_size_A
    d = tuple(x / px for x in diameter) if isinstance(diameter, tuple) else diameter / px
    t = time.process_time()
    n = len(extract_particles(prob, m, diameter_px=d))
    out.append({"micrograph": mic, "shape": list(prob.shape), "cpu_s": time.process_time() - t, "n": n})
print(json.dumps(out))
"""


def measure(repo: Path, run: Path, prompt: str, diameter_A) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(repo / "samcryo_core" / "src"), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", WORKER, str(run), prompt, json.dumps(diameter_A)],
                          capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=common.REPO)
    ap.add_argument("--label", default="after")
    ap.add_argument("--runs", nargs="+", required=True, help="run folders under " + str(RUNS))
    ap.add_argument("--diameters", nargs="+", required=True,
                    help="particle diameter in A per run: 300 or 130,190")
    ap.add_argument("--prompt", default="head")
    ap.add_argument("--out", type=Path, default=common.REPO / "benchmarks" / "results" / "extract_cost.json")
    args = ap.parse_args(argv)
    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    rows = result.setdefault("runs", {}).setdefault(args.label, {})
    result.setdefault("machine", {})[args.label] = common.machine_info()
    for run, d in zip(args.runs, args.diameters, strict=True):
        diameter = [float(x) for x in d.split(",")] if "," in d else float(d)
        per_mic = measure(args.repo.resolve(), RUNS / run, args.prompt, diameter)
        secs = sorted(r["cpu_s"] for r in per_mic)
        rows[run] = {"median_cpu_s": round(secs[len(secs) // 2], 3), "micrographs": len(secs),
                     "map_shape": per_mic[0]["shape"] if per_mic else None, "per_micrograph": per_mic}
        print(f"bench_extract_cost: {args.label} {run}: median {rows[run]['median_cpu_s']} s "
              f"({len(secs)} maps of {rows[run]['map_shape']})", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
