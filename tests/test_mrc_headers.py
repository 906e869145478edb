"""Written MRC files pass ``mrcfile.validate``: exact header statistics (issue 17, Also)."""

from __future__ import annotations

import io

import mrcfile
import numpy as np
import pytest

from samcryo_core.io.mrc_write import write_mrc


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_normalized_images_and_probability_maps_validate(tmp_path, dtype):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(687, 872)).astype(np.float32)
    image = (image - image.mean()) / image.std()  # a normalized micrograph: mean ~ 0
    prob = (1.0 / (1.0 + np.exp(-3 * image))).astype(np.float32)  # a probability map
    for name, data in (("norm.mrc", image), ("prob.mrc", prob)):
        path = tmp_path / name
        write_mrc(path, data, 2.5, dtype=dtype)
        report = io.StringIO()
        assert mrcfile.validate(str(path), print_file=report), report.getvalue()
        with mrcfile.open(path) as mrc:
            exact = np.asarray(mrc.data, dtype=np.float64)
            assert mrc.header.dmin == np.float32(exact.min()) and mrc.header.dmax == np.float32(exact.max())
            assert mrc.header.dmean == np.float32(exact.mean())
