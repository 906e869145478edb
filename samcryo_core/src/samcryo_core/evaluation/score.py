"""The evaluate stage: picks of a run against ground truth -> per-micrograph table + overall scores.

Per micrograph: one-to-one (Hungarian) matching at ``distance_fraction`` x the true particle's
diameter -> TP/FP/FN, precision, recall, F1, mean localisation error of the picks at or above the
FOM ``threshold`` (what export writes), AP over *all* candidates ranked by FOM (the picks CSVs keep
every candidate above the extraction floor, so AP sees the whole ranking), and the papers' pixel
Dice of filled circles at 256 x 256. Overall: micro-averaged counts and scores (sum TP/FP/FN over
micrographs), the mean of per-micrograph scores, pooled AP and the best F1 any single FOM
threshold reaches (so a badly calibrated default threshold is visible as the gap between the two).
The benchmarks score with this same code.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError, is_environment_failure
from samcryo_core.evaluation.dice import picks_dice
from samcryo_core.evaluation.matching import average_precision, match_picks, scores
from samcryo_core.manifest import OK

log = logging.getLogger(__name__)

PER_MIC_COLUMNS = ("micrograph", "n_picks", "n_truth", "tp", "fp", "fn", "precision", "recall", "f1",
                   "mean_error_px", "ap", "dice")


@dataclass(frozen=True)
class Scored:
    """One micrograph's picks and truth, in the original frame (what the scores are made of)."""

    name: str
    picks: pd.DataFrame  # x, y, fom, diameter_px: every candidate
    truth: pd.DataFrame  # x, y, diameter_px
    shape: tuple[int, int]


def score_micrograph(item: Scored, *, threshold: float | None, distance_fraction: float) -> dict:
    """The per-micrograph row of :data:`PER_MIC_COLUMNS`."""
    picks, truth = item.picks, item.truth
    kept = picks if threshold is None else picks.loc[picks["fom"] >= threshold]
    pred_xy = kept[["x", "y"]].to_numpy()
    truth_xy = truth[["x", "y"]].to_numpy()
    max_d = distance_fraction * truth["diameter_px"].to_numpy()
    m = match_picks(pred_xy, truth_xy, max_d)
    ap = average_precision([(picks[["x", "y"]].to_numpy(), picks["fom"].to_numpy(), truth_xy, max_d)]).ap
    pick_d = kept["diameter_px"].fillna(truth["diameter_px"].mean() if len(truth) else 0.0).to_numpy()
    d = picks_dice(pred_xy, pick_d, truth_xy, truth["diameter_px"].to_numpy(), item.shape)
    return {"micrograph": item.name, "n_picks": len(kept), "n_truth": len(truth), "tp": m.tp, "fp": m.fp,
            "fn": m.fn, "precision": m.precision, "recall": m.recall, "f1": m.f1,
            "mean_error_px": m.mean_error_px, "ap": ap, "dice": d}


def best_f1(items: list[Scored], distance_fraction: float) -> tuple[float, float | None]:
    """The best micro F1 over all FOM thresholds and the threshold reaching it (pooled curve)."""
    pr = average_precision([(it.picks[["x", "y"]].to_numpy(), it.picks["fom"].to_numpy(),
                             it.truth[["x", "y"]].to_numpy(),
                             distance_fraction * it.truth["diameter_px"].to_numpy()) for it in items])
    if not len(pr.precision) or not np.isfinite(pr.recall).all():
        return 0.0, None
    f1 = np.where(pr.precision + pr.recall > 0,
                  2 * pr.precision * pr.recall / np.maximum(pr.precision + pr.recall, 1e-12), 0.0)
    # only where the FOM changes: a threshold keeps every pick with an equal FOM
    last_of_tie = np.r_[pr.fom[1:] != pr.fom[:-1], True]
    f1 = np.where(last_of_tie, f1, -1.0)
    k = int(np.argmax(f1))
    return float(f1[k]), float(pr.fom[k])


def _num(v) -> float | None:
    """JSON-safe number (NaN -> null)."""
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _mean(col) -> float | None:
    vals = np.asarray(col, dtype=np.float64)
    vals = vals[~np.isnan(vals)]
    return float(vals.mean()) if vals.size else None


