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
