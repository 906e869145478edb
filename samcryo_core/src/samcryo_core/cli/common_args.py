"""Arguments several ``samcryo`` subcommands share (one definition, one help text)."""

from __future__ import annotations

import argparse


class _DiameterAction(argparse.Action):
    """Store one diameter, or ``(smallest, largest)`` for two values (checked: positive, ordered)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from samcryo_core.particles.diameter import as_diameter

        try:
            setattr(namespace, self.dest, as_diameter(values))
        except ValueError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None


def add_diameter_argument(parser, *, required: bool = False) -> None:
    """``--diameter-A D [DMAX]``: the particle diameter in Angstrom (or a mixed sample's range)."""
    parser.add_argument("--diameter-A", type=float, nargs="+", action=_DiameterAction, dest="diameter_A",
                        metavar="D", required=required,
                        help="particle diameter in Angstrom (converted with each sidecar's "
                        "pixel_size_A); two values = smallest and largest particle of a mixed sample")


def add_diameter_arguments(parser: argparse.ArgumentParser) -> None:
    """``--diameter-A`` | ``--diameter-px`` (exactly one; one value, or the smallest and largest of
    a sample of several sizes), shared by extract and pick-log."""
    g = parser.add_mutually_exclusive_group(required=True)
    add_diameter_argument(g)
    g.add_argument("--diameter-px", type=float, nargs="+", action=_DiameterAction, dest="diameter_px",
                   metavar="D", help="particle diameter in original micrograph pixels (or smallest and "
                   "largest)")


def config_default(key: str):
    """The default of config key ``key`` (dotted) from the config schema: the one home of defaults,
    so ``samcryo <stage>`` run by hand does what the workflow does with an empty config."""
    from samcryo_core.workflow.schema import default

    return default(key)


def config_option(parser, *flags: str, key: str, inverted: bool = False, **kwargs) -> argparse.Action:
    """An option that mirrors config key ``key``: default and choices come from the schema.

    ``store_true`` flags mirror a boolean key that defaults to false (``--flip-y``), or with
    ``inverted`` one that defaults to true (``--no-augment`` for ``train.augment``). The key is
    recorded on the action (``config_key``), so tests/test_cli_dispatch.py compares every such
    option with the schema. Help texts may say ``%(default)s``.
    """
    from samcryo_core.workflow.schema import choices

    if kwargs.get("action") not in ("store_true", "store_false"):
        kwargs.setdefault("default", config_default(key))
        allowed = choices(key)
        if allowed is not None and "choices" not in kwargs:
            kwargs["choices"] = allowed
    action = parser.add_argument(*flags, **kwargs)
    action.config_key = key
    action.config_inverted = inverted
    return action


def add_input_list_arguments(parser) -> None:
    """Where micrographs and their pixel sizes are listed (``inputs.*``): shared by ``ingest`` and
    ``pick`` so both read the same lists the same way."""
    config_option(parser, "--micrographs-star", key="inputs.micrographs_star",
                  help="RELION micrographs STAR file (paths, pixel sizes)")
    config_option(parser, "--cryosparc-csv", key="inputs.cryosparc_csv",
                  help="cryoSPARC exposure list (CSV export or .cs)")
    config_option(parser, "--project-dir", key="inputs.project_dir",
                  help="RELION/cryoSPARC project folder that listed (and exported) paths are relative "
                       "to (default: current folder)")
    config_option(parser, "--pixel-size", key="inputs.pixel_size_A", type=float, metavar="A",
                  help="pixel size in Angstrom of micrographs whose header and list have none")


def add_picking_chunk_arguments(parser, manifest_help: str) -> None:
    """The chunk in and out of a picker (``extract``, ``pick-log``): manifest, picks folder, picks
    manifest and the particle diameter."""
    parser.add_argument("--manifest", required=True, help=manifest_help)
    parser.add_argument("--out-dir", required=True, help="folder for <micrograph>.csv picks")
    parser.add_argument("--out", required=True, help="picks chunk manifest to write (TSV)")
    add_diameter_arguments(parser)
