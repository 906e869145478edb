"""Probability map -> candidates: crowded splitting, filters, duplicates, FOM and the picks CSV."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.particles.extraction import (
    circularity,
    extract_particles,
    radius_normalized,
    suppress_duplicates,
)
from samcryo_core.particles.picks_io import PICKS_COLUMNS, empty_picks, read_picks, write_picks

S = 128


def square_mapping(scale: float = 2.0) -> FrameMapping:
    """A square micrograph of S*scale pixels binned to S."""
    n = int(S * scale)
    return FrameMapping("mic", "mic.mrc", (n, n), (S, S))


def discs(centres, radius: float, value: float = 1.0, shape=(S, S)) -> np.ndarray:
    prob = np.zeros(shape, dtype=np.float32)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    for x, y in centres:
        prob[(xx - x) ** 2 + (yy - y) ** 2 <= radius**2] = value
    return prob


def test_isolated_discs_give_exact_centres_and_mapped_coordinates():
    m = square_mapping(2.0)
    centres = [(20, 30), (60, 64), (100, 90)]
    picks = extract_particles(discs(centres, 6), m, diameter_px=24.0)
    got = sorted(zip(picks["x_norm"], picks["y_norm"], strict=True))
    assert got == sorted((float(x), float(y)) for x, y in centres)
    xo, yo = m.to_original(picks["x_norm"].to_numpy(), picks["y_norm"].to_numpy())
    np.testing.assert_allclose(picks["x"], xo)
    np.testing.assert_allclose(picks["y"], yo)
    assert list(picks.columns) == list(PICKS_COLUMNS)
    assert (picks["fom"] == 1.0).all() and (picks["diameter_px"] == 24.0).all()


def test_touching_discs_are_split_by_watershed():
    m = square_mapping(2.0)
    r = 6
    # Three discs in a row whose outlines overlap (centres 11 px apart < 2r): one blob.
    centres = [(40, 64), (51, 64), (62, 64), (90, 30), (90, 41)]
    prob = discs(centres, r)
    from scipy import ndimage

    assert ndimage.label(prob > 0.5)[1] == 2  # two merged blobs
    picks = extract_particles(prob, m, diameter_px=2 * r * 2.0)
    assert len(picks) == 5
    got = np.array(sorted(zip(picks["x_norm"], picks["y_norm"], strict=True)))
    want = np.array(sorted(centres), dtype=float)
    assert np.abs(got - want).max() < 1.0

    merged = extract_particles(
        prob, m, diameter_px=2 * r * 2.0, split_touching=False, max_area_fraction=10, min_circularity=0.0
    )
    assert len(merged) == 2


def test_area_filter_rejects_too_small_and_too_large():
    m = square_mapping(1.0)
    prob = discs([(30, 30)], 6) + discs([(80, 30)], 2) + discs([(60, 90)], 14)
    picks = extract_particles(prob, m, diameter_px=12.0, split_touching=False)
    assert len(picks) == 1 and picks["x_norm"].iloc[0] == 30.0
    # Widening the range keeps all three.
    wide = extract_particles(
        prob, m, diameter_px=12.0, split_touching=False, min_area_fraction=0.05, max_area_fraction=10
    )
    assert len(wide) == 3


def test_circularity_filter_rejects_a_streak():
    m = square_mapping(1.0)
    prob = discs([(30, 30)], 6)
    prob[80:84, 20:60] = 1.0  # 4 x 40 streak: area 160 ~ 1.4 discs, circularity ~0.57
    loose = extract_particles(prob, m, diameter_px=12.0, min_circularity=0.0, split_touching=False)
    strict = extract_particles(prob, m, diameter_px=12.0, min_circularity=0.7, split_touching=False)
    assert len(loose) == 2
    assert len(strict) == 1 and strict["y_norm"].iloc[0] == 30.0


def test_circularity_values():
    r = 10
    assert circularity(math.pi * r * r, 2 * math.pi * r) == pytest.approx(1.0)
    assert circularity(100.0, 4 * 50 + 4) < 0.2  # a 2 x 50 strip
    assert circularity(10.0, 5.0) == 1.0  # clipped


def test_edge_margin_drops_picks_near_border():
    m = square_mapping(2.0)  # original 256 x 256
    prob = discs([(6, 64), (64, 64), (121, 64)], 5)
    all_picks = extract_particles(prob, m, diameter_px=20.0)
    assert len(all_picks) == 3
    kept = extract_particles(prob, m, diameter_px=20.0, edge_margin_px=20.0)
    # x of the outer picks: (6+0.5)*2-0.5 = 12.5 and (121+0.5)*2-0.5 = 242.5 (> 255-20)
    assert kept["x_norm"].tolist() == [64.0]


def test_duplicates_keep_higher_fom():
    picks = pd.DataFrame(
        {
            "x": [10.0, 14.0, 40.0, 100.0],
            "y": [10.0, 10.0, 40.0, 100.0],
            "fom": [0.6, 0.9, 0.7, 0.5],
            "diameter_px": 20.0,
            "x_norm": 0.0,
            "y_norm": 0.0,
            "area_px": 0.0,
        }
    )
    kept = suppress_duplicates(picks, 10.0)
    assert kept["x"].tolist() == [14.0, 40.0, 100.0]  # highest FOM first; 10,10 suppressed by 14,10
    assert len(suppress_duplicates(picks, 3.0)) == 4


def test_duplicates_suppressed_inside_extraction():
    m = square_mapping(1.0)
    # Two separate 4 x 4 blobs whose centres are 5 px apart; diameter 12 -> duplicates within 6 px.
    prob = np.zeros((S, S), np.float32)
    prob[60:64, 40:44] = 0.9
    prob[60:64, 45:49] = 0.7
    kw = dict(diameter_px=12.0, split_touching=False, min_area_fraction=0.1)
    picks = extract_particles(prob, m, min_distance_fraction=0.5, **kw)
    assert len(picks) == 1
    assert picks["x_norm"].iloc[0] == 41.5 and picks["fom"].iloc[0] > 0.5
    apart = extract_particles(prob, m, min_distance_fraction=0.4, **kw)  # 4.8 px < 5 px
    assert len(apart) == 2


def test_every_candidate_above_the_floor_is_kept_with_its_fom():
    # The threshold is applied at export: extraction keeps weak candidates, ranked by FOM.
    m = square_mapping(1.0)
    prob = discs([(30, 30)], 6, 0.8) + discs([(90, 90)], 6, 0.4) + discs([(30, 100)], 6, 0.05)
    picks = extract_particles(prob, m, diameter_px=12.0)
    assert sorted(picks["fom"].round(6)) == [0.4, 0.8]  # the 0.05 disc is below the 0.1 floor
    assert picks["fom"].is_monotonic_decreasing
    assert len(extract_particles(prob, m, diameter_px=12.0, floor=0.5)) == 1
    with pytest.raises(ValueError, match="floor"):
        extract_particles(prob, m, diameter_px=12.0, floor=0.0)


def test_fom_is_the_probability_at_the_centre_not_the_halo():
    # A confident particle with a wide low-probability halo keeps a FOM near its core value.
    m = square_mapping(1.0)
    prob = discs([(60, 60)], 9, 0.3) + discs([(60, 60)], 5, 0.65)
    prob = np.minimum(prob, 0.95)
    picks = extract_particles(prob, m, diameter_px=16.0, max_area_fraction=4.0)
    assert len(picks) == 1 and picks["fom"].iloc[0] == pytest.approx(0.95, abs=0.01)


def test_non_square_frame_maps_back_with_separate_scales():
    # Original 100 x 200 -> normalized 64 x 128: no padding, every pixel is micrograph.
    m = FrameMapping("mic", "mic.mrc", (100, 200), (64, 128))
    prob = discs([(40, 10), (40, 50), (120, 6)], 5, shape=(64, 128))
    picks = extract_particles(prob, m, diameter_px=10 * m.mean_scale, edge_margin_px=0.0)
    got = sorted(zip(picks["x_norm"], picks["y_norm"], strict=True))
    assert got == [(40.0, 10.0), (40.0, 50.0), (120.0, 6.0)]
    row = picks.loc[picks["y_norm"] == 50.0].iloc[0]
    assert row["y"] == pytest.approx((50 + 0.5) * m.scale_y - 0.5)
    assert row["x"] == pytest.approx((40 + 0.5) * m.scale_x - 0.5)


def test_radius_uses_mean_scale():
    m = FrameMapping("mic", "mic.mrc", (600, 900), (170, 256))
    assert radius_normalized(m, 100.0) == pytest.approx(50.0 / ((900 / 256 + 600 / 170) / 2))


def _lattice(n_side: int, spacing: float, radius: float, shape, jitter: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    off = (shape[0] - spacing * (n_side - 1)) / 2
    def j():
        return rng.uniform(-jitter, jitter)

    return [(off + i * spacing + j(), off + k * spacing + j()) for i in range(n_side) for k in range(n_side)]


@pytest.mark.parametrize(("spacing", "halo"), [(12.0, 0.0), (11.0, 0.0), (12.0, 0.3)])
def test_crowded_touching_particles_split_into_the_right_count(spacing, halo):
    """A 7 x 7 field of touching discs (about half the area is particle) is one connected
    component at any threshold; the split must find all 49 centres, none dropped for size."""
    m = square_mapping(1.0)
    r = 6.0
    centres = _lattice(7, spacing, r, (S, S), jitter=0.5, seed=3)
    prob = np.zeros((S, S), np.float32)
    if halo:  # a saturated map whose low-probability halo connects everything
        prob = np.maximum(prob, discs([(round(x), round(y)) for x, y in centres], r + 3, halo))
    prob = np.maximum(prob, discs([(round(x), round(y)) for x, y in centres], r, 0.98))
    from scipy import ndimage

    assert ndimage.label(prob >= 0.1)[1] == 1
    picks = extract_particles(prob, m, diameter_px=2 * r)
    assert len(picks) == 49
    from scipy.spatial import cKDTree

    d, _ = cKDTree(np.round(np.array(centres))).query(picks[["x_norm", "y_norm"]].to_numpy())
    assert d.max() < 1.5
    merged = extract_particles(prob, m, diameter_px=2 * r, split_touching=False, max_area_fraction=1e6,
                               min_circularity=0.0)
    assert len(merged) == 1


def test_shape_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="probability map has shape"):
        extract_particles(np.zeros((64, 64)), square_mapping(), diameter_px=10.0)


def test_empty_map_gives_empty_table():
    picks = extract_particles(np.zeros((S, S)), square_mapping(), diameter_px=10.0)
    assert picks.empty and list(picks.columns) == list(PICKS_COLUMNS)


def test_picks_csv_round_trip_and_header_only(tmp_path):
    picks = pd.DataFrame(
        {
            "x": [1.23456, 100.0],
            "y": [2.5, 3.0],
            "fom": [0.1234567, 1.0],
            "diameter_px": [20.0, 20.0],
            "x_norm": [0.5, 50.0],
            "y_norm": [1.0, 1.5],
            "area_px": [100.0, 120.0],
            "extra": [1, 2],
        }
    )
    write_picks(tmp_path / "a.csv", picks)
    back = read_picks(tmp_path / "a.csv")
    assert list(back.columns) == list(PICKS_COLUMNS)
    assert back["x"].tolist() == [1.235, 100.0] and back["fom"].tolist() == [0.123457, 1.0]

    write_picks(tmp_path / "empty.csv", empty_picks())
    assert (tmp_path / "empty.csv").read_text() == ",".join(PICKS_COLUMNS) + "\n"
    assert read_picks(tmp_path / "empty.csv").empty


def test_read_picks_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_picks(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="lacks the columns x/y"):
        read_picks(tmp_path / "bad.csv")


@settings(max_examples=25, deadline=None)
@given(H=st.integers(150, 3000), W=st.integers(150, 3000), seed=st.integers(0, 2**16))
def test_any_frame_maps_whole_pixel_centres_exactly(H, W, seed):
    """Property: for any (non-square) frame, discs centred on model pixels map back exactly."""
    from samcryo_core.preprocess.fourier import scaled_shape

    h, w = scaled_shape((H, W), max(H, W) / 128)
    m = FrameMapping("m", "m.mrc", (H, W), (h, w))
    rng = np.random.default_rng(seed)
    r = 4
    # A few well-separated centres (at least r + 1 from the edges).
    ys = np.arange(r + 1, h - r - 1, 3 * r)
    xs = np.arange(r + 1, w - r - 1, 3 * r)
    if len(ys) == 0 or len(xs) == 0:
        return
    centres = [(int(rng.choice(xs)), int(rng.choice(ys))) for _ in range(3)]
    centres = list(dict.fromkeys(centres))
    picks = extract_particles(
        discs(centres, r, shape=(h, w)),
        m,
        diameter_px=2 * r * (m.scale_x + m.scale_y) / 2,
        min_distance_fraction=0.0,
    )
    assert sorted(zip(picks["x_norm"], picks["y_norm"], strict=True)) == sorted(
        (float(x), float(y)) for x, y in centres
    )
    want_x, want_y = m.to_original(picks["x_norm"].to_numpy(), picks["y_norm"].to_numpy())
    np.testing.assert_allclose(picks["x"], want_x, rtol=0, atol=1e-9)
    np.testing.assert_allclose(picks["y"], want_y, rtol=0, atol=1e-9)
    assert picks["x"].between(-0.5, W - 0.5).all() and picks["y"].between(-0.5, H - 0.5).all()


def test_a_dim_particle_leaning_on_a_bright_one_gets_its_own_pick():
    """Real maps: a 0.65 plateau touching a saturated neighbour (centres 0.8 diameters apart).
    The merged core's distance transform peaks at the bright disc only; the residual seeding
    must still give the dim particle its own pick, with its own (lower) figure of merit."""
    m = square_mapping(1.0)
    r = 8.0
    bright, dim = (50, 64), (63, 64)  # 13 px apart, diameter 16
    prob = discs([dim], r, 0.65)
    prob = np.maximum(prob, discs([bright], r, 1.0))
    picks = extract_particles(prob, m, diameter_px=2 * r)
    assert len(picks) == 2
    got = picks.sort_values("x_norm")
    assert abs(got["x_norm"].iloc[0] - bright[0]) < 1.5 and abs(got["x_norm"].iloc[1] - dim[0]) < 2.5
    assert got["fom"].iloc[0] > 0.95 and 0.5 < got["fom"].iloc[1] < 0.8


def test_an_off_centre_seed_in_one_particle_adds_no_second_pick():
    """A single large soft particle (probability falling off from the centre) stays one pick:
    what a seed leaves uncovered is a thin rim, far below the residual level."""
    m = square_mapping(1.0)
    yy, xx = np.mgrid[:S, :S]
    rr = np.hypot(xx - 64, yy - 64)
    prob = np.clip(1.2 - rr / 12.0, 0, 1).astype(np.float32)  # 1 inside ~2 px, 0 at 14 px
    picks = extract_particles(prob, m, diameter_px=20.0, max_area_fraction=3.0)
    assert len(picks) == 1
    assert abs(picks["x_norm"].iloc[0] - 64) < 1 and abs(picks["y_norm"].iloc[0] - 64) < 1


def test_a_dense_field_above_the_core_level_everywhere_gives_every_particle():
    """Dense real grids (EMPIAR-10059): the whole field is above 0.5, so the core is one network,
    yet the probability still peaks at every particle. Every particle must get its own pick, and
    the gaps must not count as particle area (no piece fails the area filter for them)."""
    from scipy import ndimage

    m = square_mapping(1.0)
    r = 6.0
    centres = _lattice(8, 14.0, r, (S, S), jitter=0.5, seed=5)
    prob = np.full((S, S), 0.55, np.float32)
    prob = np.maximum(prob, discs([(round(x), round(y)) for x, y in centres], r, 0.92))
    prob = ndimage.gaussian_filter(prob, 1.0)
    assert ndimage.label(prob >= 0.5)[1] == 1 and prob.min() >= 0.5
    picks = extract_particles(prob, m, diameter_px=2 * r)
    exported = picks[picks["fom"] >= 0.7]  # particles 0.92, the gaps 0.55
    from scipy.spatial import cKDTree

    d, _ = cKDTree(np.round(np.array(centres))).query(exported[["x_norm", "y_norm"]].to_numpy())
    assert len(exported) == len(centres) and d.max() < 2.0
