"""Load benchmark: the whole workflow on thousands of small micrographs, with bounded memory.

A facility runs samcryo on 5,000-20,000 micrographs. This runs the real Snakefile on simulated
256 x 256 micrographs (``samcryo simulate``, the ingest minimum size) with the ``tiny`` SAM variant
(128 px input, random-init backbone, ``prompt: none``), so a 2,000-micrograph run takes minutes on a
laptop CPU, and measures:

* peak RSS of every job, by job type (``samcryo`` subcommand): a shim named ``samcryo`` first on
  PATH runs the real command and records ``getrusage(RUSAGE_CHILDREN).ru_maxrss``;
* peak RSS of the Snakemake process itself (``VmHWM`` from ``/proc/<pid>/status``, polled);
* wall time, jobs per rule, and completeness: accepted + rejected = inputs, and every accepted
  micrograph has its picks CSV and RELION ``_autopick.star``.

It runs two dataset sizes (default 500 and 2,000) with the same chunk size, so per-job memory must
not grow with the number of micrographs (a chunk job sees ``chunk_size`` micrographs whatever the
dataset size); only the aggregate jobs (export, rejection merge) and Snakemake's DAG grow, and the
JSON shows by how much.

Run (in the background; it is niced): ``.venv/bin/python benchmarks/bench_load.py
[--sizes 500 2000] [--chunk-size 100] [--cores 2] [--workdir /tmp/samcryo_load]
[--out benchmarks/results/load.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SHIM = """#!{python}
# Records the peak RSS of one `samcryo` job for bench_load.py, then exits with its status.
import json, os, resource, subprocess, sys, time
t0 = time.time()
rc = subprocess.call([{real!r}, *sys.argv[1:]])
argv = sys.argv[1:]
cmd = argv[0] if argv else ""
if cmd == "ingest" and "--merge-rejections" in argv:
    cmd = "ingest-merge"
