"""``samcryo install-profile`` and the profiles: `snakemake --profile slurm` works as typed.

HOME and XDG_CONFIG_HOME point at a temporary folder, so nothing of the real user is touched.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from workflow_support import REPO, SNAKEFILE, env

from samcryo_core.cli import main
from samcryo_core.cli.install_profile import install, user_profile_dir

BIN = Path(sys.executable).parent


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "snakemake"


def test_profiles_are_valid_yaml_with_the_expected_keys():
    slurm = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert slurm["executor"] == "slurm"
    assert {"mem_mb", "runtime"} <= set(slurm["default-resources"])
    assert {"segment", "train"} <= set(slurm["set-resources"])
    assert slurm["latency-wait"] > 0 and slurm["retries"] >= 1
    # placeholders for the site's partition and account are there, commented out
    text = (REPO / "profiles/slurm/config.yaml").read_text()
    assert "# slurm_partition:" in text and "# slurm_account:" in text
    local = yaml.safe_load((REPO / "profiles/local/config.yaml").read_text())
    assert "executor" not in local and local["cores"] == "all"


def test_user_profile_dir_follows_xdg_config_home(home):
    assert user_profile_dir() == home


def test_install_copies_then_is_idempotent_then_refuses_a_different_profile(home, capsys):
    assert main(["install-profile"]) == 0
    assert (home / "slurm/config.yaml").read_text() == (REPO / "profiles/slurm/config.yaml").read_text()
    assert (home / "local/config.yaml").is_file()
    assert "installed profile 'slurm'" in capsys.readouterr().out

    assert main(["install-profile"]) == 0
    assert "already up to date" in capsys.readouterr().out

    mine = "executor: slurm\njobs: 3\n"
    (home / "slurm/config.yaml").write_text(mine)
    assert main(["install-profile", "--name", "slurm"]) == 1
    assert "--force" in capsys.readouterr().err
    assert (home / "slurm/config.yaml").read_text() == mine  # untouched

    assert main(["install-profile", "--name", "slurm", "--keep-existing"]) == 0
    assert (home / "slurm/config.yaml").read_text() == mine

    assert main(["install-profile", "--name", "slurm", "--force"]) == 0
    assert (home / "slurm/config.yaml").read_text() == (REPO / "profiles/slurm/config.yaml").read_text()
    assert not [p for p in home.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_install_rejects_a_source_without_profile(tmp_path):
    from samcryo_core.errors import InputError

    with pytest.raises(InputError):
        install("slurm", tmp_path, tmp_path / "dest")


@pytest.mark.slow
def test_snakemake_profile_slurm_resolves_after_install(home, tmp_path):
    subprocess.run([str(BIN / "samcryo"), "install-profile"], check=True, env={**env(), **{
        "HOME": os.environ["HOME"], "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]}}, timeout=60)
    work = tmp_path / "work"
    for sub in ("pick/micrographs", "pick/truth", "train/micrographs", "train/truth"):
        (work / "demo_data" / sub).mkdir(parents=True)
    for i in range(3):
        (work / "demo_data/pick/micrographs" / f"m{i}.mrc").touch()
        (work / "demo_data/train/micrographs" / f"t{i}.mrc").touch()
    proc = subprocess.run(
        [str(BIN / "snakemake"), "-s", str(SNAKEFILE), "-d", str(work), "--configfile",
         str(REPO / "config" / "demo.yaml"), "--profile", "slurm", "-n"],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env={**env(), "HOME": os.environ["HOME"], "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"]},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Using profile slurm" in proc.stdout + proc.stderr
    # per job: the GPU rules carry gpu=1, the CPU rules none
    blocks = re.findall(r"rule (\w+):\n(.*?)\n\n", proc.stdout + "\n\n", flags=re.S)
    seen = {}
    for rule, body in blocks:
        res = re.search(r"resources: (.*)", body)
        if res:
            seen[rule] = "gpu=1" in res.group(1)
    assert seen["segment"] and seen["train"]
    assert not seen["ingest"] and not seen["normalize"] and not seen["extract"] and not seen["export"]
