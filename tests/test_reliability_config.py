"""Config mistakes stop the workflow at start-up (``snakemake -n``), naming the key, before any job.

The checks themselves are unit-tested in tests/test_workflow_config.py (schema and
``check_config`` in-process; one mistyped top-level key through Snakemake). Here every class of
mistake goes through Snakemake itself, because what matters to a facility is that the message
reaches the terminal in the first seconds and that nothing was started: no ``results/``, no job
logs.
"""

from __future__ import annotations

import pytest
from reliability_helpers import inject_bad_micrographs, snakemake, targets, write_config

CASES = [
    # (name, config sections, the key named, words of the message)
    ("unknown prompt type", {"prompt": "heads"}, "prompt", "is not one of"),
    ("missing checkpoint file", {"model": {"variant": "tiny", "checkpoint": "ckpt/sam_tiny.pth"}},
     "model.checkpoint", "checkpoint file 'ckpt/sam_tiny.pth' does not exist"),
    ("negative diameter", {"particle": {"diameter_A": -160}}, "particle.diameter_A",
     "less than or equal to the minimum of 0"),
    ("mistyped nested key", {"extract": {"treshold": 0.4}}, "extract.treshold",
     "unknown key (mistyped?)"),
    ("mistyped top-level key", {"chunksize": 4}, "chunksize", "unknown key (mistyped?)"),
    ("missing prompt file", {"prompt": "head", "prompt_file": "prompts/head.pt"}, "prompt_file",
     "prompt file 'prompts/head.pt' does not exist"),
    ("wrong type", {"segment": {"batch_size": "two"}}, "segment.batch_size", "is not of type"),
    ("threshold out of range", {"export": {"threshold": 1.5}}, "export.threshold",
     "greater than the maximum of 1"),
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A folder of micrographs (bad ones are fine: a dry run never opens them)."""
    root = tmp_path_factory.mktemp("cfg")
    inject_bad_micrographs(root / "data" / "micrographs")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name, sections, key, words", CASES, ids=[c[0] for c in CASES])
def test_config_mistake_stops_dry_run_naming_the_key(dataset, tmp_path, name, sections, key, words):
    cfg = write_config(dataset, **sections)
    bad = tmp_path / "config.yaml"
    bad.write_text(cfg.read_text())
    proc = snakemake(dataset, "-n", *targets(), config=bad, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    line = next((ln for ln in out.splitlines() if f"config key '{key}'" in ln), None)
    assert line is not None, out[-3000:]
    assert words in line and "Fix: " in line, line
    assert "Traceback" not in out or "ConfigError" in out
    # nothing ran: no job was scheduled, no result or log written
    assert "Job stats" not in out
    assert not (dataset / "results").exists() and not (dataset / "logs").exists()


@pytest.mark.slow
def test_the_same_folder_with_a_good_config_dry_runs(dataset, tmp_path):
    """Control: the dataset and the base config are fine, so the failures above are the key's."""
    cfg = write_config(dataset)
    proc = snakemake(dataset, "-n", *targets(), config=cfg, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert "Job stats" in proc.stdout
