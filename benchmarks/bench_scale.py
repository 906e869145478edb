"""Scale, crowding and real-data benchmark of the whole workflow, run as a new user would.

Why this benchmark: the SAM picker lost to a classical LoG picker on real micrographs the team had
not seen, because every micrograph was squeezed into the model input whatever its pixel size, and
touching particles merged. Each number here comes from the real workflow (``snakemake`` with the
repository's default config and only the data keys changed), so it measures what a user gets:

* ``scale``: one simulated sample (three proteins of 130, 160 and 190 A, the same 3-D shapes,
  the same SNR per physical area, about 10 % of the area covered) rendered at 0.8, 1.1, 1.77 and
  4 A/px on frames of 5760 x 4092, 4096 x 4096, 4096 x 4096 and 1024 x 1024 px; 4 labelled
  micrographs each (3 train + 1 validation), test micrographs adding up to a similar physical
  area. Goal: F1 at every scale within 0.03 of the best scale.
* ``crowding``: the same proteins at 10 %, 25 % and 40 % area coverage with touching particles
  (2048 x 2048 px at 1.5 A/px). Goal: F1 at 40 % within 0.05 of 10 %.
* ``real10028``: EMPIAR-10028 (CryoPPP PNGs, ``/work/shared/data/cryoppp-dev``) native 1024 px
  and upsampled 2x and 4x (as a user with an unbinned export has them); trained on 3 (+1
  validation) labelled micrographs, scored on the 5 test micrographs. Goal: F1 within 0.02 across
  the three and above LoG on each.

Per data set the default prompt (``head``), zero-shot SAM (``none``) and the built-in LoG are run.
Scoring is samcryo's own evaluation (:mod:`samcryo_core.evaluation.score`, one scorer for every
code version): one-to-one matching within half the true diameter, P/R/F1 at the export threshold,
AP over every candidate, and the best F1 of any threshold. Segment seconds per micrograph come from
the segment logs (median over micrographs of a frame size).

``--repo`` runs another checkout's code (the "before" row: ``git worktree add ../before <commit>``),
with that checkout's own demo config (``config/demo.yaml``; ``config.yaml`` in older checkouts) as
the base config.

    python benchmarks/bench_scale.py --sets scale crowding real10028 --label after
    python benchmarks/bench_scale.py --repo ../before --label before
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

REPO = common.REPO
WORK = REPO / "benchmarks" / "results" / "tmp" / "scale"
DIAMETERS_A = (130.0, 160.0, 190.0)
DIAMETER_RANGE_A = [min(DIAMETERS_A), max(DIAMETERS_A)]  # particle.diameter_A of the config
#: SNR per 4 A pixel (per-pixel SNR scales with the pixel area: same SNR per physical area).
SNR_4A = 0.15
#: (name, pixel size A, (H, W), test micrographs): about 150 million square Angstrom scored each.
SCALES = (("px0.8_5760x4092", 0.8, (4092, 5760), 10), ("px1.1_4096", 1.1, (4096, 4096), 7),
          ("px1.77_4096", 1.77, (4096, 4096), 3), ("px4.0_1024", 4.0, (1024, 1024), 9))
COVERAGES = (0.10, 0.25, 0.40)
CRYOPPP = Path("/work/shared/data/cryoppp-dev/10028")
CRYOPPP_PX = 5.36
CRYOPPP_DIAMETER_A = 300.0  # 56 px at 5.36 A/px (CryoPPP: 224 px at the 4x finer pixel)
PROMPTS = ("head", "none", "log")


# ------------------------------------------------------------------------------------------ data

def _n_for_coverage(coverage: float, shape: tuple[int, int], px: float) -> int:
    mean_disc_A2 = float(np.mean([math.pi * (d / 2) ** 2 for d in DIAMETERS_A]))
    return max(1, int(round(coverage * shape[0] * shape[1] * px * px / mean_disc_A2)))


def _simulate(out: Path, n: int, seed: int, shape, px: float, coverage: float, touching: float) -> None:
    from samcryo_core.simulate import SimulationParams, simulate_dataset

    if (out / "truth" / "summary.csv").is_file() and len(pd.read_csv(out / "truth" / "summary.csv")) == n:
        return
    params = SimulationParams(
        shape=tuple(shape), pixel_size_A=px, diameters_A=DIAMETERS_A, type_seed=0,
        n_particles=_n_for_coverage(coverage, shape, px), snr=SNR_4A * (px / 4.0) ** 2,
        touching_fraction=touching, detector_cutoff=None, noise_low_freq_rise=0.0, junk=True,
    )
    simulate_dataset(out, n, params, seed=seed, prefix=out.parent.name.replace(".", "p") + "_" + out.name)


def prepare_scale(root: Path) -> list[dict]:
    sets = []
    for name, px, shape, n_test in SCALES:
        d = root / name
        _simulate(d / "train", 4, 101, shape, px, 0.10, 0.1)
        _simulate(d / "test", n_test, 202, shape, px, 0.10, 0.1)
        sets.append({"name": f"scale/{name}", "dir": d, "pixel_size_A": px, "diameter_A": DIAMETER_RANGE_A,
                     "ext": "mrc", "png_pixel_size": None})
    return sets


def prepare_crowding(root: Path) -> list[dict]:
    sets = []
    for cov in COVERAGES:
        d = root / f"coverage{int(cov * 100)}"
        _simulate(d / "train", 4, 303, (2048, 2048), 1.5, cov, 0.5)
        _simulate(d / "test", 4, 404, (2048, 2048), 1.5, cov, 0.5)
        sets.append({"name": f"crowding/coverage{int(cov * 100)}", "dir": d, "pixel_size_A": 1.5,
                     "diameter_A": DIAMETER_RANGE_A, "ext": "mrc", "png_pixel_size": None})
    return sets


def _write_star(path: Path, xy: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["", "data_", "", "loop_", "_rlnCoordinateX #1", "_rlnCoordinateY #2"]
    lines += [f"{x:.2f}\t{y:.2f}" for x, y in xy]
    path.write_text("\n".join(lines) + "\n")


def prepare_real10028(root: Path) -> list[dict]:
    from PIL import Image

    from samcryo_core.io.coordinates import read_coordinates

    if not CRYOPPP.is_dir():
        print(f"bench_scale: {CRYOPPP} not found: real10028 skipped", file=sys.stderr)
        return []
    sets = []
    splits = {"train": sorted((CRYOPPP / "train" / "images").glob("*.png")),
              "test": sorted((CRYOPPP / "test" / "images").glob("*.png"))}
    for k in (1, 2, 4):
        d = root / f"up{k}x"
        for split, images in splits.items():
            for img in images:
                out = d / split / "micrographs" / img.name
                if not out.is_file():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with Image.open(img) as im:
                        im = im.convert("L")
                        (im if k == 1 else im.resize((im.width * k, im.height * k), Image.BICUBIC)).save(out)
                parts = read_coordinates(CRYOPPP / "coordinates" / f"{img.stem}.star")
                xy = np.stack([(parts["x"].to_numpy() + 0.5) * k - 0.5,
                               (parts["y"].to_numpy() + 0.5) * k - 0.5], axis=1)
                _write_star(d / split / "truth" / f"{img.stem}.star", xy)
        sets.append({"name": f"real10028/up{k}x", "dir": d, "pixel_size_A": CRYOPPP_PX / k,
                     "diameter_A": CRYOPPP_DIAMETER_A, "ext": "png", "png_pixel_size": CRYOPPP_PX / k})
    return sets


#: Crowded real sets: (EMPIAR id, nominal A/px of the 1024 px PNG). Only diameter / pixel size
#: matters to samcryo; the diameter is CryoPPP's circle (derived, benchmarks/data/cryoppp_centres).
CROWDED_REAL = (("10059", 4.5), ("10947", 4.5))
CENTRES = Path(__file__).resolve().parent / "data" / "cryoppp_centres"


def prepare_realcrowded(root: Path) -> list[dict]:
    """EMPIAR-10059 and 10947 (CryoPPP): half the area is particle, the fields the issue's unseen
    set resembles. Training labels: the centres derived from the train masks (committed, with
    their measured accuracy); test truth: derived the same way from the test masks, here, into
    the benchmark's scratch folder (never into the repository, never used for training)."""
    from PIL import Image

    from samcryo_core.io.coordinates import read_coordinates
    from samcryo_core.pretraining.centres import centres_from_mask, to_image_frame

    base = CRYOPPP.parent
    manifest = pd.read_csv(CENTRES / "manifest.csv", dtype={"set": str})
    sets = []
    for dataset, px in CROWDED_REAL:
        if not (base / dataset).is_dir():
            print(f"bench_scale: {base / dataset} not found: {dataset} skipped", file=sys.stderr)
            continue
        rows = manifest[manifest["set"] == dataset]
        radius_mask = float(rows["radius_mask_px"].iloc[0])
        diameter_px = float(rows["diameter_image_px"].iloc[0])
        d = root / dataset
        for img in sorted((base / dataset / "train" / "images").glob("*.png")):
            out = d / "train" / "micrographs" / img.name
            if not out.is_file():
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(img, out)
            parts = read_coordinates(CENTRES / dataset / "train" / f"{img.stem}.star")
            _write_star(d / "train" / "truth" / f"{img.stem}.star", parts[["x", "y"]].to_numpy())
        for img in sorted((base / dataset / "test" / "images").glob("*.png")):
            out = d / "test" / "micrographs" / img.name
            truth = d / "test" / "truth" / f"{img.stem}.star"
            if out.is_file() and truth.is_file():
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(img, out)
            with Image.open(base / dataset / "test" / "labels" / img.name) as m:
                mask = np.asarray(m.convert("L"), dtype=np.float32)
            with Image.open(img) as im:
                shape = (im.height, im.width)
            c = centres_from_mask(mask, radius_mask)
            x, y = to_image_frame(c.x, c.y, mask.shape, shape)
            _write_star(truth, np.stack([x, y], axis=1))
        sets.append({"name": f"realcrowded/{dataset}", "dir": d, "pixel_size_A": px,
                     "diameter_A": label_spacing_diameter_A(d / "train" / "truth", px),
                     "score_diameter_A": round(diameter_px * px, 1), "ext": "png", "png_pixel_size": px})
    return sets


