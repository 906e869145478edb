"""Real labelled micrographs for pre-training: the CryoPPP dev sets' train and valid splits.

Why real data in pre-training: a backbone that has only seen the simulator learns the
simulator's world; a few real micrographs of a few proteins show it real ice, real noise and
real export artefacts. Only the ``train`` split is trained on and only the ``valid`` split is
validated on; the ``test`` split is never read (it scores the leave-one-dataset-out proof), and
any set named in ``leave_out`` is not read at all.

Layout read (``real_root``, e.g. ``/work/shared/data/cryoppp-dev``)::

    <real_root>/<set>/<split>/images/<micrograph>.png
    <real_centres>/<set>/<split>/<micrograph stem>.star     (scripts/derive_centres.py)

The centres are in the PNG's pixels with the particle diameter in ``samcryoDiameterPx``; the
PNG's pixel size is not needed (binning depends only on the diameter in pixels), so images are
normalized with a nominal 1 A/px and the diameter in pixels as Angstrom.

That diameter is CryoPPP's circle, which for EMPIAR-10059 and 10947 is 1.5-1.6x the particles
(their labelled centres sit 0.61-0.66 circles apart at the median). Binned by the circle, the
particles would span 12-13 px instead of the working scale, and discs of the circle fuse over the
crowded field into a target that is particle almost everywhere; a backbone continued on such tiles
learnt to call sparse simulated fields particle too, and the allowed diameter recovered part of
that, not all (docs/benchmarks.md, "A backbone continued on real micrographs"). So each split
takes the diameter its labels allow, by the rule samcryo applies to a user's labels
(:func:`samcryo_core.training.label_spacing.too_close`): where the labels' median
nearest-neighbour spacing refuses the circle, the spacing is the diameter (:func:`label_diameter_px`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from samcryo_core.errors import ConfigError

SPLITS = ("train", "valid")


@dataclass(frozen=True)
class RealMicrograph:
    """One labelled real micrograph (the image as read, centres in its pixels)."""

    dataset: str
    split: str
    name: str
    image: np.ndarray
    x: np.ndarray
    y: np.ndarray
    diameter_px: np.ndarray


def _read_image(path: Path) -> np.ndarray:
    from samcryo_core.io.micrograph import read_micrograph

    return np.asarray(read_micrograph(path).data, dtype=np.float32)


def label_diameter_px(micrographs: Sequence[RealMicrograph]) -> float | None:
    """The diameter (pixels) the labels of one split allow in place of their circles: the median
    nearest-neighbour spacing where it refuses the circles' median, else None (circles kept)."""
    from samcryo_core.training.label_spacing import label_spacing, neighbour_distances, too_close

    if not micrographs:
        return None
    spacing = label_spacing([neighbour_distances(m.x, m.y) for m in micrographs])
    circle = float(np.median(np.concatenate([m.diameter_px for m in micrographs])))
    return spacing.median_A if too_close(circle, spacing) else None


@functools.lru_cache(maxsize=8)
def load_split(real_root: str, real_centres: str, dataset: str, split: str) -> tuple[RealMicrograph, ...]:
    """Every micrograph of ``dataset``/``split`` that has derived centres (cached per process)."""
    from samcryo_core.io.coordinates import read_coordinates

    if split not in SPLITS:
        raise ConfigError("pretrain.real", f"split {split!r} may not be used", "use train or valid only")
    centres = Path(real_centres) / dataset / split
    stars = sorted(centres.glob("*.star"))
    if not stars:
        raise ConfigError("pretrain.real_centres", f"no centres in {centres}",
                          "run scripts/derive_centres.py or point real_centres at its output")
    images = Path(real_root) / dataset / split / "images"
    out = []
    for star in stars:
        image = images / f"{star.stem}.png"
        if not image.is_file():
            raise ConfigError("pretrain.real_root", f"{image} is missing",
                              "point real_root at the cryoppp-dev folder")
        p = read_coordinates(star)  # derive_centres.py writes samcryoDiameterPx
        out.append(RealMicrograph(dataset, split, star.stem, _read_image(image), p["x"].to_numpy(),
                                  p["y"].to_numpy(), p["diameter_px"].to_numpy()))
    allowed = label_diameter_px(out)
    if allowed is not None:
        out = [replace(m, diameter_px=np.full_like(m.diameter_px, allowed, dtype=np.float64)) for m in out]
    return tuple(out)


def real_sets(config) -> tuple[str, ...]:
    """The real data sets this recipe uses (``real_sets`` minus ``leave_out``)."""
    if config.real_root is None:
        return ()
    return tuple(s for s in config.real_sets if s not in config.leave_out)


def real_micrographs(config, split: str) -> list[RealMicrograph]:
    """All micrographs of ``split`` of the sets the recipe uses."""
    return [m for s in real_sets(config) for m in load_split(str(config.real_root), str(config.real_centres),
                                                             s, split)]


def normalize_real(mic: RealMicrograph, particle_px: float):
    """``(image, mapping, mask)`` of a real micrograph binned so its particles span ``particle_px``."""
    from samcryo_core.preprocess.normalize import normalize_micrograph
    from samcryo_core.training.labels import Particles, particles_to_mask

    d = float(np.median(mic.diameter_px))
    image, mapping = normalize_micrograph(
        mic.image, name=mic.name, source=f"<{mic.dataset}/{mic.split}/{mic.name}>", pixel_size_A=1.0,
        diameter_A=d, particle_px=particle_px, pixel_size_source="nominal (diameter in pixels)",
    )
    mask = particles_to_mask(Particles(mic.x, mic.y, mic.diameter_px), mapping, path=mic.name)
    return image, mapping, mask
