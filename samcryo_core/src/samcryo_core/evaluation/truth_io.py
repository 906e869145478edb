"""Read ground-truth particle centres (STAR, CSV or EMAN .box) into the original frame.

Truth comes from ``samcryo simulate`` (STAR: ``rlnCoordinateX``, ``rlnCoordinateY``,
``samcryoDiameterPx``), from curated RELION/cryoSPARC picks (STAR), from spreadsheets (CSV with
``x``, ``y`` and optionally ``diameter_px``) or from EMAN/crYOLO ``.box`` files (corner + size,
centre = corner + size/2). CryoPPP-style coordinates count y from the bottom of the MRC; pass
``flip_y=True`` with the micrograph height to get ``row = H - 1 - y`` (see docs/coordinates.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError

TRUTH_FORMATS = ("star", "csv", "box")


def read_truth(
    path: str | Path,
    fmt: str = "star",
    *,
    diameter_px: float | None = None,
    flip_y: bool = False,
    height: int | None = None,
) -> pd.DataFrame:
    """Truth table with columns ``x``, ``y``, ``diameter_px`` (original frame, no flip applied
    unless ``flip_y``).

    Args:
        path: truth file of one micrograph.
        fmt: ``star``, ``csv`` or ``box``.
        diameter_px: diameter to use for every particle; overrides the file's diameter column and
            is required when the file has none (``.box`` files never do: their size is a box).
        flip_y: convert y measured from the bottom into the row index (needs ``height``).
        height: micrograph height ``H`` in original pixels.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "truth file does not exist", "check --truth-dir and --truth-format")
    if fmt == "star":
        df = _read_star(p)
    elif fmt == "csv":
        df = pd.read_csv(p)
        if not {"x", "y"} <= set(df.columns):
            raise InputError(p, f"truth CSV lacks x/y columns (has {list(df.columns)})",
                             "write columns x, y and optionally diameter_px")
    elif fmt == "box":
        df = _read_box(p)
    else:
        raise ValueError(f"unknown truth format {fmt!r}; use one of {TRUTH_FORMATS}")
    out = pd.DataFrame({"x": df["x"].astype(np.float64), "y": df["y"].astype(np.float64)})
    if diameter_px is not None:
        out["diameter_px"] = float(diameter_px)
    elif "diameter_px" in df.columns:
        out["diameter_px"] = df["diameter_px"].astype(np.float64)
    else:
        raise InputError(p, "truth has no particle diameter",
                         "pass --diameter-px, or add samcryoDiameterPx (STAR) / diameter_px (CSV)")
    if flip_y:
        if height is None:
            raise ValueError("flip_y needs the micrograph height")
        out["y"] = (height - 1) - out["y"]
    return out


def _read_star(p: Path) -> pd.DataFrame:
    import starfile

    try:
        data = starfile.read(p, always_dict=True)
    except Exception as exc:  # starfile raises several types for malformed text
        raise InputError(p, f"not a readable STAR file ({exc})", "check the file with a text editor") from exc
    for table in data.values():
        if isinstance(table, pd.DataFrame) and {"rlnCoordinateX", "rlnCoordinateY"} <= set(table.columns):
            df = pd.DataFrame({"x": table["rlnCoordinateX"], "y": table["rlnCoordinateY"]})
            if "samcryoDiameterPx" in table.columns:
                df["diameter_px"] = table["samcryoDiameterPx"]
            return df
    if all(isinstance(t, pd.DataFrame) and t.empty for t in data.values()) or not data:
        return pd.DataFrame({"x": [], "y": []})
    raise InputError(p, "no table with rlnCoordinateX/rlnCoordinateY", "give a RELION coordinate STAR file")


def _read_box(p: Path) -> pd.DataFrame:
    rows = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if len(words) < 4:
            raise InputError(p, f"line {n} has {len(words)} values, a .box line needs x0 y0 w h",
                             "give an EMAN .box file")
        x0, y0, w, h = (float(v) for v in words[:4])
        rows.append((x0 + w / 2.0, y0 + h / 2.0))
    return pd.DataFrame(rows, columns=["x", "y"], dtype=np.float64)
