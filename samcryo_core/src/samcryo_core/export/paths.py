"""Paths of micrographs relative to a RELION project, and output paths that cannot escape.

RELION resolves every path in a STAR file against its project directory (the folder where
``relion`` runs), so exported micrograph names must be relative to that folder, spelled exactly as
RELION's own jobs spell them (``MotionCorr/job002/Movies/mic001.mrc``). The same relative path
decides where the coordinate file goes below the export folder, so a path that climbs out
(``..``) or is absolute is refused: no input can make samcryo write outside its output folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath

from samcryo_core.errors import InputError

# RELION job folders: "<JobType>/job<NNN>/" (decomposePipelineFileName strips this prefix).
_JOB_PREFIX = re.compile(r"^[A-Za-z0-9_]+$"), re.compile(r"^job\d+$")


def safe_relative(path: str | PurePosixPath, *, what: str = "path") -> PurePosixPath:
    """``path`` as a relative POSIX path without ``..``, ``.`` or empty parts; else InputError."""
    text = str(path).replace("\\", "/")
    p = PurePosixPath(text)
    if p.is_absolute() or re.match(r"^[A-Za-z]:", text):
        raise InputError(text, f"{what} is absolute, so it could write outside the output folder",
                         "give micrographs under the RELION project folder (--project-dir)")
    parts = [q for q in p.parts if q not in ("", ".")]
    if not parts or any(q == ".." for q in parts):
        raise InputError(text, f"{what} climbs out of its folder ('..') or is empty",
                         "give micrographs under the RELION project folder (--project-dir)")
    return PurePosixPath(*parts)


def project_relative(source: str | Path, project_dir: str | Path) -> PurePosixPath:
    """The micrograph path as RELION names it: relative to ``project_dir``.

    Relative sources are taken relative to the current directory (where the pipeline runs), like
    every other path in a manifest. Symlinks are not resolved: RELION projects are full of
    symlinked ``Movies/`` folders and RELION names files by the link, not by the target.

    Raises:
        InputError: the micrograph is not inside the project folder.
    """
    src = os.path.abspath(str(source))
    proj = os.path.abspath(str(project_dir))
    rel = os.path.relpath(src, proj)
    if rel.startswith(".."):
        raise InputError(source, f"micrograph is not inside the RELION project folder {proj}",
                         "pass --project-dir <the folder where you run relion> that contains the "
                         "micrographs (RELION needs paths relative to it)")
    return safe_relative(rel, what="micrograph path")


def strip_job_prefix(rel: PurePosixPath) -> PurePosixPath:
    """Drop a leading ``<JobType>/jobNNN/`` as RELION does when naming a job's per-micrograph files."""
    parts = rel.parts
    if len(parts) > 2 and _JOB_PREFIX[0].match(parts[0]) and _JOB_PREFIX[1].match(parts[1]):
        return PurePosixPath(*parts[2:])
    return rel


def posix_relpath(path: str | Path, start: str | Path) -> str:
    """``os.path.relpath`` with forward slashes (STAR files are read on Linux)."""
    return os.path.relpath(os.path.abspath(str(path)), os.path.abspath(str(start))).replace(os.sep, "/")
