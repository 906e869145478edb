"""Label import: every format lands particles at the right place and size in the mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import starfile
from PIL import Image

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.io.coordinates import read_coordinates, with_diameters
from samcryo_core.training.labels import (
    detect_label_format,
    label_to_mask,
    particles_to_mask,
    source_for,
)


def read_particles(path, diameter_px=None):
    """Coordinates as training reads them, with the diameter resolved."""
    return with_diameters(read_coordinates(path), override_px=diameter_px, source=path)

# 256 x 256 original, model 128, no padding: 2 original px per normalized px; mask 32 = 8 px/mask px.
SQUARE = FrameMapping("mic", "mic.mrc", (256, 256), (128, 128))  # target masks: 32 x 32


def _blob_centres(mask: np.ndarray) -> list[tuple[float, float]]:
    """(x, y) centroids of connected foreground components, sorted by x."""
    from scipy import ndimage

    lab, n = ndimage.label(mask > 0)
    cents = ndimage.center_of_mass(mask > 0, lab, range(1, n + 1))
    return sorted((float(c[1]), float(c[0])) for c in cents)


def _expected_mask_xy(mapping: FrameMapping, x: float, y: float, mask_size: int = 0) -> tuple[float, float]:
    """Where an original-frame point lands on the target mask (a quarter of the normalized frame)."""
    xn, yn = mapping.to_normalized(x, y)
    f = 0.25
    return float((xn + 0.5) * f - 0.5), float((yn + 0.5) * f - 0.5)


# An asymmetric set: two particles high up on the left, one low on the right. A missing or
# doubled y-flip moves them to the wrong rows.
XS = [40.0, 72.0, 200.0]
YS = [30.0, 36.0, 210.0]


def test_star_coordinates_land_where_the_frame_mapping_says(tmp_path):
    path = tmp_path / "mic.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": XS, "rlnCoordinateY": YS}), path)
    mask = label_to_mask(path, SQUARE, diameter_px=16)
    got = _blob_centres(mask)
    want = sorted(_expected_mask_xy(SQUARE, x, y, 32) for x, y in zip(XS, YS, strict=True))
    assert len(got) == 3
    np.testing.assert_allclose(got, want, atol=0.6)
    # Top-left particles are in the top rows of the mask, not the bottom ones.
    assert mask[:10].sum() > 0 and mask[10:22].sum() == 0


def test_flip_y_maps_row_to_h_minus_1_minus_y(tmp_path):
    path = tmp_path / "mic.csv"
    pd.DataFrame({"X-Coordinate": XS, "Y-Coordinate": YS, "Diameter": [16, 16, 16]}).to_csv(path, index=False)
    flipped = label_to_mask(path, SQUARE, flip_y=True)
    want = sorted(_expected_mask_xy(SQUARE, x, 255 - y, 32) for x, y in zip(XS, YS, strict=True))
    np.testing.assert_allclose(_blob_centres(flipped), want, atol=0.6)
    unflipped = label_to_mask(path, SQUARE, flip_y=False)
    assert not np.array_equal(flipped, unflipped)
    # For this asymmetric set the flipped mask is the unflipped one upside down (square, no pad).
    np.testing.assert_array_equal(flipped, np.flipud(unflipped))


@pytest.mark.parametrize(
    "cols", [("x", "y", "diameter"), ("X", "Y", "DIAMETER"), ("x-coordinate", "Y-Coordinate", "Diameter")]
)
def test_csv_column_names_are_case_insensitive(tmp_path, cols):
    path = tmp_path / "mic.csv"
    pd.DataFrame({cols[0]: XS, cols[1]: YS, cols[2]: [20.0, 24.0, 28.0]}).to_csv(path, index=False)
    parts = read_particles(path)
    np.testing.assert_array_equal(parts["x"], XS)
    np.testing.assert_array_equal(parts["diameter_px"], [20.0, 24.0, 28.0])
    # An explicit diameter wins over the column.
    np.testing.assert_array_equal(read_particles(path, diameter_px=10)["diameter_px"], [10.0] * 3)


def test_eman_box_centre_is_corner_plus_half_box(tmp_path):
    path = tmp_path / "mic.box"
    path.write_text("".join(f"{x - 32:.0f}\t{y - 32:.0f}\t64\t64\n" for x, y in zip(XS, YS, strict=True)))
    parts = read_particles(path, diameter_px=16)
    np.testing.assert_allclose(parts["x"], XS)
    np.testing.assert_allclose(parts["y"], YS)
    m_box = label_to_mask(path, SQUARE, diameter_px=16)
    star = tmp_path / "same.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": XS, "rlnCoordinateY": YS}), star)
    np.testing.assert_array_equal(m_box, label_to_mask(star, SQUARE, diameter_px=16))


def test_box_without_diameter_is_an_input_error(tmp_path):
    path = tmp_path / "mic.box"
    path.write_text("10 10 64 64\n")
    with pytest.raises(InputError, match="diameter"):
        read_particles(path)


def test_disc_radius_follows_per_axis_scale():
    # 4 original px per normalized px along x, 2 along y (a deliberately anisotropic mapping).
    m = FrameMapping("mic", "mic.mrc", (200, 400), (100, 100))
    assert m.scale_x == 4.0 and m.scale_y == 2.0
    from samcryo_core.training.labels import Particles, mask_shape

    # Diameter 64 original px -> radius 8 (x) / 16 (y) normalized px -> 2 / 4 mask px (mask 25 x 25).
    assert mask_shape(m) == (25, 25)
    mask = particles_to_mask(Particles(np.array([200.0]), np.array([100.0]), np.array([64.0])), m)
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    assert rows.size == pytest.approx(2 * 4 + 1, abs=1)
    assert cols.size == pytest.approx(2 * 2 + 1, abs=1)
    assert rows.size > cols.size


def test_out_of_image_coordinates_warn_and_are_dropped(tmp_path):
    path = tmp_path / "mic.star"
    starfile.write(
        pd.DataFrame({"rlnCoordinateX": [40.0, 300.0, -20.0], "rlnCoordinateY": [30.0, 10.0, 10.0]}), path
    )
    with pytest.warns(UserWarning, match=r"mic\.star: 2 of 3"):
        mask = label_to_mask(path, SQUARE, diameter_px=16)
    assert len(_blob_centres(mask)) == 1


def test_empty_label_sets_are_input_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("x,y,diameter\n")
    with pytest.raises(InputError, match="no particles"):
        label_to_mask(empty, SQUARE)
    outside = tmp_path / "outside.csv"
    outside.write_text("x,y,diameter\n1000,1000,20\n")
    with pytest.warns(UserWarning), pytest.raises(InputError, match="no particles inside"):
        label_to_mask(outside, SQUARE)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(blank)
    with pytest.raises(InputError, match="empty"):
        label_to_mask(blank, SQUARE)


def test_star_diameter_column_and_multi_micrograph_filter(tmp_path):
    path = tmp_path / "all.star"
    df = pd.DataFrame(
        {
            "rlnMicrographName": ["Movies/mic.mrc", "Movies/mic.mrc", "Movies/other.mrc"],
            "rlnCoordinateX": [40.0, 200.0, 100.0],
            "rlnCoordinateY": [30.0, 210.0, 100.0],
            "samcryoDiameterPx": [16.0, 16.0, 16.0],
        }
    )
    starfile.write(df, path)
    parts = source_for(path, "mic").table
    np.testing.assert_array_equal(parts["x"], [40.0, 200.0])
    np.testing.assert_array_equal(parts["diameter_px"], [16.0, 16.0])


def test_mask_image_any_size_resized_onto_the_normalized_image(tmp_path):
    # Original 256 x 512 (rows x cols) -> normalized 64 x 128: target mask 16 x 32.
    m = FrameMapping("mic", "mic.mrc", (256, 512), (64, 128))
    lab = np.zeros((64, 128), np.uint8)  # a quarter-size label image of the original frame
    lab[0:16, 0:32] = 255  # top-left 64 x 128 original pixels
    path = tmp_path / "mic.png"
    Image.fromarray(lab).save(path)
    mask = label_to_mask(path, m)
    assert mask.shape == (16, 32)
    # The label covers the top quarter rows and the left quarter columns: mask rows 0..3, cols 0..7.
    ys, xs = np.nonzero(mask)
    assert ys.min() == 0 and ys.max() == 3
    assert xs.min() == 0 and xs.max() == 7
    flipped = label_to_mask(path, m, flip_y=True)
    ys, _ = np.nonzero(flipped)
    assert ys.min() == 12 and ys.max() == 15


def test_target_discs_can_be_drawn_smaller_than_the_particle(tmp_path):
    path = tmp_path / "mic.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": [100.0], "rlnCoordinateY": [120.0]}), path)
    full = label_to_mask(path, SQUARE, diameter_px=64)
    half = label_to_mask(path, SQUARE, diameter_px=64, disc_fraction=0.5)
    # 64 original px = 32 normalized px = 8 mask px: radius 4 (half: 2) mask px
    assert full.sum() == pytest.approx(np.pi * 4**2, rel=0.15)
    assert half.sum() == pytest.approx(np.pi * 2**2, rel=0.3)


def test_configured_diameter_serves_labels_without_a_diameter_column(tmp_path):
    plain = tmp_path / "plain.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": [100.0], "rlnCoordinateY": [120.0]}), plain)
    with pytest.raises(InputError, match="no particle diameter"):
        label_to_mask(plain, SQUARE)
    assert label_to_mask(plain, SQUARE, default_diameter_px=64).sum() == pytest.approx(np.pi * 4**2, rel=0.15)
    # a file with its own diameters keeps them (simulated truth of mixed samples)
    own = tmp_path / "own.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": [100.0], "rlnCoordinateY": [120.0],
                                 "samcryoDiameterPx": [32.0]}), own)
    assert label_to_mask(own, SQUARE, default_diameter_px=64).sum() == pytest.approx(np.pi * 2**2, rel=0.3)


def test_format_detection():
    assert detect_label_format("a.star") == "star"
    assert detect_label_format("a.CSV") == "csv"
    assert detect_label_format("a.box") == "box"
    assert detect_label_format("a.cs") == "cs"
    assert detect_label_format("a.png") == "mask"
    with pytest.raises(InputError):
        detect_label_format("a.xyz")


def _particles_star(path, rows):
    """A RELION 3.1+ particles.star (optics + particles) for several micrographs."""
    optics = pd.DataFrame({"rlnOpticsGroup": [1], "rlnOpticsGroupName": ["opticsGroup1"],
                           "rlnImagePixelSize": [1.0], "rlnImageSize": [64]})
    particles = pd.DataFrame(rows, columns=["rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY"])
    particles["rlnOpticsGroup"] = 1
    starfile.write({"optics": optics, "particles": particles}, path)
    return path


def test_one_particles_star_labels_every_micrograph_like_per_micrograph_files(tmp_path):
    from samcryo_core.training.dataset import match_labels

    images = [tmp_path / "mics" / f"{n}.mrc" for n in ("mic", "other")]
    rows = [(f"MotionCorr/job002/Movies/{n}.mrc", x, y)
            for n in ("mic", "other", "unused") for x, y in zip(XS, YS, strict=True)]
    rows[4] = ("MotionCorr/job002/Movies/other.mrc", 128.0, 128.0)
    whole = _particles_star(tmp_path / "particles.star", rows)
    pairs = match_labels(images, [whole])
    assert [(img.name, src.path.name, len(src.table)) for img, src in pairs] == [
        ("mic.mrc", "particles.star", 3), ("other.mrc", "particles.star", 3)]
    own = tmp_path / "mic.star"
    starfile.write(pd.DataFrame({"rlnCoordinateX": XS, "rlnCoordinateY": YS}), own)
    np.testing.assert_array_equal(label_to_mask(pairs[0][1], SQUARE, diameter_px=16),
                                  label_to_mask(own, SQUARE, diameter_px=16))
    other = FrameMapping("other", "other.mrc", (256, 256), (128, 128))
    assert not np.array_equal(label_to_mask(pairs[1][1], other, diameter_px=16),
                              label_to_mask(own, other, diameter_px=16))


def test_unmatched_training_micrographs_are_listed(tmp_path):
    from samcryo_core.training.dataset import match_labels

    whole = _particles_star(tmp_path / "particles.star", [("Movies/mic.mrc", 10.0, 10.0)])
    with pytest.raises(InputError, match=r"no particles for 2 of 3 micrograph\(s\): b, c") as err:
        match_labels([tmp_path / "mic.mrc", tmp_path / "b.mrc", tmp_path / "c.tif"], [whole])
    assert "particles.star" in str(err.value) and "mic" in str(err.value)


def test_training_micrographs_with_the_same_name_are_refused(tmp_path):
    from samcryo_core.training.dataset import match_labels

    (tmp_path / "mic.star").write_text("")
    with pytest.raises(InputError, match="'mic' <- .*a/mic.mrc, .*b/mic.mrc"):
        match_labels([tmp_path / "a/mic.mrc", tmp_path / "b/mic.mrc"], labels_dir=tmp_path)
