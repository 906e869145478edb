"""``samcryo train`` + ``samcryo segment`` end to end on tiny synthetic data."""

from __future__ import annotations

import mrcfile
import numpy as np
import pandas as pd
import pytest
import starfile
import torch

from samcryo_core.cli import main
from samcryo_core.frame import FrameMapping
from samcryo_core.inference.segment import (
    SEGMENT_COLUMNS,
    predict_batch,
    probability_map,
    read_normalized,
)
from samcryo_core.io.mrc_write import write_mrc
from samcryo_core.manifest import read_manifest, write_manifest
from samcryo_core.model.build import load_model
from samcryo_core.preprocess.chunk import NORMALIZE_COLUMNS as NORM_COLUMNS
from samcryo_core.preprocess.normalize import normalize_micrograph


def _micrograph(rng, shape):
    H, W = shape
    img = rng.normal(0, 1, shape).astype(np.float32)
    yy, xx = np.mgrid[:H, :W]
    xs, ys = rng.uniform(20, W - 20, 10), rng.uniform(20, H - 20, 10)
    for x, y in zip(xs, ys, strict=True):
        img[(xx - x) ** 2 + (yy - y) ** 2 < 144] -= 2.0
    return img, xs, ys


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Raw labelled micrographs for training, plus a normalized chunk (as 'samcryo normalize' writes)."""
    tmp = tmp_path_factory.mktemp("seg")
    rng = np.random.default_rng(4)
    raw = tmp / "raw"
    raw.mkdir()
    images = []
    for i in range(3):
        img, xs, ys = _micrograph(rng, (256, 256))
        with mrcfile.new(raw / f"train_{i}.mrc") as m:
            m.set_data(img)
        starfile.write(pd.DataFrame({"rlnCoordinateX": xs, "rlnCoordinateY": ys}), raw / f"train_{i}.star")
        images.append(str(raw / f"train_{i}.mrc"))

    norm = tmp / "normalized"
    norm.mkdir()
    rows = []
    # 36 A particles at 1.5 A/px = 24 px, binned to tiny's 20 px working size (x1.2): one tile
    # (mic_a), a non-square frame of 2 x 3 tiles (mic_b) and 3 x 3 tiles (mic_c).
    for name, shape in (("mic_a", (150, 140)), ("mic_b", (300, 400)), ("mic_c", (400, 380))):
        img, _, _ = _micrograph(rng, shape)
        out, mapping = normalize_micrograph(img, name=name, source=f"/data/{name}.mrc", pixel_size_A=1.5,
                                            diameter_A=36.0, particle_px=20.0)
        write_mrc(norm / f"{name}.mrc", out, mapping.normalized_pixel_size_A)
        mapping.write(norm / f"{name}.json")
        rows.append(
            {
                "micrograph": name,
                "status": "ok",
                "reason": "",
                "source": f"/data/{name}.mrc",
                "normalized": str(norm / f"{name}.mrc"),
                "sidecar": str(norm / f"{name}.json"),
                "stamp": f"norm-{name}",
            }
        )
    # ok at normalize, but its file is corrupt now -> must become a rejected row, others continue.
    (norm / "mic_bad.mrc").write_bytes(b"not an mrc file at all")
    FrameMapping("mic_bad", "/data/mic_bad.mrc", (256, 256), (213, 213)).write(norm / "mic_bad.json")
    rows.append(
        {
            "micrograph": "mic_bad",
            "status": "ok",
            "reason": "",
            "source": "/data/mic_bad.mrc",
            "normalized": str(norm / "mic_bad.mrc"),
            "sidecar": str(norm / "mic_bad.json"),
        }
    )
    rows.append(
        {
            "micrograph": "mic_rej",
            "status": "rejected",
            "reason": "truncated MRC",
            "source": "/data/r.mrc",
            "normalized": "",
            "sidecar": "",
        }
    )
    manifest = tmp / "chunk.tsv"
    write_manifest(manifest, rows, NORM_COLUMNS)
    return {"tmp": tmp, "images": images, "raw": raw, "manifest": manifest, "rows": rows}


def _train_args(workspace, out) -> list[str]:
    """The `samcryo train` command of this module's prompt (reruns must repeat it exactly)."""
    return [
        "train", "--prompt", "prefix", "--variant", "tiny", "--images", *workspace["images"],
        "--labels-dir", str(workspace["raw"]), "--diameter-A", "36", "--pixel-size", "1.5", "--steps", "4",
        "--val-every", "2", "--lr", "1e-3", "--seed", "3", "--device", "cpu", "--out", str(out),
        "--threads", "1",
    ]


