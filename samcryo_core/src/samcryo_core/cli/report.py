"""``samcryo report``: QC overlays, distributions and a one-page summary of one run.

Reads the chunk manifests of the picks and normalize stages (and optionally the ingest
rejections and evaluation results) and writes ``OUT_DIR/summary.md``, ``summary.html``,
``overlays/<mic>.png``, ``plots/*.png`` and ``tables/*.csv``. See ``docs/qc.md``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from samcryo_core.errors import ConfigError

log = logging.getLogger(__name__)


def _compare_item(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=overall.json, got '{text}'")
    return name, path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from samcryo_core.cli.common_args import config_option

    parser.add_argument("--picks-manifests", nargs="+", required=True, metavar="CHUNK.tsv",
                        help="picks chunk manifests (results/<prompt>/picks/chunks/<chunk>.tsv)")
    parser.add_argument("--normalized-manifests", nargs="*", default=[], metavar="CHUNK.tsv",
                        help="normalize chunk manifests (give the normalized MRCs and sidecars for overlays)")
    parser.add_argument("--rejections", metavar="TSV", help="ingest rejections (results/ingest/rejected.tsv)")
    parser.add_argument("--evaluation-json", metavar="JSON", help="evaluation overall.json of this run")
    parser.add_argument("--evaluation-csv", metavar="CSV", help="evaluation per_micrograph.csv of this run")
    parser.add_argument("--compare", nargs="*", default=[], type=_compare_item, metavar="NAME=JSON",
                        help="other runs' overall.json to show side by side (e.g. log=results/classical/log/"
                             "evaluation/overall.json)")
    parser.add_argument("--name", default="this run",
                        help="name of this run in the comparison table and plot (default: 'this run')")
    parser.add_argument("--title", default="samcryo QC", help="title of the summary page")
    parser.add_argument("--threshold", type=float,
                        help="FOM threshold the picks were cut at (drawn on plots)")
    config_option(parser, "--sample", key="report.sample", type=int,
                  help="draw overlays for the first N accepted micrographs (0 = all; default %(default)s)")
    config_option(parser, "--sample-every", key="report.sample_every", type=int,
                  help="take every k-th accepted micrograph before --sample (default %(default)s)")
    config_option(parser, "--truth-dir", key="evaluate.truth_dir", metavar="DIR",
                  help="folder of <mic>.<format> truth files to draw on overlays (as for evaluate)")
    config_option(parser, "--truth-format", key="evaluate.truth_format",
                  help="format of the truth files (default %(default)s)")
    config_option(parser, "--truth-flip-y", key="evaluate.flip_y", action="store_true",
                  help="truth y counts from the bottom (CryoPPP against raw MRC): flip on reading")
    parser.add_argument("--tile-px", type=int, default=None,
                        help="the model's input size: draw segment's tile grid on the first overlay")
    parser.add_argument("--out-dir", required=True, metavar="QC_DIR", help="report folder to write")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.qc.inputs import load_dataset
    from samcryo_core.qc.report import build_report
    from samcryo_core.qc.summary import write_summaries

    if args.sample < 0:
        raise ConfigError("--sample", f"must be >= 0, got {args.sample}", "use 0 for all micrographs")
    if args.sample_every < 1:
        raise ConfigError("--sample-every", f"must be >= 1, got {args.sample_every}", "use 1 for every one")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ConfigError("--threshold", f"must lie in [0, 1], got {args.threshold}",
                          "give the FOM threshold used by extract")
    compare = dict(args.compare)
    ds = load_dataset(args.picks_manifests, args.normalized_manifests, args.rejections,
                      args.evaluation_json, args.evaluation_csv, compare, args.threshold, args.name)
    res = build_report(ds, Path(args.out_dir), sample=args.sample or None, every=args.sample_every,
                       truth_dir=args.truth_dir, truth_format=args.truth_format,
                       truth_flip_y=args.truth_flip_y, title=args.title, tile_px=args.tile_px)
    md, page = write_summaries(res)
    s = res.stats
    log.info("report: %d micrographs (%d accepted, %d rejected), %d picks, %d overlays -> %s",
             s.n_inputs, s.n_accepted, s.n_rejected, s.n_picks, len(res.overlays), md)
    return 0
