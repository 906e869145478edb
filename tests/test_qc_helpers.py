"""Synthetic inputs for the QC/report tests: normalized MRCs, sidecars, picks, manifests.

Built the way the real stages lay them out (docs/architecture.md), small enough to be fast:
a 300 x 400 original micrograph binned by 3.125 into a 96 x 128 normalized frame, dark Gaussian
"particles" at known places, and picks CSVs that point at them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samcryo_core.frame import FrameMapping
from samcryo_core.io.mrc_write import write_mrc
from samcryo_core.manifest import write_manifest

ORIGINAL_SHAPE = (300, 400)  # H, W
BINNED_SHAPE = (96, 128)
DIAMETER_PX = 40.0  # original pixels -> 12.8 normalized pixels


@dataclass
class SyntheticRun:
    root: Path
    picks_manifests: list[Path]
    normalized_manifests: list[Path]
    rejections: Path
    overall_json: Path
    per_mic_csv: Path
    compare_json: Path
    picks: dict[str, list[tuple[float, float, float]]] = field(default_factory=dict)  # x_n, y_n, fom
    rejected: dict[str, str] = field(default_factory=dict)
    overall: dict = field(default_factory=dict)
    mappings: dict[str, FrameMapping] = field(default_factory=dict)
    truth_dir: Path | None = None


def _image(rng: np.random.Generator, centres: list[tuple[float, float]]) -> np.ndarray:
    img = rng.normal(0.0, 0.3, size=BINNED_SHAPE).astype(np.float32)
    yy, xx = np.mgrid[0 : BINNED_SHAPE[0], 0 : BINNED_SHAPE[1]]
    for x, y in centres:
        img -= 1.5 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 3.0**2)).astype(np.float32)
    return img


def make_run(root: Path, n_ok: int = 4, n_picks: tuple[int, ...] = (3, 0, 5, 2)) -> SyntheticRun:
    """Write a two-chunk synthetic run under ``root`` and return what was written."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    norm_dir = root / "normalized"
    picks_dir = root / "picks"
    truth_dir = root / "truth"
    for d in (norm_dir / "chunks", picks_dir / "chunks", root / "ingest", root / "evaluation", truth_dir):
        d.mkdir(parents=True, exist_ok=True)
    run = SyntheticRun(root=root, picks_manifests=[], normalized_manifests=[],
                       rejections=root / "ingest" / "rejected.tsv",
                       overall_json=root / "evaluation" / "overall.json",
                       per_mic_csv=root / "evaluation" / "per_micrograph.csv",
                       compare_json=root / "other_overall.json", truth_dir=truth_dir)
    run.rejected = {"mic_bad_header": "not an MRC file (no valid 1024-byte MRC header with the 'MAP ' id)",
                    "mic_truncated": "truncated MRC file: header promises 1000 bytes, file holds 10"}
    names = [f"mic_{i:02d}" for i in range(n_ok)]
    norm_rows: list[list[dict]] = [[], []]
    pick_rows: list[list[dict]] = [[], []]
    for i, name in enumerate(names):
        chunk = i % 2
        k = n_picks[i % len(n_picks)]
        centres = [(20.0 + 25.0 * j, 20.0 + 14.0 * (j % 3)) for j in range(k)]
        foms = [round(0.35 + 0.6 * j / max(k - 1, 1), 3) for j in range(k)]
        mapping = FrameMapping(micrograph=name, source=f"raw/{name}.mrc", original_shape=ORIGINAL_SHAPE,
                               binned_shape=BINNED_SHAPE, pixel_size_A=1.0)
        run.mappings[name] = mapping
        mrc = norm_dir / f"{name}.mrc"
        side = norm_dir / f"{name}.json"
        write_mrc(mrc, _image(rng, centres), pixel_size_A=mapping.scale_x)
        mapping.write(side)
        xo, yo = mapping.to_original(np.array([c[0] for c in centres]), np.array([c[1] for c in centres]))
        lines = ["x,y,fom,diameter_px,x_norm,y_norm,area_px"]
        for j, (xn, yn) in enumerate(centres):
            lines.append(f"{xo[j]:.2f},{yo[j]:.2f},{foms[j]},{DIAMETER_PX},{xn},{yn},128")
        csv = picks_dir / f"{name}.csv"
        csv.write_text("\n".join(lines) + "\n")
        run.picks[name] = [(c[0], c[1], f) for c, f in zip(centres, foms, strict=True)]
        # Truth: the picks plus one missed particle, written as a RELION-style STAR (original frame).
        tx = list(xo) + [300.0]
        ty = list(yo) + [150.0]
        star = ["", "data_", "", "loop_", "_rlnCoordinateX #1", "_rlnCoordinateY #2"]
        star += [f"{a:.2f} {b:.2f}" for a, b in zip(tx, ty, strict=True)]
        (truth_dir / f"{name}.star").write_text("\n".join(star) + "\n")
        norm_rows[chunk].append({"micrograph": name, "status": "ok", "reason": "", "source": mapping.source,
                                 "normalized": str(mrc), "sidecar": str(side)})
        pick_rows[chunk].append({"micrograph": name, "status": "ok", "reason": "", "source": mapping.source,
                                 "sidecar": str(side), "picks": str(csv), "n_picks": k})
    rej_rows = []
    for j, (name, reason) in enumerate(run.rejected.items()):
        row = {"micrograph": name, "status": "rejected", "reason": reason, "source": f"raw/{name}.mrc"}
        rej_rows.append(row)
        norm_rows[j % 2].append({**row, "normalized": "", "sidecar": ""})
        pick_rows[j % 2].append({**row, "sidecar": "", "picks": "", "n_picks": ""})
    write_manifest(run.rejections, rej_rows,
                   ["source", "pixel_size_A", "pixel_size_source", "height", "width"])
    for c in range(2):
        n = norm_dir / "chunks" / f"c{c:03d}.tsv"
        p = picks_dir / "chunks" / f"c{c:03d}.tsv"
        write_manifest(n, norm_rows[c], ["source", "normalized", "sidecar"])
        write_manifest(p, pick_rows[c], ["source", "sidecar", "picks", "n_picks"])
        run.normalized_manifests.append(n)
        run.picks_manifests.append(p)
    # The shape `samcryo evaluate` writes: micro-averaged counts/scores + per-micrograph means.
    run.overall = {"n_micrographs": n_ok, "n_skipped": 0, "distance_fraction": 0.5,
                   "micro": {"tp": 10, "fp": 0, "fn": 4, "precision": 0.8125, "recall": 0.6667,
                             "f1": 0.7324, "ap": 0.7012},
                   "mean_per_micrograph": {"precision": 0.75, "recall": 0.55, "f1": 0.6, "mean_error_px": 0.4,
                                           "ap": 0.7, "dice": 0.5531},
                   "notes": {"matching": "one-to-one"}, "skipped": []}
    run.overall_json.write_text(json.dumps(run.overall))
    lines = ["micrograph,n_truth,n_pred,tp,precision,recall,f1"]
    for name in names:
        k = len(run.picks[name])
        prec = 1.0 if k else 0.0
        lines.append(f"{name},{k + 1},{k},{k},{prec},{k / (k + 1):.4f},{2 * k / (2 * k + 1):.4f}")
    run.per_mic_csv.write_text("\n".join(lines) + "\n")
    run.compare_json.write_text(json.dumps({"precision": 0.55, "recall": 0.71, "f1": 0.62}))
    return run


def test_make_run_writes_consistent_inputs(tmp_path: Path) -> None:
    """The helper itself: sidecars round-trip and picks map back onto the drawn particles."""
    run = make_run(tmp_path)
    assert len(run.picks_manifests) == 2
    m = FrameMapping.read(tmp_path / "normalized" / "mic_00.json")
    assert m.scale_x == 400 / 128 and m.binned_shape == BINNED_SHAPE
    x, y, _ = run.picks["mic_00"][0]
    import mrcfile

    with mrcfile.open(tmp_path / "normalized" / "mic_00.mrc") as mrc:
        img = mrc.data
    assert img[int(y), int(x)] < img.mean() - 0.5
