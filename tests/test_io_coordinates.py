"""One reader per coordinate format: the same particles come back the same from every format."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import starfile

from samcryo_core.errors import InputError
from samcryo_core.io.coordinates import (
    flip_y,
    names_micrographs,
    particle_centres,
    read_coordinates,
    rows_for_micrographs,
    strip_cryosparc_uid,
    with_diameters,
)

H, W = 400, 600  # a non-square micrograph: a swapped x/y would show
XS = np.array([40.0, 72.5, 510.0])
YS = np.array([30.0, 36.0, 350.0])
UID = "012345678901234567890"


def _cs(path, xs, ys, paths, fom=None):
    from cryosparc.dataset import Dataset

    fields = [("location/micrograph_path", "O"), ("location/micrograph_shape", "<u4", (2,)),
              ("location/center_x_frac", "<f4"), ("location/center_y_frac", "<f4")]
    if fom is not None:
        fields.append(("pick_stats/ncc_score", "<f4"))
    d = Dataset.allocate(len(xs), fields)
    d["location/micrograph_path"] = np.array(paths, dtype=object)
    d["location/micrograph_shape"] = np.tile([H, W], (len(xs), 1))
    d["location/center_x_frac"] = np.asarray(xs) / W
    d["location/center_y_frac"] = np.asarray(ys) / H
    if fom is not None:
        d["pick_stats/ncc_score"] = fom
    d.save(str(path))
    return path


def test_every_format_gives_the_same_centres(tmp_path):
    starfile.write(pd.DataFrame({"rlnCoordinateX": XS, "rlnCoordinateY": YS}), tmp_path / "m.star")
    pd.DataFrame({"X-Coordinate": XS, "Y-Coordinate": YS, "Diameter": 20}).to_csv(tmp_path / "m.csv",
                                                                                 index=False)
    (tmp_path / "m.box").write_text("".join(f"{x - 32}\t{y - 32}\t64\t64\n"
                                            for x, y in zip(XS, YS, strict=True)))
    _cs(tmp_path / "m.cs", XS, YS, ["J1/mic.mrc"] * 3)
    for suffix in ("star", "csv", "box", "cs"):
        t = read_coordinates(tmp_path / f"m.{suffix}")
        np.testing.assert_allclose(t["x"], XS, atol=1e-3, err_msg=suffix)
        np.testing.assert_allclose(t["y"], YS, atol=1e-3, err_msg=suffix)
    assert read_coordinates(tmp_path / "m.csv")["diameter_px"].tolist() == [20.0] * 3
    assert read_coordinates(tmp_path / "m.box")["diameter_px"].isna().all()  # a box is not a particle


def test_cryosparc_fractions_use_shape_h_w_and_no_flip(tmp_path):
    """center_y_frac * H is the row of the array (cryosparc-tools' own crYOLO example): no flip."""
    t = read_coordinates(_cs(tmp_path / "p.cs", [60.0], [100.0], [f"J3/motioncorrected/{UID}_mic1.mrc"],
                             fom=[0.75]))
    assert t["x"].tolist() == pytest.approx([60.0]) and t["y"].tolist() == pytest.approx([100.0])
    assert t["fom"].tolist() == pytest.approx([0.75])
    assert t["micrograph"].tolist() == [f"{UID}_mic1"]


def test_cryosparc_exported_csv(tmp_path):
    path = tmp_path / "particles.csv"
    pd.DataFrame({"location/micrograph_path": ["J3/a.mrc", "J3/b.mrc"],
                  "location/micrograph_shape/0": [H, H], "location/micrograph_shape/1": [W, W],
                  "location/center_x_frac": [0.5, 0.25], "location/center_y_frac": [0.25, 0.5]}).to_csv(
        path, index=False)
    t = read_coordinates(path)
    assert t["x"].tolist() == [300.0, 150.0] and t["y"].tolist() == [100.0, 200.0]
    assert t["micrograph"].tolist() == ["a", "b"]
    path.write_text('location/micrograph_path,location/micrograph_shape,location/center_x_frac,'
                    'location/center_y_frac\nJ3/a.mrc,"[400 600]",0.5,0.25\n')
    assert read_coordinates(path)["x"].tolist() == [300.0]


def test_relion_particles_star_with_optics_groups_by_micrograph_and_recentres(tmp_path):
    path = tmp_path / "particles.star"
    optics = pd.DataFrame({"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"],
                           "rlnImagePixelSize": [2.0], "rlnImageSize": [64]})
    particles = pd.DataFrame({
        "rlnMicrographName": ["MotionCorr/job002/Movies/a.mrc", "MotionCorr/job002/Movies/b.mrc",
                              "MotionCorr/job002/Movies/a.mrc"],
        "rlnCoordinateX": [100.0, 200.0, 300.0], "rlnCoordinateY": [50.0, 60.0, 70.0],
        "rlnOriginXAngst": [3.0, 0.0, -1.5], "rlnOriginYAngst": [0.0, 1.5, 0.0],
        "rlnOpticsGroup": [1, 1, 1], "rlnImageName": ["1@a.mrcs", "1@b.mrcs", "2@a.mrcs"],
    })
    starfile.write({"optics": optics, "particles": particles}, path)
    t = read_coordinates(path)
    assert names_micrographs(t) and t["micrograph"].tolist() == ["a", "b", "a"]
    by_mic = rows_for_micrographs(t, ["a", "b"], source=path)
    assert by_mic["a"]["x"].tolist() == [100.0, 300.0]
    # RELION's re-extraction centre: coordinate - origin / micrograph pixel size (1.5 A/px here)
    centred = particle_centres(t, 1.5)
    assert centred["x"].tolist() == [98.0, 200.0, 301.0] and centred["y"].tolist() == [50.0, 59.0, 70.0]
    assert particle_centres(t, None)["x"].tolist() == [100.0, 200.0, 300.0]  # nothing to convert with


