"""Particle coordinates from the files users already have: one reader per format.

Training labels (:mod:`samcryo_core.training.labels`), evaluation truth
(:mod:`samcryo_core.evaluation.score`) and the QC overlays all read coordinates here, so a file
that trains a prompt is read exactly as the same file would be scored or drawn. Every reader
returns a :data:`COLUMNS` table in the *original* frame as the file stores it (pixels of the
micrograph, x = column, y = row of the array ``mrcfile`` reads, no flip applied):

=================  ==========================================================================
format             what is read
=================  ==========================================================================
``star``           RELION: a coordinate file (one unnamed block, ``rlnCoordinateX/Y``), or a
                   whole ``particles.star`` (``data_optics`` + ``data_particles`` with
                   ``rlnMicrographName``). ``rlnAutopickFigureOfMerit`` becomes ``fom``;
                   ``samcryoDiameterPx`` (``samcryo simulate``) the diameter; RELION 3.1+
                   ``rlnOriginXAngst/YAngst`` (2D/3D alignment shifts) are kept in ``origin_x_A``
                   and ``origin_y_A`` for :func:`particle_centres`.
``csv`` / ``tsv``  CryoPPP (``X-Coordinate``, ``Y-Coordinate``, ``Diameter``, optional
                   ``Micrographs Filename``), plain ``x``, ``y``, ``diameter_px``, or cryoSPARC's
                   exported particle table (``location/center_x_frac`` ...; as ``cs``).
``box``            EMAN / crYOLO ``.box``: corner + box size; centre = corner + size / 2.
``cs``             cryoSPARC particles ``.cs`` (read with ``cryosparc-tools``):
                   ``x = center_x_frac * W``, ``y = center_y_frac * H`` with
                   ``location/micrograph_shape = [H, W]``, no flip (see docs/coordinates.md).
=================  ==========================================================================

Files that cover many micrographs name each particle's micrograph; the ``micrograph`` column
holds that name the way samcryo names micrographs (:func:`~samcryo_core.ingest.naming.
micrograph_name`: the file name without folders and extension), empty when the file does not say.
:func:`rows_for_micrographs` groups such a table by the micrographs of a dataset, matching
cryoSPARC's ``<21-digit UID>_`` prefixes either way, and names every micrograph it cannot find.

CryoPPP coordinates count y from the bottom of the raw MRC: :func:`flip_y` gives
``row = H - 1 - y``. Diameters: :func:`with_diameters`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError

FORMATS = ("star", "csv", "box", "cs")
COLUMNS = ("micrograph", "x", "y", "diameter_px", "fom", "origin_x_A", "origin_y_A")

#: cryoSPARC prefixes the files it writes with the 21-digit UID of the exposure.
_CRYOSPARC_UID = re.compile(r"^\d{21}_")
_STAR_DIAMETER = ("samcryoDiameterPx", "rlnDiameter")
_CSV_X = ("x-coordinate", "x")
_CSV_Y = ("y-coordinate", "y")
_CSV_DIAMETER = ("diameter", "diameter_px")
_CSV_FOM = ("fom", "rlnautopickfigureofmerit", "confidence")
_CSV_MICROGRAPH = ("micrographs filename", "micrograph", "micrograph_name", "rlnmicrographname")
_CS_X, _CS_Y = "location/center_x_frac", "location/center_y_frac"
_CS_SHAPE, _CS_PATH = "location/micrograph_shape", "location/micrograph_path"
_CS_FOM = ("pick_stats/ncc_score",)


def detect_format(path: str | Path) -> str:
    """The coordinate format of a file from its suffix (``star``, ``csv``, ``box`` or ``cs``)."""
    suffix = Path(path).suffix.lower()
    fmt = {".star": "star", ".csv": "csv", ".tsv": "csv", ".box": "box", ".cs": "cs"}.get(suffix)
    if fmt is None:
        raise InputError(path, f"cannot tell the coordinate format from the suffix '{suffix}'",
                         "use .star, .csv, .tsv, .box or .cs, or give the format explicitly")
    return fmt


def micrograph_key(path_text: str) -> str:
    """The micrograph a path names, as samcryo names micrographs (no folders, no extension)."""
    from samcryo_core.ingest.naming import micrograph_name

    return micrograph_name(str(path_text).strip())


def strip_cryosparc_uid(name: str) -> str:
    """``name`` without a leading cryoSPARC UID (``012345678901234567890_mic001`` -> ``mic001``)."""
    return _CRYOSPARC_UID.sub("", name, count=1)


def _table(n: int, **columns) -> pd.DataFrame:
    """A :data:`COLUMNS` table of ``n`` rows (missing numbers NaN, origins 0, micrograph '')."""
    out = {}
    for c in COLUMNS:
        value = columns.get(c)
        if c == "micrograph":
            out[c] = pd.Series([""] * n if value is None else [str(v) for v in value], dtype=object)
        else:
            default = 0.0 if c.startswith("origin") else np.nan
            out[c] = np.full(n, default) if value is None else np.asarray(value, dtype=np.float64)
    return pd.DataFrame(out)


def _numbers(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64; text where a number belongs is an InputError naming file and column."""
    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & table[column].notna().to_numpy()
    if bad.any():
        first = table[column].to_numpy()[np.flatnonzero(bad)[0]]
        raise InputError(path, f"column {column} holds {int(bad.sum())} non-numeric value(s), e.g. {first!r}",
                         f"write numbers in {column}")
    return values


