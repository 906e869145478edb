"""Known picks on a non-square micrograph survive map -> extraction -> every export format -> read back.

Frame: a 600-row x 900-column micrograph normalized to 171 x 256, so x and y scale differently
(3.516 vs 3.509 original px per normalized px).

What each test proves:

* ``test_exact_round_trip``: centres placed on whole model pixels give symmetric rasterised discs,
  so extraction must return those model-frame centres *exactly*; the original-frame picks must then
  equal ``mapping.to_original`` of them (no flip, per-axis scale), and each export
  must read back (with ``starfile`` or by parsing ``.box`` as RELION does) to the same coordinates:
  STAR to 1e-6 px (6 decimals written), ``.box`` to within 0.5 px (integers, as RELION requires).
* ``test_subpixel_round_trip``: arbitrary sub-pixel original coordinates come back within the
  centroid error of a rasterised disc (< 0.2 model px measured for radius 6-8, i.e. about 0.7
  original px at this scale), which is the precision a 256 x 256 map allows.
* ``test_y_flip_would_be_detected``: the same comparison fails for a y-flipped export.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import starfile

from samcryo_core.export.cryosparc import write_cryosparc_star
from samcryo_core.export.eman_box import write_boxes
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.relion import coordinates_text, write_relion
from samcryo_core.frame import FrameMapping
from samcryo_core.io.coordinates import read_coordinates
from samcryo_core.particles.extraction import extract_particles

H, W = 600, 900
MAPPING = FrameMapping("mic001", "MotionCorr/job002/Movies/mic001.mrc", (H, W), (171, 256))
R_NORM = 6


def draw(centres_norm: np.ndarray, radius: float = R_NORM) -> np.ndarray:
    prob = np.zeros(MAPPING.binned_shape, dtype=np.float32)
    yy, xx = np.mgrid[: MAPPING.binned_shape[0], : MAPPING.binned_shape[1]]
    for x, y in centres_norm:
        prob[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = 1.0
    return prob


def assert_same_coordinates(truth: np.ndarray, got: np.ndarray, tol: float) -> None:
    """Each true centre has a read-back centre within ``tol`` px (and counts agree)."""
    assert len(truth) == len(got), f"{len(got)} coordinates read back for {len(truth)} picks"
    d = np.linalg.norm(truth[:, None, :] - got[None, :, :], axis=2)
    worst = float(d.min(axis=1).max()) if len(truth) else 0.0
    assert worst <= tol, f"worst coordinate error {worst:.3f} px > {tol} px"


def export_all(tmp_path: Path, picks: pd.DataFrame) -> dict[str, np.ndarray]:
    """Write RELION, cryoSPARC and .box exports inside a fake RELION project; read them back."""
    project = tmp_path / "project"
    source = project / MAPPING.source
    source.parent.mkdir(parents=True)
    source.touch()
    item = MicrographPicks("mic001", str(source), picks)
    rel = write_relion([item], project / "External/job010", project_dir=project, relion_version="5")
    write_cryosparc_star(tmp_path / "cs.star", [item], project_dir=project, basename=True)
    write_boxes([item], tmp_path / "box", box_size=64)

    index = starfile.read(rel.index)
    assert index["rlnMicrographName"].tolist() == ["MotionCorr/job002/Movies/mic001.mrc"]
    coord_rel = index["rlnMicrographCoordinates"].iloc[0]
    assert coord_rel == "External/job010/Movies/mic001_autopick.star"
    relion = starfile.read(project / coord_rel)
    cs = starfile.read(tmp_path / "cs.star")
    assert set(cs["rlnMicrographName"]) == {"mic001.mrc"}
    box = read_coordinates(tmp_path / "box" / "mic001.box")
    return {
        "relion": relion[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(),
        "cryosparc": cs[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(),
        "box": box[["x", "y"]].to_numpy(),
    }


def test_frame_is_non_square_with_distinct_scales():
    assert MAPPING.scale_x != pytest.approx(MAPPING.scale_y, abs=1e-3)
    xo, yo = MAPPING.to_original(*MAPPING.to_normalized(np.array([0.0, 899.0]), np.array([0.0, 599.0])))
    np.testing.assert_allclose([xo, yo], [[0.0, 899.0], [0.0, 599.0]], atol=1e-9)


def test_exact_round_trip(tmp_path):
    centres_norm = np.array([(20, 18), (100, 38), (101, 108), (200, 78), (240, 148), (130, 68)], float)
    truth = np.column_stack(MAPPING.to_original(centres_norm[:, 0], centres_norm[:, 1]))
    picks = extract_particles(draw(centres_norm), MAPPING, diameter_px=2 * R_NORM * MAPPING.mean_scale)

    got_norm = picks[["x_norm", "y_norm"]].to_numpy()
    assert_same_coordinates(centres_norm, got_norm, tol=1e-9)          # extraction is exact
    assert_same_coordinates(truth, picks[["x", "y"]].to_numpy(), 1e-9)  # the mapping, per axis

    back = export_all(tmp_path, picks)
    assert_same_coordinates(truth, back["relion"], tol=1e-6)
    assert_same_coordinates(truth, back["cryosparc"], tol=1e-6)
    assert_same_coordinates(truth, back["box"], tol=0.5 * np.sqrt(2))  # each axis rounded to a pixel
    assert np.abs(np.sort(back["box"], axis=0) - np.sort(np.rint(truth), axis=0)).max() == 0


def test_subpixel_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    # Original-frame truth on a grid with random sub-pixel jitter, kept away from borders.
    gx, gy = np.meshgrid(np.linspace(80, 820, 6), np.linspace(70, 530, 4))
    truth = np.column_stack([gx.ravel(), gy.ravel()]) + rng.uniform(-5, 5, size=(gx.size, 2))
    centres_norm = np.column_stack(MAPPING.to_normalized(truth[:, 0], truth[:, 1]))
    picks = extract_particles(draw(centres_norm), MAPPING, diameter_px=2 * R_NORM * MAPPING.mean_scale)
    tol = 0.2 * max(MAPPING.scale_x, MAPPING.scale_y)
    assert_same_coordinates(truth, picks[["x", "y"]].to_numpy(), tol)
    back = export_all(tmp_path, picks)
    assert_same_coordinates(truth, back["relion"], tol)
    assert_same_coordinates(truth, back["cryosparc"], tol)
    assert_same_coordinates(truth, back["box"], tol + 0.5 * np.sqrt(2))


def test_y_flip_would_be_detected(tmp_path):
    centres_norm = np.array([(20, 18), (100, 38), (200, 78), (240, 148)], float)
    truth = np.column_stack(MAPPING.to_original(centres_norm[:, 0], centres_norm[:, 1]))
    picks = extract_particles(draw(centres_norm), MAPPING, diameter_px=2 * R_NORM * MAPPING.mean_scale)
    flipped = picks.assign(y=(H - 1) - picks["y"])
    path = tmp_path / "flipped_autopick.star"
    path.write_text(coordinates_text(flipped))
    back = starfile.read(path)[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy()
    with pytest.raises(AssertionError, match="worst coordinate error"):
        assert_same_coordinates(truth, back, tol=0.5)
    # The correct export passes the very same check.
    path.write_text(coordinates_text(picks))
    assert_same_coordinates(truth, starfile.read(path)[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(), 1e-6)
