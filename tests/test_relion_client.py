"""The real client: Debian's RELION extracts what samcryo writes into a RELION project job folder.

samcryo runs as RELION would run it (``samcryo relion-external --o External/job005/ --in_mics ...``
in the project folder); ``relion_preprocess --extract`` then takes the job's coordinates the way
RELION 3.1's Extract job does (``coords_suffix_autopick.star`` -> ``--coord_dir``,
``--coord_suffix``). Every pick must be extracted, RELION must not warn, and the average of the
extracted boxes must be centred like the average of boxes extracted at the true centres (a
y-flipped control shows no particle, so the comparison would catch a flip).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile

from samcryo_core.cli import main
from samcryo_core.simulate import SimulationParams, simulate_dataset

pytestmark = pytest.mark.slow

H, W = 384, 512  # non-square: a swapped x/y would show
BOX = 64
# RELION 3.1's pipeline numbers its node types; samcryo reads the version from this file.
PIPELINE_31 = """# version 30001

data_pipeline_general

_rlnPipeLineJobCounter                       5

data_pipeline_nodes

loop_
_rlnPipeLineNodeName #1
_rlnPipeLineNodeType #2
Import/job001/micrographs.star            1
"""


@pytest.fixture(scope="module")
def relion_preprocess() -> str:
    """``relion_preprocess``, installed from Debian when missing (as the SLURM tests install SLURM)."""
    exe = shutil.which("relion_preprocess")
    if exe is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "relion"],
                       capture_output=True, env=env, timeout=900)
        exe = shutil.which("relion_preprocess")
    if exe is None:
        pytest.skip("RELION is not installed (Debian: apt-get install relion; scripts/system_deps.sh)")
    return exe


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A RELION 3.1 project: two micrographs under Movies/, their micrographs STAR, a pipeline."""
    root = tmp_path_factory.mktemp("relion_project")
    params = SimulationParams(shape=(H, W), pixel_size_A=4.0, n_particles=15, snr=1.0, junk=False)
    simulate_dataset(root / "sim", 2, params, seed=1, prefix="mic")
    (root / "Movies").mkdir()
    for mrc in sorted((root / "sim" / "micrographs").glob("*.mrc")):
        shutil.copy(mrc, root / "Movies" / mrc.name)
    optics = pd.DataFrame({"rlnOpticsGroupName": ["opticsGroup1"], "rlnOpticsGroup": [1],
                           "rlnMicrographOriginalPixelSize": [4.0], "rlnVoltage": [300.0],
                           "rlnSphericalAberration": [2.7], "rlnAmplitudeContrast": [0.1],
                           "rlnMicrographPixelSize": [4.0]})
    mics = pd.DataFrame({"rlnMicrographName": ["Movies/mic_0000.mrc", "Movies/mic_0001.mrc"],
                         "rlnOpticsGroup": [1, 1]})
    (root / "Import" / "job001").mkdir(parents=True)
    starfile.write({"optics": optics, "micrographs": mics}, root / "Import/job001/micrographs.star")
    (root / "default_pipeline.star").write_text(PIPELINE_31)
    return root


