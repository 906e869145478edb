"""Where micrographs come from: a glob, a RELION micrographs STAR file or a cryoSPARC exposure list.

Each input becomes a :class:`Source` carrying its micrograph name, file path and, when the list
knows it, the pixel size (RELION optics group or cryoSPARC ``micrograph_blob/psize_A``). The MRC
header still takes priority over these values (see :mod:`samcryo_core.ingest.validate`).

Paths inside RELION STAR files and cryoSPARC exposure lists are relative to the *project
directory* (where RELION / cryoSPARC ran, e.g. ``MotionCorr/job002/...`` or
``J3/imported/...``), not to the STAR file's own folder. ``project_dir`` says where that is and
defaults to the current directory, which is where RELION users run commands; absolute paths are
used as they are.

RELION layouts understood:

* 3.1 and later: ``data_optics`` (``rlnOpticsGroup`` + ``rlnMicrographPixelSize``, or
  ``rlnImagePixelSize`` when the former is absent) and ``data_micrographs`` (``rlnMicrographName``
  + ``rlnOpticsGroup``).
* 3.0: one loop with ``rlnMicrographName``; the pixel size is taken from ``rlnDetectorPixelSize``
  (micrometre) and ``rlnMagnification`` as ``1e4 * detector / magnification`` when both exist.

cryoSPARC: an exposure table exported as CSV (``micrograph_blob/path``, optional
``micrograph_blob/psize_A``) or the ``.cs`` file itself (a numpy structured array with the same
fields). cryoSPARC names often start with a 21-digit UID (``012345678901234567890_mic.mrc``);
the name keeps it, since it is what cryoSPARC shows.

Results are sorted by micrograph name and names must be unique, so every run splits a dataset into
the same chunks.
"""

from __future__ import annotations

import glob as globmod
import math
import os
from dataclasses import dataclass
from pathlib import Path

from samcryo_core.errors import InputError
from samcryo_core.ingest.naming import check_unique, micrograph_name

STAR = "star"
CRYOSPARC = "cryosparc"


@dataclass(frozen=True)
class Source:
    """One input micrograph before it has been opened.

    Attributes:
        micrograph: unique safe name (:func:`~samcryo_core.ingest.naming.micrograph_name`).
        path: file path as samcryo will open it.
        pixel_size_A: pixel size from the list (STAR optics / cryoSPARC), or None.
        pixel_size_source: ``star`` or ``cryosparc`` when ``pixel_size_A`` is set, else None.
        cryosparc_uid: the exposure's ``uid`` in a cryoSPARC exposure list (export carries it
            into ``location/micrograph_uid``), else None.
    """

    micrograph: str
    path: str
    pixel_size_A: float | None = None  # noqa: N815 (Angstrom unit suffix)
    pixel_size_source: str | None = None
    cryosparc_uid: int | None = None


def _resolve(name: str, project_dir: str | Path | None) -> str:
    if project_dir is None or os.path.isabs(name):
        return name
    return os.path.join(str(project_dir), name)


def _positive(value, path: str, column: str) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(path, f"column {column} holds a non-number ({value!r})",
                         f"fix {column} in the file") from None
    if not math.isfinite(v) or v <= 0:
        return None
    return v


def _listed_by_glob(path: str) -> bool:
    """A glob match is an input if it is a file, or *named* like a micrograph.

    A folder or a dangling symlink called ``mic_0042.mrc`` is an input the user meant; it must
    reach ingest and be rejected there with a reason, not vanish silently from the dataset (then
    ``accepted + rejected`` would no longer equal what the user sees in the folder). Folders
    without a micrograph suffix (``**`` also lists folders) are not inputs.
    """
    from samcryo_core.io.micrograph import SUPPORTED_SUFFIXES

    return os.path.isfile(path) or Path(path).suffix.lower() in SUPPORTED_SUFFIXES


def _sources_from_glob(pattern: str) -> list[Source]:
    matches = sorted(p for p in globmod.glob(pattern, recursive=True) if _listed_by_glob(p))
    if not matches:
        raise InputError(pattern, "glob pattern matches no files",
                         "check the pattern and the current directory (quote it in the shell)")
    return [Source(micrograph_name(p), p) for p in matches]


def _require(df, columns: tuple[str, ...], path: str, block: str) -> None:
    for c in columns:
        if c not in df.columns:
            raise InputError(path, f"STAR block 'data_{block}' has no column {c}",
                             f"give a RELION micrographs STAR file that has {c} "
                             "(e.g. MotionCorr/jobNNN/corrected_micrographs.star)")


