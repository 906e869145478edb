"""``samcryo fetch-checkpoint`` against a local HTTP server and file:// URLs (no internet)."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest
import torch

from samcryo_core.cli import main
from samcryo_core.model.loading import DownloadError, download_checkpoint, sha256_file
from samcryo_core.model.registry import build_sam


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass


@pytest.fixture()
def served_checkpoint(tmp_path):
    """A tiny SAM checkpoint served by http.server on 127.0.0.1; yields (url, sha256)."""
    root = tmp_path / "srv"
    root.mkdir()
    torch.save(build_sam("tiny").state_dict(), root / "tiny.pth")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tiny.pth", sha256_file(root / "tiny.pth")
    finally:
        server.shutdown()
        server.server_close()


def test_fetch_over_http_verifies_and_loads(served_checkpoint, tmp_path, capsys):
    url, digest = served_checkpoint
    out = tmp_path / "ckpt" / "tiny.pth"
    rc = main(["fetch-checkpoint", "--variant", "vit_b", "--url", url, "--sha256", digest, "--out", str(out)])
    assert rc == 0 and sha256_file(out) == digest
    assert "verified" in capsys.readouterr().out
    build_sam("tiny", checkpoint=out, sha256=digest)  # loads through the safe path
    assert [p.name for p in out.parent.iterdir()] == ["tiny.pth"]  # no temp files left
    rc = main(["fetch-checkpoint", "--url", url, "--sha256", digest, "--out", str(out)])
    assert rc == 0 and "already present" in capsys.readouterr().out


def test_fetch_with_wrong_sha256_keeps_nothing(served_checkpoint, tmp_path, capsys):
    url, _ = served_checkpoint
    out = tmp_path / "dl" / "tiny.pth"
    rc = main(["fetch-checkpoint", "--url", url, "--sha256", "f" * 64, "--out", str(out)])
    assert rc == 1 and "sha256 mismatch" in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


def test_fetch_into_folder_uses_official_name_from_file_url(tmp_path):
    src = tmp_path / "mirror.pth"
    torch.save(build_sam("tiny").state_dict(), src)
    dest = tmp_path / "models"
    dest.mkdir()
    rc = main(["fetch-checkpoint", "--variant", "vit_l", "--url", src.as_uri(),
               "--sha256", sha256_file(src), "--out", str(dest)])
    assert rc == 0 and (dest / "sam_vit_l_0b3195.pth").is_file()


def test_offline_gives_clear_error(tmp_path):
    # Port 9 on 127.0.0.1: nothing listens, the connection is refused at once, as when offline.
    with pytest.raises(DownloadError, match="could not download .* Fix: check the network"):
        download_checkpoint("http://127.0.0.1:9/sam.pth", tmp_path / "sam.pth", None, timeout=5)
    assert list(tmp_path.iterdir()) == []