rec = {{"command": cmd, "maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "wall_s": round(time.time() - t0, 3), "rc": rc}}
with open(os.environ["SAMCRYO_RSS_LOG"], "a") as fh:
    fh.write(json.dumps(rec) + "\\n")
sys.exit(rc)
"""


def env(shim_dir: Path, rss_log: Path) -> dict:
    e = dict(os.environ)
    e["PATH"] = f"{shim_dir}{os.pathsep}{BIN}{os.pathsep}{e.get('PATH', '')}"
    e["SAMCRYO_RSS_LOG"] = str(rss_log)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        e[var] = "1"
    return e


def simulate(out: Path, n: int) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(BIN / "samcryo"), "simulate", "--out-dir", str(out), "--n", str(n),
                    "--seed", "2026", "--prefix", "mic", "--shape", "256", "256",
                    "--particles-per-micrograph", "8", "--no-junk"], check=True,
                   capture_output=True, text=True)
    return time.perf_counter() - t0


def write_config(root: Path, chunk_size: int) -> Path:
    import yaml

    cfg = {
        "inputs": {"glob": "micrographs/*.mrc"},
        "chunk_size": chunk_size,
        "particle": {"diameter_A": 160},
        "model": {"variant": "tiny", "checkpoint": None},
        "prompt": "none",
        "device": "cpu",
        "segment": {"batch_size": 8},
        "export": {"box_size_px": 40},
        "evaluate": {"truth_dir": None},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_workflow(root: Path, cores: int, shim_dir: Path, rss_log: Path) -> dict:
    """Snakemake on ``root`` (picking targets only: no evaluation/report); returns measurements."""
    targets = ["results/ingest/rejected.tsv", "results/ingest/summary.json",
               "results/tiny/none/relion/autopick.star", "results/tiny/none/cryosparc/particles.star"]
    cmd = ["nice", "-n", "10", str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(root),
           "--configfile", str(root / "config.yaml"), "--cores", str(cores),
           *targets]
    log = open(root / "snakemake.log", "w")  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env(shim_dir, rss_log))
    peak = {"mb": 0.0}
    snake_pid: dict[str, int | None] = {"pid": None}

    def poll() -> None:
        # `nice` execs snakemake, so the child's pid is Snakemake's.
        snake_pid["pid"] = proc.pid
        while proc.poll() is None:
            v = _vm_hwm_mb(proc.pid)
            if v is not None:
                peak["mb"] = max(peak["mb"], v)
            time.sleep(0.5)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    rc = proc.wait()
    t.join()
    log.close()
    wall = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"snakemake failed in {root} (exit {rc}); see {root / 'snakemake.log'}")
    return {"wall_s": round(wall, 1), "snakemake_peak_rss_mb": round(peak["mb"], 1)}


def check_complete(root: Path, n: int) -> dict:
    """accepted + rejected = inputs, and every accepted micrograph has picks and a RELION file."""
    from samcryo_core.manifest import read_manifests

    counts = json.loads((root / "results/ingest/summary.json").read_text())
    rows = read_manifests(sorted((root / "results/tiny/none/picks/chunks").glob("chunk*.tsv")))
    ok = [r for r in rows if r["status"] == "ok"]
    missing = [r["micrograph"] for r in ok
               if not (Path(r["picks"]).is_absolute() and Path(r["picks"]).is_file())
               and not (root / r["picks"]).is_file()]
    stars = list((root / "results/tiny/none/relion").rglob("*_autopick.star"))
    n_picks = sum(int(r["n_picks"]) for r in ok)
    assert counts["inputs"] == n == counts["accepted"] + counts["rejected"], counts
    assert len(rows) == n and not missing and len(stars) == len(ok), (len(rows), missing[:5], len(stars))
    return {**counts, "picks_rows": len(rows), "relion_files": len(stars), "n_picks": n_picks}


def summarize_jobs(rss_log: Path) -> dict:
    by: dict[str, list[dict]] = {}
    for line in rss_log.read_text().splitlines():
        rec = json.loads(line)
        by.setdefault(rec["command"], []).append(rec)
    out = {}
    for cmd, recs in sorted(by.items()):
        rss = [r["maxrss_mb"] for r in recs]
        wall = [r["wall_s"] for r in recs]
        out[cmd] = {"jobs": len(recs), "peak_rss_mb_max": round(max(rss), 1),
                    "peak_rss_mb_median": round(statistics.median(rss), 1),
                    "wall_s_median": round(statistics.median(wall), 2),
                    "failed": sum(r["rc"] != 0 for r in recs)}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--chunk-size", type=int, default=100)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/samcryo_load"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/results/load.json")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()

    work = args.workdir
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shim_dir = work / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "samcryo"
    shim.write_text(SHIM.format(python=sys.executable, real=str(BIN / "samcryo")))
    shim.chmod(0o755)

    biggest = max(args.sizes)
    pool = work / "pool"
    sim_s = simulate(pool, biggest)
    print(f"simulated {biggest} micrographs in {sim_s:.0f} s", flush=True)
    mics = sorted((pool / "micrographs").glob("*.mrc"))

    runs = []
    for n in sorted(args.sizes):
        root = work / f"n{n}"
        (root / "micrographs").mkdir(parents=True)
        for p in mics[:n]:
            (root / "micrographs" / p.name).symlink_to(p)
        write_config(root, args.chunk_size)
        rss_log = root / "rss.jsonl"
        rss_log.touch()
        print(f"running {n} micrographs ...", flush=True)
        measured = run_workflow(root, args.cores, shim_dir, rss_log)
        jobs = summarize_jobs(rss_log)
        complete = check_complete(root, n)
        run = {"micrographs": n, "chunks": -(-n // args.chunk_size), **measured,
               "micrographs_per_s": round(n / measured["wall_s"], 2), "jobs": jobs,
               "completeness": complete}
        print(json.dumps(run, indent=1), flush=True)
        runs.append(run)
        if not args.keep:
            shutil.rmtree(root / "results", ignore_errors=True)

    small, large = runs[0], runs[-1]
    growth = {cmd: round(large["jobs"][cmd]["peak_rss_mb_max"] / small["jobs"][cmd]["peak_rss_mb_max"], 3)
              for cmd in large["jobs"] if cmd in small["jobs"]}
    growth["snakemake"] = round(large["snakemake_peak_rss_mb"] / small["snakemake_peak_rss_mb"], 3)
    result = {
        "benchmark": "bench_load",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "load_average_at_end": os.getloadavg()},
        "setup": {"micrograph_shape": [256, 256], "variant": "tiny", "model_input": 128, "prompt": "none",
                  "chunk_size": args.chunk_size, "segment_batch_size": 8, "cores": args.cores,
                  "nice": 10, "simulate_s": round(sim_s, 1),
                  "note": "machine shared with other users: wall times are upper bounds; RSS is not "
                          "affected by sharing"},
        "runs": runs,
        "peak_rss_ratio_largest_to_smallest": growth,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}", flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
