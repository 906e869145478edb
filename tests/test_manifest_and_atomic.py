"""Manifests keep every micrograph's row; atomic writes never leave fragments."""

from __future__ import annotations

import pytest

from samcryo_core.io.atomic import atomic_path, atomic_write_text
from samcryo_core.manifest import read_manifest, read_manifests, write_manifest


def test_manifest_round_trip_keeps_base_columns_first(tmp_path):
    rows = [
        {"micrograph": "a", "status": "ok", "reason": "", "normalized": "n/a.mrc"},
        {"micrograph": "b", "status": "rejected", "reason": "b.mrc: NaN pixels. Fix: ..."},
    ]
    p = tmp_path / "m.tsv"
    write_manifest(p, rows)
    assert p.read_text().splitlines()[0] == "micrograph\tstatus\treason\tnormalized"
    back = read_manifest(p)
    assert [r["micrograph"] for r in back] == ["a", "b"]
    assert back[1]["normalized"] == "" and back[1]["reason"].startswith("b.mrc")
    assert len(read_manifests([p, p])) == 4


def test_atomic_write_failure_leaves_old_file(tmp_path):
    p = tmp_path / "out.star"
    atomic_write_text(p, "old\n")
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert p.read_text() == "old\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.star"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_atomic_writes_get_the_mode_a_plain_write_would(tmp_path, umask):
    """mkstemp's 0600 must not leak into outputs: RELION run by a colleague has to read them."""
    import os
    import stat

    old = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "autopick.star", "data_\n")
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "autopick.star").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode) == 0o666 & ~umask
