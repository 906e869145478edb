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
from test_workflow_support import REPO

pytestmark = pytest.mark.slow


def _copy_repo(dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in ("Snakefile", "rules", "schemas", "config.yaml", "config", "scripts", "report", "envs"):
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
    assert "[train] epoch 1/" in out and "[train] best val Dice" in out  # training's, while it runs
    assert "results/tiny/head/relion/autopick.star" in out
    assert "F1 " in out and "precision" in out
    # the comparison table: the configured prompt, then the other prompt types asked for
    table = out[out.index("Against the simulator's truth"):].splitlines()
    assert table[2].split()[0] == "head" and "config.yaml's prompt" in table[2]
    assert table[3].split()[0] == "none"
    assert (repo / "results/tiny/none/evaluation/overall.json").is_file()
    assert (repo / "demo_data/pick/micrographs/pick_0000.mrc").is_file()
    assert (repo / "results/tiny/head/evaluation/overall.json").is_file()

    second = _run(repo)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "reusing demo_data/" in second.stdout
    assert "Nothing to be done" in second.stdout + second.stderr
