"""How long Snakemake needs to build samcryo's DAG for large datasets (dry run, nothing computed).

The workflow lists its inputs at parse time, so start-up cost grows with the dataset. This runs
``snakemake -n`` on 1,000 and 10,000 *empty* ``.mrc`` files: listing must never open a micrograph
(bad files are the ingest jobs' business), so empty files give the same DAG as real ones. Chunking
(``chunk_size``, default 50) keeps the job count at about 4 x N / chunk_size + a few aggregates.

    .venv/bin/python benchmarks/bench_dag.py [--sizes 1000 10000] [--chunk-size 50] [--repeat 1]

Writes ``benchmarks/results/dag.json``: per size the wall time of the dry run (median of
``--repeat``), peak RSS of the Snakemake process, the number of jobs, and the time to only list
and chunk the inputs in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def make_inputs(root: Path, n: int) -> None:
    """``n`` empty pick micrographs, two labelled ones, and the truth folders the config names."""
    pick = root / "demo_data" / "pick" / "micrographs"
    train = root / "demo_data" / "train" / "micrographs"
    for d in (pick, train, root / "demo_data" / "pick" / "truth", root / "demo_data" / "train" / "truth"):
        d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (pick / f"mic_{i:06d}.mrc").touch()
    for i in range(2):
        (train / f"lab_{i:02d}.mrc").touch()


def dry_run(root: Path, chunk_size: int) -> tuple[float, int, int]:
    """(seconds, peak RSS in MB, number of jobs) of one ``snakemake -n`` in ``root``."""
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(root), "-n", "--quiet",
           "rules", "--configfile", str(REPO / "config" / "demo.yaml"),
           "--config", f"chunk_size={chunk_size}"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"dry run failed:\n{proc.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    m = re.search(r"^total\s+(\d+)\s*$", proc.stdout, flags=re.M)
    # ru_maxrss of children is the max over all children so far: report it only when it grew
    return seconds, round(max(peak, before) / 1024), int(m.group(1)) if m else -1


def startup_seconds() -> float:
    """Wall time of ``snakemake --version``: Python + Snakemake + plugin start-up, no workflow."""
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "snakemake"), "--version"], capture_output=True, check=True, timeout=300)
    return time.perf_counter() - t0


def listing_seconds(root: Path, chunk_size: int) -> float:
    """In-process time of the parse-time listing alone (glob, names, uniqueness, chunks)."""
    from samcryo_core.workflow.inputs import list_inputs

    cwd = os.getcwd()
    os.chdir(root)
    try:
        t0 = time.perf_counter()
        listing = list_inputs({"glob": "demo_data/pick/micrographs/*.mrc"}, chunk_size)
        seconds = time.perf_counter() - t0
    finally:
        os.chdir(cwd)
    assert len(listing.sources) > 0
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--chunk-size", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "dag.json")
    args = ap.parse_args()

    startup = round(statistics.median(startup_seconds() for _ in range(max(2, args.repeat))), 2)
    print(f"snakemake --version: {startup} s", flush=True)
    results = []
    for n in args.sizes:
        root = Path(tempfile.mkdtemp(prefix=f"samcryo_dag_{n}_"))
        try:
            make_inputs(root, n)
            runs = [dry_run(root, args.chunk_size) for _ in range(args.repeat)]
            row = {
                "micrographs": n,
                "chunk_size": args.chunk_size,
                "chunks": -(-n // args.chunk_size),
                "jobs": runs[0][2],
                "dry_run_s": round(statistics.median(r[0] for r in runs), 2),
                "dry_run_runs_s": [round(r[0], 2) for r in runs],
                "dry_run_minus_startup_s": round(statistics.median(r[0] for r in runs) - startup, 2),
                "peak_rss_mb": max(r[1] for r in runs),
                "listing_s": round(listing_seconds(root, args.chunk_size), 3),
            }
            print(json.dumps(row), flush=True)
            results.append(row)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "what": "snakemake -n on empty .mrc files (config/demo.yaml, prompt head, cpu_small); "
                "wall time includes Python start-up and workflow parsing",
        "snakemake_startup_s": startup,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "python": platform.python_version()},
        "note": "shared 2-core machine with other jobs running; times are upper bounds",
        "results": results,
    }
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