def label_spacing_diameter_A(truth_dir: Path, pixel_size_A: float) -> float:
    """The diameter a user sets after ``samcryo train`` refuses CryoPPP's circle: the training
    labels' median nearest-neighbour spacing (:mod:`samcryo_core.training.label_spacing`), in whole
    Angstrom. The circle (1.5-1.6x the particles here) stays the scorer's diameter, as in every
    earlier row."""
    from samcryo_core.training.dataset import match_labels
    from samcryo_core.training.label_spacing import labelled_spacing

    images = sorted(truth_dir.parent.glob("micrographs/*.png"))
    return float(round(labelled_spacing(match_labels(images, labels_dir=truth_dir), pixel_size_A).median_A))


# ------------------------------------------------------------------------------------------ runs

def overlay_config(ds: dict, prompt: str) -> dict:
    """The data keys a user changes (plus the prompt): everything else stays the default."""
    d = Path(ds["dir"]).resolve()
    cfg = {
        "inputs": {"glob": str(d / "test" / "micrographs" / f"*.{ds['ext']}"), "project_dir": str(d),
                   "pixel_size_A": ds["png_pixel_size"]},
        "particle": {"diameter_A": ds["diameter_A"]},
        "prompt": prompt,
        "train": {"micrographs": str(d / "train" / "micrographs" / f"*.{ds['ext']}"),
                  "truth_dir": str(d / "train" / "truth")},
        "evaluate": {"truth_dir": str(d / "test" / "truth")},
        "report": {"sample": 2, "compare_existing": False},
    }
    return cfg


