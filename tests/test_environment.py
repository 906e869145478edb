"""The software description is one set of pins: envs/*.yaml must agree with envs/pins.txt."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "envs" / "pins.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            out[name.lower()] = version
    return out


def yaml_pip_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert pip_sections, f"{path.name} has no pip section"
    out = {}
    for spec in pip_sections[0]:
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s]+)", spec)
        assert m, f"{path.name}: '{spec}' is not pinned exactly"
        out[m.group(1).lower()] = m.group(2)
    return out


@pytest.mark.parametrize("env_file", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_yaml_parses_and_matches_pins(env_file):
    p = pins()
    declared = yaml_pip_pins(env_file)
    assert declared
    for name, version in declared.items():
        assert p.get(name) == version, f"{env_file.name}: {name}=={version} but pins.txt has {p.get(name)}"


def test_core_packages_are_pinned():
    p = pins()
    for name in ["torch", "torchvision", "segment-anything", "snakemake", "snakemake-executor-plugin-slurm",
                 "mrcfile", "starfile", "numpy", "scipy", "scikit-image"]:
        assert name in p, f"{name} missing from envs/pins.txt"


def test_installed_versions_are_the_pins():
    """The environment the tests run in is the verified one (set up by scripts/setup.sh)."""
    p = pins()
    for name in ["torch", "torchvision", "segment-anything", "snakemake", "mrcfile", "starfile", "numpy"]:
        installed = metadata.version(name)
        pinned = p[name]
        assert installed.split("+")[0] == pinned.split("+")[0], f"{name}: {installed} != pin {pinned}"
