"""Audit of one real-set run: which picks the labels call wrong, and what the image says at them.

Why this benchmark: on EMPIAR-10028 the default ``head`` prompt scores 0.026-0.030 F1 below the
built-in LoG picker (``benchmarks/bench_scale.py``), while it beats LoG by 0.14-0.80 everywhere
else. CryoPPP's labels are partial (not every particle on a micrograph is labelled), so a "false
positive" may be a particle nobody labelled. This script asks the image: at every point it
measures the LoG picker's own evidence, the scale-normalized Laplacian of Gaussian of the
normalized micrograph at the particle's size in standard deviations over the micrograph
(:func:`samcryo_core.pickers.log_picker.log_z`, the ``z`` LoG thresholds at 2), taking the
maximum within a quarter diameter of the point (centres are a few pixels off). The categories:

* ``tp``: head picks matched to a label (samcryo's one-to-one matching within half a diameter);
* ``fp_shared``: unmatched head picks that LoG picks too (within half a diameter);
* ``fp_head_only``: unmatched head picks LoG does not pick;
* ``background``: random points farther than one diameter from every label and every pick.

If the unmatched picks carry the evidence of labelled particles and background does not, they
are particles the labels left out, and precision on this set is bounded by the labels for any
picker. The labelled particles head misses (``fn``) are listed with the model's probability at
them (the figure of merit's disc mean) and whether LoG finds them: the recall part of the gap.

Two alternatives are measured on the same maps (``--ensemble``, ``--fusion``), neither shipped:
the mean probability map of several training seeds (runs of ``bench_scale.py --set
train.seed=N``), and adding LoG picks where the model's probability is at least ``p`` and no head
pick is within half a diameter.

    python benchmarks/bench_pick_audit.py \\
        --run benchmarks/results/tmp/scale/runs/shipped/real10028/up1x \\
        --truth benchmarks/results/tmp/scale/data/real10028/up1x/test/truth --diameter-px 56 \\
        --ensemble benchmarks/results/tmp/scale/runs/shipped_seed1/real10028/up1x \\
                   benchmarks/results/tmp/scale/runs/shipped_seed2/real10028/up1x --fusion
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

#: The export threshold of samcryo's candidates and the LoG picker's (z >= 2) as a FOM.
HEAD_THRESHOLD = 0.5
LOG_THRESHOLD = 1.0 - math.exp(-2.0 / 5.0)
CATEGORIES = ("tp", "fp_shared", "fp_head_only", "background")


def fom_measure(prob: np.ndarray, diameter_norm: float) -> np.ndarray:
    """The figure of merit's measure at every pixel (extraction's disc of a quarter diameter)."""
    from samcryo_core.particles.extraction import centre_probability

    return centre_probability(prob.astype(np.float32), 0.25 * diameter_norm)


def log_evidence(image: np.ndarray, diameter_norm: float) -> np.ndarray:
    """The LoG picker's z (its default scales, 0.8-1.2 x the diameter), max within a quarter
    diameter; 0 everywhere on a flat image."""
    from samcryo_core.pickers.log_picker import log_z

    standardized = log_z(image, np.linspace(0.8, 1.2, 5) * diameter_norm)
    if standardized is None:
        return np.zeros(image.shape, np.float32)
    return ndimage.maximum_filter(standardized[0], size=max(1, int(round(0.5 * diameter_norm))) | 1)


def at(arr: np.ndarray, x_norm: np.ndarray, y_norm: np.ndarray) -> np.ndarray:
    """Values of ``arr`` at normalized-frame points (nearest pixel, clipped to the array)."""
    r = np.clip(np.round(np.asarray(y_norm)).astype(int), 0, arr.shape[0] - 1)
    c = np.clip(np.round(np.asarray(x_norm)).astype(int), 0, arr.shape[1] - 1)
    return arr[r, c]


def matched(picks_xy: np.ndarray, truth_xy: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (picks matched, truth matched) of samcryo's one-to-one matching."""
    from samcryo_core.evaluation.matching import match_picks

    res = match_picks(picks_xy, truth_xy, radius)
    mp, mt = np.zeros(len(picks_xy), bool), np.zeros(len(truth_xy), bool)
    for i, j, _ in res.pairs:
        mp[i], mt[j] = True, True
    return mp, mt


def near(a_xy: np.ndarray, b_xy: np.ndarray, radius: float) -> np.ndarray:
    """For each point of ``a``: is a point of ``b`` within ``radius``?"""
    if not len(a_xy) or not len(b_xy):
        return np.zeros(len(a_xy), bool)
    return cKDTree(b_xy).query(a_xy)[0] <= radius


