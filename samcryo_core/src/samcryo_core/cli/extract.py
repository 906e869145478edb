"""``samcryo extract``: probability maps of one chunk -> per-micrograph picks CSVs + chunk manifest.

Reads the segment chunk manifest (columns ``micrograph, status, reason, source, sidecar,
probability``), writes ``<out-dir>/<micrograph>.csv`` (original frame, see
``docs/coordinates.md``) and the picks manifest ``micrograph, status, reason, source, sidecar,
picks, n_picks``.
"""

from __future__ import annotations

import argparse
import logging

from samcryo_core.particles.chunk import PICKS_MANIFEST_COLUMNS

log = logging.getLogger(__name__)


class _DiameterAction(argparse.Action):
    """Store one diameter, or ``(smallest, largest)`` for two values (checked: positive, ordered)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from samcryo_core.particles.diameter import as_diameter

        try:
            setattr(namespace, self.dest, as_diameter(values))
        except ValueError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None


def add_diameter_arguments(parser: argparse.ArgumentParser) -> None:
    """``--diameter-A`` | ``--diameter-px`` (exactly one; one value, or the smallest and largest of
    a sample of several sizes), shared by extract and pick-log."""
    g = parser.add_mutually_exclusive_group(required=True)
    g.add_argument("--diameter-A", type=float, nargs="+", action=_DiameterAction, dest="diameter_A",
                   metavar="D", help="particle diameter in Angstrom (converted with each sidecar's "
                   "pixel_size_A); two values = smallest and largest particle of a mixed sample")
    g.add_argument("--diameter-px", type=float, nargs="+", action=_DiameterAction, dest="diameter_px",
                   metavar="D", help="particle diameter in original micrograph pixels (or smallest and "
                   "largest)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="segment chunk manifest (TSV)")
    parser.add_argument("--out-dir", required=True, help="folder for <micrograph>.csv picks")
    parser.add_argument("--out", required=True, help="picks chunk manifest to write (TSV)")
    add_diameter_arguments(parser)
    parser.add_argument("--threshold", type=float, default=0.5, help="probability threshold (default 0.5)")
    parser.add_argument("--min-circularity", type=float, default=0.5,
                        help="minimum 4*pi*area/perimeter^2 of a component (default 0.5)")
    parser.add_argument("--area-range", type=float, nargs=2, default=(0.3, 2.5), metavar=("LO", "HI"),
                        help="allowed component area as a fraction of a disc of the diameter "
                             "(default 0.3 2.5)")
    parser.add_argument("--edge-margin-px", type=float, default=0.0,
                        help="drop picks closer than this to the border, original pixels (default 0)")
    parser.add_argument("--min-distance-fraction", type=float, default=0.5,
                        help="picks closer than this x diameter are duplicates; the higher FOM is kept "
                             "(default 0.5)")
    parser.add_argument("--no-split", action="store_true", help="do not split touching particles (watershed)")
    parser.add_argument("--redo", action="store_true", help="recompute picks CSVs that already exist")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.frame import FrameMapping
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.manifest import read_manifest, write_manifest
    from samcryo_core.particles.chunk import resolve_diameter_px, run_picking_chunk
    from samcryo_core.particles.extraction import extract_particles

    lo, hi = args.area_range

    def pick_one(row: dict):
        mapping = FrameMapping.read(row["sidecar"])
        diameter = resolve_diameter_px(mapping, row["sidecar"], diameter_px=args.diameter_px,
                                       diameter_A=args.diameter_A)
        prob = read_micrograph(row["probability"]).data
        return extract_particles(
            prob, mapping, diameter_px=diameter, threshold=args.threshold, min_area_fraction=lo,
            max_area_fraction=hi, min_circularity=args.min_circularity, edge_margin_px=args.edge_margin_px,
            min_distance_fraction=args.min_distance_fraction, split_touching=not args.no_split,
        )

    rows = read_manifest(args.manifest)
    result = run_picking_chunk(rows, args.out_dir, pick_one, manifest_path=args.manifest, redo=args.redo)
    write_manifest(args.out, result, PICKS_MANIFEST_COLUMNS)
    return _exit_code(rows, result)


def _exit_code(rows: list[dict], result: list[dict]) -> int:
    """1 only when micrographs were given and every one failed here (a systematic problem)."""
    from samcryo_core.manifest import OK

    n_in = sum(r.get("status") == OK for r in rows)
    n_ok = sum(r.get("status") == OK for r in result)
    log.info("%d of %d micrographs picked (%d picks)", n_ok, n_in,
             sum(int(r["n_picks"]) for r in result if r.get("n_picks")))
    if n_in and not n_ok:
        log.error("every micrograph of the chunk failed; see the reasons in the manifest")
        return 1
    return 0
