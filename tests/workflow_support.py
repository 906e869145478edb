"""Helpers shared by the workflow, profile and SLURM tests (a library, not a test module).

The helpers build a small simulated dataset (``samcryo simulate``: a few labelled micrographs and
a few unseen ones with truth, plus one corrupt file) and run Snakemake on it in a temporary
folder, so the tests exercise the real rules and the real ``samcryo`` commands.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
TEST_CONFIG = REPO / "config" / "test_tiny.yaml"
BIN = Path(sys.executable).parent


def env() -> dict:
    """Environment of a Snakemake run: the venv's ``samcryo`` and ``snakemake`` first on PATH."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("OMP_NUM_THREADS", "1")
    return e


def simulate(out: Path, n: int, seed: int, prefix: str) -> None:
    """Small micrographs (256 x 256 px, 4 A/px, 160 A particles) with truth, fixed seed."""
    subprocess.run(
        [str(BIN / "samcryo"), "simulate", "--out-dir", str(out), "--n", str(n), "--seed", str(seed),
         "--prefix", prefix, "--shape", "256", "256", "--particles-per-micrograph", "12"],
        check=True, capture_output=True, text=True, timeout=300, env=env(),
    )


def make_dataset(root: Path, n_train: int = 3, n_pick: int = 3, broken: bool = True) -> Path:
    """``root/demo_data/{train,pick}`` as config/test_tiny.yaml expects; one corrupt MRC if asked."""
    simulate(root / "demo_data" / "train", n_train, seed=11, prefix="train")
    simulate(root / "demo_data" / "pick", n_pick, seed=22, prefix="pick")
    if broken:
        # sorts first ('broken' < 'pick_...'), so chunk0000 holds a bad and a good micrograph
        (root / "demo_data" / "pick" / "micrographs" / "broken.mrc").write_bytes(b"not an MRC" * 100)
    return root


def snakemake(workdir: Path, *args: str, config: Path | None = TEST_CONFIG, timeout: int = 600,
              check: bool = False) -> subprocess.CompletedProcess:
    """Run ``snakemake -s <repo>/Snakefile -d workdir [--configfile config] args...``."""
    cmd = [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "-d", str(workdir)]
    if config is not None:
        cmd += ["--configfile", str(config)]
    proc = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout, env=env())
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                             f"{proc.stderr[-4000:]}")
    return proc


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake run or dry-run as {rule: count} (without 'total')."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == "Job stats:")
    except StopIteration:
        return counts
    for line in lines[start + 3:]:
        m = re.fullmatch(r"\s*(\S+)\s+(\d+)\s*", line)
        if not m:
            break
        if m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts
