"""End to end on a tiny simulated dataset: real rules, real ``samcryo`` commands, 2 chunks.

One run (module fixture) of ``config/test_tiny.yaml`` (tiny SAM, 1-epoch head prompt) on three
unseen micrographs plus one corrupt file; then what users rely on: the corrupt file is rejected
with a reason and everything else goes through, a rerun has nothing to do, and switching the
prompt reruns only what depends on the prompt.
"""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest
import starfile
from workflow_support import TEST_CONFIG, job_counts, make_dataset, snakemake

pytestmark = pytest.mark.slow

GOOD = ["pick_0000", "pick_0001", "pick_0002"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = make_dataset(tmp_path_factory.mktemp("wf"))
    proc = snakemake(root, "--cores", "2", timeout=900)
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-5000:])
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_bad_micrograph_is_rejected_with_a_reason_and_the_rest_goes_through(run_dir):
    rejected = pd.read_csv(run_dir / "results/ingest/rejected.tsv", sep="\t")
    assert list(rejected["micrograph"]) == ["broken"]
    assert "not an MRC" in rejected["reason"].iloc[0]
    counts = json.loads((run_dir / "results/ingest/summary.json").read_text())
    assert counts == {"inputs": 4, "accepted": 3, "rejected": 1}
    # one manifest per chunk and stage; rows are never dropped
    for stage in ("results/ingest/chunks", "results/normalized/p20/chunks",
                  "results/tiny/head/probability/chunks", "results/tiny/head/picks/chunks"):
        rows = pd.concat(pd.read_csv(p, sep="\t") for p in sorted((run_dir / stage).glob("chunk*.tsv")))
        assert sorted(rows["micrograph"]) == ["broken", *GOOD], stage
        assert (rows.set_index("micrograph").loc["broken", "status"]) == "rejected"


def test_per_micrograph_star_files_index_cryosparc_and_box_are_written(run_dir):
    out = run_dir / "results/tiny/head"
    # coords_suffix_autopick.star beside them is RELION 3.1's "Input coordinates" (docs/export.md)
    stars = sorted(p for p in out.glob("relion/**/*_autopick.star")
                   if p.name != "coords_suffix_autopick.star")
    assert sorted(p.name.removesuffix("_autopick.star") for p in stars) == GOOD
    assert (out / "relion/coords_suffix_autopick.star").is_file()
    assert (out / "relion/RELION_OUTPUT_NODES.star").is_file()
    from cryosparc.dataset import Dataset

    n_star = len(starfile.read(out / "cryosparc/particles.star"))
    assert len(Dataset.load(str(out / "cryosparc/particles.cs"))) == n_star
    for p in stars:
        df = starfile.read(p)
        assert {"rlnCoordinateX", "rlnCoordinateY"} <= set(df.columns) if len(df) else True
    index = starfile.read(out / "relion/autopick.star", always_dict=True)
    table = next(iter(index.values()))
    assert len(table) == 3 and "rlnMicrographCoordinates" in table.columns
    assert (out / "cryosparc/particles.star").is_file()
    assert sorted(p.stem for p in (out / "box").glob("*.box")) == GOOD
    picks = pd.read_csv(out / "picks/pick_0000.csv")
    assert {"x", "y", "fom", "diameter_px"} <= set(picks.columns)
    assert (out / "prompt.pt").is_file() and (out / "qc/summary.md").is_file()
    ev = json.loads((out / "evaluation/overall.json").read_text())
    assert ev["n_micrographs"] == 3
    # every job wrote its own log
    assert (run_dir / "logs/ingest/chunk0000.log").is_file()
    assert (run_dir / "logs/tiny/head/segment/chunk0001.log").is_file()


def test_rerun_has_nothing_to_do(run_dir):
    proc = snakemake(run_dir, "-n", timeout=180)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_switching_prompt_reruns_only_what_depends_on_it(run_dir):
    proc = snakemake(run_dir, "-n", "--config", "prompt=prefix", timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert "ingest" not in counts and "normalize" not in counts and "ingest_rejections" not in counts
    assert counts["train"] == 1 and counts["segment"] == 2 and counts["extract"] == 2
    assert counts["export"] == 1 and counts["evaluate"] == 1 and counts["report"] == 1
    assert "results/tiny/prefix/relion/autopick.star" in proc.stdout
    # the head results stay where they are
    assert (run_dir / "results/tiny/head/relion/autopick.star").is_file()


def test_rethresholding_reruns_only_export_evaluation_and_report(run_dir):
    """The picks CSVs keep every candidate: a new threshold never reruns segment or extract."""
    overlay = run_dir / "threshold.yaml"
    overlay.write_text("export:\n  threshold: 0.3\n")
    proc = snakemake(run_dir, "-n", "--configfile", str(TEST_CONFIG), str(overlay), config=None,
                     timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert set(counts) == {"export", "evaluate", "report", "all"}, counts


def test_changing_a_picking_option_keeps_the_model_outputs(run_dir):
    overlay = run_dir / "circularity.yaml"
    overlay.write_text("extract:\n  min_circularity: 0.6\n")
    proc = snakemake(run_dir, "-n", "--configfile", str(TEST_CONFIG), str(overlay), config=None,
                     timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert "segment" not in counts and "train" not in counts and "normalize" not in counts
    assert counts["extract"] == 2 and counts["export"] == 1


def test_retrained_prompt_makes_segment_redo_its_maps(run_dir):
    out = run_dir / "results/tiny/head"
    prompt = out / "prompt.pt"
    maps = sorted((out / "probability").glob("pick_*.mrc"))
    assert len(maps) == 3
    before = {m.name: m.stat().st_mtime_ns for m in maps}
    # A touched prompt with the same content: the segment jobs run, and keep every map (stamps).
    os.utime(prompt)
    proc = snakemake(run_dir, "--cores", "2", timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["segment"] == 2 and "train" not in counts and "normalize" not in counts
    assert {m.name: m.stat().st_mtime_ns for m in maps} == before
    assert "0 segmented" in (run_dir / "logs/tiny/head/segment/chunk0001.log").read_text()
    # A retrained prompt (another seed): every map is made again with it.
    overlay = run_dir / "seed.yaml"
    overlay.write_text("train:\n  seed: 5\n")
    proc = snakemake(run_dir, "--cores", "2", "--configfile", str(TEST_CONFIG), str(overlay), config=None,
                     timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    counts = job_counts(proc.stdout + proc.stderr)
    assert counts["train"] == 1 and counts["segment"] == 2 and "normalize" not in counts
    assert all(m.stat().st_mtime_ns != before[m.name] for m in maps), "stale probability maps were reused"