def overall_scores(table: pd.DataFrame, items: list[Scored], *, threshold: float | None,
                   distance_fraction: float, skipped: list[dict]) -> dict:
    """The overall JSON: micro scores, means over micrographs, pooled AP, best F1."""
    tp, fp, fn = (int(table[c].sum()) for c in ("tp", "fp", "fn"))
    p, r, f1 = scores(tp, fp, fn)
    pooled = average_precision([(it.picks[["x", "y"]].to_numpy(), it.picks["fom"].to_numpy(),
                                 it.truth[["x", "y"]].to_numpy(),
                                 distance_fraction * it.truth["diameter_px"].to_numpy())
                                for it in items]) if items else None
    f1_best, at = best_f1(items, distance_fraction) if items else (0.0, None)
    return {
        "n_micrographs": len(table),
        "n_skipped": len(skipped),
        "distance_fraction": distance_fraction,
        "threshold": threshold,
        "micro": {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1,
                  "ap": _num(pooled.ap) if pooled else None, "best_f1": f1_best,
                  "best_f1_threshold": at},
        "mean_per_micrograph": {c: _mean(table[c]) for c in ("precision", "recall", "f1",
                                                             "mean_error_px", "ap", "dice")},
        "notes": {
            "matching": "one-to-one Hungarian, centre distance <= distance_fraction x true diameter",
            "threshold": "precision/recall/F1/Dice of picks with fom >= threshold (what export writes)",
            "ap": "all candidates pooled over micrographs by FOM; precision envelope (VOC2010+/COCO) area",
            "best_f1": "the best micro F1 of any single FOM threshold, and that threshold",
            "dice": "filled circles at 256 x 256 (micrograph resized without keeping aspect), as in the "
                    "SAM-for-cryo-EM papers; from pick centres, not raw masks",
        },
        "skipped": skipped,
    }


def read_truth(path: str | Path, fmt: str, *, mapping, diameter_px: float | None = None,
               flip_y: bool = False) -> pd.DataFrame:
    """One micrograph's truth: ``x``, ``y`` (original frame), ``diameter_px``.

    Read by :mod:`samcryo_core.io.coordinates` (the reader training labels use), centred with
    RELION alignment shifts when the file has them, flipped with ``row = H - 1 - y`` when
    ``flip_y`` (CryoPPP against the raw MRC). ``diameter_px`` overrides the file's diameters and
    is required when it has none (``.box`` files never do: their size is a box).
    """
    from samcryo_core.io import coordinates

    table = coordinates.read_coordinates(path, fmt)
    table = coordinates.particle_centres(table, mapping.pixel_size_A)
    if flip_y:
        table = coordinates.flip_y(table, mapping.original_shape[0])
    table = coordinates.with_diameters(table, override_px=diameter_px, source=path)
    return table[["x", "y", "diameter_px"]].reset_index(drop=True)


def load_scored(rows: list[dict], truth_dir: str | Path, *, truth_format: str, flip_y: bool,
                diameter_px: float | None) -> tuple[list[Scored], list[dict]]:
    """Picks and truth of every ``ok`` row of picks manifests; skipped rows with the reason."""
    from samcryo_core.frame import FrameMapping
    from samcryo_core.particles.picks_io import read_picks

    items: list[Scored] = []
    skipped: list[dict] = []
    for row in rows:
        name = row.get("micrograph", "")
        if row.get("status") != OK:
            skipped.append({"micrograph": name, "reason": row.get("reason") or "rejected upstream"})
            continue
        truth_path = Path(truth_dir) / f"{name}.{truth_format}"
        if not truth_path.is_file():
            skipped.append({"micrograph": name, "reason": f"no truth file {truth_path}"})
            log.warning("%s: no truth file %s, not evaluated", name, truth_path)
            continue
        try:
            mapping = FrameMapping.read(row["sidecar"])
            picks = read_picks(row["picks"])
            truth = read_truth(truth_path, truth_format, mapping=mapping, diameter_px=diameter_px,
                               flip_y=flip_y)
        except (InputError, OSError, KeyError, ValueError) as exc:
            if is_environment_failure(exc):
                raise
            skipped.append({"micrograph": name, "reason": str(exc)})
            log.warning("%s: not evaluated: %s", name, exc)
            continue
        items.append(Scored(name, picks, truth, tuple(mapping.original_shape)))
    return items, skipped


def evaluate_run(rows: list[dict], truth_dir: str | Path, *, truth_format: str = "star",
                 flip_y: bool = False, diameter_px: float | None = None, distance_fraction: float = 0.5,
                 threshold: float | None = None) -> tuple[pd.DataFrame, dict]:
    """Score every micrograph of a run's picks manifests: ``(per-micrograph table, overall)``."""
    items, skipped = load_scored(rows, truth_dir, truth_format=truth_format, flip_y=flip_y,
                                 diameter_px=diameter_px)
    table = pd.DataFrame([score_micrograph(it, threshold=threshold, distance_fraction=distance_fraction)
                          for it in items], columns=list(PER_MIC_COLUMNS))
    overall = overall_scores(table, items, threshold=threshold, distance_fraction=distance_fraction,
                             skipped=skipped)
    m = overall["micro"]
    log.info("%d micrographs: P %.3f R %.3f F1 %.3f AP %s best F1 %.3f (micro); %d skipped", len(table),
             m["precision"], m["recall"], m["f1"], m["ap"], m["best_f1"], len(skipped))
    return table, overall
