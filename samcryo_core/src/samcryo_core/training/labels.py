"""Labelled micrographs -> target masks at the model's mask resolution.

The model predicts low-resolution mask logits (``S/4`` for an ``S`` x ``S`` input, as SAM's mask
decoder does), and the papers train and score on filled circles, so every label format is turned
into filled discs drawn directly at the mask resolution in the *normalized* frame. Coordinates are
first read in the *original* frame (x = column, y = row of the array ``mrcfile`` reads, no flip),
then mapped with the micrograph's :class:`~samcryo_core.frame.FrameMapping` -- the same mapping the
inference side uses to map picks back -- so training and inference cannot disagree about where a
particle is.

Formats:

* RELION STAR (``rlnCoordinateX``/``rlnCoordinateY``; optional ``samcryoDiameterPx`` column as
  written by ``samcryo simulate``; multi-micrograph files are filtered by ``rlnMicrographName``).
* CryoPPP-style CSV (``X-Coordinate``/``Y-Coordinate``/``Diameter`` or ``x``/``y``/``diameter``,
  case-insensitive).
* EMAN ``.box`` (corner x, corner y, box w, box h; centre = corner + box/2).
* Ready-made mask images (PNG/JPG/TIFF/MRC, any size, covering the whole original micrograph).

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

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping

LABEL_FORMATS = ("auto", "star", "csv", "box", "mask")
MASK_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".mrc", ".bmp")

_CSV_X = ("x-coordinate", "x")
_CSV_Y = ("y-coordinate", "y")
_CSV_D = ("diameter", "diameter_px")
_STAR_D = ("samcryoDiameterPx", "rlnDiameter", "diameter_px")


@dataclass(frozen=True)
class Particles:
    """Particle centres and diameters in the original frame (pixels, x = column, y = row)."""

    x: np.ndarray
    y: np.ndarray
    diameter_px: np.ndarray

    def __len__(self) -> int:
        return int(self.x.size)


def detect_label_format(path: str | Path) -> str:
    """Guess the label format from the file suffix (``star``, ``csv``, ``box`` or ``mask``)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".star":
        return "star"
    if suffix in (".csv", ".tsv"):
        return "csv"
    if suffix == ".box":
        return "box"
    if suffix in MASK_SUFFIXES:
        return "mask"
    raise InputError(
        path,
        f"cannot tell the label format from the suffix '{suffix}'",
        "use .star, .csv, .box or a mask image (.png/.tif/.mrc), or pass --label-format",
    )


def _diameters(path: Path, n: int, column: np.ndarray | None, diameter_px: float | None) -> np.ndarray:
    """Explicit diameter wins over the file's column; one of the two is required."""
    if diameter_px is not None:
        if not diameter_px > 0:
            raise InputError(
                path, f"particle diameter {diameter_px} px is not positive", "pass --diameter-px > 0"
            )
        return np.full(n, float(diameter_px))
    if column is None:
        raise InputError(
            path,
            "no particle diameter: the file has no diameter column",
            "pass --diameter-px with the particle diameter in pixels of the original micrograph",
        )
    d = np.asarray(column, dtype=np.float64)
    if not np.all(np.isfinite(d) & (d > 0)):
        raise InputError(
            path,
            "the diameter column holds non-positive or missing values",
            "fix the file or pass --diameter-px",
        )
    return d


def _numbers(path: Path, table, column: str) -> np.ndarray:
    """A column as float64; text where a number belongs is an InputError naming file and column."""
    import pandas as pd

    values = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=np.float64)
    bad = np.isnan(values) & table[column].notna().to_numpy()
    if bad.any():
        first = table[column].to_numpy()[np.flatnonzero(bad)[0]]
        raise InputError(
            path,
            f"column {column} holds {int(bad.sum())} non-numeric value(s), e.g. {first!r}",
            f"write numbers (pixels) in {column}",
        )
    return values


def _read_star(path: Path, micrograph: str | None, diameter_px: float | None) -> Particles:
    import starfile

    try:
        data = starfile.read(path, always_dict=True)
    except Exception as exc:  # starfile raises many types on malformed input
        raise InputError(path, f"cannot parse STAR file ({exc})", "check it is a RELION STAR file") from exc
    table = next((t for t in data.values() if hasattr(t, "columns") and "rlnCoordinateX" in t.columns), None)
    if table is None or "rlnCoordinateY" not in table.columns:
        raise InputError(
            path,
            "no block with rlnCoordinateX and rlnCoordinateY",
            "export picks as a RELION coordinate STAR file",
        )
    if micrograph is not None and "rlnMicrographName" in table.columns:
        stems = table["rlnMicrographName"].astype(str).map(lambda s: Path(s).stem)
        if stems.nunique() > 1 or (stems.size and stems.iloc[0] == micrograph):
            table = table[stems == micrograph]
    dcol = next((c for c in _STAR_D if c in table.columns), None)
    x = _numbers(path, table, "rlnCoordinateX")
    y = _numbers(path, table, "rlnCoordinateY")
    d = _diameters(path, x.size, None if dcol is None else _numbers(path, table, dcol), diameter_px)
    return Particles(x, y, d)


