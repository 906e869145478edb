"""``samcryo extract`` on a chunk: picks CSVs, manifest rows carried, failures isolated, reruns skip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from samcryo_core.cli import main
from samcryo_core.frame import FrameMapping
from samcryo_core.io.mrc_write import write_mrc
from samcryo_core.manifest import read_manifest, write_manifest
from samcryo_core.particles.chunk import PICKS_MANIFEST_COLUMNS, safe_name
from samcryo_core.particles.picks_io import PICKS_COLUMNS, read_picks

S = 64


def make_chunk(tmp_path, pixel_size=1.5):
    """Three ok micrographs (one with a missing probability map) and one rejected at ingest."""
    rows = []
    yy, xx = np.mgrid[:S, :S]
    for i, name in enumerate(["a", "b", "c"]):
        m = FrameMapping(name, f"/data/{name}.mrc", (128, 128), (S, S), pixel_size_A=pixel_size)
        m.write(tmp_path / f"{name}.json")
        prob = np.zeros((S, S), np.float32)
        for k in range(i + 1):
            prob[(xx - 12 - 18 * k) ** 2 + (yy - 30) ** 2 <= 25] = 0.9
        if name != "c":
            write_mrc(tmp_path / f"{name}_prob.mrc", prob, dtype=np.float16)
        rows.append(
            {
                "micrograph": name,
                "status": "ok",
                "reason": "",
                "source": m.source,
                "sidecar": str(tmp_path / f"{name}.json"),
                "probability": str(tmp_path / f"{name}_prob.mrc"),
            }
        )
    rows.append(
        {"micrograph": "d", "status": "rejected", "reason": "ingest: not an MRC", "source": "/data/d.txt"}
    )
    write_manifest(tmp_path / "seg.tsv", rows)
    return tmp_path / "seg.tsv"


def test_extract_chunk(tmp_path):
    manifest = make_chunk(tmp_path)
    args = [
        "extract",
        "--manifest",
        str(manifest),
        "--out-dir",
        str(tmp_path / "picks"),
        "--out",
        str(tmp_path / "picks.tsv"),
        "--diameter-A",
        "30",
    ]  # 30 A / 1.5 A/px = 20 px
    assert main(args) == 0
    out = read_manifest(tmp_path / "picks.tsv")
    assert tuple(out[0]) == PICKS_MANIFEST_COLUMNS
    by = {r["micrograph"]: r for r in out}
    assert [r["micrograph"] for r in out] == ["a", "b", "c", "d"]
    assert (by["a"]["status"], by["a"]["n_picks"]) == ("ok", "1")
    assert (by["b"]["status"], by["b"]["n_picks"]) == ("ok", "2")
    assert by["c"]["status"] == "rejected" and "c_prob.mrc" in by["c"]["reason"]
    assert (
        by["d"]["status"] == "rejected"
        and by["d"]["reason"] == "ingest: not an MRC"
        and by["d"]["picks"] == ""
    )
    picks = read_picks(by["b"]["picks"])
    assert list(picks.columns) == list(PICKS_COLUMNS)
    assert picks["diameter_px"].tolist() == [20.0, 20.0]
    # Original = (norm + 0.5) * 2 - 0.5 (scale 2).
    np.testing.assert_allclose(sorted(picks["x"]), [(12 + 0.5) * 2 - 0.5, (30 + 0.5) * 2 - 0.5], atol=1e-3)

    # A rerun skips CSVs whose stamp is current: an edited CSV is kept as is ...
    edited = pd.read_csv(by["b"]["picks"]).iloc[:1]
    edited.to_csv(by["b"]["picks"], index=False)
    assert main(args) == 0
    assert {r["micrograph"]: r["n_picks"] for r in read_manifest(tmp_path / "picks.tsv")}["b"] == "1"
    # ... until an option changes: then every micrograph is picked again with it.
    assert main([*args, "--min-circularity", "0.4"]) == 0
    assert {r["micrograph"]: r["n_picks"] for r in read_manifest(tmp_path / "picks.tsv")}["b"] == "2"


def test_diameter_in_angstrom_needs_pixel_size(tmp_path):
    manifest = make_chunk(tmp_path, pixel_size=None)
    rc = main(
        [
            "extract",
            "--manifest",
            str(manifest),
            "--out-dir",
            str(tmp_path / "p"),
            "--out",
            str(tmp_path / "p.tsv"),
            "--diameter-A",
            "30",
        ]
    )
    assert rc == 1  # every micrograph failed: systematic problem
    out = read_manifest(tmp_path / "p.tsv")
    assert all(
        "has no pixel size" in r["reason"] and f"micrograph '{r['micrograph']}'" in r["reason"]
        for r in out[:3]
    )
    rc = main(
        [
            "extract",
            "--manifest",
            str(manifest),
            "--out-dir",
            str(tmp_path / "p"),
            "--out",
            str(tmp_path / "p.tsv"),
            "--diameter-px",
            "20",
            "--no-split",
            "--floor",
            "0.95",
        ]
    )
    assert rc == 0
    assert [r["n_picks"] for r in read_manifest(tmp_path / "p.tsv")][:2] == ["0", "0"]
    assert read_picks(tmp_path / "p" / "a.csv").empty


def test_diameter_flags_are_exclusive_and_required(tmp_path):
    manifest = make_chunk(tmp_path)
    base = [
        "extract",
        "--manifest",
        str(manifest),
        "--out-dir",
        str(tmp_path),
        "--out",
        str(tmp_path / "o.tsv"),
    ]
    with pytest.raises(SystemExit):
        main(base)
    with pytest.raises(SystemExit):
        main(base + ["--diameter-A", "30", "--diameter-px", "20"])


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", ""])
def test_unsafe_names_rejected(bad):
    from samcryo_core.errors import InputError

    with pytest.raises(InputError):
        safe_name(bad)
