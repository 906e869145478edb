"""``samcryo normalize`` end to end after ``samcryo ingest``: outputs, sidecars, reruns, failures."""

from __future__ import annotations

import os

import mrcfile
import numpy as np
import pytest
from helpers_mrc import make_mixed_inputs, noise_image, write_test_mrc

from samcryo_core.cli import main
from samcryo_core.frame import FrameMapping
from samcryo_core.manifest import read_manifest

NORMALIZE_COLUMNS = ["micrograph", "status", "reason", "source", "normalized", "sidecar", "stamp"]
# 24 A particles spanning 12 model pixels: micrographs at 1.0 A/px are binned by 2, at 1.2 by 1.67
SCALE = ["--particle-px", "12", "--diameter-A", "24"]


def _ingest(tmp_path, paths):
    chunk = tmp_path / "ingest.tsv"
    assert main(["ingest", "--out", str(chunk), "--pixel-size", "1.0", "--min-size", "32", *paths]) == 0
    return chunk


def test_ingest_then_normalize_mixed_chunk(tmp_path):
    paths = make_mixed_inputs(tmp_path / "mics")
    chunk = _ingest(tmp_path, list(paths.values()))
    out_dir, out = tmp_path / "normalized", tmp_path / "norm.tsv"
    rc = main(["normalize", "--manifest", str(chunk), "--out-dir", str(out_dir), "--out", str(out),
               *SCALE, "--dtype", "float16"])
    assert rc == 0
    rows = read_manifest(out)
    assert list(rows[0]) == NORMALIZE_COLUMNS
    assert len(rows) == len(paths)  # accepted + rejected = inputs
    ingest_rows = {r["micrograph"]: r for r in read_manifest(chunk)}
    for r in rows:
        assert r["status"] == ingest_rows[r["micrograph"]]["status"]
        if r["status"] == "rejected":
            assert r["reason"] == ingest_rows[r["micrograph"]]["reason"] and r["normalized"] == ""
            continue
        m = FrameMapping.read(r["sidecar"])
        assert m.micrograph == r["micrograph"] and m.source == r["source"]
        with mrcfile.open(r["normalized"], permissive=False) as mrc:
            assert mrc.data.shape == m.binned_shape and mrc.data.dtype == np.float16
            assert float(mrc.voxel_size.x) == pytest.approx(m.normalized_pixel_size_A[0], rel=1e-3)
            assert float(mrc.voxel_size.y) == pytest.approx(m.normalized_pixel_size_A[1], rel=1e-3)
            # centred on the median (contrast.robust_standardize); float16 storage rounds it
            assert abs(float(np.median(mrc.data.astype(np.float32)))) < 0.01
        # 24 A particles at the micrograph's own pixel size land at 12 normalized pixels
        assert 24.0 / m.normalized_pixel_size_A[0] == pytest.approx(12.0, rel=0.02)
    gh = FrameMapping.read(out_dir / "good_header.json")
    assert gh.pixel_size_A == pytest.approx(1.2) and gh.pixel_size_source == "header"
    assert gh.binned_shape == (38, 58)  # 64 x 96 binned by 24 / 1.2 / 12 = 1.67
    assert FrameMapping.read(out_dir / "good_nohdr.json").binned_shape == (35, 35)  # 1.0 A/px (config)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        f"{n}.{ext}" for n in ("good_header", "good_nohdr", "good_png")
        for ext in ("mrc", "json", "stamp.json"))


def test_rerun_skips_current_outputs_and_redoes_changed_ones(tmp_path):
    a = write_test_mrc(tmp_path / "a.mrc", noise_image((50, 80), 1), voxel_size=1.0)
    b = write_test_mrc(tmp_path / "b.mrc", noise_image((50, 80), 2), voxel_size=1.0)
    c = write_test_mrc(tmp_path / "c.mrc", noise_image((50, 80), 3), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a), str(b), str(c)])
    out_dir = tmp_path / "n"
    args = ["normalize", "--manifest", str(chunk), "--out-dir", str(out_dir),
            "--out", str(tmp_path / "o.tsv"), *SCALE]
    assert main(args) == 0
    stamps = {r["micrograph"]: r["stamp"] for r in read_manifest(tmp_path / "o.tsv")}
    past = 1_000_000_000
    for p in out_dir.iterdir():
        os.utime(p, (past, past))
    (out_dir / "b.stamp.json").unlink()  # killed between the outputs and their stamp (commit point)
    # the source of c is replaced (a movie sum completed after the pipeline first saw it)
    write_test_mrc(c, noise_image((50, 80), 4) * 3, voxel_size=1.0)
    os.utime(c, (past + 7, past + 7))
    assert main(args) == 0
    assert (out_dir / "a.mrc").stat().st_mtime == past and (out_dir / "a.json").stat().st_mtime == past
    assert (out_dir / "b.mrc").stat().st_mtime != past
    assert (out_dir / "c.mrc").stat().st_mtime != past
    after = {r["micrograph"]: r["stamp"] for r in read_manifest(tmp_path / "o.tsv")}
    assert after["a"] == stamps["a"] and after["b"] == stamps["b"] and after["c"] != stamps["c"]
    # Other settings: outputs are redone, not reused, and their stamps change.
    assert main([*args, "--lowpass-A", "10"]) == 0
    assert FrameMapping.read(out_dir / "a.json").extra["lowpass_A"] == 10.0
    assert read_manifest(tmp_path / "o.tsv")[0]["stamp"] != after["a"]


