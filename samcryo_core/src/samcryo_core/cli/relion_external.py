"""``samcryo relion-external``: run samcryo as a RELION External job (3.1, 4 or 5).

In RELION's *External* job type, set "External executable" to ``samcryo relion-external``,
"Input micrographs" to the CTF-corrected micrographs STAR, and parameters such as
``prompt_file`` = the trained prompt, ``diameter_A`` = 160. RELION then runs, in the project::

    samcryo relion-external --o External/job012/ --in_mics CtfFind/job004/micrographs_ctf.star \
        --j 4 --prompt_file head.pt --diameter_A 160

The job picks every micrograph, writes the coordinates and ``RELION_OUTPUT_NODES.star`` into its
folder and marks itself finished (``samcryo_core.workflow.relion_job``); the coordinates then go
into *Particle extraction* (``docs/export.md``).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import config_option

    parser.add_argument("--o", required=True, metavar="DIR",
                        help="the job's output folder (RELION passes it)")
    parser.add_argument("--in_mics", required=True, metavar="STAR",
                        help="input micrographs STAR (RELION passes it)")
    parser.add_argument("--j", type=int, default=1, help="threads (RELION passes it; default 1)")
    # other inputs RELION may pass to an External job; not used by a picker
    for ignored in ("--in_movies", "--in_parts", "--in_coords", "--in_3dref", "--in_mask",
                    "--pipeline_control"):
        parser.add_argument(ignored, default=None, help=argparse.SUPPRESS)
    config_option(parser, "--prompt_file", "--prompt-file", key="prompt_file", dest="prompt_file",
                  help="prompt trained by 'samcryo train' (path relative to the project)")
    parser.add_argument("--picker", choices=("sam", "log"), default="sam",
                        help="sam: the prompt (default); log: the classical LoG picker")
    parser.add_argument("--diameter_A", "--diameter-A", dest="diameter_A", type=float, nargs="+",
                        required=True, metavar="D",
                        help="particle diameter in Angstrom (two values: smallest and largest)")
    config_option(parser, "--threshold", key="export.threshold", type=float,
                  help="keep picks with figure of merit >= this (default %(default)s)")
    config_option(parser, "--checkpoint", key="model.checkpoint",
                  help="base SAM checkpoint of the prompt (default: the shipped cpu_small backbone)")
    config_option(parser, "--device", key="device", help="default %(default)s")
    config_option(parser, "--pixel_size", "--pixel-size", key="inputs.pixel_size_A", dest="pixel_size",
                  type=float, help="pixel size in Angstrom when the STAR's optics have none")
    parser.add_argument("--relion_version", "--relion-version", dest="relion_version",
                        choices=("3.1", "4", "5"), default=None,
                        help="RELION version of the project (default: read from default_pipeline.star)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.errors import ConfigError
    from samcryo_core.particles.diameter import as_diameter
    from samcryo_core.workflow.direct import DirectSettings
    from samcryo_core.workflow.relion_job import run_external_job

    try:
        diameter = as_diameter(args.diameter_A)
    except ValueError as exc:
        raise ConfigError("--diameter_A", str(exc), "give the particle diameter in Angstrom") from None
    settings = DirectSettings(
        diameter_A=diameter, prompt_file=args.prompt_file, picker=args.picker,
        checkpoint=args.checkpoint, pixel_size_A=args.pixel_size, device=args.device, threads=args.j,
    )
    run_external_job(args.o, args.in_mics, settings, min_fom=args.threshold,
                     relion_version=args.relion_version)
    return 0
