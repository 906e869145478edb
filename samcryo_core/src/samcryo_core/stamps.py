"""The one staleness rule of the chunk stages: a settings stamp per micrograph output.

Why: Snakemake reruns a chunk job when its inputs, params or code change, but a chunk holds 50
micrographs, and what changed may concern one of them (a movie sum still being written when the
pipeline first saw it, then completed) or all of them (a new prompt, another threshold). So each
stage decides per micrograph, with one rule:

* the *stamp* of an output is a hash of the stage's name, every setting that shapes the output,
  and the stamps of what it was made from (for ``normalize`` the source file's size and
  modification time; for later stages the upstream stage's stamp, carried in its manifest's
  ``stamp`` column);
* a stage redoes a micrograph unless its outputs exist *and* ``<out_dir>/<mic>.stamp.json``
  records the stamp the stage would give it now. The stamp file is written after the outputs
  (all writes are atomic), so it is the commit point: a kill in between redoes that micrograph.

A change anywhere (the micrograph file, a setting, the model, the prompt) therefore changes the
stamp of that stage and, through the manifests, of every stage below it, and nothing else is
redone. Size + modification time (not a content hash) stand for a source file: hashing
thousands of 200 MB movie sums at every rerun would cost more than the work it saves, and a file
rewritten in place always changes its mtime.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from samcryo_core.io.atomic import atomic_write_text

STAMP_SUFFIX = ".stamp.json"


def file_stamp(path: str | Path) -> str:
    """``size:mtime_ns`` of a file, or ``missing`` (see the module docstring for why not a hash)."""
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def make_stamp(stage: str, settings: dict, *upstream: str) -> str:
    """Hex digest of a stage's settings and the stamps of its inputs (order matters)."""
    text = json.dumps({"stage": stage, "settings": settings, "upstream": list(upstream)},
                      sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def stamp_path(out_dir: str | Path, name: str) -> Path:
    return Path(out_dir) / f"{name}{STAMP_SUFFIX}"


def is_current(out_dir: str | Path, name: str, stamp: str, *outputs: str | Path) -> bool:
    """True when every output exists and the micrograph's stamp file records ``stamp``."""
    if not all(Path(p).is_file() for p in outputs):
        return False
    try:
        recorded = json.loads(stamp_path(out_dir, name).read_text(encoding="utf-8"))["stamp"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return recorded == stamp


def record(out_dir: str | Path, name: str, stamp: str, stage: str, settings: dict) -> None:
    """Write the stamp file (after the outputs: it is the commit point). Settings are kept for
    people asking why a micrograph was redone."""
    atomic_write_text(stamp_path(out_dir, name), json.dumps(
        {"stamp": stamp, "stage": stage, "settings": settings}, sort_keys=True, default=str) + "\n")


def forget(out_dir: str | Path, name: str) -> None:
    """Remove a micrograph's stamp (it failed or was rejected: nothing stands behind it)."""
    stamp_path(out_dir, name).unlink(missing_ok=True)