def read_micrographs_star(path: str | Path, project_dir: str | Path | None = None) -> list[Source]:
    """Sources listed in a RELION 3.0 or 3.1+ micrographs STAR file."""
    import pandas as pd
    import starfile

    path = str(path)
    if not os.path.isfile(path):
        raise InputError(path, "STAR file does not exist", "check the --micrographs-star path")
    try:
        blocks = starfile.read(path, always_dict=True)
    except Exception as exc:  # starfile/pandas raise a variety of parse errors
        raise InputError(path, f"cannot parse STAR file ({type(exc).__name__}: {exc})",
                         "check that it is a RELION STAR file") from exc
    # starfile returns a dict for a block written without loop_ (one row): treat it as a table.
    tables = {k: v if isinstance(v, pd.DataFrame) else pd.DataFrame([v]) for k, v in blocks.items()
              if isinstance(v, (pd.DataFrame, dict))}

    if "micrographs" in tables:
        mics = tables["micrographs"]
        _require(mics, ("rlnMicrographName",), path, "micrographs")
        px_by_group: dict[str, float | None] = {}
        if "optics" in tables:
            optics = tables["optics"]
            _require(optics, ("rlnOpticsGroup",), path, "optics")
            px_col = next((c for c in ("rlnMicrographPixelSize", "rlnImagePixelSize")
                           if c in optics.columns), None)
            if px_col is None:
                raise InputError(path, "STAR block 'data_optics' has no column rlnMicrographPixelSize "
                                 "(nor rlnImagePixelSize)",
                                 "add the pixel size to the optics table or give --pixel-size")
            _require(mics, ("rlnOpticsGroup",), path, "micrographs")
            for g, px in zip(optics["rlnOpticsGroup"], optics[px_col], strict=True):
                px_by_group[str(g)] = _positive(px, path, px_col)
            pxs = []
            for g in mics["rlnOpticsGroup"]:
                if str(g) not in px_by_group:
                    raise InputError(path, f"micrograph refers to optics group {g}, "
                                     "which data_optics does not define",
                                     "fix rlnOpticsGroup or the optics table")
                pxs.append(px_by_group[str(g)])
        else:
            pxs = [None] * len(mics)
        names = [str(n) for n in mics["rlnMicrographName"]]
    else:
        mics = next((df for df in tables.values() if "rlnMicrographName" in df.columns), None)
        if mics is None:
            raise InputError(path, "no STAR table has the column rlnMicrographName",
                             "give a RELION micrographs STAR file (e.g. corrected_micrographs.star)")
        names = [str(n) for n in mics["rlnMicrographName"]]
        if {"rlnDetectorPixelSize", "rlnMagnification"} <= set(mics.columns):
            pxs = []
            for det, mag in zip(mics["rlnDetectorPixelSize"], mics["rlnMagnification"], strict=True):
                d = _positive(det, path, "rlnDetectorPixelSize")
                m = _positive(mag, path, "rlnMagnification")
                pxs.append(None if d is None or m is None else 1e4 * d / m)
        else:
            pxs = [None] * len(mics)

    out = []
    for name, px in zip(names, pxs, strict=True):
        full = _resolve(name, project_dir)
        out.append(Source(micrograph_name(full), full, px, STAR if px is not None else None))
    return out


def read_cryosparc_exposures(path: str | Path, project_dir: str | Path | None = None) -> list[Source]:
    """Sources listed in a cryoSPARC exposure table (CSV export or ``.cs`` file).

    ``.cs`` files are read with cryosparc-tools' ``Dataset.load``, which understands every format
    cryoSPARC writes (numpy and its compressed one).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise InputError(path, "cryoSPARC exposure list does not exist", "check the path")
    path_col, px_col = "micrograph_blob/path", "micrograph_blob/psize_A"
    try:
        if path.lower().endswith(".cs"):
            from cryosparc.dataset import Dataset

            dset = Dataset.load(path)
            columns = {f: dset[f] for f in dset.fields()}
        else:
            import pandas as pd

            df = pd.read_csv(path)
            columns = {c: df[c].to_numpy() for c in df.columns}
    except Exception as exc:
        raise InputError(path, f"cannot read cryoSPARC exposure list ({type(exc).__name__}: {exc})",
                         "export the exposures as CSV or give the .cs file") from exc
    if path_col not in columns:
        raise InputError(path, f"cryoSPARC exposure list has no column {path_col}",
                         "export the exposures with their micrograph_blob fields")
    out = []
    pxs = columns.get(px_col)
    uids = columns.get("uid")
    for i, raw in enumerate(columns[path_col]):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        px = None if pxs is None else _positive(pxs[i], path, px_col)
        full = _resolve(name, project_dir)
        uid = None if uids is None else int(uids[i])
        out.append(Source(micrograph_name(full), full, px, CRYOSPARC if px is not None else None, uid))
    return out


def list_sources(
    *,
    glob: str | list[str] | None = None,
    micrographs_star: str | Path | None = None,
    cryosparc_csv: str | Path | None = None,
    project_dir: str | Path | None = None,
) -> list[Source]:
    """All input micrographs, sorted by name; several kinds of input may be combined.

    Args:
        glob: one pattern or a list (``**`` recurses); a pattern that matches nothing is an error.
        micrographs_star: RELION micrographs STAR file.
        cryosparc_csv: cryoSPARC exposure list (CSV export or ``.cs``).
        project_dir: RELION / cryoSPARC project directory the listed paths are relative to
            (default: the current directory).

    Raises:
        InputError: unreadable list, missing column, nothing given, or duplicate names.
    """
    sources: list[Source] = []
    if glob is not None:
        for pattern in [glob] if isinstance(glob, str) else glob:
            sources.extend(_sources_from_glob(pattern))
    if micrographs_star is not None:
        sources.extend(read_micrographs_star(micrographs_star, project_dir))
    if cryosparc_csv is not None:
        sources.extend(read_cryosparc_exposures(cryosparc_csv, project_dir))
    if glob is None and micrographs_star is None and cryosparc_csv is None:
        raise InputError("inputs", "no micrographs given",
                         "set a glob, a RELION micrographs STAR file or a cryoSPARC exposure list")
    sources.sort(key=lambda s: (s.micrograph, s.path))
    check_unique([s.micrograph for s in sources], [s.path for s in sources])
    return sources
