"""The coordinate frames of a micrograph and the sidecar that links them.

Every stage after normalization works in the *normalized frame*: a square image of
``model_size`` pixels holding the Fourier-cropped micrograph (aspect ratio kept) plus padding.
Picks must leave samcryo in the *original frame*: pixels of the micrograph file that RELION will
extract from, 0-based, ``x`` = column and ``y`` = row of the array as ``mrcfile`` reads it
(``data[y, x]``), no y-flip (see ``docs/coordinates.md``).

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

SIDECAR_VERSION = 1


@dataclass(frozen=True)
class FrameMapping:
    """How one micrograph's original pixel frame maps onto the normalized (model) frame.

    Attributes:
        micrograph: the micrograph's name (unique within a dataset, used for output names).
        source: path of the original micrograph file, as given by the user.
        original_shape: ``(rows, cols)`` of the original micrograph (``H, W``).
        binned_shape: ``(rows, cols)`` after Fourier cropping, before padding.
        model_size: side of the square normalized image (the model input).
        pad_y: rows of padding above the binned image in the normalized image.
        pad_x: columns of padding left of the binned image in the normalized image.
        pixel_size_A: pixel size of the original micrograph in Angstrom.
        pixel_size_source: where the pixel size came from (``header``, ``star``, ``cryosparc``
            or ``config``).
    """

    micrograph: str
    source: str
    original_shape: tuple[int, int]
    binned_shape: tuple[int, int]
    model_size: int
    pad_y: int = 0
    pad_x: int = 0
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
        xo = (x - self.pad_x + 0.5) * self.scale_x - 0.5
        yo = (y - self.pad_y + 0.5) * self.scale_y - 0.5
        return xo, yo

    def to_normalized(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map original-frame coordinates (x = column, y = row) to the normalized frame."""
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        xn = (x + 0.5) / self.scale_x - 0.5 + self.pad_x
        yn = (y + 0.5) / self.scale_y - 0.5 + self.pad_y
        return xn, yn

    def content_slice(self) -> tuple[slice, slice]:
        """Row and column slices of the normalized image that hold micrograph (not padding)."""
        return (
            slice(self.pad_y, self.pad_y + self.binned_shape[0]),
            slice(self.pad_x, self.pad_x + self.binned_shape[1]),
        )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["original_shape"] = list(self.original_shape)
        d["binned_shape"] = list(self.binned_shape)
        d["scale_x"] = self.scale_x
        d["scale_y"] = self.scale_y
        d["frame_note"] = (
            "original = (normalized - pad + 0.5) * scale - 0.5 per axis; "
            "x = column, y = row of the array mrcfile reads; no flip"
        )
        d["sidecar_version"] = SIDECAR_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FrameMapping:
        return cls(
            micrograph=str(d["micrograph"]),
            source=str(d["source"]),
            original_shape=(int(d["original_shape"][0]), int(d["original_shape"][1])),
            binned_shape=(int(d["binned_shape"][0]), int(d["binned_shape"][1])),
            model_size=int(d["model_size"]),
            pad_y=int(d.get("pad_y", 0)),
            pad_x=int(d.get("pad_x", 0)),
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
