"""A rerun after a config change never keeps stale per-micrograph results.

Chunk jobs skip micrographs whose outputs already exist, so that a rerun after a crash redoes only
what is missing (tests/test_reliability_interrupt.py). The other reason Snakemake reruns a chunk
job is a changed option or input -- and then existing outputs were made with the *old* settings
and must not be kept. These tests change an option after a finished run and compare the new
results with a fresh computation under the new option.
"""

from __future__ import annotations

import shutil

import pytest
from reliability_helpers import samcryo, simulate, snakemake, targets, write_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def log_run(tmp_path_factory):
    """A finished LoG-picker run (no model) on 4 simulated micrographs, chunks of 2."""
    root = tmp_path_factory.mktemp("rerun")
    mics = simulate(root / "sim", 4, seed=71, prefix="mic", particles=14)
    (root / "data" / "micrographs").mkdir(parents=True)
    for p in mics:
        shutil.copy(p, root / "data" / "micrographs" / p.name)
    write_config(root, prompt="log", chunk_size=2, pick_log={"threshold_sd": 2.0})
    proc = snakemake(root, "--cores", "2", *_targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return root


def _targets() -> list[str]:
    return [t.replace("results/tiny/none", "results/classical/log") for t in targets()]


def _picks(root) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((root / "results/classical/log/picks").glob("*.csv"))}


def test_changed_picking_option_recomputes_every_micrograph(log_run, tmp_path):
    before = _picks(log_run)
    assert sum(len(t.splitlines()) - 1 for t in before.values()) > 0  # there is something to change
    write_config(log_run, prompt="log", chunk_size=2, pick_log={"threshold_sd": 4.0})
    proc = snakemake(log_run, "--cores", "2", *_targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    after = _picks(log_run)

    # a fresh computation with the new option, from the same normalized images
    fresh = tmp_path / "fresh"
    for chunk in sorted((log_run / "results/normalized/s128/chunks").glob("*.tsv")):
        proc = samcryo("pick-log", "--manifest", chunk, "--out-dir", fresh, "--out",
                       fresh / "chunks" / chunk.name, "--diameter-A", "160", "--threshold-sd", "4.0",
                       "--diameter-range-fraction", "0.8", "1.2", "--n-scales", "5",
                       "--edge-margin-px", "0", "--min-distance-fraction", "0.5", cwd=log_run)
        assert proc.returncode == 0, proc.stderr[-3000:]
    expected = {p.name: p.read_text() for p in sorted(fresh.glob("*.csv"))}
    assert after == expected
    assert after != before
