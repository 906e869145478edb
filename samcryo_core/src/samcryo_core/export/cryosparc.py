"""cryoSPARC export: a native particles ``.cs`` and a RELION-convention particles STAR.

``particles.cs`` is what cryoSPARC's own pickers output, written with ``cryosparc-tools``:
``location/micrograph_path``, ``location/micrograph_shape = [H, W]``,
``location/center_x_frac = x / W`` and ``location/center_y_frac = y / H`` (fractions of the
micrograph as cryoSPARC reads it: the same array as RELION and mrcfile, so **no flip**; this is how
cryosparc-tools' own crYOLO example converts RELION coordinates, and what pyem reads back without
its ``--inverty``), ``location/micrograph_psize_A``, ``location/micrograph_uid`` (the exposure's
UID when the micrographs came from a cryoSPARC exposure list; cryoSPARC's *Extract From
Micrographs* pairs particles with exposures by it) and the figure of merit in
``pick_stats/ncc_score`` and ``pick_stats/power`` (what *Inspect Picks* thresholds, as in the
crYOLO example). It goes into cryoSPARC through a cryosparc-tools external job
(``docs/export.md``).

The STAR (``rlnMicrographName``, ``rlnCoordinateX``, ``rlnCoordinateY``,
``rlnAutopickFigureOfMerit``; RELION's frame, no flip) is for *Import Particle Stack*, which
converts RELION coordinates itself. cryoSPARC names exposures ``<UID>_mic001.mrc``, which is why
it has a "remove leading UID" option and why ``basename=True`` writes ``mic001.mrc`` instead of
the project-relative path.
"""

from __future__ import annotations

import hashlib
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


CS_FIELDS = (
    ("location/micrograph_uid", "<u8"),
    ("location/exp_group_id", "<u4"),
    ("location/micrograph_path", "O"),
    ("location/micrograph_shape", "<u4", (2,)),
    ("location/micrograph_psize_A", "<f4"),
    ("location/center_x_frac", "<f4"),
    ("location/center_y_frac", "<f4"),
    ("pick_stats/ncc_score", "<f4"),
    ("pick_stats/power", "<f4"),
)


def particles_dataset(items: Sequence[MicrographPicks], *, project_dir: str | Path = ".",
                      basename: bool = False, min_fom: float | None = None):
    """The particles as a cryosparc-tools ``Dataset`` (fields :data:`CS_FIELDS` plus ``uid``).

    Particle UIDs are derived from the content (micrograph names and coordinates), so the same
    picks always give the same file and different picks different UIDs.

    Raises:
        InputError: a micrograph's shape is unknown (its frame sidecar was not found).
    """
    import numpy as np
    from cryosparc.dataset import Dataset

    rows: list[tuple] = []
    for item in items:
        picks = item.above(min_fom)
        if not len(picks):
            continue
        if item.shape is None:
            raise InputError(item.source, "micrograph shape unknown, so no fractional coordinates",
                             "export from picks manifests whose frame sidecars exist")
        h, w = item.shape
        name = cryosparc_micrograph_name(item.source, project_dir=project_dir, basename=basename)
        for x, y, f in zip(picks["x"], picks["y"], picks["fom"], strict=True):
            rows.append((item.micrograph_uid or 0, name, h, w, item.pixel_size_A or 0.0,
                         float(x) / w, float(y) / h, float(f)))
    dset = Dataset.allocate(len(rows), list(CS_FIELDS))
    if not rows:
        return dset
    uid, path, h, w, px, fx, fy, fom = (list(c) for c in zip(*rows, strict=True))
    digest = hashlib.sha256(repr(rows).encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    dset["uid"] = rng.integers(1, 2**63, size=len(rows), dtype=np.uint64)
    dset["location/micrograph_uid"] = np.asarray(uid, dtype=np.uint64)
    dset["location/micrograph_path"] = np.asarray(path, dtype=object)
    dset["location/micrograph_shape"] = np.stack([h, w], axis=1).astype(np.uint32)
    dset["location/micrograph_psize_A"] = px
    dset["location/center_x_frac"] = fx
    dset["location/center_y_frac"] = fy
    dset["pick_stats/ncc_score"] = fom
    dset["pick_stats/power"] = fom
    return dset


def write_cryosparc_cs(path: str | Path, items: Sequence[MicrographPicks], **kwargs) -> int:
    """Write ``particles.cs`` atomically (numpy format, readable by every cryoSPARC and np.load)."""
    from samcryo_core.io.atomic import atomic_path

    dset = particles_dataset(items, **kwargs)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        dset.save(fh)
    return len(dset)