def audit_micrograph(image: np.ndarray, prob: np.ndarray, mapping, head: pd.DataFrame, log: pd.DataFrame,
                     truth_xy: np.ndarray, diameter_px: float, rng: np.random.Generator,
                     n_background: int = 40) -> dict:
    """Evidence per category and the misses of one micrograph (module docstring).

    ``head`` and ``log``: picks tables (original frame ``x, y``, normalized ``x_norm, y_norm``)
    at their thresholds; ``truth_xy``: labels in the original frame; ``diameter_px``: original.
    """
    radius = 0.5 * diameter_px
    d_norm = diameter_px / mapping.mean_scale
    z = log_evidence(image, d_norm)
    p_disc = fom_measure(prob, d_norm)
    hp, lp = head[["x", "y"]].to_numpy(), log[["x", "y"]].to_numpy()
    mh, th = matched(hp, truth_xy, radius)
    _, tl = matched(lp, truth_xy, radius)
    shared = near(hp, lp, radius)
    zh = at(z, head["x_norm"].to_numpy(), head["y_norm"].to_numpy())
    out = {"tp": zh[mh].tolist(), "fp_shared": zh[~mh & shared].tolist(),
           "fp_head_only": zh[~mh & ~shared].tolist()}
    everything = np.concatenate([hp, lp, truth_xy]) if len(hp) + len(lp) + len(truth_xy) else np.zeros((0, 2))
    H, W = mapping.original_shape
    cand = rng.uniform([0, 0], [W - 1, H - 1], size=(20 * n_background, 2))
    if len(everything):
        cand = cand[cKDTree(everything).query(cand)[0] > diameter_px]
    cand = cand[:n_background]
    xn, yn = mapping.to_normalized(cand[:, 0], cand[:, 1])
    out["background"] = at(z, xn, yn).tolist()
    miss = truth_xy[~th]
    mxn, myn = mapping.to_normalized(miss[:, 0], miss[:, 1]) if len(miss) else (np.zeros(0), np.zeros(0))
    out["fn"] = [{"x": round(float(x), 1), "y": round(float(y), 1), "probability": round(float(p), 3),
                  "log_finds": bool(f), "evidence_z": round(float(e), 2)}
                 for x, y, p, f, e in zip(miss[:, 0], miss[:, 1], at(p_disc, mxn, myn), tl[~th],
                                          at(z, mxn, myn), strict=True)]
    out["log_fn"] = int((~tl).sum())
    return out


def passing(item: dict) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """An item's head picks and LoG picks at their export thresholds (LoG None if not run)."""
    head = item["head"][item["head"]["fom"] >= HEAD_THRESHOLD]
    log = None if item["log"] is None else item["log"][item["log"]["fom"] >= LOG_THRESHOLD]
    return head, log


