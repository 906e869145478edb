"""Remove coordinate files export no longer stands behind, so an export folder holds exactly its run.

Users import the export folders as folders: RELION 3's coordinate import and its Extract job read
every ``*_autopick.star`` beside the micrographs' names, crYOLO and EMAN read every ``.box`` in a
folder. A micrograph that left the inputs, or is rejected now (a file found truncated, a new
setting), would otherwise keep the files of an earlier run there, and its stale picks would be
imported. After writing, each exporter therefore removes the files of its own kind that it did not
write this time. Only files with the exporter's own name pattern are touched (never a hidden
atomic-write temporary, never another file a user put there), and folders left empty go too.

The picks CSVs are the extract stage's, one folder per run; a micrograph rejected there loses its
CSV in that stage, and :func:`remove_stale_picks` removes those of micrographs no manifest lists
any more, recognising them by the stamp file only samcryo writes beside them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from samcryo_core.stamps import STAMP_SUFFIX

log = logging.getLogger(__name__)


def remove_stale(folder: str | Path, written: Iterable[str | Path], pattern: str) -> list[Path]:
    """Delete visible files matching ``pattern`` below ``folder`` that are not in ``written``.

    Returns the removed paths. Subfolders that end up empty are removed as well.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    keep = {Path(p).resolve() for p in written}
    removed = []
    for path in sorted(folder.rglob(pattern)):
        if path.name.startswith(".") or not path.is_file() or path.resolve() in keep:
            continue
        path.unlink()
        removed.append(path)
        log.info("removed %s: its micrograph is no longer exported", path)
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(sub.iterdir()):
            sub.rmdir()
    return removed


def remove_stale_picks(folders: Iterable[str | Path], listed: Iterable[str]) -> list[Path]:
    """Delete ``<name>.csv`` + ``<name>.stamp.json`` in ``folders`` for names not in ``listed``.

    Only CSVs with samcryo's stamp file beside them are picks of an earlier run; anything else
    in the folder is left alone.
    """
    names = set(listed)
    removed = []
    for folder in {Path(f) for f in folders}:
        for stamp in sorted(folder.glob(f"*{STAMP_SUFFIX}")):
            name = stamp.name[: -len(STAMP_SUFFIX)]
            csv = folder / f"{name}.csv"
            if name in names or name.startswith(".") or not csv.is_file():
                continue
            csv.unlink()
            stamp.unlink(missing_ok=True)
            removed.append(csv)
            log.info("removed %s: its micrograph is no longer in the inputs", csv)
    return removed
