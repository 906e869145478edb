"""Bad inputs never stop a run and never vanish: each is rejected with a one-line reason that names
the file and the fix, and every good micrograph still gets its outputs.

Unit tests of each check exist already (tests/test_io_micrograph.py, test_ingest_validate.py,
test_ingest_sources.py, test_training_labels.py); these tests push the faults through the real
Snakefile and the real ``samcryo`` commands, which is what a facility runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import starfile
from reliability_helpers import (
    FEW_STEPS,
    broken_outputs,
    inject_bad_micrographs,
    manifest_rows,
    prompt_dir,
    samcryo,
    simulate,
    snakemake,
    targets,
    temp_files,
    write_config,
)

N_GOOD = 5


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """One workflow run over 5 good simulated micrographs plus 10 injected bad inputs."""
    root = tmp_path_factory.mktemp("badinputs")
    sim = root / "sim"
    good = simulate(sim, N_GOOD, seed=5, prefix="good")
    mics = root / "data" / "micrographs"
    mics.mkdir(parents=True)
    for p in good:
        shutil.copy(p, mics / p.name)
    expect = inject_bad_micrographs(mics)
    write_config(root, chunk_size=4)
    proc = snakemake(root, "--cores", "2", *targets())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    yield root, [p.stem for p in good], expect
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.slow
def test_every_bad_input_is_rejected_with_file_and_fix(bad_run):
    root, _good, expect = bad_run
    rej = pd.read_csv(root / "results/ingest/rejected.tsv", sep="\t", keep_default_na=False)
    assert sorted(rej["micrograph"]) == sorted(expect)
    for _, row in rej.iterrows():
        reason = row["reason"]
        assert expect[row["micrograph"]] in reason, reason
        # one line, naming the file, then what to do
        assert "\n" not in reason and "\t" not in reason
        assert reason.startswith(row["source"]) and f"{row['micrograph']}.mrc" in reason, reason
        assert ". Fix: " in reason, reason


@pytest.mark.slow
def test_accepted_plus_rejected_equals_inputs_at_every_stage(bad_run):
    root, good, expect = bad_run
    inputs = sorted(p.stem for p in (root / "data/micrographs").iterdir())
    assert len(inputs) == N_GOOD + len(expect)
    counts = json.loads((root / "results/ingest/summary.json").read_text())
    assert counts == {"inputs": len(inputs), "accepted": N_GOOD, "rejected": len(expect)}
    d = root / prompt_dir()
    for stage in (root / "results/ingest/chunks", root / "results/normalized/p20/chunks",
                  d / "probability/chunks", d / "picks/chunks"):
        rows = manifest_rows(stage.glob("chunk*.tsv"))
        assert sorted(r["micrograph"] for r in rows) == inputs, stage
        status = {r["micrograph"]: r["status"] for r in rows}
        assert sorted(m for m, s in status.items() if s == "ok") == sorted(good), stage
        assert all(status[m] == "rejected" for m in expect), stage
    summary = pd.read_csv(d / "export_summary.tsv", sep="\t", keep_default_na=False)
    assert sorted(summary["micrograph"]) == inputs
    assert sorted(summary.loc[summary["status"] == "ok", "micrograph"]) == sorted(good)


@pytest.mark.slow
def test_good_micrographs_have_every_output_and_bad_ones_none(bad_run):
    root, good, expect = bad_run
    d = root / prompt_dir()
    for name in good:
        assert (root / f"results/normalized/p20/{name}.mrc").is_file()
        assert (root / f"results/normalized/p20/{name}.json").is_file()
        assert (d / f"probability/{name}.mrc").is_file()
        assert (d / f"picks/{name}.csv").is_file()
        assert (d / f"box/{name}.box").is_file()
        assert (d / f"relion/data/micrographs/{name}_autopick.star").is_file()
    index = starfile.read(d / "relion/autopick.star")
    assert sorted(Path(n).stem for n in index["rlnMicrographName"]) == sorted(good)
    records = root / "results/ingest/micrographs"  # ingest's outcome of each file (redone if it changes)
    for name in expect:
        assert not [p for p in (root / "results").rglob(f"{name}.*") if p.parent != records], name
        assert not list((root / "results").rglob(f"{name}_autopick.star")), name
        assert json.loads((records / f"{name}.json").read_text())["status"] == "rejected"
    assert broken_outputs(root / "results") == []
    assert temp_files(root / "results") == []


def _two_folders_with_same_name(root: Path) -> None:
    for sub in ("a", "b"):
        simulate(root / "sim" / sub, 1, seed=1, prefix="mic")
        dest = root / "data" / sub
        dest.mkdir(parents=True)
        shutil.copy(root / "sim" / sub / "micrographs" / "mic_0000.mrc", dest / "mic_0000.mrc")


@pytest.mark.slow
def test_duplicate_micrograph_names_stop_the_dry_run_listing_them(tmp_path):
    _two_folders_with_same_name(tmp_path)
    write_config(tmp_path, glob="data/*/*.mrc")
    proc = snakemake(tmp_path, "-n", *targets(), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'inputs'" in out
    assert "'mic_0000' <- data/a/mic_0000.mrc, data/b/mic_0000.mrc" in out
    assert "rename the files" in out
    assert not (tmp_path / "results").exists()


def _micrographs_star(path: Path, names: list[str], pixel: object) -> Path:
    starfile.write({
        "optics": pd.DataFrame({"rlnOpticsGroup": [1], "rlnMicrographPixelSize": [pixel]}),
        "micrographs": pd.DataFrame({"rlnMicrographName": names, "rlnOpticsGroup": [1] * len(names)}),
    }, path)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fault, words", [
    ("no_name_column", "has no column rlnMicrographName"),
    ("text_pixel_size", "column rlnMicrographPixelSize holds a non-number ('four')"),
    ("no_pixel_column", "has no column rlnMicrographPixelSize"),
])
def test_bad_micrographs_star_stops_at_start_up_naming_file_and_column(tmp_path, fault, words):
    simulate(tmp_path / "sim", 1, seed=3, prefix="mic")
    star = tmp_path / "corrected_micrographs.star"
    names = ["sim/micrographs/mic_0000.mrc"]
    if fault == "no_name_column":
        starfile.write({"optics": pd.DataFrame({"rlnOpticsGroup": [1], "rlnMicrographPixelSize": [4.0]}),
                        "micrographs": pd.DataFrame({"rlnOpticsGroup": [1]})}, star)
    elif fault == "text_pixel_size":
        _micrographs_star(star, names, "four")
    else:
        starfile.write({"optics": pd.DataFrame({"rlnOpticsGroup": [1]}),
                        "micrographs": pd.DataFrame({"rlnMicrographName": names,
                                                     "rlnOpticsGroup": [1]})}, star)
    write_config(tmp_path, glob=None, inputs={"glob": None, "micrographs_star": str(star)})
    proc = snakemake(tmp_path, "-n", *targets(), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{star}: " in out and words in out, out[-3000:]
    assert "Fix: " in out
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_a_run_whose_every_input_is_rejected_stops_with_the_reasons(tmp_path):
    """Issue 17: a RELION micrographs STAR whose paths do not resolve from the folder snakemake
    runs in rejected every micrograph and the run ended with exit code 0 and empty coordinate
    files. It must stop, name the count and the reason, and point at inputs.project_dir."""
    simulate(tmp_path / "sim", 2, seed=3, prefix="mic")
    star = _micrographs_star(tmp_path / "corrected_micrographs.star",
                             ["MotionCorr/job002/Movies/mic_0000.mrc",
                              "MotionCorr/job002/Movies/mic_0001.mrc"], 4.0)
    write_config(tmp_path, glob=None, inputs={"glob": None, "micrographs_star": str(star)})
    proc = snakemake(tmp_path, "--cores", "1", *targets(), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    log = (tmp_path / "logs/ingest/rejections.log").read_text()
    assert "every one of the 2 input micrographs was rejected" in log, log
    assert "does not exist" in log and "inputs.project_dir" in log
    assert not (tmp_path / prompt_dir() / "relion/autopick.star").exists()


# ---- training labels through `samcryo train` -----------------------------------------------------

@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    root = tmp_path_factory.mktemp("labels")
    simulate(root, 2, seed=9, prefix="lab")
    return root


def _train(root: Path, labels: Path, out: Path):
    images = sorted((root / "micrographs").glob("*.mrc"))
    return samcryo("train", "--prompt", "head", "--variant", "tiny", *FEW_STEPS,
                   "--threads", "1", "--images", *images, "--labels-dir", labels,
                   "--out", out / "prompt.pt", "--log", out / "train_log.csv")


@pytest.mark.slow
def test_labels_outside_the_image_are_dropped_with_a_warning_and_training_goes_on(labelled, tmp_path):
    labels = tmp_path / "labels"
    shutil.copytree(labelled / "truth", labels, ignore=shutil.ignore_patterns("junk", "*.csv"))
    star = labels / "lab_0000.star"
    df = starfile.read(star)
    extra = pd.DataFrame({"rlnCoordinateX": [5000.0, -300.0], "rlnCoordinateY": [10.0, 10.0],
                          "rlnClassNumber": [1, 1], "samcryoDiameterPx": [40.0, 40.0]})
    starfile.write(pd.concat([df, extra], ignore_index=True), star, overwrite=True)
    proc = _train(labelled, labels, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"train: warning: {star}: 2 of {len(df) + 2} particle coordinates lie outside" in proc.stderr
    assert (tmp_path / "prompt.pt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("fault, words", [
    ("empty", "the label file lists no particles"),
    ("all_outside", "no particles inside the micrograph"),
    ("text_coordinate", "column rlnCoordinateX holds 1 non-numeric value(s), e.g. 'left'"),
    ("no_y_column", "no block with rlnCoordinateX and rlnCoordinateY"),
])
def test_unusable_label_file_stops_training_naming_the_file(labelled, tmp_path, fault, words):
    labels = tmp_path / "labels"
    shutil.copytree(labelled / "truth", labels, ignore=shutil.ignore_patterns("junk", "*.csv"))
    star = labels / "lab_0001.star"
    df = starfile.read(star)
    if fault == "empty":
        star.write_text("data_\n\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n_samcryoDiameterPx #3\n")
    elif fault == "all_outside":
        df["rlnCoordinateX"] = df["rlnCoordinateX"] + 10_000
        starfile.write(df, star, overwrite=True)
    elif fault == "text_coordinate":
        df["rlnCoordinateX"] = df["rlnCoordinateX"].astype(object)
        df.loc[0, "rlnCoordinateX"] = "left"
        starfile.write(df, star, overwrite=True)
    else:
        starfile.write(df.drop(columns=["rlnCoordinateY"]), star, overwrite=True)
    proc = _train(labelled, labels, tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"samcryo train: error: {star}: ") and words in last, last
    assert "Fix: " in last and "Traceback" not in proc.stderr
    assert not (tmp_path / "prompt.pt").exists()


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["empty_folder", "one_label_missing"])
def test_empty_or_incomplete_label_set_stops_training_naming_what_is_missing(labelled, tmp_path, fault):
    labels = tmp_path / "labels"
    labels.mkdir()
    if fault == "one_label_missing":
        shutil.copy(labelled / "truth" / "lab_0000.star", labels)
    proc = _train(labelled, labels, tmp_path)
    assert proc.returncode == 1, proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    if fault == "empty_folder":
        assert last.startswith(f"samcryo train: error: {labels}: no label files given"), last
    else:
        image = labelled / "micrographs" / "lab_0001.mrc"
        assert last.startswith(f"samcryo train: error: {image}: no label file named after "
                               "micrograph 'lab_0001'"), last
    assert "Fix: " in last and "Traceback" not in proc.stderr
    assert not (tmp_path / "prompt.pt").exists()