def apply_override(cfg: dict, item: str) -> None:
    """``a.b=value`` (value parsed as YAML) into the nested overlay config."""
    import yaml

    key, _, value = item.partition("=")
    *parents, leaf = key.split(".")
    node = cfg
    for k in parents:
        node = node.setdefault(k, {})
    node[leaf] = yaml.safe_load(value)


def run_workflow(repo: Path, base_config: Path, workdir: Path, cfg: dict, cores: int,
                 rerun_triggers: list[str] | None = None) -> dict:
    import yaml

    workdir.mkdir(parents=True, exist_ok=True)
    overlay = workdir / "overlay.yaml"
    overlay.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo / "samcryo_core" / "src")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("OMP_NUM_THREADS", "1")
    cmd = [str(Path(sys.executable).parent / "snakemake"), "-s", str(repo / "Snakefile"), "-d", str(workdir),
           "--configfile", str(base_config), str(overlay), "--cores", str(cores), "-q"]
    if rerun_triggers:
        cmd += ["--rerun-triggers", *rerun_triggers]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    (workdir / "snakemake.out").write_text(proc.stdout + proc.stderr)
    return {"rc": proc.returncode, "wall_s": round(time.time() - t0, 1)}


def prompt_dir(workdir: Path, prompt: str) -> Path:
    if prompt == "log":
        return workdir / "results" / "classical" / "log"
    found = sorted(workdir.glob(f"results/*/{prompt}"))
    found = [p for p in found if p.parent.name not in ("classical", "normalized", "ingest")]
    if not found:
        raise FileNotFoundError(f"no results for prompt {prompt} in {workdir}")
    return found[0]


