"""Accuracy benchmark: samcryo's prompts vs. baselines vs. LoG vs. Topaz on the same micrographs.

What users ask first: how many true particles does a picker find, how much junk does it pick, and
how much labelling does it need. This script answers that with one scorer for every picker
(:func:`benchmarks.common.score_picks`: Hungarian P/R/F1 at 0.5 x diameter, AP over the FOM, the
best F1 over FOM cut-offs, pixel Dice at 256 x 256) on

* simulated data sets (``samcryo_core.simulate``) at several SNRs, with carbon/ice/aggregate junk
  that must not be picked (SNR 0.01 is the simulator's default and hard; the real EMPIAR-10028
  PNGs look like SNR ~0.1 by the simulator's definition, see docs/simulator.md);
* real labelled micrographs: by default the CryoPPP EMPIAR-10028 subset, or the user's own
  (``--real-*`` flags: images + STAR / CryoPPP CSV (``--real-flip-y``) / mask PNGs).

Pickers: samcryo ``cpu_small`` with each prompt (``head``, ``prefix``, ``encoder``) and the
``finetune`` / ``none`` baselines, few-shot trained in-process with the library's own
``train_prompt`` on a handful of labelled micrographs (the paper's 4 train + 1 validation), every
micrograph binned to the backbone's working scale and segmented tile by tile as the workflow does,
scored at the workflow's export threshold; the built-in LoG picker; Topaz 0.3.20 with its
pretrained ResNet16 detector through its own command line (``topaz preprocess`` then
``topaz extract``), installed apart from samcryo's environment::

    .venv/bin/pip install --no-deps --target benchmarks/.topaz topaz-em==0.3.20 scikit-learn \\
        tqdm h5py future joblib threadpoolctl narwhals cloudpickle

Few-shot curves: best F1 and Dice against the number of labelled micrographs per prompt, with a
fixed budget of gradient steps (epochs = steps / tiles per epoch, :func:`common.train_epochs`) so
every point costs the same.

Run (about 30-40 min on 2 shared cores with the defaults; writes as it goes)::

    .venv/bin/python benchmarks/bench_accuracy.py > benchmarks/results/accuracy.log 2>&1 &

Outputs: ``benchmarks/results/accuracy.json`` (everything), ``accuracy.csv`` (one row per data
set x picker), ``accuracy_fewshot.csv``, ``accuracy.md`` (tables).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SAMCRYO_PROMPTS = ("head", "prefix", "encoder", "finetune")
ALL_PICKERS = ("log", "topaz", "none", *SAMCRYO_PROMPTS)
VARIANT = "cpu_small"
RESULTS = common.REPO / "benchmarks" / "results"
TOPAZ_DIR = common.REPO / "benchmarks" / ".topaz"


# --------------------------------------------------------------------------------------------
# Per-data-set caches: normalized test images and labelled training examples
# --------------------------------------------------------------------------------------------

class Prepared:
    """A data set plus its test micrographs normalized once at the working scale (shared by pickers)."""

    def __init__(self, ds: common.LabelledSet, particle_px: float):
        self.ds = ds
        self.particle_px = particle_px
        self.normalized: dict[str, tuple[np.ndarray, object]] = {
            t.name: common.normalize_file(t.image, name=t.name, diameter_A=ds.diameter_A,
                                          particle_px=particle_px, pixel_size_A=ds.pixel_size_A)
            for t in ds.test}
        self._examples: list | None = None

    def examples(self) -> list:
        """Training examples in the data set's fixed order (read and normalized once)."""
        from samcryo_core.training.dataset import load_example

        if self._examples is None:
            self._examples = [
                load_example(img, lbl, particle_px=self.particle_px, diameter_A=self.ds.diameter_A,
                             pixel_size_A=self.ds.pixel_size_A, label_format=self.ds.label_format,
                             diameter_px=self.ds.diameter_px if self.ds.kind == "real" else None,
                             flip_y=self.ds.flip_y)
                for img, lbl in self.ds.train
            ]
        return self._examples


# --------------------------------------------------------------------------------------------
# Pickers: each returns ({micrograph: picks}, facts)
# --------------------------------------------------------------------------------------------