def _keys(values) -> list[str]:
    return [micrograph_key(v.decode() if isinstance(v, bytes) else str(v)) for v in values]


def read_star(path: Path) -> pd.DataFrame:
    """RELION coordinate STAR or particles STAR (the particle block is the one with coordinates)."""
    import starfile

    try:
        blocks = starfile.read(path, always_dict=True)
    except Exception as exc:  # starfile raises many types on malformed text
        raise InputError(path, f"cannot parse STAR file ({exc})", "check it is a RELION STAR file") from exc
    tables = {k: v for k, v in blocks.items() if isinstance(v, pd.DataFrame)}
    with_xy = [k for k, t in tables.items() if {"rlnCoordinateX", "rlnCoordinateY"} <= set(t.columns)]
    if not with_xy:
        only_tables = all(isinstance(v, pd.DataFrame) for v in blocks.values())
        if only_tables and all(t.empty for t in tables.values()):
            return _table(0)  # a coordinate file of a micrograph without particles
        raise InputError(path, "no block with rlnCoordinateX and rlnCoordinateY",
                         "give a RELION coordinate or particles STAR file")
    t = tables["particles" if "particles" in with_xy else with_xy[0]]
    dcol = next((c for c in _STAR_DIAMETER if c in t.columns), None)

    def optional(column: str) -> np.ndarray | None:
        return _numbers(path, t, column) if column in t.columns else None

    return _table(
        len(t),
        micrograph=_keys(t["rlnMicrographName"]) if "rlnMicrographName" in t.columns else None,
        x=_numbers(path, t, "rlnCoordinateX"), y=_numbers(path, t, "rlnCoordinateY"),
        diameter_px=None if dcol is None else _numbers(path, t, dcol),
        fom=optional("rlnAutopickFigureOfMerit"),
        origin_x_A=optional("rlnOriginXAngst"),
        origin_y_A=optional("rlnOriginYAngst"),
    )


def _cryosparc_table(path: Path, get, fields: Sequence[str], n: int) -> pd.DataFrame:
    """Fractional cryoSPARC locations -> pixels: ``x = x_frac * W``, ``y = y_frac * H``.

    ``location/micrograph_shape`` is ``[H, W]`` (rows, columns of the micrograph as cryoSPARC
    reads it; the same array as RELION and mrcfile), and cryosparc-tools' own examples convert
    ``center_y_frac * H`` straight to ``rlnCoordinateY``: there is no flip.
    """
    missing = [f for f in (_CS_X, _CS_Y, _CS_SHAPE) if f not in fields]
    if missing:
        raise InputError(path, f"cryoSPARC particles lack the field(s) {', '.join(missing)}",
                         "export the particles with their location fields (e.g. from Select 2D)")
    shape = np.asarray(get(_CS_SHAPE), dtype=np.float64).reshape(n, 2)
    fom_field = next((f for f in _CS_FOM if f in fields), None)
    return _table(
        n,
        micrograph=_keys(get(_CS_PATH)) if _CS_PATH in fields else None,
        x=np.asarray(get(_CS_X), dtype=np.float64) * shape[:, 1],
        y=np.asarray(get(_CS_Y), dtype=np.float64) * shape[:, 0],
        fom=None if fom_field is None else np.asarray(get(fom_field), dtype=np.float64),
    )


