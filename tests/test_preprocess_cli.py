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

NORMALIZE_COLUMNS = ["micrograph", "status", "reason", "source", "normalized", "sidecar"]


def _ingest(tmp_path, paths):
    chunk = tmp_path / "ingest.tsv"
    assert main(["ingest", "--out", str(chunk), "--pixel-size", "1.0", "--min-size", "32", *paths]) == 0
    return chunk


def test_ingest_then_normalize_mixed_chunk(tmp_path):
    paths = make_mixed_inputs(tmp_path / "mics")
    chunk = _ingest(tmp_path, list(paths.values()))
    out_dir, out = tmp_path / "normalized", tmp_path / "norm.tsv"
    rc = main(["normalize", "--manifest", str(chunk), "--out-dir", str(out_dir), "--out", str(out),
               "--model-size", "64", "--dtype", "float16"])
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
            assert mrc.data.shape == (64, 64) and mrc.data.dtype == np.float16
            assert float(mrc.voxel_size.x) == pytest.approx(m.normalized_pixel_size_A[0], rel=1e-3)
            assert float(mrc.voxel_size.y) == pytest.approx(m.normalized_pixel_size_A[1], rel=1e-3)
            assert abs(float(mrc.data[m.content_slice()].astype(np.float32).mean())) < 0.01
    gh = FrameMapping.read(out_dir / "good_header.json")
    assert gh.pixel_size_A == pytest.approx(1.2) and gh.pixel_size_source == "header"
    assert gh.binned_shape == (43, 64)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        f"{n}.{ext}" for n in ("good_header", "good_nohdr", "good_png") for ext in ("mrc", "json"))


def test_rerun_skips_complete_outputs_and_redoes_broken(tmp_path):
    a = write_test_mrc(tmp_path / "a.mrc", noise_image((50, 80), 1), voxel_size=1.0)
    b = write_test_mrc(tmp_path / "b.mrc", noise_image((50, 80), 2), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a), str(b)])
    out_dir = tmp_path / "n"
    args = ["normalize", "--manifest", str(chunk), "--out-dir", str(out_dir),
            "--out", str(tmp_path / "o.tsv"), "--model-size", "32"]
    assert main(args) == 0
    past = 1_000_000_000
    for p in out_dir.iterdir():
        os.utime(p, (past, past))
    (out_dir / "b.mrc").write_bytes(b"broken")  # an interrupted, non-atomic leftover
    assert main(args) == 0
    assert (out_dir / "a.mrc").stat().st_mtime == past and (out_dir / "a.json").stat().st_mtime == past
    assert (out_dir / "b.mrc").stat().st_mtime != past
    with mrcfile.open(out_dir / "b.mrc", permissive=False) as mrc:
        assert mrc.data.shape == (32, 32)
    # Other settings: outputs are redone, not reused.
    assert main([*args, "--lowpass-A", "10"]) == 0
    assert FrameMapping.read(out_dir / "a.json").extra["lowpass_A"] == 10.0


def test_failure_during_normalize_becomes_rejection(tmp_path):
    a = write_test_mrc(tmp_path / "a.mrc", noise_image((50, 80), 1), voxel_size=1.0)
    b = write_test_mrc(tmp_path / "b.mrc", noise_image((50, 80), 2), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a), str(b)])
    b.unlink()  # vanished between ingest and normalize
    out = tmp_path / "o.tsv"
    assert main(["normalize", "--manifest", str(chunk), "--out-dir", str(tmp_path / "n"), "--out", str(out),
                 "--model-size", "32"]) == 0
    by = {r["micrograph"]: r for r in read_manifest(out)}
    assert by["a"]["status"] == "ok"
    assert by["b"]["status"] == "rejected" and "does not exist" in by["b"]["reason"]
    assert by["b"]["normalized"] == "" and by["b"]["sidecar"] == ""


def test_normalize_usage_errors(tmp_path):
    a = write_test_mrc(tmp_path / "a.mrc", noise_image((40, 40)), voxel_size=1.0)
    chunk = _ingest(tmp_path, [str(a)])
    base = ["normalize", "--manifest", str(chunk), "--out-dir", str(tmp_path / "n"),
            "--out", str(tmp_path / "o")]
    assert main([*base, "--model-size", "4"]) == 2
    assert main([*base, "--model-size", "32", "--clip-percentiles", "90", "10"]) == 2
    assert main([*base, "--model-size", "32", "--lowpass-A", "-1"]) == 2
    with pytest.raises(SystemExit):
        main([*base, "--model-size", "32", "--dtype", "int8"])