def pick_with_log(prep: Prepared) -> tuple[dict, dict]:
    """The built-in LoG picker on the same normalized images samcryo sees (default settings)."""
    from samcryo_core.pickers.log_picker import pick_log

    t0 = time.perf_counter()
    picks = {name: pick_log(img, mapping, diameter_px=prep.ds.diameter_px)
             for name, (img, mapping) in prep.normalized.items()}
    n = max(1, len(picks))
    return picks, {"pick_s_per_micrograph": (time.perf_counter() - t0) / n, "settings": "threshold_sd 2.0"}


def samcryo_infer(prep: Prepared, model, tta: str = "none") -> tuple[dict, float]:
    """Every candidate as ``samcryo segment`` + ``samcryo extract`` make them (defaults; ``tta`` as
    ``segment.tta``); the export threshold is applied when scoring."""
    t0 = time.perf_counter()
    picks = {name: common.samcryo_picks(model, img, mapping, prep.ds.diameter_px, tta)
             for name, (img, mapping) in prep.normalized.items()}
    return picks, (time.perf_counter() - t0) / max(1, len(picks))


def prompt_config(prompt: str) -> dict | None:
    """The CPU demo head (the paper's 48/96-channel U-Net needs ~15 s per step on one core)."""
    if prompt == "head":
        from samcryo_core.model.prompts.head import CPU_DEMO_HEAD_CONFIG

        return dict(CPU_DEMO_HEAD_CONFIG)
    return None


def train_samcryo(prep: Prepared, prompt: str, n_labelled: int, epochs: int | None, work: Path,
                  checkpoint: Path | None, seed: int, min_steps: int = 0) -> tuple[object, dict]:
    """Few-shot train ``prompt`` on the first ``n_labelled`` labelled micrographs; return best model.

    ``epochs`` None: as many epochs as reach ``min_steps`` gradient steps, at least 2 (few-shot).
    """
    from samcryo_core.model.build import build_base_model, load_model
    from samcryo_core.model.prompt_file import RANDOM_INIT, base_sha256
    from samcryo_core.training.dataset import split_train_val

    model = build_base_model(VARIANT, prompt, checkpoint, prompt_config=prompt_config(prompt), seed=seed)
    train, val = split_train_val(prep.examples()[:n_labelled], 0.2, seed)
    base = base_sha256(checkpoint, None)
    out = work / f"{prep.ds.name}_{prompt}_n{n_labelled}.pt"
    t0 = time.perf_counter()
    res, per_epoch, epochs = common.train_epochs(
        model, train, val, epochs=epochs, min_steps=min_steps, out_path=out, seed=seed,
        base_meta={"base_checkpoint": checkpoint.name if checkpoint else None, "base_sha256": base,
                   "base_seed": seed if base == RANDOM_INIT else None},
    )
    train_s = time.perf_counter() - t0
    best, _info = load_model(VARIANT, checkpoint, prompt_file=out)
    return best, {"n_labelled": n_labelled, "n_train": len(train), "n_val": len(val), "epochs": epochs,
                  "steps": res.steps, "steps_per_epoch": per_epoch, "train_s": train_s,
                  "best_epoch": math.ceil(res.best_step / per_epoch), "best_step": res.best_step,
                  "best_val_dice": res.best_val_dice}


def pick_with_samcryo(prep: Prepared, prompt: str, n_labelled: int, epochs: int | None, work: Path,
                      checkpoint: Path | None, seed: int, tta: str = "none",
                      min_steps: int = 0) -> tuple[dict, dict]:
    from samcryo_core.model.build import load_model

    if prompt == "none":
        model, _ = load_model(VARIANT, checkpoint, prompt="none", seed=seed)
        facts: dict = {"n_labelled": 0, "epochs": 0}
    else:
        model, facts = train_samcryo(prep, prompt, n_labelled, epochs, work, checkpoint, seed, min_steps)
    picks, per_mic = samcryo_infer(prep, model, tta)
    facts["pick_s_per_micrograph"] = per_mic
    facts["tta"] = tta
    return picks, facts


def topaz_available(topaz_dir: Path) -> str | None:
    """None if Topaz runs from ``topaz_dir``, else the reason it cannot."""
    import os
    import subprocess

    script = topaz_dir / "bin" / "topaz"
    if not script.is_file():
        return f"Topaz not installed in {topaz_dir} (see this script's docstring for the pip line)"
    env = {**os.environ, "PYTHONPATH": str(topaz_dir)}
    r = subprocess.run([sys.executable, str(script), "extract", "--help"], env=env, capture_output=True,
                       text=True, timeout=300)
    if r.returncode != 0:
        return "topaz extract --help failed: " + " ".join((r.stderr or r.stdout).split()[-30:])
    return None


