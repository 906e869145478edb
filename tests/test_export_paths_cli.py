"""Export paths stay inside the output folder; ``samcryo export`` writes every format from manifests."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
import starfile

from samcryo_core.cli import main
from samcryo_core.errors import InputError
from samcryo_core.export.eman_box import box_text
from samcryo_core.export.paths import project_relative, safe_relative, strip_job_prefix
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.relion import coordinate_file_relpath, write_relion
from samcryo_core.export.star_text import format_value, star_version
from samcryo_core.io.coordinates import read_coordinates
from samcryo_core.manifest import write_manifest
from samcryo_core.particles.picks_io import empty_picks, write_picks


@pytest.mark.parametrize("bad", ["../x.mrc", "a/../../x.mrc", "/abs/x.mrc", "..", "", "C:/x.mrc"])
def test_safe_relative_rejects_escapes(bad):
    with pytest.raises(InputError):
        safe_relative(bad)


def test_safe_relative_normalises():
    assert safe_relative("./a//b/c.mrc") == PurePosixPath("a/b/c.mrc")


def test_project_relative(tmp_path):
    proj = tmp_path / "proj"
    assert project_relative(proj / "MotionCorr/job002/Movies/m.mrc", proj) == PurePosixPath(
        "MotionCorr/job002/Movies/m.mrc")
    with pytest.raises(InputError, match="not inside the RELION project"):
        project_relative(tmp_path / "elsewhere/m.mrc", proj)
    with pytest.raises(InputError, match="not inside the RELION project"):
        project_relative(proj / "../other/m.mrc", proj)


def test_job_prefix_handling():
    rel = PurePosixPath("MotionCorr/job002/Movies/mic001.mrc")
    assert strip_job_prefix(rel) == PurePosixPath("Movies/mic001.mrc")
    assert coordinate_file_relpath(rel) == PurePosixPath("Movies/mic001_autopick.star")
    assert coordinate_file_relpath(rel, keep_job_prefix=True) == PurePosixPath(
        "MotionCorr/job002/Movies/mic001_autopick.star")
    assert strip_job_prefix(PurePosixPath("data/mic.mrc")) == PurePosixPath("data/mic.mrc")
    assert coordinate_file_relpath(PurePosixPath("mic.tiff")) == PurePosixPath("mic_autopick.star")


def test_two_micrographs_on_one_coordinate_file_is_refused(tmp_path):
    proj = tmp_path / "p"
    picks = empty_picks()
    items = [MicrographPicks("a", str(proj / "MotionCorr/job002/Movies/m.mrc"), picks),
             MicrographPicks("b", str(proj / "MotionCorr/job003/Movies/m.mrc"), picks)]
    with pytest.raises(InputError, match="would overwrite"):
        write_relion(items, proj / "out", project_dir=proj)
    res = write_relion(items, proj / "out", project_dir=proj, keep_job_prefix=True)
    assert len(res.coordinate_files) == 2


def test_star_values_and_versions():
    assert format_value(3) == "3" and format_value(1.5) == "1.500000" and format_value("a/b.mrc") == "a/b.mrc"
    for bad in ("a b.mrc", "", float("nan")):
        with pytest.raises(ValueError):
            format_value(bad)
    assert star_version("4") == 30001 and star_version(5) == 50001
    with pytest.raises(ValueError):
        star_version("6")


def test_box_text_corner_convention():
    picks = pd.DataFrame({"x": [100.4, 10.6], "y": [50.5, 3.0]})
    text = box_text(picks, 64)
    # corner = round(centre) - box//2; y is the array row, no flip. np.rint rounds half to even.
    assert text == "68\t18\t64\t64\n-21\t-29\t64\t64\n"
    assert box_text(picks.iloc[:0], 64) == ""
    with pytest.raises(ValueError):
        box_text(picks, 0)


def _project(tmp_path: Path):
    proj = tmp_path / "proj"
    picks_dir = tmp_path / "picks"
    mics = {}
    for name in ("mic001", "mic002", "mic003"):
        src = proj / "MotionCorr/job002/Movies" / f"{name}.mrc"
        src.parent.mkdir(parents=True, exist_ok=True)
        src.touch()
        mics[name] = src
    write_picks(picks_dir / "mic001.csv", pd.DataFrame({
        "x": [100.0, 200.0, 300.0], "y": [50.0, 60.0, 70.0], "fom": [0.9, 0.4, 0.6], "diameter_px": 40.0,
        "x_norm": 0.0, "y_norm": 0.0, "area_px": 0.0}))
    write_picks(picks_dir / "mic002.csv", empty_picks())
    rows = [
        {"micrograph": "mic001", "status": "ok", "reason": "", "source": str(mics["mic001"]),
         "sidecar": "", "picks": str(picks_dir / "mic001.csv"), "n_picks": 3},
        {"micrograph": "mic002", "status": "ok", "reason": "", "source": str(mics["mic002"]),
         "sidecar": "", "picks": str(picks_dir / "mic002.csv"), "n_picks": 0},
        {"micrograph": "mic003", "status": "rejected", "reason": "ingest: empty image",
         "source": str(mics["mic003"])},
    ]
    write_manifest(tmp_path / "chunk0.tsv", rows[:2])
    write_manifest(tmp_path / "chunk1.tsv", rows[2:])
    return proj


def test_export_cli_writes_all_formats(tmp_path):
    proj = _project(tmp_path)
    out = proj / "External/job011"
    rc = main(["export", "--picks-manifests", str(tmp_path / "chunk0.tsv"), str(tmp_path / "chunk1.tsv"),
               "--relion-dir", str(out), "--project-dir", str(proj), "--relion-version", "5",
               "--cryosparc-star", str(tmp_path / "cs.star"), "--cryosparc-basename",
               "--box-dir", str(tmp_path / "box"), "--box-size", "64", "--min-fom", "0.5"])
    assert rc == 0
    index = starfile.read(out / "autopick.star")
    assert index["rlnMicrographName"].tolist() == ["MotionCorr/job002/Movies/mic001.mrc",
                                                   "MotionCorr/job002/Movies/mic002.mrc"]
    assert all((proj / p).is_file() for p in index["rlnMicrographCoordinates"])
    mic1 = starfile.read(out / "Movies/mic001_autopick.star")
    assert mic1["rlnCoordinateX"].tolist() == [100.0, 300.0]  # fom 0.4 dropped by --min-fom
    assert starfile.read(out / "Movies/mic002_autopick.star").empty  # RELION expects the file
    assert not (out / "Movies/mic003_autopick.star").exists()
    assert (out / "Movies/mic002_autopick.star").read_text().startswith("# version 50001\n")

    cs = starfile.read(tmp_path / "cs.star")
    assert cs["rlnMicrographName"].tolist() == ["mic001.mrc", "mic001.mrc"]
    assert read_coordinates(tmp_path / "box/mic001.box")["x"].tolist() == [100.0, 300.0]
    assert (tmp_path / "box/mic002.box").read_text() == ""

    summary = pd.read_csv(out / "export_summary.tsv", sep="\t")
    assert summary["micrograph"].tolist() == ["mic001", "mic002", "mic003"]
    assert summary.set_index("micrograph").loc["mic003", "reason"] == "ingest: empty image"
    assert summary["n_exported"].tolist() == [2, 0, 0]


def test_export_cli_refuses_micrographs_outside_project(tmp_path, capsys):
    _project(tmp_path)
    rc = main(["export", "--picks-manifests", str(tmp_path / "chunk0.tsv"),
               "--relion-dir", str(tmp_path / "r"), "--project-dir", str(tmp_path / "other")])
    assert rc == 1
    assert "not inside the RELION project" in capsys.readouterr().err
    assert not (tmp_path / "r" / "autopick.star").exists()


def test_export_cli_needs_an_output(tmp_path, capsys):
    _project(tmp_path)
    assert main(["export", "--picks-manifests", str(tmp_path / "chunk0.tsv")]) == 1
    assert "no output asked for" in capsys.readouterr().err
