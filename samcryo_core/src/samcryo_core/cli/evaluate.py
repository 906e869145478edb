"""``samcryo evaluate``: picks against ground truth -> per-micrograph CSV + overall JSON.

Per micrograph: one-to-one (Hungarian) matching at ``distance_fraction`` x the true particle's
diameter -> TP/FP/FN, precision, recall, F1, mean localisation error, AP over FOM, and the
papers' pixel Dice of filled circles at 256 x 256. Overall: micro-averaged counts and scores
(sum TP/FP/FN over micrographs), the mean of per-micrograph scores, pooled AP and mean Dice.
See ``samcryo_core.evaluation``.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)

PER_MIC_COLUMNS = ("micrograph", "n_picks", "n_truth", "tp", "fp", "fn", "precision", "recall", "f1",
                   "mean_error_px", "ap", "dice")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--picks-manifests", nargs="+", required=True, metavar="CHUNK.tsv",
                        help="picks chunk manifests from 'samcryo extract' or 'samcryo pick-log'")
    parser.add_argument("--truth-dir", required=True, help="folder with one truth file per micrograph "
                                                           "(<micrograph>.star|.csv|.box)")
    parser.add_argument("--truth-format", choices=("star", "csv", "box"), default="star",
                        help="format of the truth files (default star)")
    parser.add_argument("--flip-y", action="store_true",
                        help="truth y counts from the bottom of the MRC (CryoPPP): use row = H - 1 - y")
    parser.add_argument("--diameter-px", type=float, default=None,
                        help="particle diameter (original pixels) for every true particle; overrides "
                             "samcryoDiameterPx / diameter_px in the truth files")
    parser.add_argument("--distance-fraction", type=float, default=0.5,
                        help="match when centres are within this x diameter (default 0.5)")
    parser.add_argument("--min-fom", type=float, default=None, help="evaluate only picks with fom >= X")
    parser.add_argument("--out-csv", required=True, help="per-micrograph table (CSV)")
    parser.add_argument("--out-json", required=True, help="overall scores (JSON)")


def _num(v: float) -> float | None:
    """JSON-safe number (NaN -> null)."""
    import math

    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _mean(col) -> float | None:
    """Mean over micrographs ignoring NaN (e.g. AP of a micrograph without truth); None if none."""
    import numpy as np

    vals = np.asarray(col, dtype=np.float64)
    vals = vals[~np.isnan(vals)]
    return float(vals.mean()) if vals.size else None


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    import pandas as pd

    from samcryo_core.errors import InputError
    from samcryo_core.evaluation.dice import picks_dice
    from samcryo_core.evaluation.matching import average_precision, match_picks, scores
    from samcryo_core.evaluation.truth_io import read_truth
    from samcryo_core.frame import FrameMapping
    from samcryo_core.io.atomic import atomic_write_text
    from samcryo_core.manifest import OK, read_manifests
    from samcryo_core.particles.picks_io import read_picks

    rows = read_manifests(args.picks_manifests)
    per_mic: list[dict] = []
    ap_inputs = []
    skipped: list[dict] = []
    for row in rows:
        name = row.get("micrograph", "")
        if row.get("status") != OK:
            skipped.append({"micrograph": name, "reason": row.get("reason") or "rejected upstream"})
            continue
        truth_path = Path(args.truth_dir) / f"{name}.{args.truth_format}"
        if not truth_path.is_file():
            skipped.append({"micrograph": name, "reason": f"no truth file {truth_path}"})
            log.warning("%s: no truth file %s, not evaluated", name, truth_path)
            continue
        try:
            mapping = FrameMapping.read(row["sidecar"])
            picks = read_picks(row["picks"])
            truth = read_truth(truth_path, args.truth_format, diameter_px=args.diameter_px,
                               flip_y=args.flip_y, height=mapping.original_shape[0])
        except (InputError, OSError, KeyError, ValueError) as exc:
            skipped.append({"micrograph": name, "reason": str(exc)})
            log.warning("%s: not evaluated: %s", name, exc)
            continue
        if args.min_fom is not None:
            picks = picks.loc[picks["fom"] >= args.min_fom]
        pred_xy = picks[["x", "y"]].to_numpy()
        truth_xy = truth[["x", "y"]].to_numpy()
        max_d = args.distance_fraction * truth["diameter_px"].to_numpy()
        m = match_picks(pred_xy, truth_xy, max_d)
        ap = average_precision([(pred_xy, picks["fom"].to_numpy(), truth_xy, max_d)]).ap
        pick_d = picks["diameter_px"].fillna(truth["diameter_px"].mean() if len(truth) else 0.0).to_numpy()
        d = picks_dice(pred_xy, pick_d, truth_xy, truth["diameter_px"].to_numpy(), mapping.original_shape)
        ap_inputs.append((pred_xy, picks["fom"].to_numpy(), truth_xy, max_d))
        per_mic.append({"micrograph": name, "n_picks": len(picks), "n_truth": len(truth), "tp": m.tp,
                        "fp": m.fp, "fn": m.fn, "precision": m.precision, "recall": m.recall, "f1": m.f1,
                        "mean_error_px": m.mean_error_px, "ap": ap, "dice": d})

    table = pd.DataFrame(per_mic, columns=list(PER_MIC_COLUMNS))
    atomic_write_text(args.out_csv, table.to_csv(index=False, lineterminator="\n", float_format="%.6f"))
    tp, fp, fn = (int(table[c].sum()) for c in ("tp", "fp", "fn"))
    p, r, f1 = scores(tp, fp, fn)
    pooled = average_precision(ap_inputs) if ap_inputs else None
    overall = {
        "n_micrographs": len(table),
        "n_skipped": len(skipped),
        "distance_fraction": args.distance_fraction,
        "micro": {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1,
                  "ap": _num(pooled.ap) if pooled else None},
        "mean_per_micrograph": {c: _mean(table[c]) for c in ("precision", "recall", "f1", "mean_error_px",
                                                             "ap", "dice")},
        "notes": {
            "matching": "one-to-one Hungarian, centre distance <= distance_fraction x true diameter",
            "ap": "picks pooled over micrographs by FOM; precision envelope (VOC2010+/COCO) area",
            "dice": "filled circles at 256 x 256 (micrograph resized without keeping aspect), as in the "
                    "SAM-for-cryo-EM papers; from pick centres, not raw masks",
        },
        "skipped": skipped,
    }
    atomic_write_text(args.out_json, json.dumps(overall, indent=2) + "\n")
    log.info("%d micrographs: P %.3f R %.3f F1 %.3f AP %s (micro); %d skipped", len(table), p, r, f1,
             overall["micro"]["ap"], len(skipped))
    return 0
