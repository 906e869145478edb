"""The ``samcryo`` command: one subcommand per pipeline stage, called by the Snakemake rules.

Each subcommand lives in its own module ``samcryo_core.cli.<name>`` defining
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
subcommand runs (or ``--help`` lists them), and must import heavy libraries such as torch inside
``run`` so that CPU stages start fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from samcryo_core.errors import (
    EXIT_ENVIRONMENT,
    SamcryoError,
    environment_failure_message,
    is_environment_failure,
)

# name -> one-line help. The module samcryo_core.cli.<name with - as _> implements it.
COMMANDS: dict[str, str] = {
    "simulate": "make synthetic micrographs with ground-truth picks (tests, demo, benchmarks)",
    "ingest": "validate micrographs of one chunk; write the chunk manifest and rejections",
    "normalize": "bin each micrograph to the working scale, contrast-normalize; write frame sidecars",
    "fetch-checkpoint": "download an official SAM checkpoint and verify its sha256",
    "train": "train a prompt (head, prefix, encoder, finetune) few-shot from labelled micrographs",
    "segment": "run the prompt-adapted SAM on a chunk of micrographs (model loaded once)",
    "extract": "turn probability maps into particle picks in the original pixel frame",
    "pick-log": "classical Laplacian-of-Gaussian blob picker (no training)",
    "export": "write RELION, cryoSPARC and EMAN .box coordinate files",
    "pick": "pick micrographs with a trained prompt in one command (no Snakemake, no config)",
    "relion-external": "run as a RELION External job: pick --in_mics into the job folder --o",
    "evaluate": "precision, recall, F1, AP and pixel Dice of picks against ground truth",
    "report": "QC overlays, distributions and a one-page summary",
    "install-profile": "install the SLURM/local Snakemake profiles so 'snakemake --profile slurm' works",
    "check-config": "check a workflow config as snakemake would, naming file and line of YAML errors",
}


def version() -> str:
    """The installed samcryo-core version (the package's own when it is not installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("samcryo-core")
    except PackageNotFoundError:
        from samcryo_core import __version__

        return __version__


def _module_name(command: str) -> str:
    return "samcryo_core.cli." + command.replace("-", "_")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="samcryo", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"samcryo {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=_module_name(name))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # The first word that names a subcommand splits global options from the subcommand's own
    # arguments, so `samcryo normalize --help` reaches the normalize module's parser.
    position = next((i for i, a in enumerate(argv) if a in COMMANDS), None)
    parser = build_parser()
    if position is None:
        parser.parse_args(argv)  # handles --help and reports unknown commands
        parser.print_help()
        return 2
    command = argv[position]
    known = parser.parse_args(argv[: position + 1])
    module_name = _module_name(command)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            parser.error(f"subcommand '{command}' is not available in this build")
        raise
    sub = argparse.ArgumentParser(prog=f"samcryo {command}", description=COMMANDS[command])
    module.add_arguments(sub)
    args = sub.parse_args(argv[position + 1 :])
    logging.basicConfig(
        level=logging.DEBUG if known.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(module.run(args) or 0)
    except SamcryoError as exc:
        print(f"samcryo {command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not is_environment_failure(exc):
            raise  # a bug: the traceback is what a developer needs
        print(f"samcryo {command}: error: {environment_failure_message(exc)}", file=sys.stderr)
        return EXIT_ENVIRONMENT


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