def head_pairs(items: list[dict]) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(head picks xy at the threshold, labels xy)`` per micrograph, for :func:`pooled_f1`."""
    return [(passing(it)[0][["x", "y"]].to_numpy(), it["truth"]) for it in items]


def summarize(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    if not v.size:
        return {"n": 0}
    return {"n": int(v.size), "z_quartiles": [round(float(q), 2) for q in np.percentile(v, [25, 50, 75])],
            "fraction_z_ge_2": round(float((v >= 2.0).mean()), 3)}


def load_run(run: Path, truth_dir: Path) -> list[dict]:
    """Per test micrograph of a ``bench_scale.py`` run: mapping, normalized image, head map and
    picks, LoG picks (None where the run has none), labels."""
    from samcryo_core.frame import FrameMapping
    from samcryo_core.io.coordinates import read_coordinates
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.particles.picks_io import read_picks

    items = []
    log_dir = run / "results" / "classical" / "log" / "picks"  # absent in runs of the head alone
    for prob_path in sorted(run.glob("results/*/head/probability/*.mrc")):
        name = prob_path.stem
        sidecar = next(run.glob(f"results/normalized/*/{name}.json"))
        items.append({
            "name": name, "mapping": FrameMapping.read(sidecar),
            "image": read_micrograph(sidecar.with_suffix(".mrc")).data.astype(np.float32),
            "prob": read_micrograph(prob_path).data.astype(np.float32),
            "head": read_picks(prob_path.parents[1] / "picks" / f"{name}.csv"),
            "log": read_picks(log_dir / f"{name}.csv") if (log_dir / f"{name}.csv").is_file() else None,
            "truth": read_coordinates(truth_dir / f"{name}.star")[["x", "y"]].to_numpy(),
        })
    if not items:
        raise SystemExit(f"bench_pick_audit: no head probability maps under {run}/results/*/head/probability")
    return items


def pooled_f1(picks_and_truth: list[tuple[np.ndarray, np.ndarray]], radius: float) -> dict:
    tp = n_p = n_t = 0
    for p, t in picks_and_truth:
        tp += int(matched(p, t, radius)[0].sum())
        n_p, n_t = n_p + len(p), n_t + len(t)
    prec, rec = tp / max(n_p, 1), tp / max(n_t, 1)
    return {"tp": tp, "picks": n_p, "truth": n_t, "precision": round(prec, 4), "recall": round(rec, 4),
            "f1": round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0}


def ensemble_f1(runs: list[list[dict]], diameter_px: float) -> dict:
    """F1 of the mean probability map of several runs (the same micrographs), extracted as shipped."""
    from samcryo_core.particles.extraction import extract_particles

    pairs = []
    for per_mic in zip(*runs, strict=True):
        prob = np.mean([it["prob"] for it in per_mic], axis=0)
        picks = extract_particles(prob, per_mic[0]["mapping"], diameter_px=diameter_px)
        pairs.append((picks.loc[picks["fom"] >= HEAD_THRESHOLD, ["x", "y"]].to_numpy(), per_mic[0]["truth"]))
    return pooled_f1(pairs, 0.5 * diameter_px)


def fusion_f1(items: list[dict], diameter_px: float, min_probability: float) -> dict:
    """F1 of head picks plus the LoG picks with model probability >= ``min_probability`` that have
    no head pick within half a diameter."""
    pairs = []
    for it in items:
        head, log = passing(it)
        p = at(fom_measure(it["prob"], diameter_px / it["mapping"].mean_scale),
               log["x_norm"].to_numpy(), log["y_norm"].to_numpy())
        hp, lp = head[["x", "y"]].to_numpy(), log[["x", "y"]].to_numpy()
        add = lp[(p >= min_probability) & ~near(lp, hp, 0.5 * diameter_px)]
        pairs.append((np.concatenate([hp, add]), it["truth"]))
    return pooled_f1(pairs, 0.5 * diameter_px)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True, help="a bench_scale.py run folder of one data set")
    ap.add_argument("--truth", type=Path, required=True, help="the labels of its test micrographs (STAR)")
    ap.add_argument("--diameter-px", type=float, required=True, help="particle diameter, original pixels")
    ap.add_argument("--ensemble", type=Path, nargs="*", default=[],
                    help="other runs of the same set (other training seeds): score their mean map")
    ap.add_argument("--fusion", action="store_true", help="score head + LoG picks where the model agrees")
    ap.add_argument("--label", default="shipped", help="key of this audit in the results file")
    ap.add_argument("--out", type=Path, default=common.REPO / "benchmarks" / "results" / "pick_audit.json")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    items = load_run(args.run, args.truth)
    per_mic = {}
    pooled = {k: [] for k in CATEGORIES}
    fn = []
    for it in items:
        if it["log"] is None:
            raise SystemExit(f"bench_pick_audit: {args.run} has no LoG picks "
                             "(run bench_scale.py with --prompts head log)")
        head, log = passing(it)
        res = audit_micrograph(it["image"], it["prob"], it["mapping"], head, log, it["truth"],
                               args.diameter_px, rng)
        for k in CATEGORIES:
            pooled[k] += res[k]
        fn += [dict(m, micrograph=it["name"]) for m in res["fn"]]
        per_mic[it["name"]] = {"tp": len(res["tp"]), "fp_shared": len(res["fp_shared"]),
                               "fp_head_only": len(res["fp_head_only"]), "fn": len(res["fn"]),
                               "log_fn": res["log_fn"]}
    result = {
        "run": str(args.run), "diameter_px": args.diameter_px,
        "evidence": {k: summarize(v) for k, v in pooled.items()},
        "head_misses": {"n": len(fn), "found_by_log": sum(m["log_finds"] for m in fn),
                        "probability_median": round(float(np.median([m["probability"] for m in fn])), 3)
                        if fn else None, "list": fn},
        "log_misses": sum(v["log_fn"] for v in per_mic.values()),
        "per_micrograph": per_mic,
        "head": pooled_f1(head_pairs(items), 0.5 * args.diameter_px),
    }
    if args.ensemble:
        runs = [items] + [load_run(r, args.truth) for r in args.ensemble]
        result["seeds_alone"] = [pooled_f1(head_pairs(r), 0.5 * args.diameter_px) for r in runs]
        result["ensemble_mean_map"] = ensemble_f1(runs, args.diameter_px)
    if args.fusion:
        result["fusion"] = {str(p): fusion_f1(items, args.diameter_px, p) for p in (0.1, 0.2, 0.3)}
    allres = json.loads(args.out.read_text()) if args.out.is_file() else {}
    allres[args.label] = result
    allres.setdefault("machine", {})[args.label] = common.machine_info()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(allres, indent=2) + "\n")
    brief = {k: v for k, v in result.items() if k != "per_micrograph"}
    brief["head_misses"] = {k: v for k, v in result["head_misses"].items() if k != "list"}
    print(json.dumps(brief, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
