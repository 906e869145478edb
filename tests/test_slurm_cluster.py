"""The workflow on a real SLURM cluster: a single node on 127.0.0.1 with one fake GPU.

``scripts/local_slurm.sh`` installs (Debian packages) and starts munged, slurmctld and slurmd;
the tiny test workflow (2 chunks) then runs through ``profiles/slurm`` with a test overlay that
only adapts it to this cluster (partition, no account, squeue status checks, small memory, short
waits). Checked: every job ran as a SLURM job, the GPU rules (train, segment) asked SLURM for a GPU
and the CPU rules did not (from ``scontrol show job``: SLURM keeps finished jobs for MinJobAge),
and the picks equal those of a local ``--cores 2`` run. Every daemon the script started is stopped
again, whatever happens.

Skips (with the reason) only when not root or when SLURM is missing and cannot be installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from test_workflow_support import REPO, make_dataset, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPT = REPO / "scripts" / "local_slurm.sh"
GPU_RULES = {"train", "segment"}


def _sh(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "SLURM_CPUS": "8", "SLURM_FAKE_GPUS": "1"})


@pytest.fixture(scope="module")
def cluster():
    if os.geteuid() != 0:
        pytest.skip("needs root: scripts/local_slurm.sh installs packages and starts slurmctld/slurmd")
    have = all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "munged"))
    if not have and not shutil.which("apt-get"):
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    inst = _sh("install", timeout=900)
    if inst.returncode != 0:
        pytest.skip(f"could not install SLURM with apt-get: {inst.stderr[-500:]}")
    try:
        up = _sh("start", timeout=180)
        assert up.returncode == 0, f"local_slurm.sh start failed:\n{up.stdout}\n{up.stderr}"
        yield
    finally:
        stop = _sh("stop", timeout=120)
        assert stop.returncode == 0, stop.stderr


def _test_profile(folder: Path) -> Path:
    """profiles/slurm/config.yaml, adapted to the local cluster the way a site would adapt it."""
    prof = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    prof.update({
        "jobs": 8,
        "latency-wait": 5,
        "retries": 0,
        "slurm-status-command": "squeue",        # no accounting here (sacct is disabled)
        "slurm-no-account": True,
        "slurm-init-seconds-before-status-checks": 5,
    })
    prof["default-resources"] = {**prof["default-resources"], "slurm_partition": "debug", "mem_mb": 500}
    for res in prof["set-resources"].values():
        res["mem_mb"] = 1000
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(prof))
    return folder


def _jobs() -> list[dict]:
    """All jobs slurmctld still knows (finished ones included, MinJobAge=600) as dicts."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in out.splitlines() if "JobId=" in line]


def _rule(job: dict) -> str:
    # the plugin puts 'rule_<name>[_wildcards_...]' into the job comment
    return re.sub(r"_wildcards_.*$", "", job.get("Comment", "")).removeprefix("rule_")


def _picks(root: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p) for p in sorted((root / "results/tiny/head/picks").glob("*.csv"))}


def test_workflow_runs_on_slurm_with_gpus_only_for_gpu_rules(cluster, tmp_path):
    data = make_dataset(tmp_path / "data")
    local, remote = tmp_path / "local", tmp_path / "slurm"
    for d in (local, remote):
        shutil.copytree(data / "demo_data", d / "demo_data")

    before = {j["JobId"] for j in _jobs()}
    profile = _test_profile(tmp_path / "profile")
    proc = snakemake(remote, "--profile", str(profile), timeout=1500)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]

    jobs = [j for j in _jobs() if j["JobId"] not in before]
    by_rule: dict[str, list[dict]] = {}
    for j in jobs:
        by_rule.setdefault(_rule(j), []).append(j)
    # every computing job went through SLURM (ingest_rejections and all are local rules)
    assert {r: len(v) for r, v in by_rule.items()} == {
        "ingest": 2, "normalize": 2, "train": 1, "segment": 2, "extract": 2,
        "export": 1, "evaluate": 1, "report": 1,
    }
    assert all(j["JobState"] == "COMPLETED" for j in jobs), [(j["JobId"], j["JobState"]) for j in jobs]
    for rule, rule_jobs in by_rule.items():
        for j in rule_jobs:
            asked = "gpu" in (j.get("TresPerJob", "") + j.get("TresPerNode", ""))
            assert asked == (rule in GPU_RULES), f"{rule}: TresPerJob={j.get('TresPerJob')!r}"

    local_proc = snakemake(local, "--cores", "2", timeout=900)
    assert local_proc.returncode == 0, local_proc.stderr[-4000:]
    a, b = _picks(local), _picks(remote)
    assert sorted(a) == sorted(b) == ["pick_0000", "pick_0001", "pick_0002"]
    for name in a:
        assert len(a[name]) == len(b[name]), name
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=False, atol=0.5, rtol=1e-3)
    for index in ("results/tiny/head/relion/autopick.star", "results/ingest/rejected.tsv"):
        assert (local / index).read_text() == (remote / index).read_text()
