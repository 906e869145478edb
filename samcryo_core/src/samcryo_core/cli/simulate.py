"""``samcryo simulate``: write synthetic micrographs with ground-truth picks.

Defaults make a CPU demo data set: 1024 x 1024 micrographs at 4 A/px with 160 A particles
(40 px), 80 per micrograph, SNR 0.01, defocus 1-3 um, junk on. Output layout: see
``samcryo_core.simulate.dataset`` and docs/simulator.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", required=True, help="output folder (micrographs/, truth/)")
    parser.add_argument("--n", type=int, required=True, help="number of micrographs")
    parser.add_argument("--shape", type=int, nargs=2, metavar=("H", "W"), default=[1024, 1024],
                        help="rows and columns of each micrograph (default 1024 1024)")
    parser.add_argument("--pixel-size", type=float, default=4.0, metavar="A",
                        help="pixel size in Angstrom (default 4.0)")
    parser.add_argument("--diameters-A", type=float, nargs="+", default=[160.0], metavar="D",
                        help="one diameter (Angstrom) per particle type; class ids 1, 2, ... (default 160)")
    parser.add_argument("--particles-per-micrograph", type=int, default=80, metavar="K",
                        help="particles to place per micrograph (fewer if they do not fit; default 80)")
    parser.add_argument("--snr", type=float, default=0.01,
                        help="particle signal variance / noise variance over particle discs (default 0.01)")
    parser.add_argument("--defocus-um", type=float, nargs=2, metavar=("LO", "HI"), default=[1.0, 3.0],
                        help="defocus range in micrometres, underfocus positive (default 1 3)")
    parser.add_argument("--no-junk", action="store_true", help="no carbon edges, ice or aggregates")
    parser.add_argument("--touching-fraction", type=float, default=0.0, metavar="F",
                        help="fraction of particles placed touching another (default 0)")
    parser.add_argument("--seed", type=int, default=0, help="data set seed (default 0)")
    parser.add_argument("--type-seed", type=int, default=0,
                        help="seed of the particle types' 3-D shapes (default 0)")
    parser.add_argument("--prefix", default="sim", metavar="NAME",
                        help="micrograph name prefix: NAME_0000, NAME_0001, ... (default sim)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.simulate import SimulationParams, simulate_dataset

    params = SimulationParams(
        shape=(args.shape[0], args.shape[1]),
        pixel_size_A=args.pixel_size,
        diameters_A=tuple(args.diameters_A),
        n_particles=args.particles_per_micrograph,
        snr=args.snr,
        defocus_um=(args.defocus_um[0], args.defocus_um[1]),
        junk=not args.no_junk,
        touching_fraction=args.touching_fraction,
        type_seed=args.type_seed,
    )
    summary = simulate_dataset(args.out_dir, args.n, params, seed=args.seed, prefix=args.prefix)
    log.debug("parameters: %s", dataclasses.asdict(params))
    print(f"wrote {len(summary)} micrographs with {int(summary['n_particles'].sum())} particles to "
          f"{args.out_dir}/micrographs, truth in {args.out_dir}/truth")
    return 0
