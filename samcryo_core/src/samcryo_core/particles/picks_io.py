"""Read and write the per-micrograph picks CSV that every picker produces and every exporter reads.

One CSV per micrograph (``results/<prompt>/picks/<mic>.csv``) keeps each micrograph's result
independent, so a rerun only redoes what is missing and a user can open one file in a spreadsheet.
Columns (see ``docs/architecture.md``): ``x``, ``y`` in the *original* frame (pixels, x = column,
y = row of the array mrcfile reads, 0-based, no flip), ``fom`` in [0, 1], ``diameter_px``
(original pixels), ``x_norm``, ``y_norm`` (normalized frame) and ``area_px`` (normalized frame).
A micrograph without picks gets a header-only CSV: "nothing found" is a result, not a failure.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError
from samcryo_core.io.atomic import atomic_write_text

PICKS_COLUMNS: tuple[str, ...] = ("x", "y", "fom", "diameter_px", "x_norm", "y_norm", "area_px")


def empty_picks() -> pd.DataFrame:
    """A picks table with the standard columns and no rows."""
    return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in PICKS_COLUMNS})


def write_picks(path: str | Path, picks: pd.DataFrame) -> None:
    """Write ``picks`` (must hold at least :data:`PICKS_COLUMNS`) as CSV, atomically.

    Extra columns are dropped so every picks CSV has the same header, whichever picker wrote it.
    Coordinates keep 3 decimals (1/1000 px, far below any extraction precision); FOM keeps 6,
    since users re-threshold on it.
    """
    missing = [c for c in PICKS_COLUMNS if c not in picks.columns]
    if missing:
        raise ValueError(f"picks table lacks columns {missing}")
    table = picks.loc[:, list(PICKS_COLUMNS)].astype(np.float64)
    buf = io.StringIO()
    out = table.copy()
    for c in PICKS_COLUMNS:
        fmt = "{:.6f}" if c == "fom" else "{:.3f}"
        out[c] = [fmt.format(v) for v in table[c].to_numpy()]
    out.to_csv(buf, index=False, lineterminator="\n")
    atomic_write_text(path, buf.getvalue())


def read_picks(path: str | Path) -> pd.DataFrame:
    """Read a picks CSV; a header-only file gives an empty table with the standard columns.

    Raises:
        InputError: the file is missing, not a CSV or lacks the ``x``/``y`` columns.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "picks CSV does not exist", "rerun 'samcryo extract' or 'samcryo pick-log'")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(p, f"not a readable picks CSV ({exc})",
                         "delete it and rerun the picking step") from exc
    if "x" not in df.columns or "y" not in df.columns:
        raise InputError(p, f"picks CSV lacks the columns x/y (has {list(df.columns)})",
                         f"write it with columns {', '.join(PICKS_COLUMNS)}")
    for c in PICKS_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    return df.astype({c: np.float64 for c in PICKS_COLUMNS})
