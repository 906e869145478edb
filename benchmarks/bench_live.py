"""Live collection: what adding 10 % new micrographs to a finished run costs (jobs and seconds).

During on-the-fly processing new micrographs arrive between runs. With chunks that are consecutive
runs of the sorted list, a new micrograph that sorts *before* existing ones shifts every later
chunk, so every chunk's jobs run again (and every segment job loads the model to segment nothing,
the micrographs themselves being skipped by their stamps). With recorded chunk membership
(``samcryo_core.workflow.chunks``) only the chunks that receive new micrographs run.

For one checkout (``--repo``, default this one; the "before" row: ``git worktree add ../before
<commit>``) and each arrival pattern:

* ``interleave``: the new names sort among the old ones (``mic_00002`` -> ``mic_00002b``), as when
  a second grid square's exposures are numbered into the same sequence, or names start with a
  timestamp of another clock;
* ``append``: the new names sort after every old one (the common case of increasing numbers),

it runs the real workflow (``prompt: log``: no model, so the numbers are job overhead plus the
work for the micrographs) on ``--n`` small simulated micrographs, adds ``--new-fraction`` of new
ones, and records the dry run's job count per rule and the wall time of the rerun.

    .venv/bin/python benchmarks/bench_live.py --label after
    .venv/bin/python benchmarks/bench_live.py --repo ../before --label before

Writes (merges into) ``benchmarks/results/live.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = ["results/ingest/rejected.tsv", "results/classical/log/relion/autopick.star"]


def _env(repo: Path) -> dict:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "OMP_NUM_THREADS": "1"}
    env["PYTHONPATH"] = str(repo / "samcryo_core" / "src")  # that checkout's samcryo_core
    return env


def _snakemake(repo: Path, root: Path, *args: str) -> tuple[float, str]:
    cmd = [str(BIN / "snakemake"), "-s", str(repo / "Snakefile"), "-d", str(root), "--configfile",
           str(root / "config.yaml"), *args]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(repo), timeout=7200)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def _job_counts(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Job stats:"), None)
    if start is None:
        return counts
    for line in lines[start + 3:]:
        m = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


def _names(n: int, new: int, pattern: str) -> tuple[list[str], list[str]]:
    old = [f"mic_{2 * i:05d}" for i in range(n)]
    step = max(1, n // max(new, 1))
    if pattern == "interleave":
        added = [f"mic_{2 * i:05d}b" for i in range(0, n, step)][:new]
    else:
        added = [f"mic_{2 * n + 2 * i:05d}" for i in range(new)]
    return old, added


def run_pattern(repo: Path, work: Path, sources: list[Path], n: int, new: int, chunk_size: int,
                pattern: str, cores: int) -> dict:
    root = work / pattern
    data = root / "data"
    data.mkdir(parents=True)
    old, added = _names(n, new, pattern)
    for i, name in enumerate(old):
        shutil.copyfile(sources[i % len(sources)], data / f"{name}.mrc")
    (root / "config.yaml").write_text(yaml.safe_dump({
        "inputs": {"glob": "data/*.mrc"}, "chunk_size": chunk_size, "particle": {"diameter_A": 160},
        "model": {"variant": "cpu_small"}, "prompt": "log", "device": "cpu",
        "evaluate": {"truth_dir": None}, "export": {"box_size_px": 40}}))
    first_s, first = _snakemake(repo, root, "--cores", str(cores), *TARGETS)
    for i, name in enumerate(added):
        shutil.copyfile(sources[(i + 1) % len(sources)], data / f"{name}.mrc")
    dry_s, dry = _snakemake(repo, root, "-n", *TARGETS)
    rerun_s, rerun = _snakemake(repo, root, "--cores", str(cores), *TARGETS)
    return {
        "pattern": pattern, "micrographs": n, "added": len(added), "chunk_size": chunk_size,
        "first_run_s": round(first_s, 1), "first_run_jobs": _job_counts(first),
        "dry_run_s": round(dry_s, 1), "rerun_jobs": _job_counts(dry),
        "rerun_s": round(rerun_s, 1), "rerun_jobs_run": _job_counts(rerun),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="checkout whose code runs (default: this one)")
    ap.add_argument("--label", required=True, help="row label, e.g. before / after")
    ap.add_argument("--n", type=int, default=2000, help="micrographs of the first run (2000)")
    ap.add_argument("--new-fraction", type=float, default=0.1, help="new micrographs added (0.1)")
    ap.add_argument("--chunk-size", type=int, default=50)
    ap.add_argument("--patterns", nargs="+", default=["interleave", "append"],
                    choices=("interleave", "append"))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "live.json")
    args = ap.parse_args(argv)
    repo = args.repo.resolve()
    new = int(round(args.n * args.new_fraction))
    with tempfile.TemporaryDirectory(prefix="samcryo_live_") as tmp:
        work = Path(tmp)
        sim = subprocess.run([str(BIN / "samcryo"), "simulate", "--out-dir", str(work / "sim"), "--n", "8",
                              "--seed", "5", "--shape", "256", "256", "--particles-per-micrograph", "10",
                              "--no-junk"], capture_output=True, text=True, env=_env(REPO))
        if sim.returncode != 0:
            raise RuntimeError(sim.stderr[-3000:])
        sources = sorted((work / "sim" / "micrographs").glob("*.mrc"))
        rows = [run_pattern(repo, work, sources, args.n, new, args.chunk_size, p, args.cores)
                for p in args.patterns]
    result = {"benchmark": "bench_live", "runs": {}}
    if args.out.is_file():
        result = json.loads(args.out.read_text())
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs visible, --cores {args.cores}"
    result["runs"][args.label] = {"repo": str(repo), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(f"{args.label:<8} {r['pattern']:<10} +{r['added']} to {r['micrographs']}: rerun jobs "
              f"{r['rerun_jobs']} in {r['rerun_s']} s (first run {r['first_run_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