def segment_seconds(workdir: Path, prompt: str) -> list[float]:
    """Per-micrograph segment seconds (whole job time / micrographs segmented), one per chunk log."""
    rel = prompt_dir(workdir, prompt).relative_to(workdir / "results")
    out = []
    for log in sorted((workdir / "logs" / rel / "segment").glob("*.log")):
        text = log.read_text(errors="replace")
        m = re.search(r"segment: (\d+) segmented.*?model ([\d.]+)s of ([\d.]+)s", text, re.S)
        if m and int(m.group(1)):
            out.append(float(m.group(3)) / int(m.group(1)))
    return out


def score_run(workdir: Path, ds: dict, prompt: str, *, at_config_diameter: bool = False) -> dict:
    """P/R/F1/AP of a run's picks against the truth, for any code version.

    Reads only what every version writes: the picks manifests, each micrograph's picks CSV (``x``,
    ``y`` original frame, ``fom``) and the ``original_shape`` of its sidecar (older sidecars are
    refused by today's ``FrameMapping``), then scores with samcryo's evaluation
    (:func:`samcryo_core.evaluation.score.score_micrograph`: one-to-one matching within half each
    true particle's own diameter; truth without diameters, the real sets, gets the sample's: the
    set's ``score_diameter_A`` where it has one, CryoPPP's circle for the crowded real sets;
    ``at_config_diameter``: the configured diameter instead, the convention's radius for the
    particles' own size).
    """
    from samcryo_core.evaluation.score import PER_MIC_COLUMNS, Scored, overall_scores, score_micrograph
    from samcryo_core.io.coordinates import read_coordinates, with_diameters
    from samcryo_core.manifest import OK, read_manifests
    from samcryo_core.particles.picks_io import read_picks
    from samcryo_core.pickers.log_picker import FOM_SCALE_SD

    pdir = prompt_dir(workdir, prompt)
    threshold = 1.0 - math.exp(-2.0 / FOM_SCALE_SD) if prompt == "log" else 0.5
    d = ds["diameter_A"] if at_config_diameter else ds.get("score_diameter_A", ds["diameter_A"])
    default_px = (math.sqrt(d[0] * d[-1]) if isinstance(d, list) else float(d)) / ds["pixel_size_A"]
    truth_dir = Path(ds["dir"]).resolve() / "test" / "truth"
    items = []
    for row in read_manifests(sorted((pdir / "picks" / "chunks").glob("*.tsv"))):
        if row.get("status") != OK:
            continue
        side = json.loads((workdir / row["sidecar"]).read_text())
        truth = read_coordinates(truth_dir / f"{row['micrograph']}.star", "star")
        truth = with_diameters(truth, default_px=default_px)[["x", "y", "diameter_px"]]
        picks = read_picks(workdir / row["picks"])
        shape = tuple(side["original_shape"])
        items.append(Scored(row["micrograph"], picks, truth.reset_index(drop=True), shape))
    table = pd.DataFrame([score_micrograph(it, threshold=threshold, distance_fraction=0.5) for it in items],
                         columns=list(PER_MIC_COLUMNS))
    m = overall_scores(table, items, threshold=threshold, distance_fraction=0.5, skipped=[])["micro"]
    return {"precision": m["precision"], "recall": m["recall"], "f1": m["f1"], "ap": m["ap"],
            "best_f1": m["best_f1"], "n_truth": int(table["n_truth"].sum()),
            "n_picks": int(table["n_picks"].sum()), "n_micrographs": int(len(table)),
            "f1_per_micrograph": {str(k): round(float(v), 4) for k, v in zip(table["micrograph"], table["f1"],
                                                                             strict=True)}}


