"""Write a simulated data set in the layout every samcryo consumer expects.

Layout (docs/architecture.md, "Simulated data layout"):

    <out>/micrographs/<mic>.mrc      float32, pixel size in the MRC header (voxel_size)
    <out>/truth/<mic>.star           one unnamed data_ block: rlnCoordinateX, rlnCoordinateY
                                     (original frame, x = column, y = row, 0-based),
                                     rlnClassNumber (particle type), samcryoDiameterPx
    <out>/truth/junk/<mic>.mrc       int8 junk mask (1 = carbon/ice/aggregate), same frame
    <out>/truth/summary.csv          micrograph, n_particles, snr, defocus_um, seed, ...

Why per-micrograph integer seeds: micrograph ``i`` of a data set made with seed ``s`` is
``simulate_micrograph(params, seed_i)`` with ``seed_i`` listed in summary.csv, so any one
micrograph can be regenerated (and debugged) alone. Every file is written atomically.
"""

from __future__ import annotations

import logging
from pathlib import Path

import mrcfile
import numpy as np
import pandas as pd
import starfile

from samcryo_core.errors import ConfigError
from samcryo_core.io.atomic import atomic_path
from samcryo_core.simulate.micrograph import SimulatedMicrograph, simulate_micrograph
from samcryo_core.simulate.params import SimulationParams

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = [
    "micrograph", "n_particles", "snr", "defocus_um", "seed", "defocus_u_um", "defocus_v_um",
    "astigmatism_angle_deg", "pixel_size_A", "height", "width", "has_carbon", "n_ice", "n_aggregates",
    "junk_fraction",
]


def micrograph_seed(seed: int, index: int) -> int:
    """The integer seed of micrograph ``index`` of a data set made with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def truth_table(mic: SimulatedMicrograph) -> pd.DataFrame:
    """The truth STAR table of one micrograph (RELION labels + samcryoDiameterPx)."""
    return pd.DataFrame({
        "rlnCoordinateX": mic.x.astype(np.float64),
        "rlnCoordinateY": mic.y.astype(np.float64),
        "rlnClassNumber": mic.class_id.astype(np.int64),
        "samcryoDiameterPx": mic.diameter_px.astype(np.float64),
    })


def write_mrc(path: Path, data: np.ndarray, pixel_size_A: float) -> None:
    """Write a 2-D array as MRC with the pixel size in the header, atomically."""
    with atomic_path(path) as tmp, mrcfile.new(tmp, overwrite=True) as mrc:
        mrc.set_data(np.ascontiguousarray(data))
        mrc.voxel_size = pixel_size_A


def write_star(path: Path, table: pd.DataFrame) -> None:
    """Write one unnamed ``data_`` block, atomically."""
    with atomic_path(path) as tmp:
        starfile.write(table, tmp)


def simulate_dataset(
    out_dir: str | Path,
    n: int,
    params: SimulationParams | None = None,
    seed: int = 0,
    prefix: str = "sim",
) -> pd.DataFrame:
    """Simulate ``n`` micrographs named ``<prefix>_0000``, ... into ``out_dir``; return the summary.

    Deterministic for ``(params, seed)``; ``params.seed`` is not used (each micrograph gets
    :func:`micrograph_seed`).
    """
    params = params or SimulationParams()
    if n < 0:
        raise ConfigError("n", f"must be >= 0, got {n}", "give the number of micrographs")
    if not prefix or "/" in prefix or "\\" in prefix or prefix.startswith("."):
        raise ConfigError("prefix", f"{prefix!r} cannot be a file-name prefix",
                          "use letters, digits, '-' or '_' (no path separators)")
    out = Path(out_dir)
    rows = []
    width = max(4, len(str(max(n - 1, 0))))
    for i in range(n):
        name = f"{prefix}_{i:0{width}d}"
        s = micrograph_seed(seed, i)
        mic = simulate_micrograph(params, s)
        write_mrc(out / "micrographs" / f"{name}.mrc", mic.image, params.pixel_size_A)
        write_star(out / "truth" / f"{name}.star", truth_table(mic))
        write_mrc(out / "truth" / "junk" / f"{name}.mrc", mic.junk_mask.astype(np.int8), params.pixel_size_A)
        rows.append({
            "micrograph": name, "n_particles": mic.n_particles, "snr": params.snr,
            "defocus_um": round(mic.defocus_um, 4), "seed": s,
            "defocus_u_um": round(mic.defocus_u_um, 4), "defocus_v_um": round(mic.defocus_v_um, 4),
            "astigmatism_angle_deg": round(mic.astigmatism_angle_deg, 2),
            "pixel_size_A": params.pixel_size_A, "height": params.shape[0], "width": params.shape[1],
            "has_carbon": mic.has_carbon, "n_ice": mic.n_ice, "n_aggregates": mic.n_aggregates,
            "junk_fraction": round(float(mic.junk_mask.mean()), 4),
        })
        log.debug("simulated %s: %d particles, defocus %.2f um", name, mic.n_particles, mic.defocus_um)
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    with atomic_path(out / "truth" / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False)
    log.info("simulated %d micrographs (%d particles) into %s", n, int(summary["n_particles"].sum()), out)
    return summary