def pick_with_topaz(prep: Prepared, work: Path, topaz_dir: Path, threads: int) -> tuple[dict, dict]:
    """Topaz's documented route: ``preprocess -s S`` (downsample + GMM normalize), then ``extract``
    with the pretrained ResNet16 at the particle radius, coordinates scaled back with ``-x S``.

    ``S`` brings the particle to ~20-30 px, the size range of Topaz's pretrained detectors.
    Extraction runs at ``-t -6`` (Topaz's default, p >= 0.0025) so the whole ranking is kept for AP;
    the operating point for P/R/F1 is score >= 0 (p >= 0.5), reported as ``fom = sigmoid(score)``.
    """
    import os

    ds = prep.ds
    d = work / "topaz" / ds.name
    shutil.rmtree(d, ignore_errors=True)
    raw, proc = d / "raw", d / "processed"
    raw.mkdir(parents=True)
    proc.mkdir()
    for t in ds.test:
        if Path(t.image).suffix.lower() == ".mrc":
            (raw / f"{t.name}.mrc").symlink_to(Path(t.image).resolve())
        else:  # topaz 0.3.20 preprocess fails on PNG ('PngImageFile' has no 'astype'): same pixels as MRC
            from samcryo_core.io.micrograph import read_micrograph
            from samcryo_core.io.mrc_write import write_mrc

            mic = read_micrograph(t.image)
            write_mrc(raw / f"{t.name}.mrc", np.asarray(mic.data, dtype=np.float32), mic.pixel_size_A)
    scale = max(1, int(round(ds.diameter_px / 24.0)))
    radius = max(2, int(round(0.5 * ds.diameter_px / scale)))
    env = {**os.environ, "PYTHONPATH": str(topaz_dir), "OMP_NUM_THREADS": str(threads)}
    script = str(topaz_dir / "bin" / "topaz")
    pre = common.run_measured([sys.executable, script, "preprocess", "-s", str(scale), "-d", "-1", "-j",
                               str(threads), "-o", str(proc), *sorted(str(p) for p in raw.iterdir())],
                              env=env, log_path=d / "preprocess.log")
    if pre["rc"] != 0:
        raise RuntimeError(f"topaz preprocess failed (rc {pre['rc']}), see {d / 'preprocess.log'}")
    out = d / "picks.txt"
    ext = common.run_measured([sys.executable, script, "extract", "-m", "resnet16", "-r", str(radius), "-x",
                               str(scale), "-t", "-6", "-d", "-1", "-j", str(threads), "-o", str(out),
                               *sorted(str(p) for p in proc.glob("*.mrc"))],
                              env=env, log_path=d / "extract.log")
    if ext["rc"] != 0:
        raise RuntimeError(f"topaz extract failed (rc {ext['rc']}), see {d / 'extract.log'}")
    table = pd.read_csv(out, sep="\t")
    picks = {}
    for t in ds.test:
        sub = table.loc[table["image_name"].astype(str) == t.name]
        score = sub["score"].to_numpy(dtype=np.float64)
        picks[t.name] = pd.DataFrame({"x": sub["x_coord"].to_numpy(dtype=np.float64),
                                      "y": sub["y_coord"].to_numpy(dtype=np.float64),
                                      "fom": 1.0 / (1.0 + np.exp(-score)), "diameter_px": ds.diameter_px})
    n = max(1, len(ds.test))
    return picks, {"pick_s_per_micrograph": (pre["wall_s"] + ext["wall_s"]) / n,
                   "note": "per-micrograph time includes two Topaz start-ups (preprocess, extract)",
                   "settings": f"preprocess -s {scale}; extract -m resnet16 -r {radius} -x {scale} -t -6",
                   "peak_rss_mib_extract": ext["peak_rss_mib"]}


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def build_datasets(args: argparse.Namespace, work: Path) -> list[common.LabelledSet]:
    n_train = max(args.n_labelled, max(args.fewshot_sizes or [0]))
    sets = [common.simulated_set(work / "data" / f"snr{snr:g}", snr=snr, n_train=n_train, n_test=args.n_test,
                                 seed=args.seed, shape=(args.sim_size, args.sim_size),
                                 n_particles=args.sim_particles)
            for snr in args.snrs]
    if args.real_test_images:
        sets.append(common.real_set(
            args.real_name, train_images=sorted(args.real_train_images or []),
            train_labels_dir=args.real_train_labels or ".", test_images=sorted(args.real_test_images),
            test_truth_dir=args.real_test_truth, diameter_px=args.real_diameter_px,
            label_format=args.real_label_format, truth_format=args.real_truth_format,
            flip_y=args.real_flip_y))
    elif not args.no_real and common.CRYOPPP_10028.is_dir():
        sets.append(common.cryoppp_10028_set())
    return sets


