#!/usr/bin/env python
"""The simulator's gallery and its numbers: coverage, SNR, noise spectra and time per micrograph.

Why: the pre-training recipe (samcryo_core.pretraining, recipe v2) draws shape families, coverage
from sparse to 40 %, junk of seven kinds, ice-thickness gradients and five export styles. Each
of them must do what it claims before a backbone is trained on it; this renders one small case
of each and measures it:

* coverage: asked vs reached (union of the particle discs), and how many particles touch;
* SNR: asked vs measured (particle-signal variance over the discs / noise variance, on the
  ``float`` render with the noise-free image kept);
* visibility: low-passed darkening at the truth centres over the background's standard
  deviation (the measure docs/simulator.md uses; real EMPIAR-10028 PNGs: 2.3-2.8);
* noise spectrum: power in bands of |k| (cycles/px) relative to 0.06-0.12, per style, next to
  one real micrograph of each CryoPPP dev set when ``/work/shared/data/cryoppp-dev`` exists;
* the same scene at 2 and 5 A/px: largest difference of the truth centres in Angstrom;
* seconds per 1024 x 1024 micrograph on one core.

Writes ``benchmarks/results/simulator.json``, ``simulator.md`` and ``simulator_gallery.jpg``
(one panel per case, left to right and top to bottom as in simulator.md: the central 384 px
low-passed for the eye, or the whole field where junk or ice is the subject; truth discs in red,
junk in blue).

    .venv/bin/python benchmarks/bench_simulator.py            # about a minute on one core
    .venv/bin/python benchmarks/bench_simulator.py --size 512  # quicker
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

RESULTS = common.REPO / "benchmarks" / "results"
CRYOPPP = Path("/work/shared/data/cryoppp-dev")
BANDS = [(0.0, 0.01), (0.01, 0.03), (0.03, 0.06), (0.06, 0.12), (0.12, 0.25), (0.25, 0.5)]
REF_BAND = 3


def cases(size: int):
    """(name, SimulationParams) of the gallery: families, crowding, junk, ice, styles."""
    from samcryo_core.simulate import SimulationParams

    base = SimulationParams(shape=(size, size), pixel_size_A=4.0, diameters_A=(120.0, 180.0), snr=0.1,
                            carbon_probability=0.0, ice_blobs=(0, 0), aggregates=(0, 0), coverage=0.15,
                            keep_clean=True)
    out = [(f"family {f} (SNR 0.5)", dataclasses.replace(base, shape_families=(f,), snr=0.5))
           for f in ("blob", "elongated", "flat", "ring", "symmetric", "membrane", "pseudoatomic")]
    out += [(f"coverage {c:.2f}", dataclasses.replace(base, coverage=c, touching_fraction=t))
            for c, t in ((0.02, 0.0), (0.1, 0.1), (0.25, 0.2), (0.4, 0.3))]
    out += [
        ("junk: carbon, ice, aggregates", dataclasses.replace(base, carbon_probability=1.0, ice_blobs=(1, 2),
                                                              aggregates=(1, 2))),
        ("junk: filaments, ethane", dataclasses.replace(base, filaments=(2, 2), ethane_clusters=(1, 1))),
        ("junk: hole, ice crystal", dataclasses.replace(base, ice_holes=(1, 1), ice_crystals=(1, 1))),
        ("ice gradient 1.0 + meniscus 1.5", dataclasses.replace(base, ice_gradient=1.0, ice_meniscus=1.5)),
    ]
    out += [(f"style {s}", dataclasses.replace(base, style=s, keep_clean=s == "float"))
            for s in ("float", "counts", "png8", "jpg", "denoised")]
    return out


def band_powers(image: np.ndarray) -> list[float]:
    from samcryo_core.simulate.noise import radial_power_bands

    p = radial_power_bands(image.astype(np.float64), BANDS)
    return [round(v / p[REF_BAND], 3) for v in p]


def visibility(image: np.ndarray, x: np.ndarray, y: np.ndarray, d: float, exclude: np.ndarray) -> float:
    """Low-passed darkening at the centres over the background's std (docs/simulator.md)."""
    sm = ndimage.gaussian_filter(image.astype(np.float64), d / 4.0)
    bg = ~ndimage.binary_dilation(exclude, iterations=max(1, int(d / 4)))
    if not x.size or not bg.any():
        return float("nan")
    centres = sm[np.round(y).astype(int), np.round(x).astype(int)]
    return float((np.median(sm[bg]) - centres.mean()) / sm[bg].std())


