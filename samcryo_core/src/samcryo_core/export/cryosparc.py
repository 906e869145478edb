"""cryoSPARC export: one RELION-convention particles STAR for *Import Particle Stack*.

cryoSPARC imports coordinates from a RELION-style STAR file that has ``rlnMicrographName``,
``rlnCoordinateX`` and ``rlnCoordinateY`` (RELION's frame: original pixels, x = column, y = row,
no flip); it converts to its own ``location/center_x_frac`` / ``center_y_frac`` itself, so we must
*not* flip. Connect the exposures (Import Micrographs or a motion-correction job) as *Source
Exposures*; cryoSPARC then matches ``rlnMicrographName`` against the exposures' file names. Its
exposures are named ``<UID>_mic001.mrc``, which is why cryoSPARC has the "remove leading UID"
option and why ``basename=True`` writes ``mic001.mrc`` instead of the project-relative path.

A native ``.cs`` file or an external job needs ``cryosparc-tools`` and a running cryoSPARC
instance; samcryo does not depend on it. :func:`cryosparc_tools_available` says whether it is
installed so the CLI can tell the user plainly.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from samcryo_core.errors import InputError
from samcryo_core.export.paths import project_relative
from samcryo_core.export.picks_set import MicrographPicks
from samcryo_core.export.star_text import loop_block_text
from samcryo_core.io.atomic import atomic_write_text

PARTICLE_LABELS = ("rlnMicrographName", "rlnCoordinateX", "rlnCoordinateY", "rlnAutopickFigureOfMerit")
BLOCK = "particles"


def cryosparc_tools_available() -> bool:
    """True when the ``cryosparc-tools`` package (module ``cryosparc.tools``) can be imported."""
    try:
        return importlib.util.find_spec("cryosparc.tools") is not None
    except ModuleNotFoundError:
        return False


def cryosparc_micrograph_name(source: str, *, project_dir: str | Path = ".", basename: bool = False) -> str:
    """``rlnMicrographName`` for cryoSPARC: file name only, or the path relative to the project.

    A micrograph outside ``project_dir`` keeps its absolute path (nothing is written there; the
    name is only matched against exposures).
    """
    if basename:
        return PurePosixPath(str(source).replace("\\", "/")).name
    try:
        return str(project_relative(source, project_dir))
    except InputError:
        return os.path.abspath(str(source)).replace(os.sep, "/")


def particles_star_text(
    items: Sequence[MicrographPicks],
    *,
    project_dir: str | Path = ".",
    basename: bool = False,
    min_fom: float | None = None,
) -> str:
    """Text of the particles STAR (``data_particles`` block, ``# version 30001``)."""
    rows: list[tuple] = []
    for item in items:
        name = cryosparc_micrograph_name(item.source, project_dir=project_dir, basename=basename)
        picks = item.above(min_fom)
        rows += [(name, float(x), float(y), float(f))
                 for x, y, f in zip(picks["x"], picks["y"], picks["fom"], strict=True)]
    return loop_block_text(BLOCK, PARTICLE_LABELS, rows, version=30001)


def write_cryosparc_star(path: str | Path, items: Sequence[MicrographPicks], **kwargs) -> int:
    """Write the particles STAR atomically; return the number of particles written."""
    text = particles_star_text(items, **kwargs)
    atomic_write_text(path, text)
    n_labels = len(PARTICLE_LABELS)
    return sum(1 for line in text.splitlines() if len(line.split()) == n_labels and not line.startswith("_"))
