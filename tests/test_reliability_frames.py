"""Property: a pick survives the whole coordinate path to RELION/cryoSPARC/EMAN within half a pixel.

tests/test_frame_mapping.py checks the FrameMapping arithmetic alone. This goes through what the
pipeline really does with a coordinate, for random micrograph shapes (non-square, any aspect
ratio), binning factors (non-integer, up- and downsampling) and pick sets:

original-frame pick -> normalized frame (mapping built by ``preprocess.fourier.scaled_shape`` for
a binning factor, and for small shapes by ``normalize_micrograph`` itself)
-> back to the original frame (as ``extract_particles`` does) -> picks CSV (``write_picks`` /
``read_picks``) -> RELION ``_autopick.star`` + ``autopick.star`` index, cryoSPARC particles STAR
and EMAN ``.box`` (the exporters) -> read back with ``starfile`` / numpy -> equal to the original
picks within half a pixel, in the same order, with no y flip and the right micrograph name.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import starfile
from hypothesis import given, settings
from hypothesis import strategies as st

from samcryo_core.export.cryosparc import write_cryosparc_star
from samcryo_core.export.eman_box import write_boxes
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.relion import write_relion
from samcryo_core.frame import FrameMapping
from samcryo_core.particles.picks_io import read_picks, write_picks
from samcryo_core.preprocess.fourier import scaled_shape
from samcryo_core.preprocess.normalize import normalize_micrograph

HALF_PIXEL = 0.5
BOX = 64


def mapping_for(H: int, W: int, factor: float) -> FrameMapping:
    """The FrameMapping ``normalize_micrograph`` produces for an ``H`` x ``W`` micrograph."""
    return FrameMapping("mic", "mic.mrc", (H, W), scaled_shape((H, W), factor))


def _read_star_table(path: Path) -> pd.DataFrame:
    data = starfile.read(path, always_dict=True)
    table = next(iter(data.values()))
    return table if isinstance(table, pd.DataFrame) else pd.DataFrame([table])


picks_strategy = st.lists(
    st.tuples(st.floats(0, 1, allow_subnormal=False), st.floats(0, 1, allow_subnormal=False),
              st.floats(0, 1)),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(H=st.integers(256, 6000), W=st.integers(256, 6000), factor=st.floats(0.5, 12.0), picks=picks_strategy,
       name=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,15}", fullmatch=True),
       relion_version=st.sampled_from(["3.1", "4", "5"]))
def test_picks_round_trip_through_frames_and_writers(H, W, factor, picks, name, relion_version):
    m = mapping_for(H, W, factor)
    if H * W <= 600 * 600:  # the real preprocessing gives exactly this mapping
        data = np.random.default_rng(H * W).normal(size=(H, W)).astype(np.float32)
        _, real = normalize_micrograph(data, name="mic", source="mic.mrc", pixel_size_A=1.0,
                                       diameter_A=20.0 * factor, particle_px=20.0)
        assert real.binned_shape == m.binned_shape

    # original picks anywhere in the micrograph (pixel centres span -0.5 .. W-0.5)
    x = np.array([p[0] * W - 0.5 for p in picks], dtype=np.float64)
    y = np.array([p[1] * H - 0.5 for p in picks], dtype=np.float64)
    fom = np.array([p[2] for p in picks], dtype=np.float64)
    xn, yn = m.to_normalized(x, y)
    assert np.all((xn >= -0.5 - 1e-9) & (xn <= m.binned_shape[1] - 0.5 + 1e-9))
    assert np.all((yn >= -0.5 - 1e-9) & (yn <= m.binned_shape[0] - 0.5 + 1e-9))
    xo, yo = m.to_original(xn, yn)  # what extraction writes

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        table = pd.DataFrame({"x": xo, "y": yo, "fom": fom, "diameter_px": 100.0, "x_norm": xn,
                              "y_norm": yn, "area_px": 10.0})
        write_picks(root / "picks" / f"{name}.csv", table)
        back = read_picks(root / "picks" / f"{name}.csv")
        source = root / "project" / "MotionCorr" / "job002" / "Movies" / f"{name}.mrc"
        item = MicrographPicks(name, str(source), back)

        res = write_relion([item], root / "relion", project_dir=root / "project",
                           relion_version=relion_version)
        write_cryosparc_star(root / "particles.star", [item], project_dir=root / "project")
        write_boxes([item], root / "box", BOX)

        assert res.coordinate_files == [root / "relion" / "Movies" / f"{name}_autopick.star"]
        coords = _read_star_table(res.coordinate_files[0])
        index = _read_star_table(root / "relion" / "autopick.star")
        particles = _read_star_table(root / "particles.star")
        box_lines = (root / "box" / f"{name}.box").read_text().splitlines()
        box = np.array([line.split() for line in box_lines], dtype=np.float64).reshape(-1, 4)

    assert index["rlnMicrographName"].tolist() == [f"MotionCorr/job002/Movies/{name}.mrc"]
    assert len(coords) == len(particles) == len(box) == len(x)
    if len(x):
        np.testing.assert_allclose(coords["rlnCoordinateX"], x, atol=HALF_PIXEL)
        np.testing.assert_allclose(coords["rlnCoordinateY"], y, atol=HALF_PIXEL)
        np.testing.assert_allclose(coords["rlnAutopickFigureOfMerit"], fom, atol=1e-6)
        assert set(particles["rlnMicrographName"]) == {f"MotionCorr/job002/Movies/{name}.mrc"}
        np.testing.assert_allclose(particles["rlnCoordinateX"], x, atol=HALF_PIXEL)
        np.testing.assert_allclose(particles["rlnCoordinateY"], y, atol=HALF_PIXEL)
        # EMAN: lower-left corner + box/2 is the centre, rounded to whole pixels
        np.testing.assert_allclose(box[:, 0] + box[:, 2] / 2, x, atol=HALF_PIXEL)
        np.testing.assert_allclose(box[:, 1] + box[:, 3] / 2, y, atol=HALF_PIXEL)
        # the text keeps far more than half a pixel: the mapping itself is exact
        np.testing.assert_allclose(coords["rlnCoordinateX"], x, atol=1e-3)
        np.testing.assert_allclose(coords["rlnCoordinateY"], y, atol=1e-3)