def touching_share(m) -> float:
    if m.n_particles < 2:
        return 0.0
    d = np.hypot(m.x[:, None] - m.x[None, :], m.y[:, None] - m.y[None, :])
    mean_d = 0.5 * (m.diameter_px[:, None] + m.diameter_px[None, :])
    np.fill_diagonal(d, np.inf)
    return float(np.mean((d / mean_d).min(axis=1) < 1.0))


def measure(name: str, params, seed: int) -> tuple[dict, object]:
    from samcryo_core.simulate import simulate_micrograph

    t0 = time.perf_counter()
    m = simulate_micrograph(params, seed)
    seconds = time.perf_counter() - t0
    row = {"case": name, "seconds": round(seconds, 3), "n_particles": m.n_particles,
           "coverage_asked": params.coverage, "coverage": round(m.coverage, 4),
           "touching_share": round(touching_share(m), 3),
           "junk_fraction": round(float(m.junk_mask.mean()), 4), "style": m.style,
           "snr_asked": params.snr, "dtype": str(m.image.dtype)}
    if m.clean is not None and m.style == "float" and m.n_particles:
        noise = m.image - m.clean
        row["snr_measured"] = round(float(m.particle_signal[m.particle_mask].var() / noise.var()), 4)
    row["visibility"] = round(visibility(m.image, m.x, m.y, float(np.median(m.diameter_px)),
                                         m.particle_mask | m.junk_mask), 2)
    row["band_power"] = band_powers(m.image)
    return row, m


def panel(m, size: int = 256, crop: int = 384) -> np.ndarray:
    """The central ``crop`` pixels low-passed and contrast-stretched for the eye, truth discs red,
    junk blue (whole image for junk and ice cases, where the context matters)."""
    from PIL import Image

    img = ndimage.gaussian_filter(m.image.astype(np.float64), max(1.0, float(np.median(m.diameter_px)) / 10))
    if not m.junk_mask.any() and m.scene.ice is None and min(img.shape) > crop:
        r0, c0 = (img.shape[0] - crop) // 2, (img.shape[1] - crop) // 2
        sl = (slice(r0, r0 + crop), slice(c0, c0 + crop))
        img = img[sl]
        m = dataclasses.replace(m, particle_mask=m.particle_mask[sl], junk_mask=m.junk_mask[sl])
    lo, hi = np.percentile(img, [1, 99])
    grey = np.clip((img - lo) / max(hi - lo, 1e-9), 0, 1)
    rgb = np.stack([grey] * 3, axis=-1)
    edge = m.particle_mask & ~ndimage.binary_erosion(m.particle_mask)
    junk = m.junk_mask & ~ndimage.binary_erosion(m.junk_mask, iterations=2)
    rgb[edge] = [1.0, 0.1, 0.1]
    rgb[junk] = [0.2, 0.4, 1.0]
    return np.asarray(Image.fromarray((rgb * 255).astype(np.uint8)).resize((size, size)))


def pixel_size_check(size: int) -> dict:
    from samcryo_core.simulate import SimulationParams, make_scene, render_scene

    p = SimulationParams(shape=(size, size), pixel_size_A=3.0, diameters_A=(120.0,), coverage=0.2)
    scene = make_scene(p, 1)
    a, b = render_scene(scene, 1, pixel_size_A=2.0), render_scene(scene, 2, pixel_size_A=5.0)
    return {"pixel_sizes_A": [2.0, 5.0], "shapes": [list(a.image.shape), list(b.image.shape)],
            "n_particles": [a.n_particles, b.n_particles],
            "max_centre_difference_A": float(max(np.abs(a.x_A - b.x_A).max(), np.abs(a.y_A - b.y_A).max())),
            "snr_per_pixel": [round(a.snr, 5), round(b.snr, 5)]}