@pytest.fixture(scope="module")
def prompt_file(workspace):
    out = workspace["tmp"] / "prompts" / "prefix.pt"
    rc = main(_train_args(workspace, out))
    assert rc == 0
    return out


def test_train_cli_writes_prompt_log_and_resume_state(workspace, prompt_file, capsys):
    assert prompt_file.is_file()
    assert prompt_file.with_name("prefix.last.pt").is_file()
    log = pd.read_csv(prompt_file.with_name("prefix.log.csv"))
    assert list(log["step"]) == [2, 4]
    # Rerunning the finished command resumes and trains nothing more.
    rc = main(_train_args(workspace, prompt_file))
    assert rc == 0
    out = capsys.readouterr().out
    assert "resuming prefix.pt after step 4/4" in out
    assert "train: step 2/4" not in out


def test_segment_cli_end_to_end(workspace, prompt_file, tmp_path):
    out_dir, out = tmp_path / "prob", tmp_path / "seg.tsv"
    args = [
        "segment",
        "--manifest",
        str(workspace["manifest"]),
        "--out-dir",
        str(out_dir),
        "--out",
        str(out),
        "--variant",
        "tiny",
        "--prompt-file",
        str(prompt_file),
        "--batch-size",
        "2",
        "--device",
        "cpu",
        "--threads",
        "1",
    ]
    assert main(args) == 0
    with open(out) as fh:
        assert fh.readline().rstrip("\n").split("\t") == list(SEGMENT_COLUMNS)
    rows = {r["micrograph"]: r for r in read_manifest(out)}
    assert list(rows) == ["mic_a", "mic_b", "mic_c", "mic_bad", "mic_rej"]
    assert rows["mic_bad"]["status"] == "rejected" and "mic_bad.mrc" in rows["mic_bad"]["reason"]
    assert rows["mic_rej"]["status"] == "rejected" and rows["mic_rej"]["reason"] == "truncated MRC"
    assert rows["mic_rej"]["probability"] == ""

    model, _ = load_model("tiny", prompt_file=prompt_file)
    for name in ("mic_a", "mic_b", "mic_c"):
        r = rows[name]
        assert r["status"] == "ok" and r["sidecar"].endswith(f"{name}.json") and r["stamp"]
        image, mapping = read_normalized({"normalized": str(workspace["tmp"] / "normalized" / f"{name}.mrc"),
                                          "sidecar": r["sidecar"]})
        with mrcfile.open(r["probability"]) as m:
            prob = m.data.copy()
            assert m.voxel_size.x == pytest.approx(mapping.normalized_pixel_size_A[0])
        assert prob.dtype == np.float16 and prob.shape == mapping.binned_shape  # the normalized frame
        assert prob.min() >= 0.0 and prob.max() <= 1.0
        # The map is the model's tiled output for this image; tiles of several micrographs shared
        # batches in the chunk, which must not change anything.
        want = probability_map(model, image, mapping)
        np.testing.assert_allclose(prob.astype(np.float32), want, atol=2e-3)

    # A rerun skips current micrographs (files untouched) and gives the same manifest.
    mtime = (out_dir / "mic_a.mrc").stat().st_mtime_ns
    assert main(args) == 0
    assert (out_dir / "mic_a.mrc").stat().st_mtime_ns == mtime
    assert {r["micrograph"]: r for r in read_manifest(out)} == rows

    # A normalized micrograph that changed upstream (a new stamp in the normalize manifest) is
    # segmented again; the others are not.
    changed = [dict(r, stamp="norm-mic_b-v2") if r["micrograph"] == "mic_b" else r for r in workspace["rows"]]
    manifest2 = tmp_path / "chunk2.tsv"
    write_manifest(manifest2, changed, NORM_COLUMNS)
    mtime_b = (out_dir / "mic_b.mrc").stat().st_mtime_ns
    assert main([*args[:2], str(manifest2), *args[3:]]) == 0
    assert (out_dir / "mic_a.mrc").stat().st_mtime_ns == mtime
    assert (out_dir / "mic_b.mrc").stat().st_mtime_ns != mtime_b


def test_segment_refuses_prompt_for_another_base(workspace, prompt_file, tmp_path, capsys):
    rc = main(
        [
            "segment",
            "--manifest",
            str(workspace["manifest"]),
            "--out-dir",
            str(tmp_path / "p"),
            "--out",
            str(tmp_path / "s.tsv"),
            "--variant",
            "cpu_small",
            "--prompt-file",
            str(prompt_file),
        ]
    )
    assert rc == 1
    assert "trained for SAM variant 'tiny'" in capsys.readouterr().err
    assert not (tmp_path / "s.tsv").exists()


