"""Coordinates into RELION and cryoSPARC projects: job folders, output nodes, native .cs files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import starfile

from samcryo_core.cli import main
from samcryo_core.errors import ConfigError, InputError
from samcryo_core.export.cryosparc import particles_dataset, write_cryosparc_cs
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.relion import write_relion
from samcryo_core.frame import FrameMapping
from samcryo_core.io.coordinates import read_coordinates
from samcryo_core.manifest import write_manifest
from samcryo_core.particles.picks_io import write_picks
from samcryo_core.workflow.relion_job import detect_relion_version
from samcryo_core.workflow.settings import relion_export_dir

UID = "012345678901234567890"


def _picks(xs, ys, foms):
    n = len(xs)
    return pd.DataFrame({"x": xs, "y": ys, "fom": foms, "diameter_px": [40.0] * n, "x_norm": xs,
                         "y_norm": ys, "area_px": [100.0] * n})


def _item(project, name="mic001", shape=(400, 600), uid=None):
    src = project / "MotionCorr/job002/Movies" / f"{name}.mrc"
    return MicrographPicks(name, str(src), _picks([60.0, 300.0], [100.0, 399.0], [0.9, 0.4]),
                           shape=shape, pixel_size_A=1.5, micrograph_uid=uid)


LABELLED = ("External/job012/autopick.star", "MicrographsCoords.star.relion.autopick")


@pytest.mark.parametrize("version, column, node", [
    ("3.1", "rlnPipeLineNodeType", ("External/job012/coords_suffix_autopick.star", 2)),
    ("4", "rlnPipeLineNodeTypeLabel", LABELLED),
    ("5", "rlnPipeLineNodeTypeLabel", LABELLED),
])
def test_a_job_folder_in_the_project_gets_output_nodes_and_coords_suffix(tmp_path, version, column, node):
    proj = tmp_path / "proj"
    (proj / "CtfFind/job004").mkdir(parents=True)
    mics = proj / "CtfFind/job004/micrographs_ctf.star"
    mics.write_text("data_\n")
    res = write_relion([_item(proj)], proj / "External/job012", project_dir=proj, relion_version=version,
                       micrographs_star=mics)
    job = proj / "External/job012"
    assert {p.name for p in res.job_files} == {"coords_suffix_autopick.star", "RELION_OUTPUT_NODES.star"}
    nodes_text = (job / "RELION_OUTPUT_NODES.star").read_text()
    assert nodes_text.startswith(f"# version {50001 if version == '5' else 30001}\n")
    nodes = starfile.read(job / "RELION_OUTPUT_NODES.star")
    assert list(nodes.columns) == ["rlnPipeLineNodeName", column]
    assert tuple(nodes.iloc[0]) == node
    assert (job / "coords_suffix_autopick.star").read_text() == "CtfFind/job004/micrographs_ctf.star\n"
    index = starfile.read(job / "autopick.star")
    assert index["rlnMicrographCoordinates"].tolist() == ["External/job012/Movies/mic001_autopick.star"]


def test_without_a_micrographs_star_the_job_lists_its_micrographs(tmp_path):
    proj = tmp_path / "proj"
    write_relion([_item(proj), _item(proj, "mic002")], proj / "External/job003", project_dir=proj)
    job = proj / "External/job003"
    assert (job / "coords_suffix_autopick.star").read_text() == "External/job003/micrographs.star\n"
    listed = starfile.read(job / "micrographs.star")
    assert listed["rlnMicrographName"].tolist() == ["MotionCorr/job002/Movies/mic001.mrc",
                                                    "MotionCorr/job002/Movies/mic002.mrc"]


def test_results_outside_the_project_get_no_job_files(tmp_path):
    proj = tmp_path / "proj"
    res = write_relion([_item(proj)], tmp_path / "results/relion", project_dir=proj)
    assert res.job_files == [] and not (tmp_path / "results/relion/RELION_OUTPUT_NODES.star").exists()


def test_cryosparc_cs_holds_fractions_of_h_w_uids_and_fom(tmp_path):
    proj = tmp_path / "proj"
    items = [_item(proj, uid=987654321), _item(proj, "mic002", shape=(300, 200))]
    path = tmp_path / "particles.cs"
    assert write_cryosparc_cs(path, items, project_dir=proj, min_fom=0.5) == 2
    from cryosparc.dataset import Dataset

    d = Dataset.load(str(path))
    assert d["location/micrograph_path"].tolist() == ["MotionCorr/job002/Movies/mic001.mrc",
                                                       "MotionCorr/job002/Movies/mic002.mrc"]
    assert d["location/micrograph_shape"].tolist() == [[400, 600], [300, 200]]
    assert d["location/center_x_frac"].tolist() == pytest.approx([60 / 600, 60 / 200])
    assert d["location/center_y_frac"].tolist() == pytest.approx([100 / 400, 100 / 300])  # no flip
    assert d["location/micrograph_uid"].tolist() == [987654321, 0]
    assert d["pick_stats/ncc_score"].tolist() == pytest.approx([0.9, 0.9])
    assert d["location/micrograph_psize_A"].tolist() == pytest.approx([1.5, 1.5])
    # the same reader that reads cryoSPARC's own files gives the pixels back
    back = read_coordinates(path)
    assert back["x"].tolist() == pytest.approx([60.0, 60.0], abs=1e-3)
    assert back["y"].tolist() == pytest.approx([100.0, 100.0], abs=1e-3)
    # the same picks always give the same particle UIDs; other picks others
    again = particles_dataset(items, project_dir=proj, min_fom=0.5)
    assert again["uid"].tolist() == d["uid"].tolist()
    assert particles_dataset(items, project_dir=proj)["uid"].tolist()[0] != d["uid"].tolist()[0]
    with pytest.raises(InputError, match="shape unknown"):
        particles_dataset([_item(proj, shape=None)], project_dir=proj)


def test_export_cli_carries_cryosparc_exposure_uids(tmp_path):
    from cryosparc.dataset import Dataset

    proj = tmp_path / "proj"
    mic = proj / f"J2/motioncorrected/{UID}_mic001.mrc"
    mic.parent.mkdir(parents=True)
    mic.touch()
    exposures = Dataset.allocate(1, [("micrograph_blob/path", "O"), ("micrograph_blob/psize_A", "<f4")])
    exposures["uid"] = [424242]
    exposures["micrograph_blob/path"] = np.array([f"J2/motioncorrected/{UID}_mic001.mrc"], dtype=object)
    exposures["micrograph_blob/psize_A"] = [1.0]
    exposures.save(str(tmp_path / "exposures.cs"))
    mapping = FrameMapping(f"{UID}_mic001", str(mic), (400, 600), (100, 150), pixel_size_A=1.0)
    mapping.write(tmp_path / "m.json")
    write_picks(tmp_path / "m.csv", _picks([60.0], [100.0], [0.9]))
    write_manifest(tmp_path / "chunk.tsv", [{"micrograph": f"{UID}_mic001", "status": "ok", "reason": "",
                                             "source": str(mic), "sidecar": str(tmp_path / "m.json"),
                                             "picks": str(tmp_path / "m.csv"), "n_picks": 1}])
    rc = main(["export", "--picks-manifests", str(tmp_path / "chunk.tsv"), "--project-dir", str(proj),
               "--cryosparc-cs", str(tmp_path / "out.cs"),
               "--cryosparc-exposures", str(tmp_path / "exposures.cs")])
    assert rc == 0
    d = Dataset.load(str(tmp_path / "out.cs"))
    assert d["location/micrograph_uid"].tolist() == [424242]
    assert d["location/micrograph_path"].tolist() == [f"J2/motioncorrected/{UID}_mic001.mrc"]


def test_workflow_relion_dir_is_inside_the_project(tmp_path):
    cfg = {"inputs": {"project_dir": str(tmp_path / "proj")}, "export": {"relion_dir": "External/job012"}}
    assert relion_export_dir(cfg, "results/x/head") == str(tmp_path / "proj/External/job012")
    assert relion_export_dir({"inputs": {}, "export": {"relion_dir": None}}, "results/x/head") == \
        "results/x/head/relion"
    for bad in ("../elsewhere", "/tmp", "."):
        with pytest.raises(ConfigError, match="export.relion_dir"):
            relion_export_dir({**cfg, "export": {"relion_dir": bad}}, "results/x/head")


def test_relion_version_comes_from_the_project_pipeline(tmp_path):
    assert detect_relion_version(tmp_path) is None
    (tmp_path / "default_pipeline.star").write_text("# version 30001\nloop_\n_rlnPipeLineNodeType #2\n")
    assert detect_relion_version(tmp_path) == "3.1"
    (tmp_path / "default_pipeline.star").write_text("# version 30001\nloop_\n_rlnPipeLineNodeTypeLabel #2\n")
    assert detect_relion_version(tmp_path) == "4"
    (tmp_path / "default_pipeline.star").write_text("# version 50001\nloop_\n_rlnPipeLineNodeTypeLabel #2\n")
    assert detect_relion_version(tmp_path) == "5"


def test_a_failed_external_job_says_so_to_relion(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "External/job007").mkdir(parents=True)
    (tmp_path / "External/job007/RELION_JOB_EXIT_SUCCESS").touch()  # from an earlier run
    rc = main(["relion-external", "--o", "External/job007/", "--in_mics", "missing.star", "--j", "2",
               "--picker", "log", "--diameter_A", "160"])
    assert rc == 1 and "missing.star" in capsys.readouterr().err
    assert "missing.star" in (tmp_path / "External/job007/RELION_JOB_EXIT_FAILURE").read_text()
    assert not (tmp_path / "External/job007/RELION_JOB_EXIT_SUCCESS").exists()