def real_references() -> list[dict]:
    """Band powers of one real micrograph per CryoPPP dev set (if the folder is there)."""
    if not CRYOPPP.is_dir():
        return []
    from samcryo_core.io.micrograph import read_micrograph

    out = []
    for dataset in ("10028", "10059", "10947"):
        images = sorted((CRYOPPP / dataset / "train" / "images").glob("*.png"))
        if images:
            data = np.asarray(read_micrograph(images[0]).data, np.float64)
            out.append({"case": f"real {dataset} ({images[0].name})", "band_power": band_powers(data),
                        "grey_std": round(float(data.std()), 2)})
    return out


def markdown(rows: list[dict], refs: list[dict], scale: dict, size: int) -> str:
    lines = ["# Simulator gallery and statistics", "",
             f"`benchmarks/bench_simulator.py --size {size}`: one {size} x {size} micrograph per case at "
             "4 A/px, 120 and 180 A particles, SNR 0.1 (per pixel), coverage 0.15 unless the case says "
             "otherwise. Visibility: low-passed darkening at the truth centres over the background std "
             "(real EMPIAR-10028 PNGs: 2.3-2.8; low for the ice case because its background std "
             "includes the thickness gradient, and for thin families at equal SNR). Band power: "
             "noise-plus-signal power in |k| bands "
             "(cycles/px) relative to 0.06-0.12. Gallery: `simulator_gallery.jpg`.", "",
             "| case | particles | coverage (asked) | touching | junk | SNR measured | visibility | s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        asked = "" if r["coverage_asked"] is None else f" ({r['coverage_asked']:.2f})"
        lines.append(f"| {r['case']} | {r['n_particles']} | {r['coverage']:.3f}{asked} | "
                     f"{r['touching_share']:.2f} | {r['junk_fraction']:.3f} | "
                     f"{r.get('snr_measured', '')} | {r['visibility']} | "
                     f"{r['seconds']:.2f} |")
    head = " | ".join(f"{lo:g}-{hi:g}" for lo, hi in BANDS)
    lines += ["", "Noise spectra (power relative to the 0.06-0.12 cycles/px band):", "",
              f"| image | {head} |", "|---" * (len(BANDS) + 1) + "|"]
    for r in rows:
        if r["case"].startswith("style") or r["case"].startswith("coverage 0.02"):
            lines.append(f"| {r['case']} | " + " | ".join(str(v) for v in r["band_power"]) + " |")
    for r in refs:
        lines.append(f"| {r['case']} | " + " | ".join(str(v) for v in r["band_power"]) + " |")
    lines += ["", f"Same scene at {scale['pixel_sizes_A'][0]:g} and {scale['pixel_sizes_A'][1]:g} A/px: "
              f"{scale['n_particles'][0]} and {scale['n_particles'][1]} particles, truth centres agree to "
              f"{scale['max_centre_difference_A']:.1e} A; per-pixel SNR {scale['snr_per_pixel'][0]} and "
              f"{scale['snr_per_pixel'][1]} (the same per physical area)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=1024, help="micrograph side in pixels")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    args = p.parse_args(argv)
    common.limit_threads(1)
    from PIL import Image

    from samcryo_core.simulate import make_particle_type

    make_particle_type(120.0, 0)  # warm imports before timing
    rows, panels = [], []
    for name, params in cases(args.size):
        row, m = measure(name, params, args.seed)
        rows.append(row)
        panels.append(panel(m))
        print(f"{name}: {row['n_particles']} particles, coverage {row['coverage']:.3f}, "
              f"visibility {row['visibility']}, {row['seconds']:.2f} s", file=sys.stderr)
    refs = real_references()
    scale = pixel_size_check(min(args.size, 512))
    args.out.mkdir(parents=True, exist_ok=True)
    per_row = 5
    blank = np.zeros_like(panels[0])
    panels += [blank] * (-len(panels) % per_row)
    rows_img = [np.concatenate(panels[i:i + per_row], axis=1) for i in range(0, len(panels), per_row)]
    grid = np.concatenate(rows_img)
    Image.fromarray(grid).save(args.out / "simulator_gallery.jpg", quality=85)
    result = {"machine": common.machine_info(),
              "size": args.size, "seed": args.seed, "cases": rows, "real_references": refs,
              "same_scene_two_pixel_sizes": scale, "bands_cycles_per_px": BANDS}
    (args.out / "simulator.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "simulator.md").write_text(markdown(rows, refs, scale, args.size))
    print((args.out / "simulator.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
