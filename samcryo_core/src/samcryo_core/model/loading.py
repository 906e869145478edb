"""Load and download SAM checkpoints without ever executing code from them.

A ``.pth`` file is a pickle, and unpickling can run arbitrary code. Every checkpoint is therefore
read with ``torch.load(..., weights_only=True)``, which only rebuilds tensors and plain
containers, and - when the expected sha256 is known - its checksum is verified first, so a
truncated download or a swapped file fails with a clear message instead of a cryptic shape error.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from samcryo_core.errors import ConfigError, InputError, SamcryoError
from samcryo_core.io.atomic import atomic_path

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


class DownloadError(SamcryoError):
    """A checkpoint could not be downloaded (offline, HTTP error, wrong checksum)."""


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (checkpoints are up to 2.5 GB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def missing_checkpoint_error(path: Path, variant: str | None) -> ConfigError:
    """The error for a ``model.checkpoint`` that does not exist: names the key and the fetch command."""
    hint = f"--variant {variant} " if variant in ("vit_b", "vit_l", "vit_h") else "--variant vit_b "
    return ConfigError(
        "model.checkpoint",
        f"checkpoint file {path} does not exist",
        f"download it with 'samcryo fetch-checkpoint {hint}--out {path}' or point model.checkpoint "
        "at an existing SAM .pth file",
    )


def verify_sha256(path: str | Path, expected: str) -> None:
    """Raise :class:`InputError` if ``path``'s sha256 differs from ``expected``."""
    actual = sha256_file(path)
    if actual.lower() != expected.lower():
        raise InputError(
            path,
            f"sha256 mismatch (expected {expected}, got {actual}): the file is corrupt, truncated "
            "or not the checkpoint you think",
            "delete it and download it again with 'samcryo fetch-checkpoint', or set the right "
            "expected checksum",
        )


def load_state_dict(path: str | Path, sha256: str | None = None, variant: str | None = None) -> dict:
    """Read a state dict from ``path`` safely: existence, checksum, then ``weights_only`` unpickling.

    Raises:
        ConfigError: the file does not exist (names ``model.checkpoint`` and the fetch command).
        InputError: checksum mismatch, a pickle that needs code to load, or not a state dict.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise missing_checkpoint_error(path, variant)
    if sha256 is not None:
        verify_sha256(path, sha256)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            path,
            f"refused to load: the file is not a plain weights checkpoint ({first})",
            "only load checkpoints from a trusted source; samcryo never unpickles code",
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise InputError(path, f"cannot read checkpoint ({exc})", "download it again") from exc
    if isinstance(obj, dict) and "model" in obj and isinstance(obj["model"], dict):
        obj = obj["model"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise InputError(path, "file does not hold a state dict", "give a SAM .pth checkpoint")
    return obj


def load_sam_weights(sam, path: str | Path, sha256: str | None = None, variant: str | None = None) -> None:
    """Load a SAM checkpoint into ``sam`` strictly; mismatched keys name the variant to use."""
    state = load_state_dict(path, sha256=sha256, variant=variant)
    own = sam.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    bad_shapes = [k for k, v in state.items() if k in own and tuple(own[k].shape) != tuple(v.shape)]
    if missing or unexpected or bad_shapes:
        raise InputError(
            path,
            f"does not fit SAM variant '{variant}' ({len(missing)} missing, {len(unexpected)} "
            f"unexpected, {len(bad_shapes)} mis-shaped tensors; first: "
            f"{(missing + unexpected + bad_shapes)[:3]})",
            "set model.variant to the variant this checkpoint was made for (vit_b/vit_l/vit_h)",
        )
    sam.load_state_dict(state, strict=True)


def download_checkpoint(
    url: str,
    out: str | Path,
    sha256: str | None,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> str:
    """Download ``url`` to ``out`` atomically, verifying ``sha256`` before the final rename.

    The data goes to a temporary file beside ``out`` and is hashed while streaming; only a file
    with the right checksum is renamed onto ``out``, so an interrupted or corrupted download never
    looks like a checkpoint. Returns the file's sha256.
    """
    out = Path(out)
    digest = hashlib.sha256()
    try:
        with atomic_path(out) as tmp:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as fh:
                total = resp.headers.get("Content-Length")
                total_i = int(total) if total and total.isdigit() else None
                done = 0
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    fh.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress is not None:
                        progress(done, total_i)
            actual = digest.hexdigest()
            if sha256 is not None and actual.lower() != sha256.lower():
                raise DownloadError(
                    f"{url}: sha256 mismatch (expected {sha256}, got {actual}); the download was "
                    f"not kept. Fix: retry; if it persists the file at the URL has changed"
                )
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(
            f"could not download {url} ({reason}). Fix: check the network connection (compute nodes "
            f"are often offline: run this on a login node), or download the file elsewhere and copy "
            f"it to {out}"
        ) from exc
    if sha256 is None:
        log.warning("no known sha256 for %s; downloaded file has sha256 %s", url, actual)
    return actual
