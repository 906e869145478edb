"""Live collection: files that change after the pipeline saw them, and micrographs that keep arriving.

During on-the-fly processing a movie sum is often still being written when the pipeline first
lists it (it is rejected as truncated), a sum is sometimes redone and replaced, and new
micrographs arrive between runs. Issue 17, bug 1: the truncated one stayed rejected ("Nothing to
be done") and a replaced one kept its old picks. Every stage must notice the changed file (its
size and modification time: ``samcryo_core.stamps``), redo that micrograph and what depends on it,
and leave the others alone; and new micrographs must not reshuffle the chunks of the others.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from reliability_helpers import (
    picks_contents,
    prompt_dir,
    simulate,
    snakemake,
    star_contents,
    targets,
    write_config,
)
from workflow_support import job_counts

from samcryo_core.manifest import read_manifest

pytestmark = pytest.mark.slow


def _mtimes(folder: Path, names: list[str]) -> dict[str, int]:
    return {n: (folder / f"{n}.mrc").stat().st_mtime_ns for n in names}


def _newer(path: Path) -> None:
    """Move the modification time on (file systems with coarse clocks could keep it equal)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


def test_completed_and_replaced_micrographs_are_redone_and_the_rest_is_kept(tmp_path):
    sim = simulate(tmp_path / "sim", 4, seed=81, prefix="mic")
    other = simulate(tmp_path / "other", 1, seed=82, prefix="mic")[0]  # a different exposure
    root = tmp_path / "run"
    data = root / "data" / "micrographs"
    data.mkdir(parents=True)
    for p in sim[:3]:
        shutil.copy2(p, data / p.name)
    late = data / sim[3].name
    late.write_bytes(sim[3].read_bytes()[:5000])  # the copy is still running
    write_config(root, chunk_size=2)

    proc = snakemake(root, "--cores", "2", *targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rejected = read_manifest(root / "results/ingest/rejected.tsv")
    assert [r["micrograph"] for r in rejected] == ["mic_0003"] and "truncated" in rejected[0]["reason"]
    assert sorted(picks_contents(root)) == ["mic_0000.csv", "mic_0001.csv", "mic_0002.csv"]
    norm, prob = root / "results/normalized/p20", root / prompt_dir() / "probability"
    kept = ["mic_0000", "mic_0002"]
    before = (_mtimes(norm, kept), _mtimes(prob, kept))

    # the copy completes: the rerun must pick it (the rejection reason is no longer true)
    late.write_bytes(sim[3].read_bytes())
    _newer(late)
    # and mic_0001 is replaced by another exposure (its old picks would be stale)
    shutil.copyfile(other, data / "mic_0001.mrc")
    _newer(data / "mic_0001.mrc")
    proc = snakemake(root, "--cores", "2", *targets())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Nothing to be done" not in out
    assert read_manifest(root / "results/ingest/rejected.tsv") == []
    assert sorted(picks_contents(root)) == [f"mic_{i:04d}.csv" for i in range(4)]
    # the unchanged micrographs were not normalized or segmented again
    assert (_mtimes(norm, kept), _mtimes(prob, kept)) == before

    # what a clean run on the same files gives, byte for byte
    clean = tmp_path / "clean"
    (clean / "data").mkdir(parents=True)
    shutil.copytree(data, clean / "data" / "micrographs")
    write_config(clean, chunk_size=2)
    proc = snakemake(clean, "--cores", "2", *targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert picks_contents(root) == picks_contents(clean)
    assert star_contents(root) == star_contents(clean)

    # nothing changed since: nothing to do
    proc = snakemake(root, "--cores", "2", *targets())
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr


def test_arriving_micrographs_do_not_reshuffle_the_chunks(tmp_path):
    """Six micrographs in chunks of 2, then two new ones whose names sort before all others: only
    the new chunk's jobs run; with sorted consecutive chunks every chunk would have shifted."""
    root = tmp_path / "run"
    data = root / "data" / "micrographs"
    data.mkdir(parents=True)
    for i in range(6):
        (data / f"mic_{i:03d}.mrc").touch()  # listing never opens a micrograph; ingest rejects these
    write_config(root, chunk_size=2, prompt="log")
    ingest = [f"results/ingest/chunks/chunk{i:04d}.tsv" for i in range(3)]
    proc = snakemake(root, "--cores", "1", *ingest)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    membership = root / "results/ingest/chunk_membership.json"
    recorded = membership.read_text()

    for name in ("aaa_000.mrc", "aaa_001.mrc"):
        (data / name).touch()
    dry = snakemake(root, "-n", "-p", *ingest, "results/ingest/chunks/chunk0003.tsv")
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert job_counts(dry.stdout) == {"ingest": 1}  # only the new chunk
    assert "aaa_000.mrc" in dry.stdout and "chunk0003" in dry.stdout
    assert membership.read_text() == recorded  # a dry run records nothing


def test_export_folders_follow_removed_and_newly_rejected_micrographs(tmp_path):
    """Bug 3: after one micrograph leaves the inputs and another is found bad, the RELION, .box
    and picks folders hold exactly the accepted micrographs' files (an import of the folder gets
    no stale picks). Bug 6: the .box file of ``mic_ñ.mrc`` is ``mic_ñ.box``."""
    sim = simulate(tmp_path / "sim", 4, seed=83, prefix="mic")
    root = tmp_path / "run"
    data = root / "data" / "micrographs"
    data.mkdir(parents=True)
    names = ["mic_0000", "mic_0001", "mic_0002", "mic_ñ"]
    for p, name in zip(sim, names, strict=True):
        shutil.copy2(p, data / f"{name}.mrc")
    write_config(root, chunk_size=2, prompt="log")
    d = root / "results/classical/log"
    run_targets = [t.replace("results/tiny/none", "results/classical/log") for t in targets()]

    def exported() -> tuple[list[str], list[str], list[str]]:
        relion = sorted(p.name for p in (d / "relion").rglob("*_autopick.star")  # not the job's own file
                        if not p.name.startswith(".") and p.name != "coords_suffix_autopick.star")
        boxes = sorted(p.name for p in (d / "box").glob("*.box"))
        picks = sorted(p.name for p in (d / "picks").glob("*.csv"))
        return relion, boxes, picks

    proc = snakemake(root, "--cores", "2", *run_targets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert exported() == ([f"{n}_autopick.star" for n in names], [f"{n}.box" for n in names],
                          ["mic_0000.csv", "mic_0001.csv", "mic_0002.csv", "mic__.csv"])

    (data / "mic_0001.mrc").unlink()  # left the inputs
    bad = data / "mic_0002.mrc"
    bad.write_bytes(bad.read_bytes()[:4000])  # now truncated: rejected
    _newer(bad)
    proc = snakemake(root, "--cores", "2", *run_targets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert exported() == (["mic_0000_autopick.star", "mic_ñ_autopick.star"], ["mic_0000.box", "mic_ñ.box"],
                          ["mic_0000.csv", "mic__.csv"])
    index = (d / "relion/autopick.star").read_text()
    assert "mic_0001" not in index and "mic_0002" not in index
