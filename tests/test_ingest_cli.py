"""``samcryo ingest`` end to end: mixed good/bad chunk, STAR pixel sizes, merged rejections."""

from __future__ import annotations

import json

import pytest
from helpers_mrc import make_mixed_inputs, noise_image, write_relion31_star, write_test_mrc

from samcryo_core.cli import main
from samcryo_core.manifest import read_manifest

INGEST_COLUMNS = ["micrograph", "status", "reason", "source", "pixel_size_A", "pixel_size_source",
                  "height", "width"]


def test_mixed_chunk_every_input_gets_a_row(tmp_path):
    paths = make_mixed_inputs(tmp_path / "mics")
    out, rej = tmp_path / "chunk.tsv", tmp_path / "rej.tsv"
    rc = main(["ingest", "--out", str(out), "--rejections", str(rej), "--pixel-size", "1.0",
               "--min-size", "32", *paths.values()])
    assert rc == 0
    rows = read_manifest(out)
    assert list(rows[0]) == [*INGEST_COLUMNS, "stamp"]  # the chunk manifest: + each outcome's stamp
    by = {r["micrograph"]: r for r in rows}
    assert set(by) == set(paths)
    ok = {n for n, r in by.items() if r["status"] == "ok"}
    rejected = {n for n, r in by.items() if r["status"] == "rejected"}
    assert ok == {"good_header", "good_nohdr", "good_png"}
    assert len(ok) + len(rejected) == len(paths)
    assert by["good_header"]["pixel_size_source"] == "header" and by["good_header"]["pixel_size_A"] == "1.2"
    assert by["good_nohdr"]["pixel_size_source"] == "config"
    assert (by["good_header"]["height"], by["good_header"]["width"]) == ("64", "96")
    assert "truncated MRC file" in by["truncated"]["reason"]
    assert "3-D stack" in by["movie"]["reason"]
    assert "constant" in by["constant"]["reason"]
    assert "smaller than min_size 32" in by["tiny"]["reason"]
    assert "not an MRC file" in by["notmrc"]["reason"]
    assert all(r["reason"] == "" for n, r in by.items() if n in ok)
    assert {r["micrograph"] for r in read_manifest(rej)} == rejected


def test_star_pixel_size_used_for_listed_paths(tmp_path):
    mics = tmp_path / "proj" / "MotionCorr" / "job002"
    mics.mkdir(parents=True)
    a = write_test_mrc(mics / "a.mrc", noise_image((40, 40), 1))
    b = write_test_mrc(mics / "b.mrc", noise_image((40, 40), 2))
    star = write_relion31_star(tmp_path / "proj" / "mics.star", ["MotionCorr/job002/a.mrc"], [1], {1: 0.9})
    out = tmp_path / "c.tsv"
    assert main(["ingest", "--out", str(out), "--micrographs-star", str(star), "--min-size", "8",
                 str(a), str(b)]) == 0
    by = {r["micrograph"]: r for r in read_manifest(out)}
    assert by["a"]["status"] == "ok" and by["a"]["pixel_size_A"] == "0.9"
    assert by["a"]["pixel_size_source"] == "star"
    assert by["b"]["status"] == "rejected" and "pixel size unknown" in by["b"]["reason"]

    # No PATHs: the STAR list itself, resolved against --project-dir.
    out2 = tmp_path / "c2.tsv"
    assert main(["ingest", "--out", str(out2), "--micrographs-star", str(star), "--min-size", "8",
                 "--project-dir", str(tmp_path / "proj")]) == 0
    rows = read_manifest(out2)
    assert [(r["micrograph"], r["status"], r["source"]) for r in rows] == [("a", "ok", str(a))]


def test_merge_rejections(tmp_path, capsys):
    paths = list(make_mixed_inputs(tmp_path / "mics").values())
    c1, c2 = tmp_path / "c1.tsv", tmp_path / "c2.tsv"
    assert main(["ingest", "--out", str(c1), "--pixel-size", "1", "--min-size", "32", *paths[:4]]) == 0
    assert main(["ingest", "--out", str(c2), "--pixel-size", "1", "--min-size", "32", *paths[4:]]) == 0
    merged, summary = tmp_path / "ingest" / "rejected.tsv", tmp_path / "ingest" / "summary.json"
    capsys.readouterr()
    rc = main(["ingest", "--merge-rejections", str(merged), "--summary", str(summary), str(c1), str(c2)])
    assert rc == 0
    assert "3 accepted, 5 rejected of 8 micrographs" in capsys.readouterr().out
    rows = read_manifest(merged)
    assert list(rows[0]) == INGEST_COLUMNS
    assert [r["micrograph"] for r in rows] == sorted(["truncated", "movie", "constant", "tiny", "notmrc"])
    assert json.loads(summary.read_text()) == {"inputs": 8, "accepted": 3, "rejected": 5}