def pickers_row(ds_name: str, picker: str, score: dict, facts: dict) -> dict:
    plain = {k: v for k, v in facts.items() if not isinstance(v, dict)}
    return {"dataset": ds_name, "picker": picker, **plain, **score}


def merge_previous(result: dict, prev: dict, args: argparse.Namespace) -> None:
    """Keep an earlier run's rows except those this run redoes (same data set and picker).

    For re-running one picker (e.g. after fixing its install) without redoing the whole benchmark;
    the machine facts of both runs are kept.
    """
    redo_sets = {f"sim_snr{snr:g}" for snr in args.snrs}
    if not args.no_real:
        redo_sets.add(args.real_name if args.real_test_images else "real_10028")
    redo = {(d, p) for d in redo_sets for p in args.pickers}
    result["rows"] = [r for r in prev.get("rows", []) if (r["dataset"], r["picker"]) not in redo]
    result["fewshot"] = [r for r in prev.get("fewshot", [])
                         if not (r["dataset"] in redo_sets and args.fewshot_sizes)]
    result["skipped"] += [s for s in prev.get("skipped", [])
                          if (s.get("dataset"), s.get("picker")) not in redo and s.get("dataset")]
    result["datasets"] = [d for d in prev.get("datasets", []) if d["name"] not in redo_sets]
    result["merged_from"] = {"machine": prev.get("machine"), "config": prev.get("config"),
                             "total_s": prev.get("total_s")}


