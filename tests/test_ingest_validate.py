"""validate_micrograph: every rejection reason, and the pixel-size priority."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from helpers_mrc import noise_image, write_test_mrc
from PIL import Image

from samcryo_core.ingest.sources import Source
from samcryo_core.ingest.validate import validate_micrograph


def _src(path, px=None, src=None):
    return Source("m", str(path), px, src)


def test_good_micrograph(tmp_path):
    p = write_test_mrc(tmp_path / "m.mrc", noise_image((40, 60)), voxel_size=1.2)
    r = validate_micrograph(_src(p), min_size=32)
    assert r.ok and r.status == "ok" and r.reason == ""
    assert (r.height, r.width) == (40, 60)
    assert r.pixel_size_A == pytest.approx(1.2) and r.pixel_size_source == "header"
    row = r.to_row()
    assert list(row) == ["micrograph", "status", "reason", "source", "pixel_size_A", "pixel_size_source",
                         "height", "width"]
    assert row["pixel_size_A"] == "1.2"


def _rejected(tmp_path, path, expect, **kw):
    r = validate_micrograph(_src(path), **{"min_size": 16, "config_pixel_size_A": 1.0, **kw})
    assert not r.ok and r.status == "rejected"
    assert expect in r.reason, r.reason
    assert str(path) in r.reason and "Fix:" in r.reason
    assert "\t" not in r.reason and "\n" not in r.reason
    return r


def test_truncated(tmp_path):
    p = write_test_mrc(tmp_path / "t.mrc", noise_image((40, 40)))
    p.write_bytes(p.read_bytes()[:-10])
    _rejected(tmp_path, p, "truncated MRC file")


def test_not_mrc(tmp_path):
    p = tmp_path / "x.mrc"
    p.write_bytes(b"\0" * 4096)
    _rejected(tmp_path, p, "not an MRC file")


def test_3d_stack(tmp_path):
    p = write_test_mrc(tmp_path / "s.mrc", np.ones((4, 20, 20), np.float32), stack=True)
    _rejected(tmp_path, p, "3-D stack or volume")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # mrcfile's header stats on writing
@pytest.mark.parametrize(
    ("bad", "expect"), [(np.nan, "1 NaN and 0 Inf pixels"), (np.inf, "0 NaN and 1 Inf pixels")]
)
def test_nan_inf(tmp_path, bad, expect):
    d = noise_image((20, 20))
    d[5, 5] = bad
    _rejected(tmp_path, write_test_mrc(tmp_path / "n.mrc", d), expect)


def test_constant(tmp_path):
    r = _rejected(tmp_path, write_test_mrc(tmp_path / "c.mrc", np.full((20, 20), 3.0, np.float32)),
                  "image is constant (every pixel is 3)")
    assert (r.height, r.width) == (20, 20)


def test_too_small(tmp_path):
    p = tmp_path / "s.png"
    Image.fromarray(noise_image((20, 100), dtype=np.uint8)).save(p)
    _rejected(tmp_path, p, "image is 100 x 20 pixels, smaller than min_size 32", min_size=32)
    assert validate_micrograph(_src(p), min_size=20, config_pixel_size_A=1.0).ok


def test_missing_pixel_size(tmp_path):
    p = write_test_mrc(tmp_path / "m.mrc", noise_image((20, 20)))
    _rejected(tmp_path, p, "pixel size unknown", config_pixel_size_A=None)


def test_unsupported_file(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hi")
    _rejected(tmp_path, p, "unsupported file extension")


def test_pixel_size_priority(tmp_path):
    with_header = write_test_mrc(tmp_path / "h.mrc", noise_image((20, 20)), voxel_size=1.0)
    no_header = write_test_mrc(tmp_path / "n.mrc", noise_image((20, 20)))
    r = validate_micrograph(_src(with_header, 1.0, "star"), config_pixel_size_A=1.0, min_size=8)
    assert (r.pixel_size_A, r.pixel_size_source) == (1.0, "header")
    r = validate_micrograph(_src(no_header, 1.005, "star"), config_pixel_size_A=1.0, min_size=8)
    assert (r.pixel_size_A, r.pixel_size_source) == (1.005, "star")
    r = validate_micrograph(_src(no_header), config_pixel_size_A=0.9, min_size=8)
    assert (r.pixel_size_A, r.pixel_size_source) == (0.9, "config")
    r = validate_micrograph(_src(no_header, 1.1, "cryosparc"), min_size=8)
    assert (r.pixel_size_A, r.pixel_size_source) == (1.1, "cryosparc")


def test_disagreeing_pixel_sizes_warn(tmp_path, caplog):
    p = write_test_mrc(tmp_path / "h.mrc", noise_image((20, 20)), voxel_size=1.06)
    with caplog.at_level(logging.WARNING, logger="samcryo_core.ingest.validate"):
        r = validate_micrograph(_src(p, 0.83, "star"), config_pixel_size_A=1.065, min_size=8)
    assert r.ok and r.pixel_size_A == pytest.approx(1.06) and r.pixel_size_source == "header"
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert len(warnings) == 1  # header vs config agree within 1 %
    assert "h.mrc" in warnings[0] and "1.06" in warnings[0] and "0.83" in warnings[0]
    assert "header" in warnings[0] and "star" in warnings[0]
