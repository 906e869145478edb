"""Benchmark: normalize one K3-sized micrograph (5760 x 4092 float32 MRC) to ``vit_b``'s working scale.

Times what ``samcryo normalize`` does per micrograph on one CPU thread: open the MRC memory-mapped
(``read_micrograph``), Fourier-bin a 160 A particle at 0.83 A/px to the 40 px of the official SAM
variants (a factor of 4.8: 1195 x 849), clip/standardize (``normalize_micrograph``); and
separately the two writes (normalized MRC + FrameMapping sidecar). The input is synthetic
(noise plus smooth structure) because timing does not depend on content; it is written to a
temporary folder first, so the file is in the page cache (a cold read from network storage adds
the time to read 94 MB).

Run: ``.venv/bin/python benchmarks/bench_normalize.py [--runs 7] [--out benchmarks/results/normalize.json]``
"""

from __future__ import annotations

import os

# Single thread for every numerical library, set before numpy is imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from samcryo_core.io.atomic import atomic_write_text  # noqa: E402
from samcryo_core.io.micrograph import read_micrograph  # noqa: E402
from samcryo_core.io.mrc_write import write_mrc  # noqa: E402
from samcryo_core.model.scale import working_scale  # noqa: E402
from samcryo_core.preprocess.normalize import normalize_micrograph  # noqa: E402

H, W, PIXEL_SIZE, DIAMETER_A, VARIANT = 4092, 5760, 0.83, 160.0, "vit_b"


def _make_input(path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.linspace(0, 6 * np.pi, H, dtype=np.float32)[:, None]
    x = np.linspace(0, 9 * np.pi, W, dtype=np.float32)[None, :]
    data = rng.standard_normal((H, W), dtype=np.float32) * 3 + np.sin(x) * np.cos(y) + 10
    write_mrc(path, data, PIXEL_SIZE, dtype="float32")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "normalize.json"))
    args = ap.parse_args()
    if args.runs < 5:
        ap.error("--runs must be at least 5 (the median of >= 5 runs is reported)")

    particle_px = working_scale(VARIANT).particle_px
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k3.mrc"
        _make_input(src)
        normalize_s, write_s = [], []
        for i in range(args.runs + 1):  # run 0 warms up imports and FFT plans; not counted
            t0 = time.perf_counter()
            mic = read_micrograph(src)
            img, mapping = normalize_micrograph(mic.data, name="k3", source=str(src),
                                                pixel_size_A=mic.pixel_size_A, pixel_size_source="header",
                                                diameter_A=DIAMETER_A, particle_px=particle_px, workers=1)
            t1 = time.perf_counter()
            write_mrc(Path(tmp) / "out.mrc", img, mapping.normalized_pixel_size_A, dtype="float32")
            mapping.write(Path(tmp) / "out.json")
            t2 = time.perf_counter()
            assert isinstance(mic.data, np.memmap), "input was not memory-mapped"
            assert img.shape == tuple(mapping.binned_shape)
            if i:
                normalize_s.append(t1 - t0)
                write_s.append(t2 - t1)
            del mic

    result = {
        "benchmark": f"normalize 5760x4092 float32 MRC (memory-mapped, page-cached) to {VARIANT}'s "
                     "working scale",
        "input_shape": [H, W],
        "binned_shape": list(mapping.binned_shape),
        "pixel_size_A": PIXEL_SIZE,
        "diameter_A": DIAMETER_A,
        "particle_px": particle_px,
        "bin_factor": mapping.extra["bin_factor"],
        "threads": 1,
        "runs": args.runs,
        "median_s": statistics.median(normalize_s),
        "runs_s": normalize_s,
        "write_outputs_median_s": statistics.median(write_s),
        "write_outputs_runs_s": write_s,
        "target_s": 1.0,
        "machine": {
            "cpu": common.cpu_model(),
            "logical_cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "note": "shared development machine; other jobs may run at the same time",
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    print(f"normalize median {result['median_s'] * 1e3:.1f} ms over {args.runs} runs "
          f"(writes {result['write_outputs_median_s'] * 1e3:.1f} ms) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
