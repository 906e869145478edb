"""Small synthetic micrographs and RELION / cryoSPARC lists for the ingest and normalize tests.

Kept tiny (a few hundred pixels) so the tests run in seconds; nothing here reads /work/shared.
"""

from __future__ import annotations

from pathlib import Path

import mrcfile
import numpy as np
from PIL import Image


def noise_image(shape: tuple[int, int] = (300, 400), seed: int = 0, dtype=np.float32) -> np.ndarray:
    """Gaussian noise plus a gentle gradient, cast to ``dtype`` (integers scaled to fit)."""
    rng = np.random.default_rng(seed)
    img = rng.standard_normal(shape) + np.linspace(0, 1, shape[1])[None, :]
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -100), min(info.max, 200)
        img = np.clip(np.round((img - img.min()) / np.ptp(img) * (hi - lo) + lo), lo, hi)
    return img.astype(dtype)


def write_test_mrc(path: str | Path, data: np.ndarray, voxel_size=None, stack: bool = False) -> Path:
    """Write ``data`` with mrcfile (optionally as an image stack, ispg 0)."""
    path = Path(path)
    with mrcfile.new(str(path), overwrite=True) as mrc:
        mrc.set_data(data)
        if stack:
            mrc.set_image_stack()
        if voxel_size is not None:
            mrc.voxel_size = voxel_size
    return path


def write_relion31_star(path: str | Path, names: list[str], groups: list[int],
                        optics: dict[int, float], pixel_label: str = "rlnMicrographPixelSize",
                        extra_mic_labels: bool = True) -> Path:
    """A RELION 3.1+ micrographs STAR file (data_optics + data_micrographs)."""
    lines = ["", "# version 30001", "", "data_optics", "", "loop_", "_rlnOpticsGroupName #1",
             "_rlnOpticsGroup #2", f"_{pixel_label} #3", "_rlnVoltage #4"]
    lines += [f"opticsGroup{g} {g} {px:.4f} 300.0" for g, px in optics.items()]
    lines += ["", "", "# version 30001", "", "data_micrographs", "", "loop_", "_rlnMicrographName #1"]
    if extra_mic_labels:
        lines += ["_rlnOpticsGroup #2"]
        lines += [f"{n} {g}" for n, g in zip(names, groups, strict=True)]
    else:
        lines += names
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_relion30_star(path: str | Path, names: list[str], detector_um: float | None = None,
                        magnification: float | None = None) -> Path:
    """A RELION 3.0 micrographs STAR file (one unnamed block)."""
    labels = ["_rlnMicrographName #1"]
    if detector_um is not None:
        labels += ["_rlnDetectorPixelSize #2", "_rlnMagnification #3"]
    lines = ["", "data_", "", "loop_", *labels]
    for n in names:
        lines.append(n if detector_um is None else f"{n} {detector_um} {magnification}")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def make_mixed_inputs(d):
    """Three good micrographs and five bad ones; returns {name: path}."""
    d.mkdir(parents=True, exist_ok=True)
    paths = {
        "good_header": write_test_mrc(d / "good_header.mrc", noise_image((64, 96), 1), voxel_size=1.2),
        "good_nohdr": write_test_mrc(d / "good_nohdr.mrc", noise_image((70, 70), 2)),
        "truncated": write_test_mrc(d / "truncated.mrc", noise_image((64, 64), 3)),
        "movie": write_test_mrc(d / "movie.mrc", np.ones((3, 64, 64), np.float32), stack=True),
        "constant": write_test_mrc(d / "constant.mrc", np.zeros((64, 64), np.float32)),
        "tiny": write_test_mrc(d / "tiny.mrc", noise_image((16, 64), 4)),
    }
    paths["truncated"].write_bytes(paths["truncated"].read_bytes()[:3000])
    Image.fromarray(noise_image((64, 80), 5, np.uint8)).save(d / "good_png.png")
    paths["good_png"] = d / "good_png.png"
    (d / "notmrc.mrc").write_bytes(b"hello" * 400)
    paths["notmrc"] = d / "notmrc.mrc"
    return {k: str(v) for k, v in paths.items()}