def test_usage_errors(tmp_path, capsys):
    assert main(["ingest", "a.mrc"]) == 2
    assert "--out" in capsys.readouterr().err
    assert main(["ingest", "--out", str(tmp_path / "x.tsv")]) == 2
    assert main(["ingest", "--merge-rejections", str(tmp_path / "r.tsv")]) == 2
    # Two inputs with the same name in one chunk: the command refuses (exit 1), nothing written.
    d1, d2 = tmp_path / "d1", tmp_path / "d2"
    d1.mkdir()
    d2.mkdir()
    a1 = write_test_mrc(d1 / "a.mrc", noise_image((40, 40)))
    a2 = write_test_mrc(d2 / "a.mrc", noise_image((40, 40)))
    assert main(["ingest", "--out", str(tmp_path / "x.tsv"), str(a1), str(a2)]) == 1
    assert "'a' <-" in capsys.readouterr().err
    assert not (tmp_path / "x.tsv").exists()


def test_bad_star_is_command_error(tmp_path, capsys):
    (tmp_path / "s.star").write_text("data_\nloop_\n_rlnCoordinateX #1\n1\n")
    rc = main(["ingest", "--out", str(tmp_path / "x.tsv"), "--micrographs-star", str(tmp_path / "s.star")])
    assert rc == 1
    assert "rlnMicrographName" in capsys.readouterr().err


@pytest.mark.parametrize("status", ["weird"])
def test_merge_refuses_non_ingest_manifest(tmp_path, status, capsys):
    (tmp_path / "c.tsv").write_text(f"micrograph\tstatus\treason\nm\t{status}\t\n")
    assert main(["ingest", "--merge-rejections", str(tmp_path / "r.tsv"), str(tmp_path / "c.tsv")]) == 1
    assert "unknown status" in capsys.readouterr().err


def test_unchanged_files_are_not_read_again_and_a_completed_copy_is_accepted(tmp_path):
    """With --out-dir each outcome is kept with a stamp (size, mtime, settings): a rerun reads only
    files that changed, so a micrograph whose copy was still running (truncated) is accepted once
    it is complete, and the rejection of an unchanged bad file stands."""
    import os

    mics = tmp_path / "mics"
    mics.mkdir()
    good = write_test_mrc(mics / "good.mrc", noise_image((64, 64)), voxel_size=1.0)
    full = write_test_mrc(tmp_path / "late_full.mrc", noise_image((64, 64), seed=3), voxel_size=1.0)
    late = mics / "late.mrc"
    late.write_bytes(full.read_bytes()[:3000])  # the transfer is still running
    args = ["ingest", "--out", str(tmp_path / "c.tsv"), "--out-dir", str(tmp_path / "ing"),
            "--min-size", "32", str(good), str(late)]
    assert main(args) == 0
    first = {r["micrograph"]: r for r in read_manifest(tmp_path / "c.tsv")}
    assert first["late"]["status"] == "rejected" and "truncated" in first["late"]["reason"]
    good_record = (tmp_path / "ing" / "good.stamp.json").stat().st_mtime_ns

    late.write_bytes(full.read_bytes())  # the copy completed
    os.utime(late, ns=(late.stat().st_atime_ns, late.stat().st_mtime_ns + 1_000_000))
    assert main(args) == 0
    second = {r["micrograph"]: r for r in read_manifest(tmp_path / "c.tsv")}
    assert second["late"]["status"] == "ok" and second["late"]["stamp"] != first["late"]["stamp"]
    assert second["good"] == first["good"]
    assert (tmp_path / "ing" / "good.stamp.json").stat().st_mtime_ns == good_record  # not read again


def test_merge_stops_when_every_input_was_rejected(tmp_path, capsys):
    from samcryo_core.manifest import write_manifest

    rows = [{"micrograph": f"m{i}", "status": "rejected", "source": f"Movies/m{i}.mrc",
             "reason": f"Movies/m{i}.mrc: file does not exist. Fix: check the path"} for i in range(3)]
    write_manifest(tmp_path / "c.tsv", rows)
    rc = main(["ingest", "--merge-rejections", str(tmp_path / "r.tsv"), str(tmp_path / "c.tsv")])
    err = capsys.readouterr().err
    assert rc == 1
    assert "every one of the 3 input micrographs was rejected (3 x 'file does not exist')" in err
    assert "inputs.project_dir" in err
