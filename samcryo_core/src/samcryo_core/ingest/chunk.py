"""The ingest stage: validate one chunk of sources and keep each micrograph's outcome with a stamp.

Validation reads every pixel (NaN, Inf, constant images), so it costs about as much as reading a
micrograph; a chunk job reruns whenever any of its files changed (the ingest rule's ``stamps``
param), and must then not read the other 49 again. So each micrograph's outcome (its manifest
row, accepted or rejected) is kept in ``<out_dir>/<mic>.json`` with a stamp
(:mod:`samcryo_core.stamps`) of the validation settings, the path and the file's size and
modification time. A micrograph is validated again only when that stamp changed: a transfer that
was still running when the pipeline first saw the file (rejected as truncated) is accepted once
the copy completed, and a replaced file is checked again, while the rejection of an unchanged bad
file stands. The stamp goes into the manifest's ``stamp`` column, on which normalize builds.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

from samcryo_core import stamps
from samcryo_core.ingest.rejections import INGEST_COLUMNS
from samcryo_core.ingest.sources import Source
from samcryo_core.ingest.validate import validate_micrograph
from samcryo_core.io.atomic import atomic_write_text
from samcryo_core.manifest import STAMP

log = logging.getLogger(__name__)

STAGE = "ingest"
#: Columns of an ingest chunk manifest: the validation outcome plus the micrograph's stamp.
INGEST_CHUNK_COLUMNS = (*INGEST_COLUMNS, STAMP)


def _stamp(source: Source, settings: dict) -> str:
    listed = {"pixel_size_A": source.pixel_size_A, "pixel_size_source": source.pixel_size_source,
              "path": source.path}
    return stamps.make_stamp(STAGE, {**settings, **listed}, stamps.file_stamp(source.path))


def _recorded_row(out_dir: Path, name: str, stamp: str) -> dict | None:
    row_path = out_dir / f"{name}.json"
    if not stamps.is_current(out_dir, name, stamp, row_path):
        return None
    try:
        row = json.loads(row_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return row if isinstance(row, dict) and row.get("micrograph") == name else None


def ingest_chunk(sources: Sequence[Source], *, config_pixel_size_A: float | None, min_size: int,
                 out_dir: str | Path | None = None) -> list[dict]:
    """Manifest rows (:data:`INGEST_CHUNK_COLUMNS`) of ``sources``, in order.

    With ``out_dir`` a micrograph whose stamp is current is not read again (module docstring);
    without it (a hand run) every micrograph is validated. A failure of the machine while reading
    (full disk, I/O error) propagates: it is not a property of the micrograph.
    """
    settings = {"config_pixel_size_A": config_pixel_size_A, "min_size": int(min_size)}
    folder = Path(out_dir) if out_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for source in sources:
        stamp = _stamp(source, settings)
        row = _recorded_row(folder, source.micrograph, stamp) if folder is not None else None
        if row is not None:
            log.info("%s: unchanged since it was validated (%s), skipped", source.micrograph,
                     row.get("status"))
        else:
            result = validate_micrograph(source, config_pixel_size_A=config_pixel_size_A,
                                         min_size=min_size)
            row = result.to_row()
            if folder is not None:
                atomic_write_text(folder / f"{source.micrograph}.json",
                                  json.dumps(row, sort_keys=True) + "\n")
                stamps.record(folder, source.micrograph, stamp, STAGE,
                              {**settings, "file": stamps.file_stamp(source.path)})
        rows.append({**{c: row.get(c, "") for c in INGEST_COLUMNS}, STAMP: stamp})
    return rows
