"""Golden files pin the exact text of every STAR file samcryo exports.

RELION reads these files with its own parser; any change of header, block name, label order or
number format must be a deliberate decision (update the golden file in the same commit), never a
side effect. Each golden file is also read back with ``starfile`` to show it is valid STAR.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import starfile

from samcryo_core.export.cryosparc import write_cryosparc_star
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.relion import write_relion

GOLDEN = Path(__file__).parent / "golden"
PICKS = pd.DataFrame({"x": [123.456, 1000.0, 5.5], "y": [78.9, 2048.25, 4000.125],
                      "fom": [0.876543, 0.5, 0.123457]})


def items(project: Path) -> list[MicrographPicks]:
    return [
        MicrographPicks("mic001", str(project / "MotionCorr/job002/Movies/mic001.mrc"), PICKS),
        MicrographPicks("mic002", str(project / "MotionCorr/job002/Movies/mic002.mrc"), PICKS.iloc[:0]),
    ]


@pytest.mark.parametrize("version,tag", [("4", "v4"), ("5", "v5")])
def test_relion_files_match_golden(tmp_path, version, tag):
    project = tmp_path / "proj"
    res = write_relion(items(project), project / "External/job010", project_dir=project,
                       relion_version=version)
    out = project / "External/job010"
    assert res.index == out / "autopick.star"
    assert res.index.read_text() == (GOLDEN / f"autopick_index_{tag}.star").read_text()
    for written, golden in (("mic001", f"mic001_autopick_{tag}"), ("mic002", f"empty_autopick_{tag}")):
        text = (out / f"Movies/{written}_autopick.star").read_text()
        assert text == (GOLDEN / f"{golden}.star").read_text()


def test_cryosparc_star_matches_golden(tmp_path):
    project = tmp_path / "proj"
    n = write_cryosparc_star(tmp_path / "particles.star", items(project), project_dir=project, basename=True)
    assert n == 3
    assert (tmp_path / "particles.star").read_text() == (GOLDEN / "cryosparc_particles.star").read_text()


def test_golden_files_are_valid_star():
    for tag in ("v4", "v5"):
        mic = starfile.read(GOLDEN / f"mic001_autopick_{tag}.star")
        assert list(mic.columns) == ["rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber",
                                     "rlnAutopickFigureOfMerit", "rlnAnglePsi"]
        assert mic["rlnCoordinateX"].tolist() == PICKS["x"].tolist()
        assert (mic["rlnClassNumber"] == 0).all() and (mic["rlnAnglePsi"] == 0.0).all()
        assert starfile.read(GOLDEN / f"empty_autopick_{tag}.star").empty
        index = starfile.read(GOLDEN / f"autopick_index_{tag}.star", always_dict=True)
        assert list(index) == ["coordinate_files"]
    cs = starfile.read(GOLDEN / "cryosparc_particles.star", always_dict=True)
    assert list(cs) == ["particles"]
    assert cs["particles"]["rlnCoordinateY"].tolist() == PICKS["y"].tolist()
    assert (GOLDEN / "mic001_autopick_v4.star").read_text().startswith("# version 30001\n")
    assert (GOLDEN / "mic001_autopick_v5.star").read_text().startswith("# version 50001\n")
