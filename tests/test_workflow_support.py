"""Helpers shared by the workflow, profile and SLURM tests, plus unit tests of the chunking.

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

import pytest

from samcryo_core.errors import ConfigError
from samcryo_core.workflow.chunks import chunk_id, split_into_chunks

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


# ---- unit tests of the chunking -------------------------------------------------------------

def test_chunks_are_consecutive_and_cover_everything():
    items = [f"m{i:03d}" for i in range(10)]
    chunks = split_into_chunks(items, 4)
    assert list(chunks) == ["chunk0000", "chunk0001", "chunk0002"]
    assert [len(v) for v in chunks.values()] == [4, 4, 2]
    assert sum(chunks.values(), []) == items


def test_chunk_ids_widen_for_large_datasets_and_sort_like_indices():
    ids = [chunk_id(i, 12000) for i in (0, 9, 10, 11999)]
    assert ids == ["chunk00000", "chunk00009", "chunk00010", "chunk11999"]
    assert ids == sorted(ids)


def test_empty_list_gives_no_chunks_and_bad_size_names_the_key():
    assert split_into_chunks([], 5) == {}
    with pytest.raises(ConfigError) as exc:
        split_into_chunks(["a"], 0)
    assert exc.value.key == "chunk_size"


def test_job_counts_parses_the_job_stats_table():
    text = ("Job stats:\njob          count\n---------  -------\ningest           2\n"
            "normalize        2\ntotal            4\n\nReasons:\n")
    assert job_counts(text) == {"ingest": 2, "normalize": 2}


# ---- unit tests of the stale-output invalidation used by the segment rule ---------------------