def test_failure_during_normalize_becomes_rejection(tmp_path):
    a = write_test_mrc(tmp_path / "a.mrc", noise_image((50, 80), 1), voxel_size=1.0)
    b = write_test_mrc(tmp_path / "b.mrc", noise_image((50, 80), 2), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a), str(b)])
    b.unlink()  # vanished between ingest and normalize
    out = tmp_path / "o.tsv"
    assert main(["normalize", "--manifest", str(chunk), "--out-dir", str(tmp_path / "n"), "--out", str(out),
                 *SCALE]) == 0
    by = {r["micrograph"]: r for r in read_manifest(out)}
    assert by["a"]["status"] == "ok"
    assert by["b"]["status"] == "rejected" and "does not exist" in by["b"]["reason"]
    assert by["b"]["normalized"] == "" and by["b"]["sidecar"] == ""


def test_normalize_usage_errors(tmp_path):
    a = write_test_mrc(tmp_path / "a.mrc", noise_image((40, 40)), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a)])
    base = ["normalize", "--manifest", str(chunk), "--out-dir", str(tmp_path / "n"),
            "--out", str(tmp_path / "o")]
    assert main([*base, *SCALE, "--clip-percentiles", "90", "10"]) == 2
    assert main([*base, *SCALE, "--lowpass-A", "-1"]) == 2
    with pytest.raises(SystemExit):
        main([*base, *SCALE, "--dtype", "int8"])
    with pytest.raises(SystemExit):
        main([*base, "--particle-px", "12"])  # the diameter is required


def test_environment_failure_fails_the_job_instead_of_rejecting(tmp_path, monkeypatch, capsys):
    import errno

    import samcryo_core.io.mrc_write as mrc_write
    from samcryo_core.errors import EXIT_ENVIRONMENT

    a = write_test_mrc(tmp_path / "a.mrc", noise_image((40, 40)), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a)])

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(mrc_write, "write_mrc", disk_full)
    # exit 75 (EX_TEMPFAIL) with a one-line message, not a rejection (docs/reliability.md section 8)
    assert main(["normalize", "--manifest", str(chunk), "--out-dir", str(tmp_path / "n"),
                 "--out", str(tmp_path / "o.tsv"), *SCALE]) == EXIT_ENVIRONMENT
    assert "No space left on device" in capsys.readouterr().err
    assert not (tmp_path / "o.tsv").exists()  # no manifest claims the micrograph is bad


def test_one_run_with_mixed_pixel_sizes_bins_each_micrograph_to_the_same_particle_size(tmp_path):
    """A dataset of 0.8, 1.1 and 4 A/px micrographs (K3, Falcon, binned exports): each is binned by
    its own factor, so the 24 A particle spans the same 12 normalized pixels in all of them, and
    each sidecar maps back to its own original frame."""
    specs = {"k3": ((410, 576), 0.8), "falcon": ((400, 400), 1.1), "binned": ((100, 100), 4.0)}
    paths = [str(write_test_mrc(tmp_path / f"{n}.mrc", noise_image(shape, i), voxel_size=px))
             for i, (n, (shape, px)) in enumerate(specs.items())]
    chunk = _ingest(tmp_path, paths)
    out_dir = tmp_path / "n"
    assert main(["normalize", "--manifest", str(chunk), "--out-dir", str(out_dir),
                 "--out", str(tmp_path / "o.tsv"), *SCALE]) == 0
    for name, (shape, px) in specs.items():
        m = FrameMapping.read(out_dir / f"{name}.json")
        assert m.pixel_size_A == pytest.approx(px) and m.original_shape == shape
        assert m.extra["bin_factor"] == pytest.approx(24.0 / px / 12.0)
        assert 24.0 / m.normalized_pixel_size_A[0] == pytest.approx(12.0, rel=0.02)
        # the last original pixel's centre maps to the centre of the last block of its own frame
        xn, yn = m.to_normalized(shape[1] - 1, shape[0] - 1)
        h, w = m.binned_shape
        assert xn == pytest.approx(w - 0.5 - 0.5 / m.scale_x)
        assert yn == pytest.approx(h - 0.5 - 0.5 / m.scale_y)