def _read_csv(path: Path, diameter_px: float | None) -> Particles:
    import pandas as pd

    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pd.read_csv(path, sep=sep)
    except Exception as exc:
        raise InputError(
            path, f"cannot parse CSV ({exc})", "use a comma-separated file with a header row"
        ) from exc
    lower = {str(c).strip().lower(): c for c in table.columns}
    xc = next((lower[k] for k in _CSV_X if k in lower), None)
    yc = next((lower[k] for k in _CSV_Y if k in lower), None)
    if xc is None or yc is None:
        raise InputError(
            path,
            f"no coordinate columns (found {list(table.columns)})",
            "name them X-Coordinate/Y-Coordinate (CryoPPP) or x/y",
        )
    dc = next((lower[k] for k in _CSV_D if k in lower), None)
    x = _numbers(path, table, xc)
    y = _numbers(path, table, yc)
    d = _diameters(path, x.size, None if dc is None else _numbers(path, table, dc), diameter_px)
    return Particles(x, y, d)


def _read_box(path: Path, diameter_px: float | None) -> Particles:
    try:
        arr = np.loadtxt(path, ndmin=2, dtype=np.float64)
    except Exception as exc:
        raise InputError(
            path, f"cannot parse EMAN .box file ({exc})", "use whitespace-separated x y w h rows"
        ) from exc
    if arr.size == 0:
        arr = np.zeros((0, 4))
    if arr.shape[1] < 4:
        raise InputError(
            path, f"{arr.shape[1]} columns, need 4 (corner x, corner y, box w, box h)", "fix the .box file"
        )
    x = arr[:, 0] + arr[:, 2] / 2.0
    y = arr[:, 1] + arr[:, 3] / 2.0
    return Particles(x, y, _diameters(path, x.size, None, diameter_px))


def has_diameters(path: str | Path, fmt: str = "auto") -> bool:
    """True when a coordinate file carries its own particle diameters (a diameter column)."""
    path = Path(path)
    fmt = detect_label_format(path) if fmt == "auto" else fmt
    if fmt == "box":
        return False
    try:
        read_particles(path, fmt, diameter_px=None)
    except InputError as exc:
        if exc.problem.startswith("no particle diameter"):
            return False
        raise
    return True


def read_particles(
    path: str | Path,
    fmt: str = "auto",
    *,
    diameter_px: float | None = None,
    micrograph: str | None = None,
) -> Particles:
    """Read particle centres (original frame, as stored in the file; no flip applied here).

    ``micrograph`` selects rows of a multi-micrograph STAR file by ``rlnMicrographName`` stem.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "label file not found", "check the path given with --labels/--labels-dir")
    fmt = detect_label_format(path) if fmt == "auto" else fmt
    if fmt == "star":
        return _read_star(path, micrograph, diameter_px)
    if fmt == "csv":
        return _read_csv(path, diameter_px)
    if fmt == "box":
        return _read_box(path, diameter_px)
    raise InputError(path, f"label format '{fmt}' holds no coordinates", f"use one of {LABEL_FORMATS}")


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
    path: str | Path,
    mapping: FrameMapping,
    *,
    fmt: str = "auto",
    diameter_px: float | None = None,
    default_diameter_px: float | None = None,
    flip_y: bool = False,
    disc_fraction: float = 1.0,
) -> np.ndarray:
    """Any supported label file -> float32 {0,1} target mask of shape :func:`mask_shape`.

    ``diameter_px`` overrides the file's diameter column; ``default_diameter_px`` (the configured
    particle diameter) serves files that have none.
    """
    path = Path(path)
    if fmt not in LABEL_FORMATS:
        raise InputError(path, f"unknown label format '{fmt}'", f"use one of {', '.join(LABEL_FORMATS)}")
    fmt = detect_label_format(path) if fmt == "auto" else fmt
    if fmt == "mask":
        if not path.is_file():
            raise InputError(path, "label file not found", "check the path")
        mask = mask_image_to_mask(path, mapping, flip_y=flip_y)
    else:
        if diameter_px is None and default_diameter_px is not None and not has_diameters(path, fmt):
            diameter_px = default_diameter_px
        parts = read_particles(path, fmt, diameter_px=diameter_px, micrograph=mapping.micrograph)
        if len(parts) == 0:
            raise InputError(
                path, "the label file lists no particles", "label at least one particle per micrograph"
            )
        mask = particles_to_mask(parts, mapping, flip_y=flip_y, disc_fraction=disc_fraction, path=path)
    if not mask.any():
        raise InputError(
            path, "the labels produce an empty mask", "check the diameter, --flip-y and the file"
        )
    return mask