def read_cs(path: Path) -> pd.DataFrame:
    """cryoSPARC particles ``.cs`` (any format cryosparc-tools' ``Dataset.load`` understands)."""
    from cryosparc.dataset import Dataset

    try:
        dset = Dataset.load(str(path))
    except Exception as exc:  # cryosparc-tools raises DatasetLoadError, numpy ValueError, ...
        raise InputError(path, f"cannot read cryoSPARC dataset ({exc})",
                         "give a particles .cs file written by cryoSPARC") from exc
    return _cryosparc_table(path, lambda f: dset[f], list(dset.fields()), len(dset))


def _shape_column(path: Path, df: pd.DataFrame) -> np.ndarray:
    """``location/micrograph_shape`` of a CSV export: one text column ``[H W]`` or ``/0`` + ``/1``."""
    if f"{_CS_SHAPE}/0" in df.columns and f"{_CS_SHAPE}/1" in df.columns:
        return np.stack([_numbers(path, df, f"{_CS_SHAPE}/0"), _numbers(path, df, f"{_CS_SHAPE}/1")], axis=1)
    rows = []
    for text in df[_CS_SHAPE].astype(str):
        numbers = re.findall(r"\d+(?:\.\d+)?", text)
        if len(numbers) != 2:
            raise InputError(path, f"{_CS_SHAPE} value {text!r} is not [H, W]",
                             "export the shape as two numbers")
        rows.append([float(v) for v in numbers])
    return np.asarray(rows, dtype=np.float64).reshape(-1, 2)


def read_csv(path: Path) -> pd.DataFrame:
    """CryoPPP or plain coordinate CSV/TSV, or cryoSPARC's exported particle table."""
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        return _table(0)
    except Exception as exc:
        raise InputError(path, f"cannot parse CSV ({exc})",
                         "use a comma-separated file with a header row") from exc
    if _CS_X in df.columns:
        fields = list(df.columns) + ([_CS_SHAPE] if f"{_CS_SHAPE}/0" in df.columns else [])
        shape = _shape_column(path, df) if _CS_SHAPE in fields else None
        return _cryosparc_table(path, lambda f: shape if f == _CS_SHAPE else df[f].to_numpy(), fields,
                                len(df))
    lower = {str(c).strip().lower(): c for c in df.columns}

    def column(names: Sequence[str]):
        return next((lower[k] for k in names if k in lower), None)

    xc, yc = column(_CSV_X), column(_CSV_Y)
    if xc is None or yc is None:
        raise InputError(path, f"no coordinate columns (found {list(df.columns)})",
                         "name them X-Coordinate/Y-Coordinate (CryoPPP) or x/y")
    dc, fc, mc = column(_CSV_DIAMETER), column(_CSV_FOM), column(_CSV_MICROGRAPH)
    return _table(
        len(df),
        micrograph=_keys(df[mc]) if mc is not None else None,
        x=_numbers(path, df, xc), y=_numbers(path, df, yc),
        diameter_px=None if dc is None else _numbers(path, df, dc),
        fom=None if fc is None else _numbers(path, df, fc),
    )


def read_box(path: Path) -> pd.DataFrame:
    """EMAN ``.box``: ``x0 y0 w h`` per line (corner with the smallest x and y); centre = corner + size/2.

    The box size is a box, not the particle: the table has no diameter.
    """
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        try:
            x0, y0, w, h = (float(v) for v in words[:4])
        except ValueError:
            raise InputError(path, f"line {n} ({line.strip()!r}) is not x0 y0 w h",
                             "give an EMAN .box file (whitespace-separated numbers)") from None
        rows.append((x0 + w / 2.0, y0 + h / 2.0))
    xy = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    return _table(len(xy), x=xy[:, 0], y=xy[:, 1])


_READERS = {"star": read_star, "csv": read_csv, "box": read_box, "cs": read_cs}


