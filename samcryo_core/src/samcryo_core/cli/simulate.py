"""``samcryo simulate``: write synthetic micrographs with ground-truth picks.

Defaults make a CPU demo data set: 1024 x 1024 micrographs at 4 A/px with 160 A particles
(40 px), 80 per micrograph, SNR 0.01, defocus 1-3 um, junk on. Output layout: see
``samcryo_core.simulate.dataset`` and docs/simulator.md. ``--render-pixel-size`` images the same
scenes (particles at the same places in Angstrom) at other pixel sizes, one folder each.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

log = logging.getLogger(__name__)

#: What --more-junk turns on (SimulationParams ranges per micrograph).
MORE_JUNK = {"filaments": (0, 2), "ethane_clusters": (0, 1), "ice_holes": (0, 1), "ice_crystals": (0, 1)}
STYLE_CHOICES = ("float", "counts", "png8", "jpg", "denoised")  # samcryo_core.simulate.styles.STYLES


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
    parser.add_argument("--shapes", nargs="+", default=["blob"], metavar="FAMILY",
                        help="shape family per particle type, or one for all: blob, elongated, flat, ring, "
                             "symmetric, membrane, pseudoatomic (default blob)")
    parser.add_argument("--coverage", type=float, default=None, metavar="F",
                        help="place particles until their discs cover this fraction of the image "
                             "(0-0.6; replaces --particles-per-micrograph)")
    parser.add_argument("--style", default="float", choices=STYLE_CHOICES,
                        help="export style: float MRC (default), counts (raw counting MRC), png8 "
                             "(CryoPPP-style 8-bit PNG), jpg, denoised")
    parser.add_argument("--more-junk", action="store_true",
                        help="also filaments, ethane contamination, holes in the ice and ice crystals")
    parser.add_argument("--ice-gradient", type=float, default=0.0, metavar="G",
                        help="relative ice-thickness change across the image (default 0)")
    parser.add_argument("--render-pixel-size", type=float, nargs="+", default=None, metavar="A",
                        help="image the same scenes at these pixel sizes (Angstrom), each into OUT/px<A>/; "
                             "--pixel-size and --shape set the field the particles are placed on")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.simulate import SimulationParams, simulate_dataset
    from samcryo_core.simulate.dataset import render_folder

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
        shape_families=tuple(args.shapes),
        coverage=args.coverage,
        style=args.style,
        ice_gradient=args.ice_gradient,
        **(MORE_JUNK if args.more_junk else {}),
    )
    sizes = tuple(args.render_pixel_size) if args.render_pixel_size else None
    summary = simulate_dataset(args.out_dir, args.n, params, seed=args.seed, prefix=args.prefix,
                               render_pixel_sizes_A=sizes)
    log.debug("parameters: %s", dataclasses.asdict(params))
    where = [args.out_dir] if sizes is None else [f"{args.out_dir}/{render_folder(px)}" for px in sizes]
    print(f"wrote {args.n} micrographs with {int(summary['n_particles'].sum())} particles to "
          + ", ".join(f"{w}/micrographs" for w in where) + ", truth in <folder>/truth")
    return 0