def paired_difference(a: dict, b: dict) -> dict:
    """Per-micrograph F1 of picker ``a`` minus picker ``b`` on the same micrographs: the mean
    difference, how many micrographs ``a`` wins, and a bootstrap 95 % interval of the mean over
    micrographs (a 0.01 F1 gap on five micrographs is often inside it)."""
    mics = sorted(set(a["f1_per_micrograph"]) & set(b["f1_per_micrograph"]))
    diff = np.array([a["f1_per_micrograph"][m] - b["f1_per_micrograph"][m] for m in mics])
    rng = np.random.default_rng(0)
    boot = rng.choice(diff, size=(10000, len(diff)), replace=True).mean(axis=1) if len(diff) else np.zeros(1)
    return {"mean": round(float(diff.mean()), 4) if len(diff) else None, "wins": int((diff > 0).sum()),
            "n": len(diff), "ci95": [round(float(np.percentile(boot, 2.5)), 4),
                                     round(float(np.percentile(boot, 97.5)), 4)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, default=REPO, help="checkout whose code runs (default: this one)")
    ap.add_argument("--base-config", type=Path, default=None,
                    help="base config of that checkout (default: <repo>/config/demo.yaml, or "
                    "<repo>/config.yaml in older checkouts)")
    ap.add_argument("--label", required=True, help="row label, e.g. before / after")
    ap.add_argument("--sets", nargs="+", default=["scale", "crowding", "real10028"],
                    choices=("scale", "crowding", "real10028", "realcrowded"))
    ap.add_argument("--prompts", nargs="+", default=list(PROMPTS))
    ap.add_argument("--only", nargs="*", default=None, help="only data sets whose name contains one of these")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides on top of the data keys, e.g. train.target_disc_fraction=0.7 "
                         "(a measurement of one setting: give it its own --label)")
    ap.add_argument("--rerun-triggers", nargs="+", default=None,
                    help="passed to snakemake: 'mtime' reruns only stages with missing or older "
                         "outputs, e.g. extraction alone on a copy of an earlier run whose maps "
                         "stand (rule code of the other stages changed since, their outputs not)")
    ap.add_argument("--score-only", action="store_true",
                    help="score the runs already on disk again (no workflow runs)")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "scale.json")
    args = ap.parse_args(argv)
    repo = args.repo.resolve()
    demo = repo / "config" / "demo.yaml"
    base = (args.base_config or (demo if demo.is_file() else repo / "config.yaml")).resolve()

    datasets: list[dict] = []
    for s in args.sets:
        datasets += {"scale": prepare_scale, "crowding": prepare_crowding,
                     "real10028": prepare_real10028, "realcrowded": prepare_realcrowded}[s](WORK / "data" / s)
    if args.only:
        datasets = [d for d in datasets if any(o in d["name"] for o in args.only)]

    result = json.loads(args.out.read_text()) if args.out.is_file() else {}
    runs = result.setdefault("runs", {}).setdefault(args.label, {})
    result.setdefault("machine", {})[args.label] = common.machine_info()
    result["machine"][args.label]["repo_commit"] = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    for ds in datasets:
        for prompt in args.prompts:
            workdir = WORK / "runs" / args.label / ds["name"]
            print(f"bench_scale: {args.label} {ds['name']} {prompt} ...", flush=True)
            if args.score_only:
                row = {k: v for k, v in runs.get(ds["name"], {}).get(prompt, {}).items()
                       if k in ("wall_s", "rc", "error")}
                info = {"rc": row.get("rc", 0)}
            else:
                cfg = overlay_config(ds, prompt)
                for item in args.overrides:
                    apply_override(cfg, item)
                info = run_workflow(repo, base, workdir, cfg, args.cores, args.rerun_triggers)
                row = {"wall_s": info["wall_s"], "rc": info["rc"]}
            if info["rc"] == 0:
                row.update(score_run(workdir, ds, prompt))
                if ds.get("score_diameter_A", ds["diameter_A"]) != ds["diameter_A"]:
                    # the convention's radius for the particles' own size (stricter than the circle)
                    strict = score_run(workdir, ds, prompt, at_config_diameter=True)
                    row["at_config_diameter"] = {k: strict[k] for k in ("precision", "recall", "f1")}
                if prompt != "log":
                    secs = segment_seconds(workdir, prompt)
                    row["segment_s_per_micrograph"] = float(np.median(secs)) if secs else None
            else:
                row["error"] = (workdir / "snakemake.out").read_text()[-2000:]
            runs.setdefault(ds["name"], {})[prompt] = row
            print(f"bench_scale: {args.label} {ds['name']} {prompt}: "
                  + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                              for k, v in row.items() if k != "error"), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
        rows = runs.get(ds["name"], {})
        if all("f1_per_micrograph" in rows.get(p, {}) for p in ("head", "log")):
            rows["head_minus_log"] = paired_difference(rows["head"], rows["log"])
            print(f"bench_scale: {args.label} {ds['name']} head - log per micrograph: "
                  f"{rows['head_minus_log']}", flush=True)
            args.out.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(WORK / "runs" / args.label / "tmp", ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
