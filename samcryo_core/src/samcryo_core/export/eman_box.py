"""EMAN ``.box`` export: one file per micrograph, ``x0<TAB>y0<TAB>w<TAB>h`` per particle.

``(x0, y0)`` is the box corner with the smallest x and y, so the centre is ``x0 + w/2``,
``y0 + h/2``. EMAN displays row 0 of the MRC array at the *bottom*, which is why EMAN and crYOLO
call this corner "lower left"; in array terms it is the corner nearest ``data[0, 0]``, and y is
the same row index as RELION's ``rlnCoordinateY`` -- no flip. RELION reads ``.box`` files with
``textToInteger`` and takes the centre as ``x0 + w / 2`` (integer division), so values are
written as integers: ``x0 = round(x) - box // 2``, which RELION reads back as centre
``round(x)`` (within half a pixel of the pick); :func:`samcryo_core.io.coordinates.read_box` reads
them back. Corners may be negative for picks near the edge;
EMAN and RELION accept that.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.export.paths import safe_relative
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.io.atomic import atomic_write_text


def box_text(picks: pd.DataFrame, box_size: int) -> str:
    """Text of one ``.box`` file (empty string when there are no picks)."""
    if box_size <= 0:
        raise ValueError(f"box size must be a positive number of pixels, got {box_size}")
    cx = np.rint(picks["x"].to_numpy(dtype=np.float64)).astype(np.int64)
    cy = np.rint(picks["y"].to_numpy(dtype=np.float64)).astype(np.int64)
    half = int(box_size) // 2
    return "".join(f"{x - half}\t{y - half}\t{box_size}\t{box_size}\n" for x, y in zip(cx, cy, strict=True))


def write_boxes(items: Sequence[MicrographPicks], box_dir: str | Path, box_size: int,
                *, min_fom: float | None = None) -> list[Path]:
    """Write ``<box_dir>/<micrograph>.box`` for every micrograph (empty file when no picks)."""
    box_dir = Path(box_dir)
    out = []
    for item in items:
        path = box_dir / safe_relative(f"{item.name}.box", what="micrograph name")
        atomic_write_text(path, box_text(item.above(min_fom), box_size))
        out.append(path)
    return out
