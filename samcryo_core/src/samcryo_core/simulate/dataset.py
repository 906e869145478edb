"""Write a simulated data set in the layout every samcryo consumer expects.

Layout (docs/architecture.md, "Simulated data layout"):

    <out>/micrographs/<mic>.mrc      float32, pixel size in the MRC header (voxel_size); .png or
                                     .jpg (8-bit) for the png8 / jpg styles
    <out>/truth/<mic>.star           one unnamed data_ block: rlnCoordinateX, rlnCoordinateY
                                     (original frame, x = column, y = row, 0-based),
                                     rlnClassNumber (particle type), samcryoDiameterPx
    <out>/truth/junk/<mic>.mrc       int8 junk mask (1 = carbon/ice/aggregate/...), same frame
    <out>/truth/summary.csv          micrograph, n_particles, snr, defocus_um, seed, ...

With several render pixel sizes (``render_pixel_sizes_A``) each micrograph's scene is drawn once
and imaged at every pixel size, each into its own ``<out>/px<A>/`` folder with the layout above:
the same particles at the same physical places (``(x + 0.5) * pixel_size`` Angstrom), the SNR
kept per physical area.

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
from samcryo_core.simulate.micrograph import SimulatedMicrograph, render_scene, simulate_micrograph
from samcryo_core.simulate.params import SimulationParams
from samcryo_core.simulate.scene import make_scene
from samcryo_core.simulate.styles import SUFFIX

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = [
    "micrograph", "n_particles", "snr", "defocus_um", "seed", "defocus_u_um", "defocus_v_um",
    "astigmatism_angle_deg", "pixel_size_A", "height", "width", "has_carbon", "n_ice", "n_aggregates",
    "junk_fraction", "coverage", "style", "n_filaments", "n_ethane", "n_holes", "n_crystals",
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


def write_image(path: Path, mic: SimulatedMicrograph) -> None:
    """Write the micrograph in its style's format: MRC (float32) or 8-bit PNG / JPEG."""
    if path.suffix == ".mrc":
        write_mrc(path, mic.image, mic.pixel_size_A)
        return
    from PIL import Image

    with atomic_path(path) as tmp:
        if path.suffix == ".jpg":  # the image was JPEG-compressed once already; keep that quality
            Image.fromarray(mic.image, mode="L").save(tmp, format="JPEG",
                                                      quality=int(mic.params.jpeg_quality))
        else:
            Image.fromarray(mic.image, mode="L").save(tmp, format="PNG")


def _write_one(out: Path, name: str, mic: SimulatedMicrograph, seed: int) -> dict:
    write_image(out / "micrographs" / f"{name}{SUFFIX[mic.style]}", mic)
    write_star(out / "truth" / f"{name}.star", truth_table(mic))
    write_mrc(out / "truth" / "junk" / f"{name}.mrc", mic.junk_mask.astype(np.int8), mic.pixel_size_A)
    c = mic.junk_counts
    return {
        "micrograph": name, "n_particles": mic.n_particles, "snr": round(mic.snr, 6),
        "defocus_um": round(mic.defocus_um, 4), "seed": seed,
        "defocus_u_um": round(mic.defocus_u_um, 4), "defocus_v_um": round(mic.defocus_v_um, 4),
        "astigmatism_angle_deg": round(mic.astigmatism_angle_deg, 2),
        "pixel_size_A": mic.pixel_size_A, "height": mic.image.shape[0], "width": mic.image.shape[1],
        "has_carbon": mic.has_carbon, "n_ice": mic.n_ice, "n_aggregates": mic.n_aggregates,
        "junk_fraction": round(float(mic.junk_mask.mean()), 4), "coverage": round(mic.coverage, 4),
        "style": mic.style, "n_filaments": c.get("filament", 0), "n_ethane": c.get("ethane", 0),
        "n_holes": c.get("hole", 0), "n_crystals": c.get("crystal", 0),
    }


def render_folder(pixel_size_A: float) -> str:
    """Sub-folder of a data set rendered at several pixel sizes: ``px<A>`` (e.g. ``px0.8``)."""
    return f"px{pixel_size_A:g}"


def render_seed(seed: int, pixel_size_A: float) -> int:
    """Noise seed of a micrograph's render at ``pixel_size_A`` (its scene comes from ``seed``)."""
    return int(np.random.SeedSequence([int(seed), int(round(pixel_size_A * 10000))]).generate_state(1)[0])


def simulate_dataset(
    out_dir: str | Path,
    n: int,
    params: SimulationParams | None = None,
    seed: int = 0,
    prefix: str = "sim",
    render_pixel_sizes_A: tuple[float, ...] | None = None,
) -> pd.DataFrame:
    """Simulate ``n`` micrographs named ``<prefix>_0000``, ... into ``out_dir``; return the summary.

    Deterministic for ``(params, seed)``; ``params.seed`` is not used (each micrograph gets
    :func:`micrograph_seed`). With ``render_pixel_sizes_A`` every scene is imaged at each pixel
    size into ``out_dir/px<A>/`` (module docstring); the returned summary then has one row per
    micrograph and pixel size.
    """
    params = params or SimulationParams()
    if n < 0:
        raise ConfigError("n", f"must be >= 0, got {n}", "give the number of micrographs")
    if not prefix or "/" in prefix or "\\" in prefix or prefix.startswith("."):
        raise ConfigError("prefix", f"{prefix!r} cannot be a file-name prefix",
                          "use letters, digits, '-' or '_' (no path separators)")
    if render_pixel_sizes_A is not None and (not render_pixel_sizes_A or min(render_pixel_sizes_A) <= 0):
        raise ConfigError("render_pixel_sizes_A", f"{render_pixel_sizes_A!r}: need positive pixel sizes",
                          "give one or more pixel sizes in Angstrom, e.g. 1.1 4.0")
    out = Path(out_dir)
    width = max(4, len(str(max(n - 1, 0))))
    rows: dict[str, list[dict]] = {}
    for i in range(n):
        name = f"{prefix}_{i:0{width}d}"
        s = micrograph_seed(seed, i)
        if render_pixel_sizes_A is None:
            mic = simulate_micrograph(params, s)
            rows.setdefault("", []).append(_write_one(out, name, mic, s))
            log.debug("simulated %s: %d particles, defocus %.2f um", name, mic.n_particles, mic.defocus_um)
            continue
        scene = make_scene(params, s)
        for px in render_pixel_sizes_A:
            mic = render_scene(scene, render_seed(s, px), pixel_size_A=px)
            rows.setdefault(render_folder(px), []).append(_write_one(out / render_folder(px), name, mic, s))
    if not rows:
        sizes = render_pixel_sizes_A or ()
        rows = {"": []} if render_pixel_sizes_A is None else {render_folder(px): [] for px in sizes}
    tables = []
    for folder, folder_rows in rows.items():
        summary = pd.DataFrame(folder_rows, columns=SUMMARY_COLUMNS)
        with atomic_path(out / folder / "truth" / "summary.csv") as tmp:
            summary.to_csv(tmp, index=False)
        tables.append(summary)
    summary = pd.concat(tables, ignore_index=True)
    log.info("simulated %d micrographs (%d particles) into %s", n, int(summary["n_particles"].sum()), out)
    return summary
