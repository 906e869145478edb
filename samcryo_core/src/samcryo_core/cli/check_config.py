"""``samcryo check-config CONFIG.yaml``: the workflow's start-up checks, with file and line.

Reads the config as ``snakemake --configfile`` would, but names the file, line and column of a
YAML syntax error (Snakemake says only "Config file is not valid JSON or YAML"), then checks it
against the schema (every problem at once), checks the files it names and lists the inputs, from
the current folder (where snakemake would run). Exit code 0 when the workflow would start.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", metavar="CONFIG.yaml", help="the config file to check")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.workflow.check import check_config_file

    print(check_config_file(args.config))
    return 0
