"""read_micrograph: every supported format reads as float32 2-D; every bad file is an InputError."""

from __future__ import annotations

import io
import logging

import mrcfile
import numpy as np
import pytest
import tifffile
from helpers_mrc import noise_image, write_test_mrc
from PIL import Image

from samcryo_core.errors import InputError
from samcryo_core.io.micrograph import read_micrograph
from samcryo_core.io.mrc_write import write_mrc


@pytest.mark.parametrize(
    ("dtype", "mode"),
    [(np.float32, 2), (np.float16, 12), (np.int8, 0), (np.uint8, 6), (np.int16, 1), (np.uint16, 6)],
)
def test_mrc_modes_read_as_float32(tmp_path, dtype, mode):
    data = noise_image((40, 60), dtype=dtype)
    p = write_test_mrc(tmp_path / "m.mrc", data, voxel_size=1.5)
    with mrcfile.open(p, header_only=True) as mrc:
        assert int(mrc.header.mode) == mode
    mic = read_micrograph(p)
    assert mic.data.dtype == np.float32
    assert mic.data.shape == (40, 60)
    np.testing.assert_array_equal(mic.data, data.astype(np.float32))
    assert mic.pixel_size_A == pytest.approx(1.5)
    assert mic.header_pixel_size_A == pytest.approx(1.5)


def test_float32_mrc_is_memory_mapped_not_copied(tmp_path):
    p = write_test_mrc(tmp_path / "m.mrc", noise_image((30, 20)))
    mic = read_micrograph(p)
    assert isinstance(mic.data, np.memmap)
    assert not mic.data.flags.writeable
    assert float(mic.data[3, 4]) == pytest.approx(float(noise_image((30, 20))[3, 4]))


def test_big_endian_mrc(tmp_path):
    data = noise_image((20, 30))
    p = write_test_mrc(tmp_path / "be.mrc", data.astype(">f4"))
    mic = read_micrograph(p)
    assert mic.data.dtype == np.float32 and mic.data.dtype.isnative
    np.testing.assert_array_equal(mic.data, data)


def test_unset_pixel_size_is_none(tmp_path):
    p = write_test_mrc(tmp_path / "m.mrc", noise_image((20, 30)))
    mic = read_micrograph(p)
    assert mic.pixel_size_A is None and mic.header_pixel_size_A is None


def test_anisotropic_header_pixel_size_warns(tmp_path, caplog):
    p = write_test_mrc(tmp_path / "m.mrc", noise_image((20, 30)), voxel_size=(1.0, 1.2, 1.0))
    with caplog.at_level(logging.WARNING):
        mic = read_micrograph(p)
    assert mic.pixel_size_A == pytest.approx(1.0)
    assert "differs between x" in caplog.text and "m.mrc" in caplog.text


@pytest.mark.parametrize("stack", [False, True])
def test_single_frame_stack_accepted(tmp_path, stack):
    data = noise_image((25, 35))
    p = write_test_mrc(tmp_path / "s.mrcs", data[None], stack=stack)
    mic = read_micrograph(p)
    assert mic.data.shape == (25, 35)
    np.testing.assert_array_equal(mic.data, data)


@pytest.mark.parametrize("stack", [False, True])
def test_3d_stack_rejected(tmp_path, stack):
    p = write_test_mrc(tmp_path / "movie.mrc", np.zeros((3, 10, 12), np.float32), stack=stack)
    with pytest.raises(InputError, match="3-D stack or volume of shape \\(3, 10, 12\\)") as ei:
        read_micrograph(p)
    assert ei.value.path == str(p)
    assert "Fix:" in str(ei.value)


def test_truncated_mrc(tmp_path):
    p = write_test_mrc(tmp_path / "t.mrc", noise_image((50, 50)))
    raw = p.read_bytes()
    p.write_bytes(raw[:-100])
    with pytest.raises(InputError, match="truncated MRC file: header promises 11024 bytes, file holds 10924"):
        read_micrograph(p)


@pytest.mark.parametrize("content", [b"not an mrc" * 300, b"short"])
def test_not_an_mrc(tmp_path, content):
    p = tmp_path / "x.mrc"
    p.write_bytes(content)
    with pytest.raises(InputError, match="not an MRC file"):
        read_micrograph(p)


def test_unsupported_mode(tmp_path):
    p = write_test_mrc(tmp_path / "m.mrc", noise_image((8, 8)))
    raw = bytearray(p.read_bytes())
    raw[12:16] = np.int32(3).tobytes()  # mode 3: complex int16, no numpy dtype
    p.write_bytes(bytes(raw))
    with pytest.raises(InputError, match="unsupported MRC data mode"):
        read_micrograph(p)


