#!/usr/bin/env python
"""What the demo's per-pixel SNR means at the detector's own pixel: SNR before and after binning.

Why: samcryo's simulator defines SNR per pixel of the micrograph it writes (variance of the
CTF-modulated particle signal over the particle discs / background noise variance). The demo's
micrographs are 1024 x 1024 at 4 A/px, i.e. what a 4096 x 4096 camera at 1 A/px gives after 4x
binning. Binning averages noise away but keeps the particle's low-resolution signal, so the same
particles have a far higher per-pixel SNR at 4 A/px than at 1 A/px. SNRs quoted for raw
micrographs (e.g. "0.003-0.012", or "0.01 or lower") are usually per detector pixel, so an
SNR is only comparable when the pixel it is measured at is named.

Method: simulate the demo's sample (130/160/190 A, 80 particles per field of 4096 A, defocus
1-3 um, junk off so only particles and noise are measured) at the detector pixel (1 A/px,
4096 x 4096) with ``keep_clean``; Fourier-crop the particle signal and the noise (image - clean)
separately with samcryo's own ``fourier_resample`` to 1024 (4 A/px, the demo's micrographs) and to
512 (8 A/px, about the model input: ``cpu_small``'s working scale of 20 px bins the demo's
130-190 A sample to 7.9 A/px); at each size measure the simulator's SNR (signal variance over the
binned particle discs / noise variance off the discs). The SNR is linear in the signal power, so
the ratio converts any demo SNR to its detector-pixel value.

    .venv/bin/python benchmarks/bench_snr_binning.py            # 3 micrographs, ~1 min
    .venv/bin/python benchmarks/bench_snr_binning.py --quick    # 1 micrograph at 2048 px

Writes benchmarks/results/snr_binning.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.common import limit_threads, machine_info  # noqa: E402

DEMO_DIAMETERS_A = (130.0, 160.0, 190.0)
DEMO_PIXEL_A = 4.0


def measured_snr(signal: np.ndarray, noise: np.ndarray, discs: np.ndarray) -> float:
    """The simulator's SNR definition on any grid: var(signal on discs) / var(noise off discs)."""
    return float(signal[discs].var() / noise[~discs].var())


def one_micrograph(seed: int, native_side: int, native_pixel_A: float, snr: float,
                   out_sides: tuple[int, ...]) -> dict:
    from samcryo_core.preprocess.fourier import fourier_resample
    from samcryo_core.simulate import SimulationParams, simulate_micrograph
    from samcryo_core.simulate.micrograph import disc_mask

    # The demo's particle density: 80 per 1024 x 1024 field at 4 A/px (4096 A on a side).
    field_A = 1024 * DEMO_PIXEL_A
    n = int(round(80 * (native_side * native_pixel_A / field_A) ** 2))
    params = SimulationParams(shape=(native_side, native_side), pixel_size_A=native_pixel_A,
                              diameters_A=DEMO_DIAMETERS_A, n_particles=n, snr=snr, junk=False,
                              keep_clean=True)
    m = simulate_micrograph(params, seed)
    assert m.particle_signal is not None and m.clean is not None
    noise = (m.image - m.clean).astype(np.float32)
    row = {"seed": seed, "n_particles": int(m.n_particles),
           "native": {"side": native_side, "pixel_size_A": native_pixel_A,
                      "snr": measured_snr(m.particle_signal, noise, m.particle_mask)}}
    for side in out_sides:
        f = native_side / side
        s_b = fourier_resample(m.particle_signal, (side, side))
        n_b = fourier_resample(noise, (side, side))
        # Binned pixel centres: original position (x + 0.5) / f - 0.5 (fourier_resample's convention).
        discs = disc_mask((side, side), (m.x + 0.5) / f - 0.5, (m.y + 0.5) / f - 0.5, m.diameter_px / f)
        row[f"bin{f:g}"] = {"side": side, "pixel_size_A": native_pixel_A * f,
                            "snr": measured_snr(s_b, n_b, discs)}
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=3, help="micrographs")
    ap.add_argument("--snr", type=float, default=0.0125, help="SNR at the detector pixel")
    ap.add_argument("--quick", action="store_true", help="1 micrograph of 2048 px (a smoke run)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/snr_binning.json")
    args = ap.parse_args(argv)
    limit_threads(1)
    native_side, n = (2048, 1) if args.quick else (4096, args.n)
    native_pixel = 1.0
    sides = (native_side // 4, native_side // 8)
    t0 = time.perf_counter()
    rows = [one_micrograph(1000 + i, native_side, native_pixel, args.snr, sides) for i in range(n)]
    summary = {}
    for key in ("native", *(f"bin{native_side / s:g}" for s in sides)):
        vals = np.array([r[key]["snr"] for r in rows])
        summary[key] = {"pixel_size_A": rows[0][key]["pixel_size_A"], "snr_median": float(np.median(vals)),
                        "ratio_to_native_median": float(np.median(vals / np.array([r["native"]["snr"]
                                                                                    for r in rows])))}
    demo = summary["bin4"]["ratio_to_native_median"]
    model = summary["bin8"]["ratio_to_native_median"]
    result = {
        "what": "per-pixel SNR (simulator definition) of the same particles at the detector pixel, "
                "after 4x binning (the demo's micrographs) and 8x (about the cpu_small model input at its "
                "working scale)",
        "diameters_A": list(DEMO_DIAMETERS_A), "junk": False, "requested_native_snr": args.snr,
        "summary": summary,
        "demo_snr_at_detector_pixel": {str(s): round(s / demo, 5) for s in (0.05, 0.1, 0.2, 0.3)},
        "model_input_snr_of_demo_snr": {str(s): round(s * model / demo, 4) for s in (0.05, 0.1, 0.2, 0.3)},
        "micrographs": rows, "seconds": round(time.perf_counter() - t0, 1), "machine": machine_info(),
        "command": "python benchmarks/bench_snr_binning.py " + " ".join(argv or sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for key, s in summary.items():
        print(f"{key:>7}: {s['pixel_size_A']:g} A/px  SNR {s['snr_median']:.4g}  "
              f"({s['ratio_to_native_median']:.2f} x the detector pixel's)")
    print("demo SNR -> detector-pixel SNR:", result["demo_snr_at_detector_pixel"])
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