def test_segment_without_prompt_runs_plain_sam(workspace, tmp_path):
    out = tmp_path / "seg.tsv"
    assert (
        main(
            [
                "segment",
                "--manifest",
                str(workspace["manifest"]),
                "--out-dir",
                str(tmp_path / "p"),
                "--out",
                str(out),
                "--variant",
                "tiny",
                "--prompt",
                "none",
                "--batch-size",
                "3",
            ]
        )
        == 0
    )
    rows = read_manifest(out)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "rejected", "rejected"]


def test_random_init_base_is_rebuilt_identically(prompt_file):
    a, _ = load_model("tiny", prompt_file=prompt_file)
    b, _ = load_model("tiny", prompt_file=prompt_file)
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_segment_cli_tta_writes_the_averaged_map(workspace, prompt_file, tmp_path):
    """``--tta d4`` reaches the model: the written map is the D4-averaged prediction."""
    out_dir, out = tmp_path / "prob", tmp_path / "seg.tsv"
    args = [
        "segment", "--manifest", str(workspace["manifest"]), "--out-dir", str(out_dir), "--out", str(out),
        "--variant", "tiny", "--prompt-file", str(prompt_file), "--device", "cpu", "--threads", "1",
        "--tta", "d4",
    ]
    assert main(args) == 0
    model, _ = load_model("tiny", prompt_file=prompt_file)
    norm = workspace["tmp"] / "normalized"
    image, mapping = read_normalized({"normalized": str(norm / "mic_b.mrc"),
                                      "sidecar": str(norm / "mic_b.json")})
    want = probability_map(model, image, mapping, tta="d4")
    plain = probability_map(model, image, mapping)
    with mrcfile.open(out_dir / "mic_b.mrc") as m:
        got = m.data.astype(np.float32)
    np.testing.assert_allclose(got, want, atol=2e-3)
    assert np.abs(got - plain).max() > 2e-3


def test_maps_do_not_depend_on_which_micrographs_shared_the_batches(workspace, prompt_file, tmp_path):
    """A rerun after a crash segments only the missing micrographs, so their tiles share forward
    passes with other tiles than in an uninterrupted run. The maps must be the same bit for bit
    (tests/test_reliability_interrupt.py compares the exported picks byte for byte)."""
    ok = [r for r in workspace["rows"] if r["micrograph"] in ("mic_a", "mic_b", "mic_c")]

    def segment(rows, out_dir):
        manifest = tmp_path / f"{out_dir}.tsv"
        write_manifest(manifest, rows, NORM_COLUMNS)
        args = ["segment", "--manifest", str(manifest), "--out-dir", str(tmp_path / out_dir),
                "--out", str(tmp_path / f"{out_dir}.out.tsv"), "--variant", "tiny",
                "--prompt-file", str(prompt_file), "--device", "cpu", "--threads", "1",
                "--batch-size", "4"]
        assert main(args) == 0
        return {r["micrograph"]: mrcfile.read(tmp_path / out_dir / f"{r['micrograph']}.mrc") for r in rows}

    together = segment(ok, "together")  # 1 + 6 + 9 tiles: batches mix micrographs
    alone = {r["micrograph"]: segment([r], f"alone_{r['micrograph']}")[r["micrograph"]] for r in ok}
    reversed_ = segment(ok[::-1], "reversed")
    for name, want in together.items():
        np.testing.assert_array_equal(alone[name], want, err_msg=name)
        np.testing.assert_array_equal(reversed_[name], want, err_msg=name)


def test_tile_logits_do_not_depend_on_their_batch_neighbours():
    """The mechanism behind the test above, at float32 (where unpadded batches of 1 and 4 tiles
    differ by ~1e-7 on CPU): a tile predicted alone, first or last among others, gives the same
    logits bit for bit, because every forward pass has the shape ``batch_size``."""
    model, _ = load_model("tiny", prompt="none")
    tiles = np.random.default_rng(0).normal(size=(4, 128, 128)).astype(np.float32)
    alone = predict_batch(model, tiles[:1], 4, "cpu")
    first = predict_batch(model, tiles, 4, "cpu")
    last = predict_batch(model, tiles[::-1].copy(), 4, "cpu")
    assert alone.shape == (1, 128, 128) and first.shape == (4, 128, 128)
    np.testing.assert_array_equal(alone[0], first[0])
    np.testing.assert_array_equal(alone[0], last[3])
