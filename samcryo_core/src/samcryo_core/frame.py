"""The coordinate frames of a micrograph and the sidecar that links them.

Every stage after normalization works in the *normalized frame*: the micrograph Fourier-binned by
its own factor so that particles have the backbone's working size in pixels
(:mod:`samcryo_core.preprocess.scale`), at any size and aspect ratio, without padding. Picks must
leave samcryo in the *original frame*: pixels of the micrograph file that RELION will extract
from, 0-based, ``x`` = column and ``y`` = row of the array as ``mrcfile`` reads it
(``data[y, x]``), no y-flip (see ``docs/coordinates.md``). Model tiles are internal to
``segment`` (:mod:`samcryo_core.inference.tiling`) and never appear in a frame.

Binning a K3 frame (5760 x 4092) does not scale both axes by the same factor once sizes are
rounded to whole pixels, so the mapping keeps separate x and y factors. Pixel *centres* are
mapped: binned pixel ``i`` covers original pixels ``[i*s, (i+1)*s)``, whose centre is
``(i + 0.5) * s - 0.5``.

The :class:`FrameMapping` is written next to each normalized micrograph as JSON so that any later
stage (or a user with a text editor) can map a point back without re-reading the micrograph.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from samcryo_core.io.atomic import atomic_write_text

#: Version 2: no padding and no square ``model_size`` (version 1 sidecars are refused: rerun
#: ``samcryo normalize``, which redoes them anyway because its settings stamp changed).
SIDECAR_VERSION = 2


@dataclass(frozen=True)
class FrameMapping:
    """How one micrograph's original pixel frame maps onto the normalized (model) frame.

    Attributes:
        micrograph: the micrograph's name (unique within a dataset, used for output names).
        source: path of the original micrograph file, as given by the user.
        original_shape: ``(rows, cols)`` of the original micrograph (``H, W``).
        binned_shape: ``(rows, cols)`` of the normalized image (the binned micrograph).
        pixel_size_A: pixel size of the original micrograph in Angstrom.
        pixel_size_source: where the pixel size came from (``header``, ``star``, ``cryosparc``
            or ``config``).
    """

    micrograph: str
    source: str
    original_shape: tuple[int, int]
    binned_shape: tuple[int, int]
    pixel_size_A: float | None = None
    pixel_size_source: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def scale_x(self) -> float:
        """Original pixels per normalized pixel along x (columns)."""
        return self.original_shape[1] / self.binned_shape[1]

    @property
    def scale_y(self) -> float:
        """Original pixels per normalized pixel along y (rows)."""
        return self.original_shape[0] / self.binned_shape[0]

    @property
    def normalized_pixel_size_A(self) -> tuple[float, float] | None:
        """Pixel size (x, y) of the normalized image in Angstrom, if the original one is known."""
        if self.pixel_size_A is None:
            return None
        return self.pixel_size_A * self.scale_x, self.pixel_size_A * self.scale_y

    def to_original(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map normalized-frame coordinates (x = column, y = row) to the original frame."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        xo = (x + 0.5) * self.scale_x - 0.5
        yo = (y + 0.5) * self.scale_y - 0.5
        return xo, yo

    def to_normalized(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map original-frame coordinates (x = column, y = row) to the normalized frame."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        xn = (x + 0.5) / self.scale_x - 0.5
        yn = (y + 0.5) / self.scale_y - 0.5
        return xn, yn

    @property
    def mean_scale(self) -> float:
        """Original pixels per normalized pixel averaged over x and y (for radii and areas).

        The two differ by well under 1 % for real binning, far below any size tolerance.
        """
        return 0.5 * (self.scale_x + self.scale_y)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["original_shape"] = list(self.original_shape)
        d["binned_shape"] = list(self.binned_shape)
        d["scale_x"] = self.scale_x
        d["scale_y"] = self.scale_y
        d["frame_note"] = (
            "original = (normalized + 0.5) * scale - 0.5 per axis; "
            "x = column, y = row of the array mrcfile reads; no flip"
        )
        d["sidecar_version"] = SIDECAR_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FrameMapping:
        """Rebuild from :meth:`to_dict`'s output.

        Raises:
            ValueError: a sidecar of another version (version 1 had a padded square frame).
        """
        version = d.get("sidecar_version", 1)
        if version != SIDECAR_VERSION:
            raise ValueError(f"frame sidecar version {version}, this samcryo reads version "
                             f"{SIDECAR_VERSION}: rerun 'samcryo normalize'")
        return cls(
            micrograph=str(d["micrograph"]),
            source=str(d["source"]),
            original_shape=(int(d["original_shape"][0]), int(d["original_shape"][1])),
            binned_shape=(int(d["binned_shape"][0]), int(d["binned_shape"][1])),
            pixel_size_A=None if d.get("pixel_size_A") is None else float(d["pixel_size_A"]),
            pixel_size_source=d.get("pixel_size_source"),
            extra=dict(d.get("extra", {})),
        )

    def write(self, path: str | Path) -> None:
        """Write the sidecar JSON atomically."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> FrameMapping:
        with open(path) as fh:
            return cls.from_dict(json.load(fh))
