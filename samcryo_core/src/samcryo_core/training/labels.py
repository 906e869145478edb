"""Labelled micrographs -> target masks at the model's mask resolution.

The model predicts low-resolution mask logits (``S/4`` for an ``S`` x ``S`` input, as SAM's mask
decoder does), and the papers train and score on filled circles, so every label format is turned
into filled discs drawn directly at the mask resolution in the *normalized* frame. Coordinates are
first read in the *original* frame (x = column, y = row of the array ``mrcfile`` reads, no flip)
by :mod:`samcryo_core.io.coordinates` -- the one reader of RELION STAR (coordinate files and whole
``particles.star``), CryoPPP CSV, EMAN ``.box`` and cryoSPARC ``.cs``/CSV, shared with evaluation
and QC -- then mapped with the micrograph's :class:`~samcryo_core.frame.FrameMapping` -- the same
mapping the inference side uses to map picks back -- so training and inference cannot disagree
about where a particle is. Ready-made mask images (PNG/JPG/TIFF/MRC, any size, covering the
whole original micrograph) are the other kind of label.

Labels come either one file per micrograph (named after it) or as one file for the whole dataset
that names each particle's micrograph (a RELION ``particles.star`` from 2D classification, a
cryoSPARC particles ``.cs``): :class:`LabelSource` is one micrograph's share either way.

CryoPPP coordinates and masks are in the orientation of its PNG/JPG images, which are ``flipud``
of the raw MRC; ``flip_y=True`` maps them with ``row = H - 1 - y`` (masks: ``np.flipud``). Only
use it when the *image* you train on is the raw MRC; a CryoPPP PNG image and its PNG labels are
already in the same orientation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.io import coordinates

LABEL_FORMATS = ("auto", *coordinates.FORMATS, "mask")
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".mrc", ".bmp")


@dataclass(frozen=True)
class Particles:
    """Particle centres and diameters in the original frame (pixels, x = column, y = row)."""

    x: np.ndarray
    y: np.ndarray
    diameter_px: np.ndarray

    def __len__(self) -> int:
        return int(self.x.size)


@dataclass(frozen=True)
class LabelSource:
    """The labels of one micrograph: its rows of a coordinate file, or a mask image.

    Attributes:
        path: the file the labels come from (named in every message).
        table: :data:`~samcryo_core.io.coordinates.COLUMNS` rows of this micrograph, or None for
            a mask image at ``path``.
    """

    path: Path
    table: pd.DataFrame | None = None

    @property
    def is_mask(self) -> bool:
        return self.table is None


def detect_label_format(path: str | Path) -> str:
    """The label format from the file suffix: a coordinate format or ``mask``."""
    if Path(path).suffix.lower() in MASK_SUFFIXES:
        return "mask"
    try:
        return coordinates.detect_format(path)
    except InputError:
        raise InputError(path, f"cannot tell the label format from the suffix '{Path(path).suffix}'",
                         "use .star, .csv, .box, .cs or a mask image (.png/.tif/.mrc), or pass "
                         "--label-format") from None


def read_label_file(path: str | Path, fmt: str = "auto") -> pd.DataFrame | None:
    """A label file's coordinate table, or None when it is a mask image."""
    path = Path(path)
    if fmt not in LABEL_FORMATS:
        raise InputError(path, f"unknown label format '{fmt}'", f"use one of {', '.join(LABEL_FORMATS)}")
    fmt = detect_label_format(path) if fmt == "auto" else fmt
    if fmt == "mask":
        if not path.is_file():
            raise InputError(path, "label file not found", "check the path given with --labels/--labels-dir")
        return None
    return coordinates.read_coordinates(path, fmt)


def source_for(path: str | Path, micrograph: str, fmt: str = "auto") -> LabelSource:
    """The labels of ``micrograph`` in a file named after it.

    A file that names micrographs (``rlnMicrographName`` ...) keeps the rows of this one; a file
    naming a single other micrograph is taken whole, since its file name already matched.
    """
    path = Path(path)
    table = read_label_file(path, fmt)
    if table is not None and coordinates.names_micrographs(table) and table["micrograph"].nunique() > 1:
        table = coordinates.rows_for_micrographs(table, [micrograph], source=path)[micrograph]
    return LabelSource(path, table)


#: SAM's mask decoder predicts at a quarter of the input resolution: target masks are drawn there.
MASK_STRIDE = 4


