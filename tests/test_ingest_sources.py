"""Micrograph names and input lists: globs, RELION 3.0 / 3.1 STAR, cryoSPARC exposures."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_mrc import write_relion30_star, write_relion31_star

from samcryo_core.errors import InputError
from samcryo_core.ingest.naming import check_unique, micrograph_name
from samcryo_core.ingest.sources import Source, list_sources


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("MotionCorr/job002/Movies/mic_0001.mrc", "mic_0001"),
        ("a b:c.tiff", "a_b_c"),
        ("/data/.hidden.mrc", "hidden"),
        ("x/..mic.png", "mic"),
        ("stack.v2.mrcs", "stack.v2"),
        ("C:\\data\\win.mrc", "win"),
        ("J3/imported/012345678901234567890_FoilHole_1.mrc", "012345678901234567890_FoilHole_1"),
    ],
)
def test_micrograph_name_is_safe_stem(path, name):
    got = micrograph_name(path)
    assert got == name
    assert "/" not in got and "\\" not in got and not got.startswith(".")


@pytest.mark.parametrize("path", ["..", "dir/...", "___"])
def test_micrograph_name_unusable(path):
    with pytest.raises(InputError, match="no usable micrograph name"):
        micrograph_name(path)


def test_check_unique_lists_every_duplicate():
    check_unique(["a", "b"])
    with pytest.raises(InputError) as ei:
        check_unique(["a", "b", "a", "c", "c"], ["x/a.mrc", "b.mrc", "y/a.mrc", "c.mrc", "c.tif"])
    msg = str(ei.value)
    assert "2 micrograph name(s)" in msg
    assert "'a' <- x/a.mrc, y/a.mrc" in msg and "'c' <- c.mrc, c.tif" in msg


def test_glob_sorted_and_empty(tmp_path):
    for n in ("b.mrc", "a.mrc", "c.png"):
        (tmp_path / n).write_bytes(b"")
    srcs = list_sources(glob=str(tmp_path / "*"))
    assert [s.micrograph for s in srcs] == ["a", "b", "c"]
    assert all(s.pixel_size_A is None and s.pixel_size_source is None for s in srcs)
    with pytest.raises(InputError, match="matches no files"):
        list_sources(glob=str(tmp_path / "*.tif"))
    with pytest.raises(InputError, match="no micrographs given"):
        list_sources()


def test_glob_duplicate_names_rejected(tmp_path):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    (tmp_path / "d1" / "m.mrc").write_bytes(b"")
    (tmp_path / "d2" / "m.mrc").write_bytes(b"")
    with pytest.raises(InputError, match="'m' <- .*d1/m.mrc, .*d2/m.mrc"):
        list_sources(glob=str(tmp_path / "**" / "*.mrc"))


def test_relion31_star_pixel_size_per_optics_group(tmp_path):
    star = write_relion31_star(
        tmp_path / "corrected_micrographs.star",
        ["MotionCorr/job002/Movies/m2.mrc", "MotionCorr/job002/Movies/m1.mrc"], [2, 1],
        {1: 1.06, 2: 0.83},
    )
    srcs = list_sources(micrographs_star=star, project_dir=tmp_path / "proj")
    assert srcs == [
        Source("m1", str(tmp_path / "proj" / "MotionCorr/job002/Movies/m1.mrc"), pytest.approx(1.06), "star"),
        Source("m2", str(tmp_path / "proj" / "MotionCorr/job002/Movies/m2.mrc"), pytest.approx(0.83), "star"),
    ]
    # Default project dir = current directory: paths stay as RELION wrote them.
    assert list_sources(micrographs_star=star)[0].path == "MotionCorr/job002/Movies/m1.mrc"


def test_relion31_image_pixel_size_fallback(tmp_path):
    star = write_relion31_star(tmp_path / "m.star", ["a.mrc"], [1], {1: 1.3}, pixel_label="rlnImagePixelSize")
    assert list_sources(micrographs_star=star)[0].pixel_size_A == pytest.approx(1.3)


def test_relion31_missing_columns(tmp_path):
    star = write_relion31_star(tmp_path / "m.star", ["a.mrc"], [1], {1: 1.3}, pixel_label="rlnVoltageX")
    with pytest.raises(InputError, match="m.star: .*no column rlnMicrographPixelSize"):
        list_sources(micrographs_star=star)
    star = write_relion31_star(tmp_path / "g.star", ["a.mrc"], [1], {1: 1.3}, extra_mic_labels=False)
    with pytest.raises(InputError, match="g.star: STAR block 'data_micrographs' has no column rlnOpticsGr"):
        list_sources(micrographs_star=star)


def test_relion31_unknown_optics_group(tmp_path):
    star = write_relion31_star(tmp_path / "m.star", ["a.mrc"], [3], {1: 1.3})
    with pytest.raises(InputError, match="optics group 3"):
        list_sources(micrographs_star=star)


def test_relion30_star(tmp_path):
    star = write_relion30_star(tmp_path / "old.star", ["Micrographs/x.mrc", "Micrographs/y.mrc"], 5.0, 50000)
    srcs = list_sources(micrographs_star=star)
    assert [s.micrograph for s in srcs] == ["x", "y"]
    assert srcs[0].pixel_size_A == pytest.approx(1.0) and srcs[0].pixel_size_source == "star"
    star = write_relion30_star(tmp_path / "bare.star", ["Micrographs/x.mrc"])
    assert list_sources(micrographs_star=star) == [Source("x", "Micrographs/x.mrc")]


def test_star_without_micrograph_name(tmp_path):
    (tmp_path / "p.star").write_text("data_\nloop_\n_rlnCoordinateX #1\n_rlnCoordinateY #2\n1 2\n")
    with pytest.raises(InputError, match="p.star: no STAR table has the column rlnMicrographName"):
        list_sources(micrographs_star=tmp_path / "p.star")
    with pytest.raises(InputError, match="STAR file does not exist"):
        list_sources(micrographs_star=tmp_path / "none.star")


def test_cryosparc_csv(tmp_path):
    csv = tmp_path / "exposures.csv"
    csv.write_text("uid,micrograph_blob/path,micrograph_blob/psize_A\n"
                   "1,J3/imported/b.mrc,0.85\n2,J3/imported/a.mrc,0.85\n")
    srcs = list_sources(cryosparc_csv=csv, project_dir="/proj")
    assert [(s.micrograph, s.path, s.pixel_size_source) for s in srcs] == [
        ("a", "/proj/J3/imported/a.mrc", "cryosparc"), ("b", "/proj/J3/imported/b.mrc", "cryosparc")]
    assert srcs[0].pixel_size_A == pytest.approx(0.85)
    bad = tmp_path / "bad.csv"
    bad.write_text("uid,path\n1,a.mrc\n")
    with pytest.raises(InputError, match="bad.csv: cryoSPARC exposure list has no column micrograph_blob"):
        list_sources(cryosparc_csv=bad)


def test_cryosparc_cs_file(tmp_path):
    fields = [("uid", "<u8"), ("micrograph_blob/path", "S40"), ("micrograph_blob/psize_A", "<f4")]
    arr = np.zeros(2, dtype=fields)
    arr["micrograph_blob/path"] = [b"J3/imported/m2.mrc", b"J3/imported/m1.mrc"]
    arr["micrograph_blob/psize_A"] = [1.1, 1.1]
    with open(tmp_path / "exp.cs", "wb") as fh:
        np.save(fh, arr)
    srcs = list_sources(cryosparc_csv=tmp_path / "exp.cs")
    assert [s.path for s in srcs] == ["J3/imported/m1.mrc", "J3/imported/m2.mrc"]
    assert srcs[0].pixel_size_A == pytest.approx(1.1)
