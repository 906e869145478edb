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

When the export folder lies inside the RELION project (a job folder such as ``External/job012``),
it is also made a job output RELION understands:

* ``coords_suffix_autopick.star``: what RELION 3.1's *Particle extraction* takes as "Input
  coordinates" (it derives ``--coord_dir`` and ``--coord_suffix _autopick.star`` from the name;
  the file holds the micrographs STAR the coordinates belong to, as RELION's own autopicker
  writes it). Without a known micrographs STAR, samcryo writes ``micrographs.star`` listing the
  exported micrographs and names that;
* ``RELION_OUTPUT_NODES.star``: the output nodes of an External job, so the coordinates appear in
  RELION's pipeline: ``coords_suffix_autopick.star`` as node type 2 (RELION 3.1), or
  ``autopick.star`` as ``MicrographsCoords.star.relion.autopick`` (RELION 4 and 5).

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
COORDS_SUFFIX_NAME = "coords_suffix_autopick.star"
NODES_NAME = "RELION_OUTPUT_NODES.star"
MICROGRAPHS_NAME = "micrographs.star"
#: RELION 3.1 numbers its node types (``NODE_MIC_COORDS`` = 2); RELION 4 and 5 label them.
NODE_TYPE_COORDS_31 = 2
NODE_LABEL_COORDS = "MicrographsCoords.star.relion.autopick"


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
    job_files: list[Path] = field(default_factory=list)


def write_relion(
    items: Sequence[MicrographPicks],
    relion_dir: str | Path,
    *,
    project_dir: str | Path = ".",
    relion_version: str = "4",
    min_fom: float | None = None,
    keep_job_prefix: bool = False,
    micrographs_star: str | Path | None = None,
) -> RelionExport:
    """Write one ``_autopick.star`` per micrograph and the ``autopick.star`` index, atomically.

    Inside the project folder, also the job files of :func:`write_job_files` (``micrographs_star``:
    the micrographs STAR the picks belong to, for RELION 3.1's ``coords_suffix`` file).

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
    if _inside(relion_dir, project_dir):
        result.job_files = write_job_files(relion_dir, project_dir, [e[0] for e in entries],
                                           relion_version=relion_version,
                                           micrographs_star=micrographs_star)
    # coords_suffix_autopick.star matches the pattern too: it is a job file, not a stale pick file
    remove_stale(relion_dir, [*result.coordinate_files, *result.job_files], f"*{AUTOPICK_SUFFIX}")
    return result


def _inside(path: str | Path, project_dir: str | Path) -> bool:
    rel = posix_relpath(path, project_dir)
    return rel != ".." and not rel.startswith("../")


def output_nodes_text(relion_dir_rel: str, relion_version: str = "4") -> str:
    """``RELION_OUTPUT_NODES.star`` of an External job whose output is these coordinates."""
    base = relion_dir_rel.rstrip("/")
    if str(relion_version) == "3.1":
        return loop_block_text("output_nodes", ("rlnPipeLineNodeName", "rlnPipeLineNodeType"),
                               [(f"{base}/{COORDS_SUFFIX_NAME}", NODE_TYPE_COORDS_31)],
                               version=star_version(relion_version))
    return loop_block_text("output_nodes", ("rlnPipeLineNodeName", "rlnPipeLineNodeTypeLabel"),
                           [(f"{base}/{INDEX_NAME}", NODE_LABEL_COORDS)],
                           version=star_version(relion_version))


def write_job_files(relion_dir: str | Path, project_dir: str | Path, micrograph_names: Sequence[str], *,
                    relion_version: str = "4", micrographs_star: str | Path | None = None) -> list[Path]:
    """``coords_suffix_autopick.star`` and ``RELION_OUTPUT_NODES.star`` (+ ``micrographs.star``).

    ``micrographs_star`` is named project-relative in the ``coords_suffix`` file when it lies in
    the project; otherwise ``micrographs.star`` (``data_micrographs`` with ``rlnMicrographName``)
    is written beside the coordinates and named instead.
    """
    relion_dir = Path(relion_dir)
    written = []
    mics_rel = None
    if micrographs_star is not None and _inside(micrographs_star, project_dir):
        mics_rel = posix_relpath(micrographs_star, project_dir)
    if mics_rel is None:
        path = relion_dir / MICROGRAPHS_NAME
        atomic_write_text(path, loop_block_text("micrographs", ("rlnMicrographName",),
                                                [(n,) for n in micrograph_names],
                                                version=star_version(relion_version)))
        written.append(path)
        mics_rel = posix_relpath(path, project_dir)
    suffix = relion_dir / COORDS_SUFFIX_NAME
    atomic_write_text(suffix, mics_rel + "\n")
    nodes = relion_dir / NODES_NAME
    atomic_write_text(nodes, output_nodes_text(posix_relpath(relion_dir, project_dir), relion_version))
    return [*written, suffix, nodes]