def mask_shape(mapping: FrameMapping) -> tuple[int, int]:
    """Target-mask shape of a normalized micrograph: a quarter of ``binned_shape``, rounded up.

    Mask pixel ``j`` covers normalized pixels ``[4 j, 4 j + 4)``, so a model tile whose origin is
    a multiple of 4 sees exactly the mask window starting at ``origin / 4``.
    """
    h, w = mapping.binned_shape
    return -(-h // MASK_STRIDE), -(-w // MASK_STRIDE)


def particles_to_mask(
    particles: Particles,
    mapping: FrameMapping,
    *,
    flip_y: bool = False,
    disc_fraction: float = 1.0,
    path: str | Path = "<labels>",
) -> np.ndarray:
    """Draw particles as filled discs on the target mask of the whole normalized micrograph.

    The mask has :func:`mask_shape` (a quarter of the normalized image). Each particle becomes an
    ellipse whose radii are ``disc_fraction * diameter / 2`` divided by the per-axis
    original->normalized scale and by the stride: a circle in the original frame stays a circle in
    physical space even when a non-square micrograph is binned by different x and y factors.
    ``disc_fraction < 1`` draws smaller discs, which keep touching neighbours apart in the target.
    Centres outside the original image are dropped with a warning naming the file.
    """
    from skimage.draw import ellipse

    H, W = mapping.original_shape
    x = np.asarray(particles.x, dtype=np.float64)
    y = np.asarray(particles.y, dtype=np.float64)
    d = np.asarray(particles.diameter_px, dtype=np.float64)
    if flip_y:
        y = (H - 1) - y
    inside = np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x < W - 0.5) & (y >= -0.5) & (y < H - 0.5)
    n_out = int((~inside).sum())
    if n_out:
        warnings.warn(
            f"{path}: {n_out} of {x.size} particle coordinates lie outside the {W}x{H} micrograph "
            f"and were dropped (wrong micrograph, binning or flip_y?)",
            stacklevel=2,
        )
    x, y, d = x[inside], y[inside], d[inside]
    if x.size == 0:
        raise InputError(
            path, "no particles inside the micrograph", "check the label file, its micrograph and --flip-y"
        )
    xn, yn = mapping.to_normalized(x, y)
    f = 1.0 / MASK_STRIDE  # normalized pixels -> mask pixels
    xm = (xn + 0.5) * f - 0.5
    ym = (yn + 0.5) * f - 0.5
    rx = disc_fraction * d / 2.0 / mapping.scale_x * f
    ry = disc_fraction * d / 2.0 / mapping.scale_y * f
    mask = np.zeros(mask_shape(mapping), dtype=np.float32)
    for cx, cy, ax, ay in zip(xm, ym, rx, ry, strict=True):
        rr, cc = ellipse(cy, cx, max(ay, 0.5), max(ax, 0.5), shape=mask.shape)
        mask[rr, cc] = 1.0
    return mask


def _read_mask_image(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".mrc":
        import mrcfile

        try:
            with mrcfile.open(path, permissive=True) as mrc:
                arr = np.asarray(mrc.data, dtype=np.float32)
        except Exception as exc:
            raise InputError(path, f"cannot read mask MRC ({exc})", "check the file") from exc
        arr = arr[0] if arr.ndim == 3 else arr
    else:
        from PIL import Image

        try:
            with Image.open(path) as im:
                arr = np.asarray(
                    im.convert("L") if im.mode not in ("L", "I", "F", "I;16") else im, dtype=np.float32
                )
        except Exception as exc:
            raise InputError(path, f"cannot read mask image ({exc})", "use an 8-bit PNG mask") from exc
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(
            path, f"mask has shape {arr.shape}, expected a 2-D image", "use a single-channel mask"
        )
    return arr


def _resize(arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area average when shrinking (keeps fractional coverage), nearest when enlarging (no blur)."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))[None, None]
    shrink = shape[0] <= arr.shape[0] and shape[1] <= arr.shape[1]
    mode = "area" if shrink else "nearest-exact"
    return F.interpolate(t, size=shape, mode=mode)[0, 0].numpy()


def mask_image_to_mask(path: str | Path, mapping: FrameMapping, *, flip_y: bool = False) -> np.ndarray:
    """Turn a ready-made mask image covering the original micrograph into a target mask.

    The image may have any size (CryoPPP ships 1024 and 256 px masks for 4k micrographs): it is
    binarized (> half its maximum), resized onto the normalized image and area-pooled to
    :func:`mask_shape`; pixels at least half covered are foreground.
    """
    path = Path(path)
    arr = _read_mask_image(path)
    top = float(arr.max())
    if top <= float(arr.min()):
        raise InputError(path, "the mask is empty (a single value everywhere)", "check the label image")
    fg = (arr > (arr.min() + top) / 2.0).astype(np.float32)
    if flip_y:
        fg = np.flipud(fg)
    h, w = mapping.binned_shape
    mh, mw = mask_shape(mapping)
    canvas = np.zeros((mh * MASK_STRIDE, mw * MASK_STRIDE), dtype=np.float32)
    canvas[:h, :w] = _resize(fg, (h, w))
    return (_resize(canvas, (mh, mw)) >= 0.5).astype(np.float32)


def label_to_mask(
    label: LabelSource | str | Path,
    mapping: FrameMapping,
    *,
    fmt: str = "auto",
    diameter_px: float | None = None,
    default_diameter_px: float | None = None,
    flip_y: bool = False,
    disc_fraction: float = 1.0,
) -> np.ndarray:
    """One micrograph's labels -> float32 {0,1} target mask of shape :func:`mask_shape`.

    ``label`` is a :class:`LabelSource`, or a file named after the micrograph (read with
    :func:`source_for`). ``diameter_px`` overrides the file's diameter column;
    ``default_diameter_px`` (the configured particle diameter) serves files that have none.
    RELION alignment shifts (``rlnOriginXAngst``) move each disc to the particle's centre, with
    the micrograph's own pixel size.
    """
    source = label if isinstance(label, LabelSource) else source_for(label, mapping.micrograph, fmt)
    path = source.path
    if source.is_mask:
        mask = mask_image_to_mask(path, mapping, flip_y=flip_y)
    else:
        table = source.table
        if len(table) == 0:
            raise InputError(path, "the label file lists no particles",
                             "label at least one particle per micrograph")
        table = coordinates.particle_centres(table, mapping.pixel_size_A)
        table = coordinates.with_diameters(table, override_px=diameter_px, default_px=default_diameter_px,
                                           source=path)
        parts = Particles(table["x"].to_numpy(), table["y"].to_numpy(), table["diameter_px"].to_numpy())
        mask = particles_to_mask(parts, mapping, flip_y=flip_y, disc_fraction=disc_fraction, path=path)
    if not mask.any():
        raise InputError(
            path, "the labels produce an empty mask", "check the diameter, --flip-y and the file"
        )
    return mask