def test_grouping_matches_cryosparc_uids_and_names_every_missing_micrograph(tmp_path):
    t = read_coordinates(_cs(tmp_path / "p.cs", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0],
                             [f"J3/{UID}_mic1.mrc", f"J3/{UID}_mic2.mrc", "J3/other.mrc"]))
    assert strip_cryosparc_uid(f"{UID}_mic1") == "mic1" and strip_cryosparc_uid("001_mic") == "001_mic"
    got = rows_for_micrographs(t, ["mic1", f"{UID}_mic2"], source="p.cs")
    assert got["mic1"]["x"].tolist() == pytest.approx([1.0])
    assert got[f"{UID}_mic2"]["x"].tolist() == pytest.approx([2.0])
    with pytest.raises(InputError, match=r"2 of 3 micrograph\(s\): nope_1, nope_2") as err:
        rows_for_micrographs(t, ["mic1", "nope_1", "nope_2"], source="p.cs")
    assert "other" in str(err.value)  # shows what the file does name


def test_flip_and_diameters(tmp_path):
    t = read_coordinates(_write_box(tmp_path))
    assert flip_y(t, H)["y"].tolist() == [H - 1 - 100.0]
    with pytest.raises(InputError, match="no particle diameter"):
        with_diameters(t)
    assert with_diameters(t, default_px=30)["diameter_px"].tolist() == [30.0]
    assert with_diameters(t, override_px=12)["diameter_px"].tolist() == [12.0]
    with pytest.raises(InputError, match="not positive"):
        with_diameters(t, override_px=0)


def _write_box(tmp_path):
    path = tmp_path / "one.box"
    path.write_text("18 68 64 64\n")
    return path


def test_bad_files_name_the_file(tmp_path):
    (tmp_path / "x.star").write_text("data_\nloop_\n_rlnFoo #1\n1\n")
    with pytest.raises(InputError, match="x.star"):
        read_coordinates(tmp_path / "x.star")
    (tmp_path / "t.csv").write_text("x,y\n1,abc\n")
    with pytest.raises(InputError, match="non-numeric"):
        read_coordinates(tmp_path / "t.csv")
    (tmp_path / "b.box").write_text("1 2 three 4\n")
    with pytest.raises(InputError, match="line 1"):
        read_coordinates(tmp_path / "b.box")
    with pytest.raises(InputError, match="suffix"):
        read_coordinates(_write_box(tmp_path).rename(tmp_path / "one.xyz"))
    with pytest.raises(InputError, match="not found"):
        read_coordinates(tmp_path / "missing.star")