def run(args: argparse.Namespace) -> dict:
    import torch  # noqa: F401  (imported first so limit_threads caps its threads too)

    common.limit_threads(args.threads)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    checkpoint = Path(args.checkpoint) if args.checkpoint else common.shipped_backbone()
    backbone = (str(checkpoint) if checkpoint
                else "random-init (pre-trained cpu_small backbone not shipped yet)")
    scale = common.working_scale(VARIANT, checkpoint)
    threshold = common.operating_point("samcryo")
    topaz_reason = None
    if "topaz" in args.pickers:
        topaz_reason = topaz_available(Path(args.topaz_dir))
    result: dict = {
        "benchmark": "bench_accuracy", "machine": common.machine_info(),
        "config": {"variant": VARIANT, "backbone": backbone, "tile_px": 512,
                   "working_scale": scale.to_dict(),
                   "n_labelled": args.n_labelled, "epochs": args.epochs,
                   "fewshot_sizes": args.fewshot_sizes, "fewshot_steps": args.fewshot_steps,
                   "threads": args.threads, "seed": args.seed, "head_config": prompt_config("head"),
                   "tta": args.tta,
                   "matching": "Hungarian, centre distance <= 0.5 x true diameter",
                   "operating_points": {"samcryo": f"export.threshold: fom >= {threshold:g}",
                                        "log": "pick-log defaults (threshold 2 SD)",
                                        "topaz": "score >= 0 (p >= 0.5); ranked list from -t -6"}},
        "datasets": [], "rows": [], "fewshot": [], "skipped": [],
    }
    if topaz_reason:
        result["skipped"].append({"picker": "topaz", "reason": topaz_reason})
    prev_path = Path(args.out_prefix).with_suffix(".json")
    if args.merge and prev_path.is_file():
        merge_previous(result, json.loads(prev_path.read_text()), args)

    def save() -> None:
        write_outputs(result, Path(args.out_prefix))

    t_start = time.perf_counter()
    for ds in build_datasets(args, work):
        result["datasets"].append(ds.describe())
        prep = Prepared(ds, scale.particle_px)
        print(f"[{time.perf_counter() - t_start:7.0f}s] {ds.name}: {len(ds.test)} test micrographs, "
              f"{sum(len(t.truth_xy) for t in ds.test)} particles", flush=True)
        for picker in args.pickers:
            if picker == "topaz" and topaz_reason:
                continue
            try:
                if picker == "log":
                    picks, facts = pick_with_log(prep)
                    min_fom = common.operating_point("log")
                elif picker == "topaz":
                    picks, facts = pick_with_topaz(prep, work, Path(args.topaz_dir), args.threads)
                    min_fom = 0.5
                else:
                    n_lab = min(args.n_labelled, len(ds.train))
                    if picker != "none" and n_lab == 0:
                        result["skipped"].append({"dataset": ds.name, "picker": picker,
                                                  "reason": "no labelled micrographs"})
                        continue
                    picks, facts = pick_with_samcryo(prep, picker, n_lab, args.epochs, work / "prompts",
                                                     checkpoint, args.seed, args.tta)
                    min_fom = threshold
            except Exception as exc:  # record and go on: one picker failing must not lose the others
                result["skipped"].append({"dataset": ds.name, "picker": picker,
                                          "reason": f"{type(exc).__name__}: {exc}"})
                print(f"  {picker}: FAILED {exc}", flush=True)
                save()
                continue
            score = common.score_picks(ds.test, picks, min_fom=min_fom)
            result["rows"].append(pickers_row(ds.name, picker, score, facts))
            print(f"[{time.perf_counter() - t_start:7.0f}s]   {picker:9s} P {score['precision']:.3f} "
                  f"R {score['recall']:.3f} F1 {score['f1']:.3f} bestF1 {score['best_f1']:.3f} "
                  f"AP {common.fmt_num(score['ap'])} Dice {common.fmt_num(score['dice'])} "
                  f"({score['n_picks']} picks / {score['n_truth']} true)", flush=True)
            save()
        if ds.name in args.fewshot_datasets or (ds.kind == "real" and "real" in args.fewshot_datasets):
            for prompt in args.fewshot_prompts:
                for n in args.fewshot_sizes:
                    if n > len(ds.train):
                        result["skipped"].append({"dataset": ds.name, "picker": prompt, "fewshot_n": n,
                                                  "reason": f"only {len(ds.train)} labelled micrographs"})
                        continue
                    try:
                        picks, facts = pick_with_samcryo(prep, prompt, n, None, work / "prompts",
                                                         checkpoint, args.seed, args.tta,
                                                         min_steps=args.fewshot_steps)
                    except Exception as exc:
                        result["skipped"].append({"dataset": ds.name, "picker": prompt, "fewshot_n": n,
                                                  "reason": f"{type(exc).__name__}: {exc}"})
                        continue
                    score = common.score_picks(ds.test, picks, min_fom=threshold)
                    result["fewshot"].append(pickers_row(ds.name, prompt, score, facts))
                    print(f"[{time.perf_counter() - t_start:7.0f}s]   few-shot {prompt:8s} n={n:2d} "
                          f"epochs {facts['epochs']:3d}: F1 {score['f1']:.3f} bestF1 {score['best_f1']:.3f} "
                          f"Dice {common.fmt_num(score['dice'])}", flush=True)
                    save()
    result["total_s"] = time.perf_counter() - t_start
    save()
    return result


ROW_COLUMNS = ["dataset", "picker", "n_labelled", "epochs", "precision", "recall", "f1", "best_f1", "ap",
               "dice", "n_picks", "n_truth", "mean_error_px", "train_s", "pick_s_per_micrograph",
               "best_val_dice"]
MD_COLUMNS = ["dataset", "picker", "precision", "recall", "f1", "best_f1", "ap", "dice", "n_picks", "n_truth",
              "train_s", "pick_s_per_micrograph"]
FEWSHOT_MD_COLUMNS = ["dataset", "picker", "n_labelled", "epochs", "f1", "best_f1", "ap", "dice",
                      "best_val_dice", "train_s"]


