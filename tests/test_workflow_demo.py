"""``scripts/run_demo.sh`` (what ``make demo`` runs) in a copy of the repository, with the tiny
test config so it takes about a minute: simulates data, runs the workflow, prints where the results
are and the F1 against the truth; a second run reuses the data and has nothing to compute."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from workflow_support import REPO

pytestmark = pytest.mark.slow


def _copy_repo(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in ("Snakefile", "rules", "config", "scripts", "report", "envs"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name)
        elif src.is_file():
            shutil.copy2(src, dst / name)
    venv = Path(sys.executable).parent.parent
    (dst / ".venv").symlink_to(venv)
    return dst


def _run(repo: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEMO_CONFIG": "config/test_tiny.yaml", "DEMO_TRAIN": "2", "DEMO_PICK": "2",
           "SAMCRYO_VENV": ".venv", "OMP_NUM_THREADS": "1", "DEMO_COMPARE": "none"}
    return subprocess.run(["bash", str(repo / "scripts/run_demo.sh")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=1200)


def test_demo_script_simulates_runs_and_reports_f1(tmp_path):
    repo = _copy_repo(tmp_path / "repo")
    first = _run(repo)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    out = first.stdout + first.stderr
    assert "simulating 2 labelled and 2 unseen micrographs" in out
    assert "steps (100%) done" in out                     # Snakemake's progress lines
    assert "[train] step " in out and "[train] best val Dice" in out  # training's, while it runs
    assert "results/tiny/head/relion/autopick.star" in out
    assert "F1 " in out and "precision" in out
    # the comparison table: the configured prompt, then the other prompt types asked for
    table = out[out.index("Against the simulator's truth"):].splitlines()
    assert table[2].split()[0] == "head" and "the config's prompt" in table[2]
    assert table[3].split()[0] == "none"
    assert (repo / "results/tiny/none/evaluation/overall.json").is_file()
    assert (repo / "demo_data/pick/micrographs/pick_0000.mrc").is_file()
    assert (repo / "results/tiny/head/evaluation/overall.json").is_file()

    second = _run(repo)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "reusing demo_data/" in second.stdout
    assert "Nothing to be done" in second.stdout + second.stderr


def test_the_real_demo_picks_the_unseen_micrographs_with_f1_above_0_8(tmp_path):
    """`make demo` as shipped (config/demo.yaml, the shipped backbone, SNR 0.2, three proteins), the
    configured prompt only: the F1 docs/demo.md reports (0.926) must not silently regress. The
    issue's target is 0.8; the margin allows for floating-point differences between machines."""
    import json

    repo = _copy_repo(tmp_path / "repo")
    env = {**os.environ, "SAMCRYO_VENV": ".venv", "DEMO_COMPARE": ""}
    proc = subprocess.run(["bash", str(repo / "scripts/run_demo.sh")], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "SNR 0.2, particles 130 160 190 A" in proc.stdout
    micro = json.loads((repo / "results/cpu_small/head/evaluation/overall.json").read_text())["micro"]
    assert micro["tp"] + micro["fn"] == 800
    assert micro["f1"] >= 0.85, micro
    assert micro["precision"] >= 0.85 and micro["recall"] >= 0.8, micro