def _extract(exe: str, project: Path, coord_dir: str, out: str) -> subprocess.CompletedProcess:
    (project / out).mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [exe, "--i", "Import/job001/micrographs.star", "--coord_dir", coord_dir, "--coord_suffix",
         "_autopick.star", "--part_star", f"{out}particles.star", "--part_dir", out, "--extract",
         "--extract_size", str(BOX), "--norm", "--bg_radius", str(BOX * 2 // 5), "--invert_contrast"],
        cwd=project, capture_output=True, text=True, timeout=600)


def _average(project: Path, out: str) -> tuple[np.ndarray, int]:
    stacks = [mrcfile.read(p) for p in sorted((project / out).rglob("*.mrcs"))]
    boxes = np.concatenate([s.reshape(-1, BOX, BOX) for s in stacks])
    return boxes.mean(axis=0), len(boxes)


def _centre_and_contrast(avg: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre of the particle in an average (pixels above half its peak) and its contrast."""
    yy, xx = np.mgrid[:BOX, :BOX]
    r = np.hypot(xx - BOX / 2, yy - BOX / 2)
    background = float(np.median(avg[r > BOX * 0.4]))
    signal = np.clip(avg - background, 0, None)
    signal[signal < 0.5 * signal.max()] = 0
    centre = np.array([(signal * xx).sum(), (signal * yy).sum()]) / signal.sum()
    contrast = float(avg[r < BOX / 6].mean() - background)
    return centre, contrast


def _truth_coordinates(project: Path, job: str, *, flip: bool = False) -> None:
    for truth in sorted((project / "sim" / "truth").glob("*.star")):
        t = starfile.read(truth)
        y = (H - 1) - t["rlnCoordinateY"] if flip else t["rlnCoordinateY"]
        out = project / job / "Movies" / f"{truth.stem}_autopick.star"
        out.parent.mkdir(parents=True, exist_ok=True)
        starfile.write(pd.DataFrame({"rlnCoordinateX": t["rlnCoordinateX"], "rlnCoordinateY": y}), out)


def test_relion_extracts_every_pick_of_the_external_job_centred_like_the_truth(
        relion_preprocess, project, monkeypatch):
    monkeypatch.chdir(project)
    rc = main(["relion-external", "--o", "External/job005/", "--in_mics", "Import/job001/micrographs.star",
               "--j", "1", "--picker", "log", "--diameter_A", "160", "--threshold", "0.3"])
    assert rc == 0
    job = project / "External/job005"
    assert (job / "RELION_JOB_EXIT_SUCCESS").is_file() and not (job / "RELION_JOB_EXIT_FAILURE").exists()
    nodes = starfile.read(job / "RELION_OUTPUT_NODES.star")
    # RELION 3.1 (read from default_pipeline.star): the coords_suffix file, node type 2
    assert nodes["rlnPipeLineNodeName"].tolist() == ["External/job005/coords_suffix_autopick.star"]
    assert nodes["rlnPipeLineNodeType"].tolist() == [2]
    assert (job / "coords_suffix_autopick.star").read_text() == "Import/job001/micrographs.star\n"
    n_picks = sum(len(starfile.read(p)) for p in job.glob("Movies/*_autopick.star"))
    assert n_picks >= 25  # 30 particles; the LoG picker at SNR 1 finds nearly all of them

    # what RELION 3.1's Extract GUI makes of "Input coordinates = .../coords_suffix_autopick.star"
    suffix_file = "External/job005/coords_suffix_autopick.star"
    coord_dir = suffix_file.rsplit("/", 1)[0] + "/"
    assert suffix_file.rsplit("/", 1)[1].removeprefix("coords_suffix") == "_autopick.star"
    run = _extract(relion_preprocess, project, coord_dir, "Extract/job006/")
    assert run.returncode == 0, run.stderr
    assert "warn" not in (run.stdout + run.stderr).lower(), run.stdout + run.stderr
    assert run.stderr.strip() == ""
    particles = starfile.read(project / "Extract/job006/particles.star")["particles"]
    assert len(particles) == n_picks  # every pick extracted
    picked, n = _average(project, "Extract/job006/")
    assert n == n_picks

    _truth_coordinates(project, "Truth/job007")
    assert _extract(relion_preprocess, project, "Truth/job007/", "Extract/job008/").returncode == 0
    truth, _ = _average(project, "Extract/job008/")
    _truth_coordinates(project, "Flipped/job009", flip=True)
    assert _extract(relion_preprocess, project, "Flipped/job009/", "Extract/job010/").returncode == 0
    flipped, _ = _average(project, "Extract/job010/")

    c_pick, contrast_pick = _centre_and_contrast(picked)
    c_truth, contrast_truth = _centre_and_contrast(truth)
    _, contrast_flip = _centre_and_contrast(flipped)
    assert np.all(np.abs(c_pick - c_truth) < 1.0), (c_pick, c_truth)
    assert contrast_pick > 0.7 * contrast_truth  # the picks' average is a particle ...
    assert contrast_flip < 0.25 * contrast_truth  # ... which a y-flip would have lost
