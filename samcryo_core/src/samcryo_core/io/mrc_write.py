"""Write a 2-D image as an MRC file that RELION, cryoSPARC and IMOD open, atomically.

Normalized micrographs and probability maps are written as standard MRC2014 files (mode 2 float32
or mode 12 float16) with the pixel size in the header, so a user can open them next to the
original micrograph and see the same field of view. The file is built under a temporary name and
renamed into place (:mod:`samcryo_core.io.atomic`), so an interrupted job never leaves a file that
looks complete but is not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from samcryo_core.io.atomic import atomic_path

_DTYPES = {"float32": np.float32, "float16": np.float16}


def write_mrc(
    path: str | Path,
    data: np.ndarray,
    pixel_size_A: float | tuple[float, float] | None = None,
    dtype: str | np.dtype | type = np.float32,
) -> None:
    """Write ``data`` (2-D, ``[rows, cols]``) to ``path`` as MRC, atomically.

    Args:
        path: destination file (``.mrc``).
        data: the image; rows are written as MRC ``y``, columns as ``x`` (mrcfile order).
        pixel_size_A: Angstrom per pixel, one value or ``(x, y)``; None leaves the header at 0
            (the MRC2014 'unset' value).
        dtype: ``float32`` (mode 2) or ``float16`` (mode 12). float16 halves the size and is
            read by RELION >= 4 and mrcfile; values beyond +-65504 would overflow, which
            normalized images and probabilities never reach.
    """
    import mrcfile

    key = np.dtype(dtype).name
    if key not in _DTYPES:
        raise ValueError(f"write_mrc: dtype must be float32 or float16, not {key}")
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValueError(f"write_mrc: expected a 2-D image, got shape {arr.shape}")
    arr = np.ascontiguousarray(arr, dtype=_DTYPES[key])
    with atomic_path(path) as tmp, mrcfile.new(str(tmp), overwrite=True) as mrc:
        mrc.set_data(arr)
        _exact_header_stats(mrc, arr)
        if pixel_size_A is not None:
            if np.ndim(pixel_size_A) == 0:
                px = py = float(pixel_size_A)
            else:
                px, py = (float(v) for v in pixel_size_A)
            mrc.voxel_size = (px, py, px)


def _exact_header_stats(mrc, arr: np.ndarray) -> None:
    """``dmin``, ``dmax``, ``dmean`` and ``rms`` computed in float64, then stored as float32.

    Why: mrcfile fills them with float32 accumulation, so the mean of a normalized image (about
    0) can be off by far more than its own size, and ``mrcfile.validate`` (float64 mean, 1 %
    relative tolerance) calls such a file invalid. For float16 data the RMS is marked "not
    determined" (negative, as MRC2014 allows): numpy computes a float16 array's deviation in
    float16, which overflows for a large map, so no stored value could pass the validator.
    """
    d = np.asarray(arr, dtype=np.float64)
    header = mrc.header
    header.dmin, header.dmax, header.dmean = d.min(), d.max(), d.mean()
    header.rms = -1.0 if arr.dtype == np.float16 else d.std()
