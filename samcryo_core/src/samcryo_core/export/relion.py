"""RELION coordinate export: per-micrograph ``_autopick.star`` files plus the ``autopick.star`` index.

What RELION 4/5 reads (checked against RELION's autopicker and preprocessing sources):

* one file per micrograph holding one unnamed ``data_`` block with ``rlnCoordinateX``,
  ``rlnCoordinateY`` (original micrograph pixels, x = column, y = row, no flip),
  ``rlnClassNumber``, ``rlnAutopickFigureOfMerit`` and ``rlnAnglePsi``. RELION's LoG and Topaz
  wrappers write class ``0`` and psi ``0.0`` as placeholders ("dummy values to avoid problems in
  JoinStar"); we write the same, so files from samcryo and from RELION's own pickers join cleanly;
* the file is named like RELION's own: the micrograph path relative to the project folder, with
  RELION's ``<JobType>/jobNNN/`` prefix removed (``decomposePipelineFileName``), extension
  replaced by ``_autopick.star``: ``MotionCorr/job002/Movies/mic001.mrc`` ->
  ``<relion_dir>/Movies/mic001_autopick.star``. ``keep_job_prefix=True`` keeps the prefix
  (``<relion_dir>/MotionCorr/job002/Movies/mic001_autopick.star``) for projects that mix
  micrographs of several jobs with equal names;
* the index ``<relion_dir>/autopick.star``: block ``data_coordinate_files`` with
  ``rlnMicrographName`` and ``rlnMicrographCoordinates``, both relative to the project folder;
  RELION 4/5 Extract takes it via ``--coord_list``;
* ``# version 30001`` for RELION 3.1/4 or ``# version 50001`` for RELION 5.

Micrographs without picks still get their (empty) ``_autopick.star`` and index row: RELION expects
one coordinate file per listed micrograph, and an empty file says "looked, found none". Coordinate
files of micrographs no longer exported (removed from the inputs, rejected now) are removed
(:mod:`samcryo_core.export.stale`), so the folder holds exactly this export's files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pandas as pd

from samcryo_core.export.paths import posix_relpath, project_relative, safe_relative, strip_job_prefix
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.stale import remove_stale
from samcryo_core.export.star_text import loop_block_text, star_version
from samcryo_core.io.atomic import atomic_write_text

COORDINATE_LABELS = ("rlnCoordinateX", "rlnCoordinateY", "rlnClassNumber", "rlnAutopickFigureOfMerit",
                     "rlnAnglePsi")
INDEX_LABELS = ("rlnMicrographName", "rlnMicrographCoordinates")
AUTOPICK_SUFFIX = "_autopick.star"
INDEX_NAME = "autopick.star"


def coordinates_text(picks: pd.DataFrame, relion_version: str = "4") -> str:
    """Text of one ``_autopick.star`` (class 0 and psi 0.0 as RELION's LoG picker writes)."""
    rows = [
        (float(x), float(y), 0, float(f), 0.0)
        for x, y, f in zip(picks["x"], picks["y"], picks["fom"], strict=True)
    ]
    return loop_block_text("", COORDINATE_LABELS, rows, version=star_version(relion_version))


def index_text(entries: Sequence[tuple[str, str]], relion_version: str = "4") -> str:
    """Text of ``autopick.star``: (micrograph name, coordinate file) rows, project-relative."""
    return loop_block_text("coordinate_files", INDEX_LABELS, [tuple(e) for e in entries],
                           version=star_version(relion_version))


def coordinate_file_relpath(mic_rel: PurePosixPath, *, keep_job_prefix: bool = False) -> PurePosixPath:
    """Where a micrograph's coordinates go below the export folder (never outside it)."""
    rel = mic_rel if keep_job_prefix else strip_job_prefix(mic_rel)
    rel = safe_relative(rel, what="micrograph path")
    return rel.with_name(rel.stem + AUTOPICK_SUFFIX)


@dataclass
class RelionExport:
    """What :func:`write_relion` wrote."""

    index: Path
    coordinate_files: list[Path] = field(default_factory=list)
    n_picks: int = 0


def write_relion(
    items: Sequence[MicrographPicks],
    relion_dir: str | Path,
    *,
    project_dir: str | Path = ".",
    relion_version: str = "4",
    min_fom: float | None = None,
    keep_job_prefix: bool = False,
) -> RelionExport:
    """Write one ``_autopick.star`` per micrograph and the ``autopick.star`` index, atomically.

    Raises:
        InputError: a micrograph lies outside ``project_dir`` (RELION could not find it), or two
            micrographs would share a coordinate file.
    """
    from samcryo_core.errors import InputError

    relion_dir = Path(relion_dir)
    result = RelionExport(index=relion_dir / INDEX_NAME)
    entries: list[tuple[str, str]] = []
    seen: dict[PurePosixPath, str] = {}
    for item in items:
        mic_rel = project_relative(item.source, project_dir)
        coord_rel = coordinate_file_relpath(mic_rel, keep_job_prefix=keep_job_prefix)
        if coord_rel in seen:
            raise InputError(item.source,
                             f"its coordinate file {coord_rel} would overwrite that of {seen[coord_rel]}",
                             "export with --keep-job-prefix, or give the micrographs unique names")
        seen[coord_rel] = item.source
        path = relion_dir / coord_rel
        picks = item.above(min_fom)
        atomic_write_text(path, coordinates_text(picks, relion_version))
        result.coordinate_files.append(path)
        result.n_picks += len(picks)
        entries.append((str(mic_rel), posix_relpath(path, project_dir)))
    atomic_write_text(result.index, index_text(entries, relion_version))
    remove_stale(relion_dir, result.coordinate_files, f"*{AUTOPICK_SUFFIX}")
    return result