def test_complex_mode_rejected(tmp_path):
    p = write_test_mrc(tmp_path / "c.mrc", np.ones((8, 8), np.complex64))
    with pytest.raises(InputError, match="complex-valued"):
        read_micrograph(p)


def test_missing_and_unsupported_extension(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_micrograph(tmp_path / "nope.mrc")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported file extension '.txt'"):
        read_micrograph(tmp_path / "a.txt")


def test_tiff_16bit(tmp_path):
    data = noise_image((30, 40), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "m.tif", data)
    mic = read_micrograph(tmp_path / "m.tif")
    assert mic.data.dtype == np.float32 and mic.pixel_size_A is None
    np.testing.assert_array_equal(mic.data, data.astype(np.float32))


def test_tiff_float32_and_multipage(tmp_path):
    data = noise_image((30, 40))
    tifffile.imwrite(tmp_path / "f.tiff", data)
    np.testing.assert_array_equal(read_micrograph(tmp_path / "f.tiff").data, data)
    tifffile.imwrite(tmp_path / "movie.tif", np.stack([data, data, data]), photometric="minisblack")
    with pytest.raises(InputError, match="TIFF has 3 pages"):
        read_micrograph(tmp_path / "movie.tif")


def test_tiff_rgb_planar_and_interleaved_become_grey(tmp_path):
    grey = noise_image((30, 40), dtype=np.uint16)
    rgb = np.stack([grey, grey, grey], axis=-1)
    tifffile.imwrite(tmp_path / "i.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "p.tif", np.moveaxis(rgb, -1, 0), photometric="rgb", planarconfig="separate")
    for name in ("i.tif", "p.tif"):
        mic = read_micrograph(tmp_path / name)
        assert mic.data.shape == (30, 40)
        np.testing.assert_allclose(mic.data, grey.astype(np.float32), rtol=1e-5)


def test_png_8bit_and_16bit(tmp_path):
    d8 = noise_image((30, 40), dtype=np.uint8)
    Image.fromarray(d8).save(tmp_path / "a.png")
    np.testing.assert_array_equal(read_micrograph(tmp_path / "a.png").data, d8.astype(np.float32))
    d16 = noise_image((30, 40), dtype=np.uint16) * 100
    Image.fromarray(d16).save(tmp_path / "b.png")
    mic = read_micrograph(tmp_path / "b.png")
    np.testing.assert_array_equal(mic.data, d16.astype(np.float32))


def test_rgb_png_and_jpeg_become_grey(tmp_path):
    grey = noise_image((30, 40), dtype=np.uint8)
    rgb = np.stack([grey, grey, grey], axis=-1)
    Image.fromarray(rgb).save(tmp_path / "c.png")
    mic = read_micrograph(tmp_path / "c.png")
    assert mic.data.shape == (30, 40)
    np.testing.assert_allclose(mic.data, grey.astype(np.float32), atol=1e-3)
    Image.fromarray(rgb).save(tmp_path / "d.jpg", quality=95)
    jpg = read_micrograph(tmp_path / "d.jpg")
    assert jpg.data.shape == (30, 40) and jpg.data.dtype == np.float32
    assert np.corrcoef(jpg.data.ravel(), grey.ravel())[0, 1] > 0.9


def test_corrupt_png(tmp_path):
    Image.fromarray(noise_image((64, 64), dtype=np.uint8)).save(tmp_path / "a.png")
    raw = (tmp_path / "a.png").read_bytes()
    (tmp_path / "a.png").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="cannot read image"):
        read_micrograph(tmp_path / "a.png")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_write_mrc_round_trip(tmp_path, dtype):
    data = noise_image((20, 30))
    out = tmp_path / "sub" / "o.mrc"
    write_mrc(out, data, (2.5, 2.6), dtype=dtype)
    with mrcfile.open(out, permissive=False) as mrc:
        assert mrc.data.dtype == np.dtype(dtype)
        assert float(mrc.voxel_size.x) == pytest.approx(2.5)
        assert float(mrc.voxel_size.y) == pytest.approx(2.6)
        np.testing.assert_allclose(mrc.data, data, rtol=1e-3, atol=1e-3)
    assert mrcfile.validate(str(out), print_file=io.StringIO())
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.mrc"]  # no temp file left
    assert read_micrograph(out).pixel_size_A == pytest.approx(2.5)


def test_write_mrc_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="float32 or float16"):
        write_mrc(tmp_path / "a.mrc", np.zeros((4, 4)), None, dtype="int16")
    with pytest.raises(ValueError, match="2-D"):
        write_mrc(tmp_path / "a.mrc", np.zeros((2, 4, 4)), None)
    assert not list(tmp_path.iterdir())
