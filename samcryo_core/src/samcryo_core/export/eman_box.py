"""EMAN ``.box`` export: one file per micrograph, ``x0<TAB>y0<TAB>w<TAB>h`` per particle.

``(x0, y0)`` is the box corner with the smallest x and y, so the centre is ``x0 + w/2``,
``y0 + h/2``. EMAN displays row 0 of the MRC array at the *bottom*, which is why EMAN and crYOLO
call this corner "lower left"; in array terms it is the corner nearest ``data[0, 0]``, and y is
the same row index as RELION's ``rlnCoordinateY`` -- no flip. Box-reading tools (EMAN, crYOLO,
RELION's import) pair ``<stem>.box`` with ``<stem>.mrc``, so a file is named after the micrograph
*file*, as it is spelled (``mic_ñ.mrc`` -> ``mic_ñ.box``), not after samcryo's file-system-safe
micrograph name; ``.box`` files of micrographs no longer exported are removed. RELION reads
``.box`` files with ``textToInteger`` and takes the centre as ``x0 + w / 2`` (integer division), so values are
written as integers: ``x0 = round(x) - box // 2``, which RELION reads back as centre
``round(x)`` (within half a pixel of the pick); :func:`samcryo_core.io.coordinates.read_box` reads
them back. Corners may be negative for picks near the edge;
EMAN and RELION accept that.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError
from samcryo_core.export.paths import safe_relative
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.stale import remove_stale
from samcryo_core.io.atomic import atomic_write_text


def box_text(picks: pd.DataFrame, box_size: int) -> str:
    """Text of one ``.box`` file (empty string when there are no picks)."""
    if box_size <= 0:
        raise ValueError(f"box size must be a positive number of pixels, got {box_size}")
    cx = np.rint(picks["x"].to_numpy(dtype=np.float64)).astype(np.int64)
    cy = np.rint(picks["y"].to_numpy(dtype=np.float64)).astype(np.int64)
    half = int(box_size) // 2
    return "".join(f"{x - half}\t{y - half}\t{box_size}\t{box_size}\n" for x, y in zip(cx, cy, strict=True))


def box_file_name(source: str) -> str:
    """``<stem of the micrograph file>.box``: the name box-reading tools pair with the micrograph."""
    stem = PurePosixPath(str(source).replace("\\", "/")).stem
    return str(safe_relative(f"{stem}.box", what="micrograph file name"))


def write_boxes(items: Sequence[MicrographPicks], box_dir: str | Path, box_size: int,
                *, min_fom: float | None = None) -> list[Path]:
    """Write ``<box_dir>/<micrograph file stem>.box`` for every micrograph (empty file when no
    picks), and remove ``.box`` files of micrographs not among ``items``.

    Raises:
        InputError: two micrographs whose files share a stem (their boxes would overwrite).
    """
    box_dir = Path(box_dir)
    out: list[Path] = []
    seen: dict[str, str] = {}
    for item in items:
        name = box_file_name(item.source)
        if name in seen:
            raise InputError(item.source, f"its .box file {name} would overwrite that of {seen[name]}",
                             "give the micrographs files with unique names")
        seen[name] = item.source
        path = box_dir / name
        atomic_write_text(path, box_text(item.above(min_fom), box_size))
        out.append(path)
    remove_stale(box_dir, out, "*.box")
    return out
