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
from reliability_helpers import FEW_STEPS, samcryo, simulate, snakemake, targets, write_config

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
    for chunk in sorted((log_run / "results/normalized/p20/chunks").glob("*.tsv")):
        proc = samcryo("pick-log", "--manifest", chunk, "--out-dir", fresh, "--out",
                       fresh / "chunks" / chunk.name, "--diameter-A", "160", "--threshold-sd", "4.0",
                       "--diameter-range-fraction", "0.8", "1.2", "--n-scales", "5",
                       "--edge-margin-px", "0", "--min-distance-fraction", "0.5", cwd=log_run)
        assert proc.returncode == 0, proc.stderr[-3000:]
    expected = {p.name: p.read_text() for p in sorted(fresh.glob("*.csv"))}
    assert after == expected
    assert after != before


def test_new_prompt_file_recomputes_probability_maps(tmp_path):
    """Switching ``prompt_file`` to another trained prompt makes Snakemake rerun segment; the maps
    already on disk come from the old prompt and must be recomputed with the new one (the segment
    stage compares each map's stamp, which holds the prompt file's content hash:
    ``samcryo_core.stamps``)."""
    import mrcfile
    import numpy as np

    root = tmp_path / "run"
    lab = simulate(root / "train", 2, seed=73, prefix="lab")
    mics = simulate(root / "sim", 2, seed=74, prefix="mic")
    (root / "data" / "micrographs").mkdir(parents=True)
    for p in mics:
        shutil.copy(p, root / "data" / "micrographs" / p.name)
    for name, lr in (("a", "5e-5"), ("b", "1e-2")):  # two prompts on the same (seed 0) base
        proc = samcryo("train", "--prompt", "head", "--variant", "tiny", *FEW_STEPS, "--lr", lr,
                       "--threads", "1", "--images", *lab, "--labels-dir", root / "train/truth",
                       "--out", root / f"prompt_{name}.pt")
        assert proc.returncode == 0, proc.stderr[-3000:]

    def maps(folder) -> dict[str, np.ndarray]:
        out = {}
        for p in mics:
            with mrcfile.open(folder / f"{p.stem}.mrc") as mrc:
                out[p.stem] = np.array(mrc.data)
        return out

    prob = root / "results/tiny/head/probability"
    chunk = "results/tiny/head/probability/chunks/chunk0000.tsv"
    write_config(root, prompt="head", chunk_size=2, prompt_file="prompt_a.pt")
    assert snakemake(root, "--cores", "2", chunk).returncode == 0
    maps_a = maps(prob)
    write_config(root, prompt="head", chunk_size=2, prompt_file="prompt_b.pt")
    proc = snakemake(root, "--cores", "2", chunk)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "rule segment" in proc.stdout + proc.stderr  # Snakemake did rerun segment

    # A fresh computation with the new prompt and otherwise the rule's arguments: the same batch
    # size and the same torch thread count (the rule's `threads: 2`). CPU kernels (oneDNN) choose
    # their blocking by thread count, so 1 and 2 threads may differ in the last float32 bits,
    # i.e. one float16 step (2.4e-4) of a stored map; that is another computation, not a stale map.
    fresh = tmp_path / "fresh"
    proc = samcryo("segment", "--manifest", "results/normalized/p20/chunks/chunk0000.tsv",
                   "--out-dir", fresh, "--out", fresh / "m.tsv", "--variant", "tiny", "--seed", "0",
                   "--prompt-file", "prompt_b.pt", "--batch-size", "1", "--threads", "2",
                   "--device", "cpu", cwd=root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    maps_b = maps(fresh)
    assert any(not np.array_equal(maps_a[k], maps_b[k]) for k in maps_a)  # the prompts differ
    rerun = maps(prob)
    for k in rerun:
        np.testing.assert_array_equal(rerun[k], maps_b[k])