def write_outputs(result: dict, prefix: Path) -> None:
    """JSON (everything), CSVs (rows, few-shot) and a markdown summary, all atomically."""
    from samcryo_core.io.atomic import atomic_write_text

    common.write_json(prefix.with_suffix(".json"), result)
    rows = pd.DataFrame(result["rows"])
    atomic_write_text(prefix.with_suffix(".csv"),
                      rows.reindex(columns=ROW_COLUMNS).to_csv(index=False, float_format="%.4f"))
    few = pd.DataFrame(result["fewshot"])
    atomic_write_text(prefix.with_name(prefix.name + "_fewshot.csv"),
                      few.reindex(columns=ROW_COLUMNS).to_csv(index=False, float_format="%.4f"))
    md = [f"# Accuracy benchmark\n\nMachine: {common.machine_line(result['machine'])}\n",
          f"Backbone: {result['config']['backbone']}; {result['config']['n_labelled']} labelled micrographs "
          f"(one of them for validation), {result['config']['epochs']} epochs.\n\n"]
    md.append(common.markdown_table(result["rows"], MD_COLUMNS))
    if result["fewshot"]:
        md.append(f"\n## Few-shot curves ({result['config']['fewshot_steps']} gradient steps per run)\n\n")
        md.append(common.markdown_table(result["fewshot"], FEWSHOT_MD_COLUMNS))
    if result["skipped"]:
        md.append("\n## Skipped\n\n" + "".join(f"- {s}\n" for s in result["skipped"]))
    atomic_write_text(prefix.with_suffix(".md"), "".join(md))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-prefix", default=str(RESULTS / "accuracy"),
                    help="writes PREFIX.json/.csv/.md and PREFIX_fewshot.csv")
    ap.add_argument("--work-dir", default=str(RESULTS / "tmp" / "accuracy"), help="simulated data, prompts")
    ap.add_argument("--pickers", nargs="+", default=list(ALL_PICKERS), choices=ALL_PICKERS)
    ap.add_argument("--snrs", nargs="*", type=float, default=[0.1, 0.03, 0.01, 0.005])
    ap.add_argument("--sim-size", type=int, default=1024, help="simulated micrograph side (default 1024)")
    ap.add_argument("--sim-particles", type=int, default=80)
    ap.add_argument("--n-test", type=int, default=5, help="scored micrographs per simulated set")
    ap.add_argument("--n-labelled", type=int, default=5, help="labelled micrographs for training")
    ap.add_argument("--epochs", type=int, default=15, help="training epochs of the main comparison")
    ap.add_argument("--fewshot-sizes", nargs="*", type=int, default=[1, 2, 5, 10])
    ap.add_argument("--fewshot-prompts", nargs="*", default=["head", "prefix", "encoder"])
    ap.add_argument("--fewshot-datasets", nargs="*", default=["sim_snr0.03", "real"],
                    help="data set names for the few-shot curves ('real' = the real set)")
    ap.add_argument("--fewshot-steps", type=int, default=40, help="gradient steps per few-shot run")
    ap.add_argument("--checkpoint", default=None,
                    help="cpu_small backbone; default: the shipped one if present, else random init")
    ap.add_argument("--topaz-dir", default=str(TOPAZ_DIR))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tta", default="none", choices=("none", "flips", "d4"),
                    help="test-time augmentation of samcryo's pickers (config segment.tta)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-real", action="store_true", help="skip the CryoPPP 10028 set")
    ap.add_argument("--merge", action="store_true",
                    help="keep the rows of an earlier run at --out-prefix that this run does not redo")
    real = ap.add_argument_group("your own labelled micrographs (replace the CryoPPP 10028 default)")
    real.add_argument("--real-name", default="real")
    real.add_argument("--real-train-images", nargs="*", default=None)
    real.add_argument("--real-train-labels", default=None, help="folder: <micrograph>.star/.csv/.box/.png")
    real.add_argument("--real-test-images", nargs="*", default=None)
    real.add_argument("--real-test-truth", default=None, help="folder: <micrograph>.star/.csv/.box/.png")
    real.add_argument("--real-diameter-px", type=float, default=None)
    real.add_argument("--real-label-format", default="auto", choices=("auto", "star", "csv", "box", "mask"))
    real.add_argument("--real-truth-format", default="auto", choices=("auto", "star", "csv", "box", "mask"))
    real.add_argument("--real-flip-y", action="store_true", help="CryoPPP CSV on raw MRC: row = H - 1 - y")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.real_test_images and (args.real_diameter_px is None or args.real_test_truth is None):
        raise SystemExit("--real-test-images needs --real-test-truth and --real-diameter-px")
    result = run(args)
    print(f"done in {result['total_s']:.0f}s -> {args.out_prefix}.json/.csv/.md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