def read_coordinates(path: str | Path, fmt: str = "auto") -> pd.DataFrame:
    """Read one coordinate file into a :data:`COLUMNS` table (original frame as stored, no flip).

    Args:
        path: the file.
        fmt: ``auto`` (by suffix, :func:`detect_format`) or one of :data:`FORMATS`.

    Raises:
        InputError: the file is missing, unreadable or lacks coordinates.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "coordinate file not found", "check the path")
    fmt = detect_format(p) if fmt == "auto" else fmt
    if fmt not in _READERS:
        raise InputError(p, f"unknown coordinate format '{fmt}'", f"use one of auto, {', '.join(FORMATS)}")
    return _READERS[fmt](p)


def names_micrographs(table: pd.DataFrame) -> bool:
    """True when every row of ``table`` names its micrograph (a file for a whole dataset)."""
    return len(table) > 0 and bool((table["micrograph"] != "").all())


def _matches(key: str, name: str) -> bool:
    return key == name or strip_cryosparc_uid(key) == name or key == strip_cryosparc_uid(name)


def rows_for_micrographs(table: pd.DataFrame, names: Sequence[str], *, source: str | Path,
                         ) -> dict[str, pd.DataFrame]:
    """Split a whole-dataset table by micrograph: ``name -> its rows`` for every name in ``names``.

    A row belongs to micrograph ``name`` when its ``micrograph`` key equals it, also after
    removing a cryoSPARC UID prefix from either (cryoSPARC renames ``mic001.mrc`` to
    ``<UID>_mic001.mrc``). Rows of micrographs not in ``names`` are ignored (a particles STAR of
    a whole dataset labels more micrographs than one trains on).

    Raises:
        InputError: listing every name that no row matches, with examples of the names the file has.
    """
    keys = table["micrograph"].astype(str).to_numpy()
    unique = sorted(set(keys))
    out: dict[str, pd.DataFrame] = {}
    missing: list[str] = []
    for name in names:
        exact = keys == name
        mask = exact if exact.any() else np.array([_matches(k, name) for k in keys], dtype=bool)
        if mask.any():
            out[name] = table.loc[mask].reset_index(drop=True)
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        has = ", ".join(unique[:8]) + (" ..." if len(unique) > 8 else "")
        raise InputError(source, f"no particles for {len(missing)} of {len(names)} micrograph(s): {shown} "
                         f"(the file names {len(unique)} micrograph(s), e.g. {has})",
                         "micrographs are matched by file name without folders and extension "
                         "(cryoSPARC's leading UID ignored): give the micrographs the file was made on")
    return out


def flip_y(table: pd.DataFrame, height: int) -> pd.DataFrame:
    """y counted from the bottom (CryoPPP against the raw MRC) -> row index: ``row = H - 1 - y``."""
    out = table.copy()
    out["y"] = (height - 1) - out["y"].to_numpy(dtype=np.float64)
    return out


def particle_centres(table: pd.DataFrame, pixel_size_A: float | None) -> pd.DataFrame:
    """Apply RELION alignment shifts: the particle's centre is ``coordinate - origin / pixel size``.

    After 2D classification or refinement, ``rlnOriginXAngst`` says how far the particle sits from
    the extraction centre (RELION's re-extraction with "recenter" subtracts it the same way). The
    pixel size is the micrograph's (the one the coordinates are in). Without shifts, or without a
    pixel size to convert them, the table is returned as it is.
    """
    shifts = table[["origin_x_A", "origin_y_A"]].to_numpy(dtype=np.float64)
    if not np.any(shifts) or not pixel_size_A:
        return table
    out = table.copy()
    out["x"] = out["x"] - shifts[:, 0] / float(pixel_size_A)
    out["y"] = out["y"] - shifts[:, 1] / float(pixel_size_A)
    out[["origin_x_A", "origin_y_A"]] = 0.0
    return out


def with_diameters(table: pd.DataFrame, *, override_px: float | None = None,
                   default_px: float | None = None, source: str | Path = "<coordinates>") -> pd.DataFrame:
    """Fill ``diameter_px``: ``override_px`` for every particle, else the file's, else ``default_px``.

    Raises:
        InputError: a diameter is not positive, or none is known.
    """
    out = table.copy()
    if override_px is not None:
        if not override_px > 0:
            raise InputError(source, f"particle diameter {override_px} px is not positive",
                             "give a diameter > 0")
        out["diameter_px"] = float(override_px)
        return out
    d = out["diameter_px"].to_numpy(dtype=np.float64)
    if np.isnan(d).any():
        if default_px is None:
            raise InputError(source, "no particle diameter: the file has no diameter column",
                             "give the particle diameter in pixels of the original micrograph "
                             "(--diameter-px)")
        d = np.where(np.isnan(d), float(default_px), d)
    if not np.all(np.isfinite(d) & (d > 0)):
        raise InputError(source, "the diameter column holds non-positive values",
                         "fix the file or give --diameter-px")
    out["diameter_px"] = d
    return out
