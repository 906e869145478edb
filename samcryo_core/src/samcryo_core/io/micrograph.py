"""Read one micrograph from MRC, TIFF, PNG or JPEG into a float32 2-D array.

Every later stage (training, inference, the demo) reads images through :func:`read_micrograph`, so
an MRC from a facility and a labelled 8-bit PNG end up as the same kind of array: ``data[y, x]``
with ``y`` = row and ``x`` = column exactly as ``mrcfile`` orders the file (no flip, see
``docs/architecture.md``).

MRC files are opened with ``mrcfile.mmap(..., permissive=False)``: a 5760 x 4092 float32 K3
micrograph is then not copied at all (the returned array is a read-only memory map), and a
malformed header fails loudly instead of giving a garbage array. Every failure is turned into an
:class:`~samcryo_core.errors.InputError` whose text names the file, the problem and a fix, because
that text becomes the rejection reason a facility reads in ``results/ingest/rejected.tsv``.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from samcryo_core.errors import InputError, is_environment_failure

log = logging.getLogger(__name__)

MRC_SUFFIXES = (".mrc", ".mrcs")
TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg")
SUPPORTED_SUFFIXES = MRC_SUFFIXES + TIFF_SUFFIXES + PIL_SUFFIXES

# Relative x/y pixel-size difference above which the header is reported as anisotropic.
_ANISOTROPY_TOL = 1e-3
# ITU-R 601 luma weights: how PIL turns RGB into grey ("L"), used for every RGB input.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass
class Micrograph:
    """A micrograph as a float32 2-D array plus what its file says about the pixel size.

    Attributes:
        path: the file it was read from, as given.
        data: float32 array ``[rows, cols]``; for native float32 MRC files a read-only memory map.
        pixel_size_A: pixel size in Angstrom known from the file itself, or None.
        header_pixel_size_A: the MRC header's ``voxel_size.x`` (None when 0/unset or not an MRC).
    """

    path: str
    data: np.ndarray
    pixel_size_A: float | None = None  # noqa: N815 (Angstrom unit suffix)
    header_pixel_size_A: float | None = None  # noqa: N815

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.data.shape[0]), int(self.data.shape[1])


def read_micrograph(path: str | Path) -> Micrograph:
    """Read a micrograph file (``.mrc/.mrcs``, ``.tif/.tiff``, ``.png/.jpg/.jpeg``).

    Raises:
        InputError: missing, unreadable, truncated or non-MRC file, unsupported extension or
            mode, a real 3-D stack/volume, or a multi-page TIFF.
    """
    path_str = str(path)
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            path_str,
            f"unsupported file extension '{p.suffix}'",
            "convert the micrograph to MRC (.mrc), TIFF (.tif/.tiff) or PNG/JPEG, "
            "or leave it out of the input list",
        )
    if not p.is_file():
        raise InputError(path_str, "file does not exist or is not a regular file",
                         "check the path (RELION STAR paths are relative to the project directory)")
    if not os.access(p, os.R_OK):
        raise InputError(path_str, "file is not readable (permission denied)",
                         "fix the file permissions")
    if suffix in MRC_SUFFIXES:
        return _read_mrc(path_str)
    if suffix in TIFF_SUFFIXES:
        return Micrograph(path_str, _read_tiff(path_str))
    return Micrograph(path_str, _read_pil(path_str))


def read_pixel_size(path: str | Path) -> float | None:
    """The pixel size in a micrograph file's header without reading its pixels (MRC), or None
    (no header pixel size: TIFF, PNG, JPEG, an unset MRC header, or a file that cannot be opened;
    :func:`read_micrograph` is where an unreadable file is reported)."""
    if Path(path).suffix.lower() not in MRC_SUFFIXES:
        return None
    import mrcfile

    try:
        with mrcfile.open(path, header_only=True, permissive=True) as mrc:
            return _header_pixel_size(str(path), mrc.voxel_size)
    except (OSError, ValueError):
        return None


def _header_pixel_size(path: str, voxel_size) -> float | None:
    """Pixel size from ``voxel_size``; 0 (or nonsense) means 'unset' in the MRC2014 convention."""
    x, y = float(voxel_size.x), float(voxel_size.y)
    if not math.isfinite(x) or x <= 0:
        return None
    if math.isfinite(y) and y > 0 and abs(x - y) > _ANISOTROPY_TOL * x:
        log.warning("%s: MRC header pixel size differs between x (%.4f A) and y (%.4f A); using x",
                    path, x, y)
    return x


def _expected_mrc_bytes(path: str) -> tuple[int, int] | None:
    """(bytes the header promises, bytes present) for a possibly truncated MRC, or None."""
    import mrcfile

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with mrcfile.open(path, header_only=True, permissive=True) as mrc:
                h = mrc.header
                dtype = mrcfile.utils.data_dtype_from_header(h)
                n = int(h.nx) * int(h.ny) * int(h.nz)
                expected = int(h.nbytes) + int(h.nsymbt) + n * dtype.itemsize
    except Exception:  # only used to word the message better
        return None
    return expected, os.path.getsize(path)


def _mrc_value_error(path: str, exc: ValueError) -> InputError:
    msg = str(exc)
    if "Map ID string not found" in msg or "enough bytes for MRC header" in msg:
        return InputError(path, "not an MRC file (no valid 1024-byte MRC header with the 'MAP ' id)",
                          "check that the file is an MRC micrograph and was copied completely")
    if "mode" in msg.lower():
        return InputError(path, f"unsupported MRC data mode ({msg})",
                          "convert to MRC mode 0, 1, 2, 6 or 12 (e.g. with 'newstack -mode 2')")
    sizes = _expected_mrc_bytes(path)
    if sizes is not None and sizes[1] < sizes[0]:
        return InputError(
            path,
            f"truncated MRC file: header promises {sizes[0]} bytes, file holds {sizes[1]}",
            "copy or motion-correct the micrograph again; the file is incomplete",
        )
    return InputError(path, f"invalid MRC file ({msg})",
                      "check the file with 'mrcfile.validate' or re-export it")


def _read_mrc(path: str) -> Micrograph:
    import mrcfile

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            mrc = mrcfile.mmap(path, mode="r", permissive=False)
        except ValueError as exc:
            raise _mrc_value_error(path, exc) from exc
        except OSError as exc:
            if is_environment_failure(exc):
                raise
            raise InputError(path, f"cannot read file ({exc.strerror or exc})",
                             "check the file system and permissions") from exc
    for w in caught:
        if issubclass(w.category, RuntimeWarning):
            log.warning("%s: %s", path, w.message)
    with mrc:
        data = mrc.data
        header_px = _header_pixel_size(path, mrc.voxel_size)
        if data is None:  # pragma: no cover - permissive=False raises before this
            raise InputError(path, "MRC file has no data block", "re-export the micrograph")
        if np.iscomplexobj(data):
            raise InputError(path, "complex-valued MRC data (mode 3/4) is not a micrograph",
                             "give the real-space micrograph instead of its Fourier transform")
        if data.ndim == 3 and data.shape[0] == 1:
            data = data[0]
        if data.ndim != 2:
            raise InputError(
                path,
                f"MRC holds a 3-D stack or volume of shape {tuple(int(s) for s in data.shape)}, "
                "not a single 2-D micrograph",
                "give motion-corrected (summed) micrographs, one image per file",
            )
        if data.dtype != np.float32 or not data.dtype.isnative:
            # Integer and float16 modes need converting anyway; do it while the map is open.
            data = np.asarray(data, dtype=np.float32)
    # A native float32 memory map stays valid (read-only) after the file object is closed.
    return Micrograph(path, data, pixel_size_A=header_px, header_pixel_size_A=header_px)


def _to_grey(arr: np.ndarray, path: str) -> np.ndarray:
    """2-D float32 from grey, grey+alpha, RGB or RGBA arrays; anything else is rejected."""
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        return (arr[..., :3].astype(np.float32) @ _LUMA).astype(np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 2:  # grey + alpha
        return arr[..., 0].astype(np.float32)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise InputError(
            path,
            f"image has shape {tuple(arr.shape)}, not a single 2-D micrograph",
            "give one summed micrograph per file (not a movie or multi-page stack)",
        )
    return arr.astype(np.float32, copy=False)


def _read_tiff(path: str) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            n_pages = len(tif.pages)
            if n_pages > 1:
                raise InputError(path, f"TIFF has {n_pages} pages (a movie or stack)",
                                 "motion-correct the movie and give the summed micrograph")
            arr = np.asarray(tif.asarray())
            page = tif.pages[0]
            if (arr.ndim == 3 and arr.shape[0] in (3, 4) and page.photometric == tifffile.PHOTOMETRIC.RGB
                    and page.planarconfig == tifffile.PLANARCONFIG.SEPARATE):
                arr = np.moveaxis(arr, 0, -1)  # planar RGB -> channels last
    except InputError:
        raise
    except Exception as exc:  # tifffile raises many types for corrupt files
        if is_environment_failure(exc):
            raise
        raise InputError(path, f"cannot read TIFF ({type(exc).__name__}: {exc})",
                         "check that the file is a complete, uncompressed or standard TIFF") from exc
    return _to_grey(arr, path)


def _read_pil(path: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("1", "P", "PA"):
                img = img.convert("RGBA" if "A" in img.mode else "L")
            arr = np.asarray(img)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        if is_environment_failure(exc):
            raise
        raise InputError(path, f"cannot read image ({type(exc).__name__}: {exc})",
                         "check that the file is a complete PNG/JPEG") from exc
    return _to_grey(arr, path)
