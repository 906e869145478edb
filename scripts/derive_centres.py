#!/usr/bin/env python
"""Derive particle centres from CryoPPP circle masks (train/valid splits only) and measure how
accurate they are.

The CryoPPP dev sets (``/work/shared/data/cryoppp-dev``, see its README) ship 10059 and 10947
with 256 x 256 masks only, and 10028 with 1024 x 1024 masks. Pre-training on them needs particle
centres; :func:`samcryo_core.pretraining.centres.centres_from_mask` finds the circles a mask is
made of. This script writes, for every train and valid micrograph (the test split is never read),

    <out>/<set>/<split>/<micrograph>.star   rlnMicrographName, rlnCoordinateX, rlnCoordinateY
                                            (1024 px PNG frame, x = column, y = row from the top,
                                            0-based), samcryoDiameterPx
    <out>/manifest.csv                      one row per micrograph: count, radius, fit
    <out>/ACCURACY.md, accuracy.json        the accuracy checks below

Accuracy, three ways:

1. 10028, where 1024 px masks exist: centres from its 1024 px masks are the reference (checked
   against the README's own 10028 coordinates); the same masks area-averaged to 256 px (what
   CryoPPP ships for the others) and to 160 px (circles of about 4.4 px, the size of 10059's at
   256 px) are derived again and matched to the reference.
2. Synthetic masks with each set's measured radius and foreground fraction: random overlapping
   circles drawn at 1024 px and area-averaged to the mask size, where the truth is exact.
3. Self-consistency on every derived mask: circles redrawn at the derived centres cover the
   mask (explained) without spilling outside it (spill).

Matching is samcryo's one-to-one matching (``evaluation.matching.match_picks``) within a quarter
of the particle diameter.

    python scripts/derive_centres.py                      # all three sets, writes the files
    python scripts/derive_centres.py --sets 10059 --out /tmp/c
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEFAULT_ROOT = Path("/work/shared/data/cryoppp-dev")
DEFAULT_OUT = REPO / "benchmarks" / "data" / "cryoppp_centres"
SPLITS = ("train", "valid")  # never "test"
MATCH_FRACTION = 0.25  # match radius, fraction of the diameter
SYNTHETIC_MASKS = 5


def read_grey(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.float32)


def area_downsample(mask: np.ndarray, size: int) -> np.ndarray:
    """Area-average a mask to ``size`` x ``size`` (grey edges, as CryoPPP's small masks)."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(mask, np.float32))[None, None]
    return F.interpolate(t, size=(size, size), mode="area")[0, 0].numpy()


def match(pred: np.ndarray, truth: np.ndarray, diameter: float) -> dict:
    """Recall, precision and centre errors (px and diameters) of ``pred`` against ``truth``."""
    from samcryo_core.evaluation.matching import match_picks

    m = match_picks(pred, truth, MATCH_FRACTION * diameter)
    err = np.array([p[2] for p in m.pairs]) if m.pairs else np.array([np.nan])
    return {"n_truth": int(len(truth)), "n_derived": int(len(pred)), "recall": round(m.recall, 4),
            "precision": round(m.precision, 4), "error_median_px": round(float(np.nanmedian(err)), 2),
            "error_p95_px": round(float(np.nanpercentile(err, 95)), 2),
            "error_median_D": round(float(np.nanmedian(err)) / diameter, 4),
            "error_p95_D": round(float(np.nanpercentile(err, 95)) / diameter, 4)}


def pooled(rows: list[dict]) -> dict:
    """Pool per-micrograph match rows (counts summed, errors as count-weighted medians)."""
    n_t = sum(r["n_truth"] for r in rows)
    n_d = sum(r["n_derived"] for r in rows)
    tp_r = sum(r["recall"] * r["n_truth"] for r in rows)
    w = np.array([r["n_truth"] for r in rows], np.float64)

    def wmean(key: str) -> float:
        return round(float(np.average([r[key] for r in rows], weights=w)), 4)

    return {"micrographs": len(rows), "n_truth": n_t, "n_derived": n_d, "recall": round(tp_r / n_t, 4),
            "precision": round(tp_r / n_d, 4) if n_d else 0.0, "error_median_px": wmean("error_median_px"),
            "error_p95_px": wmean("error_p95_px"), "error_median_D": wmean("error_median_D"),
            "error_p95_D": wmean("error_p95_D")}


def derive(mask: np.ndarray, image_shape: tuple[int, int], radius: float | None = None):
    from samcryo_core.pretraining.centres import centres_from_mask, to_image_frame

    c = centres_from_mask(mask, radius)
    x, y = to_image_frame(c.x, c.y, mask.shape, image_shape)
    return np.stack([x, y], axis=1), c


def labelled(root: Path, dataset: str, split: str) -> list[tuple[Path, Path]]:
    if split not in SPLITS:
        raise SystemExit(f"split {split!r} refused: only {SPLITS} may be read (the test split stays unseen)")
    labels = sorted((root / dataset / split / "labels").glob("*.png"))
    return [(root / dataset / split / "images" / p.name, p) for p in labels]


def set_radius(masks: list[np.ndarray]) -> float:
    """One circle radius (mask pixels) for all masks of a set, as CryoPPP draws one per set."""
    from samcryo_core.pretraining.centres import binarize, estimate_radius

    return estimate_radius([binarize(m) for m in masks])


def write_centres(root: Path, out: Path, sets: list[str]) -> pd.DataFrame:
    import starfile

    from samcryo_core.io.atomic import atomic_path

    rows = []
    for dataset in sets:
        items = [pair for split in SPLITS for pair in labelled(root, dataset, split)]
        masks = [read_grey(label_path) for _, label_path in items]
        radius = set_radius(masks)
        for (image_path, label_path), mask in zip(items, masks, strict=True):
            split = label_path.parent.parent.name
            image_shape = read_grey(image_path).shape
            xy, c = derive(mask, image_shape, radius)
            scale = image_shape[1] / mask.shape[1]
            diameter = 2.0 * c.radius * scale
            table = pd.DataFrame({
                "rlnMicrographName": image_path.name,
                "rlnCoordinateX": np.round(xy[:, 0], 2),
                "rlnCoordinateY": np.round(xy[:, 1], 2),
                "samcryoDiameterPx": round(diameter, 2),
            })
            path = out / dataset / split / f"{image_path.stem}.star"
            with atomic_path(path) as tmp:
                starfile.write(table, tmp)
            rows.append({"set": dataset, "split": split, "micrograph": image_path.name,
                         "star": str(path.relative_to(out)), "n_particles": len(table),
                         "mask_size": mask.shape[0], "radius_mask_px": round(c.radius, 3),
                         "diameter_image_px": round(diameter, 2), "explained": round(c.explained, 4),
                         "spill": round(c.spill, 4), "foreground": round(float((mask > 127).mean()), 4)})
            print(f"{dataset}/{split}/{image_path.name}: {len(table)} centres, diameter {diameter:.1f} px, "
                  f"explained {c.explained:.3f}, spill {c.spill:.3f}", file=sys.stderr)
    manifest = pd.DataFrame(rows)
    with atomic_path(out / "manifest.csv") as tmp:
        manifest.to_csv(tmp, index=False)
    return manifest


def check_10028(root: Path) -> dict:
    """Check 1: 10028's 1024 px masks -> reference; 256 and 160 px versions against it."""
    import starfile

    result: dict = {"reference_vs_readme": [], "mask256": [], "mask160": []}
    items = [(image_path, read_grey(label_path)) for split in SPLITS
             for image_path, label_path in labelled(root, "10028", split)]
    radius = set_radius([full for _, full in items])
    D = 2.0 * radius
    small = {size: [area_downsample((full > 127).astype(np.float32), size) * 255.0 for _, full in items]
             for size in (256, 160)}
    small_radius = {size: set_radius(masks) for size, masks in small.items()}
    for k, (image_path, full) in enumerate(items):
        ref, _ = derive(full, full.shape, radius)
        readme = starfile.read(root / "10028" / "coordinates" / f"{image_path.stem}.star")
        theirs = readme[["rlnCoordinateX", "rlnCoordinateY"]].to_numpy(np.float64)
        result["reference_vs_readme"].append(match(ref, theirs, D))
        for size in (256, 160):
            xy, _ = derive(small[size][k], full.shape, small_radius[size])
            result[f"mask{size}"].append(match(xy, ref, D))
    out = {k: pooled(v) for k, v in result.items()}
    out["diameter_1024"] = round(D, 2)
    out["diameter_from_256"] = round(2 * small_radius[256] * 1024 / 256, 2)
    out["diameter_from_160"] = round(2 * small_radius[160] * 1024 / 160, 2)
    return out


def synthetic_mask(rng: np.random.Generator, size: int, radius_full: float, foreground: float,
                   mask_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Random circles (centres >= 0.5 diameter apart) covering ``foreground`` of a 1024 px image,
    area-averaged to ``mask_size``; returns (grey mask, true centres in the 1024 frame)."""
    from samcryo_core.pretraining.centres import disc_union

    xs: list[float] = []
    ys: list[float] = []
    canvas = np.zeros((size, size), bool)
    tries = 0
    while canvas.mean() < foreground and tries < 20000:
        tries += 1
        x, y = rng.uniform(radius_full, size - radius_full, 2)
        if xs and np.min(np.hypot(np.array(xs) - x, np.array(ys) - y)) < radius_full:
            continue
        xs.append(float(x))
        ys.append(float(y))
        canvas |= disc_union(canvas.shape, np.array([x]), np.array([y]), radius_full)
    grey = area_downsample(canvas.astype(np.float32), mask_size) * 255.0
    return grey, np.stack([xs, ys], axis=1)


def check_synthetic(manifest: pd.DataFrame, seed: int = 0) -> dict:
    """Check 2: synthetic masks with each set's radius and foreground fraction."""
    out = {}
    for dataset, rows in manifest.groupby("set"):
        rng = np.random.default_rng([seed, int(dataset)])
        mask_size = int(rows["mask_size"].iloc[0])
        D = float(rows["diameter_image_px"].median())
        fg = float(rows["foreground"].median())
        masks = [synthetic_mask(rng, 1024, D / 2.0, fg, mask_size) for _ in range(SYNTHETIC_MASKS)]
        radius = set_radius([grey for grey, _ in masks])  # estimated as for the real set
        res = [match(derive(grey, (1024, 1024), radius)[0], truth, D) for grey, truth in masks]
        out[dataset] = {"mask_size": mask_size, "diameter_image_px": round(D, 2), "foreground": fg,
                        "radius_error": round(radius * 1024 / mask_size * 2 / D - 1, 4), **pooled(res)}
    return out


def report(out: Path, manifest: pd.DataFrame, checks: dict) -> None:
    from samcryo_core.io.atomic import atomic_write_text

    atomic_write_text(out / "accuracy.json", json.dumps(checks, indent=2) + "\n")
    lines = ["# Accuracy of the derived CryoPPP centres", "",
             "Written by `scripts/derive_centres.py` (centres from circle masks by disc cover, "
             "`samcryo_core.pretraining.centres`). Train and valid splits only; the test split is never "
             f"read. Matching: one-to-one within {MATCH_FRACTION:g} x the particle diameter D; errors in "
             "pixels of the 1024 px PNGs and in D.", "",
             "## Per set (self-consistency: circles redrawn at the centres vs the mask)", "",
             "| set | micrographs | centres | diameter (1024 px) | mask px | foreground | explained "
             "| spill |",
             "|---|---|---|---|---|---|---|---|"]
    for dataset, rows in manifest.groupby("set"):
        lines.append(f"| {dataset} | {len(rows)} | {int(rows['n_particles'].sum())} | "
                     f"{rows['diameter_image_px'].median():.1f} | {int(rows['mask_size'].iloc[0])} | "
                     f"{rows['foreground'].mean():.2f} | {rows['explained'].mean():.3f} | "
                     f"{rows['spill'].mean():.3f} |")

    def row(name: str, r: dict) -> str:
        return (f"| {name} | {r['n_truth']} | {r['n_derived']} | {r['recall']:.3f} | {r['precision']:.3f} | "
                f"{r['error_median_px']:.2f} ({r['error_median_D']:.3f} D) | "
                f"{r['error_p95_px']:.2f} ({r['error_p95_D']:.3f} D) |")

    head = ["| check | reference | derived | recall | precision | median error | 95th pct error |",
            "|---|---|---|---|---|---|---|"]
    lines += ["", "## Against known centres", ""] + head
    if "10028" in checks:
        c = checks["10028"]
        lines += [row("10028: 1024 px masks vs the README's 10028 coordinates", c["reference_vs_readme"]),
                  row("10028: masks area-averaged to 256 px vs 1024 px reference", c["mask256"]),
                  row("10028: masks area-averaged to 160 px vs 1024 px reference", c["mask160"])]
    for dataset, r in checks.get("synthetic", {}).items():
        name = (f"synthetic like {dataset} ({SYNTHETIC_MASKS} masks, D {r['diameter_image_px']:.0f} px, "
                f"{r['mask_size']} px masks, foreground {r['foreground']:.2f}, radius estimate "
                f"{100 * r['radius_error']:+.1f} %)")
        lines.append(row(name, r))
    atomic_write_text(out / "ACCURACY.md", "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="the cryoppp-dev folder")
    p.add_argument("--sets", nargs="+", default=["10028", "10059", "10947"], help="data sets")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = p.parse_args(argv)
    manifest = write_centres(args.root, args.out, args.sets)
    checks: dict = {"synthetic": check_synthetic(manifest)}
    if "10028" in args.sets:
        checks["10028"] = check_10028(args.root)
    report(args.out, manifest, checks)
    print((args.out / "ACCURACY.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
