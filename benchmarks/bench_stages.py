"""Speed and peak memory per pipeline stage on full-size micrographs (4096 x 4096 and 5760 x 4092).

Users plan a run of a few thousand micrographs from two numbers per stage: seconds per
micrograph and peak memory (which decides how many jobs fit on a node). Each stage runs here in
its **own subprocess** on one simulated MRC, with the library calls the ``samcryo`` command of
that stage makes, so its peak resident memory (``ru_maxrss``, read with ``os.wait4`` for exactly
that child, forked from a small launcher, see ``common.run_measured``) is its own:

* ``ingest``: open + validate the MRC (``validate_micrograph``: header, pixels, pixel size);
* ``normalize``: read, Fourier-bin to the working scale of ``cpu_small`` (160 A particles at
  1 A/px to 20 px: 512 x 512 and 720 x 512), standardize (``normalize_micrograph``), write the
  normalized MRC + frame sidecar;
* ``segment``: ``cpu_small`` + prefix prompt (the shipped backbone if present; time does not
  depend on weight values), ``segment_chunk`` on the micrograph, tile by tile; split into the
  model forward (``SegmentStats.model_s``) and everything else (read normalized MRC + sidecar,
  cut tiles, upsample, stitch, sigmoid, float16 MRC write); the one-off model build is reported
  apart (a chunk job pays it once for many micrographs);
* ``extract``: read the probability map, candidates above the floor + watershed + filters + map
  back (``extract_particles``), write the picks CSV. The map is rendered from the simulator's truth
  (a trained-model-like map with every particle present), because a random-weight model's map
  would not exercise the watershed and filters the way a real one does;
* ``export``: RELION coordinate STAR + index and cryoSPARC particles STAR for the micrograph, at
  the workflow's export threshold;
* ``pick_log``: the classical LoG picker on the normalized micrograph (its peer: segment + extract).

Every stage is repeated ``--reps`` times on fresh output folders; medians are reported. Wall times
inside the worker exclude interpreter start-up and imports (``startup_s`` is reported apart);
``idle_rss_mib`` is the RSS of a worker that only imported everything, so ``peak - idle`` is the
stage's own memory.

    .venv/bin/python benchmarks/bench_stages.py [--reps 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

STAGES = ("idle", "ingest", "normalize", "segment", "extract", "export", "pick_log")
SIZES = {"4096x4096": (4096, 4096), "5760x4092": (4092, 5760)}  # name (W x H) -> (H, W)
PIXEL_SIZE_A = 1.0
DIAMETER_A = 160.0
VARIANT = "cpu_small"
RESULTS = common.REPO / "benchmarks" / "results"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def make_inputs(work: Path, sizes: dict[str, tuple[int, int]], n_particles: int) -> dict[str, Path]:
    """One simulated MRC per size (reused when present); truth STAR beside it."""
    from samcryo_core.simulate import SimulationParams, simulate_dataset

    out = {}
    for tag, shape in sizes.items():
        d = work / "inputs" / tag
        mrc = d / "micrographs" / f"{tag}_0000.mrc"
        if not mrc.is_file():
            params = SimulationParams(shape=shape, pixel_size_A=PIXEL_SIZE_A,
                                      diameters_A=(DIAMETER_A,), n_particles=n_particles, snr=0.03)
            simulate_dataset(d, 1, params, seed=0, prefix=tag)
        out[tag] = mrc
    return out


# --------------------------------------------------------------------------------------------
# Worker: one stage, one micrograph, in this process
# --------------------------------------------------------------------------------------------

def worker(stage: str, mrc: Path, out_dir: Path, threads: int) -> dict:
    """Run ``stage`` once on ``mrc``; outputs in ``out_dir``; return timings and this process's RSS."""
    t_import = time.perf_counter()
    common.limit_threads(threads)
    import numpy as np

    from samcryo_core.frame import FrameMapping
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.io.mrc_write import write_mrc
    from samcryo_core.particles.picks_io import read_picks, write_picks
    from samcryo_core.preprocess.normalize import normalize_micrograph

    name = mrc.stem
    norm_dir = out_dir / "normalized"
    norm_mrc, sidecar = norm_dir / f"{name}.mrc", norm_dir / f"{name}.json"
    prob_mrc = out_dir / "probability" / f"{name}.mrc"
    picks_csv = out_dir / "picks" / f"{name}.csv"
    diameter_px = DIAMETER_A / PIXEL_SIZE_A
    res: dict = {"stage": stage, "import_s": time.perf_counter() - t_import}
    rss_before = _rss_mib()
    t0 = time.perf_counter()
    if stage == "idle":
        pass  # the interpreter + numpy/scipy/samcryo imports every stage pays
    elif stage == "ingest":
        from samcryo_core.ingest.sources import Source
        from samcryo_core.ingest.validate import validate_micrograph

        v = validate_micrograph(Source(name, str(mrc)))
        res["ok"] = bool(v.ok) if hasattr(v, "ok") else None
    elif stage == "normalize":
        t = time.perf_counter()
        mic = read_micrograph(mrc)
        data = np.asarray(mic.data)
        res["read_s"] = time.perf_counter() - t
        t = time.perf_counter()
        particle_px = common.working_scale(VARIANT, common.shipped_backbone()).particle_px
        img, mapping = normalize_micrograph(data, name=name, source=str(mrc), pixel_size_A=mic.pixel_size_A,
                                            diameter_A=DIAMETER_A, particle_px=particle_px)
        res["compute_s"] = time.perf_counter() - t
        t = time.perf_counter()
        write_mrc(norm_mrc, img, mapping.normalized_pixel_size_A)
        mapping.write(sidecar)
        res["write_s"] = time.perf_counter() - t
    elif stage == "segment":
        import torch

        from samcryo_core.inference.segment import segment_chunk
        from samcryo_core.model.build import build_base_model

        torch.set_num_threads(threads)
        t = time.perf_counter()
        model = build_base_model(VARIANT, "prefix", common.shipped_backbone(), seed=0)
        model.eval()
        res["model_build_s"] = time.perf_counter() - t
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        rows = [{"micrograph": name, "status": "ok", "reason": "", "source": str(mrc),
                 "normalized": str(norm_mrc), "sidecar": str(sidecar)}]
        out_rows, stats = segment_chunk(rows, prob_mrc.parent, model, batch_size=1, device="cpu")
        if out_rows[0]["status"] != "ok":
            raise RuntimeError(f"segment failed: {out_rows[0]['reason']}")
        res["model_forward_s"] = stats.model_s
        res["io_pre_post_s"] = stats.total_s - stats.model_s
        res["tiles"] = stats.tiles
    elif stage == "extract":
        from samcryo_core.particles.extraction import extract_particles

        truth_prob = out_dir / "truth_probability" / f"{name}.mrc"
        mapping = FrameMapping.read(sidecar)
        _render_truth_probability(mrc, mapping, truth_prob, diameter_px)
        rss_before = _rss_mib()
        t0 = time.perf_counter()
        prob = read_micrograph(truth_prob).data
        picks = extract_particles(prob, mapping, diameter_px=diameter_px)
        write_picks(picks_csv, picks)
        res["n_picks"] = len(picks)
    elif stage == "export":
        from samcryo_core.export.cryosparc import write_cryosparc_star
        from samcryo_core.export.picks_set import MicrographPicks
        from samcryo_core.export.relion import write_relion

        threshold = common.operating_point("samcryo")
        items = [MicrographPicks(name, str(mrc), read_picks(picks_csv))]
        write_relion(items, out_dir / "relion", project_dir=mrc.parents[1], min_fom=threshold)
        write_cryosparc_star(out_dir / "cryosparc" / "particles.star", items, project_dir=mrc.parents[1],
                             min_fom=threshold)
        res["n_exported"] = len(items[0].above(threshold))
    elif stage == "pick_log":
        from samcryo_core.pickers.log_picker import pick_log

        mapping = FrameMapping.read(sidecar)
        image = read_micrograph(norm_mrc).data
        picks = pick_log(image, mapping, diameter_px=diameter_px)
        write_picks(out_dir / "log_picks" / f"{name}.csv", picks)
        res["n_picks"] = len(picks)
    else:
        raise SystemExit(f"unknown stage {stage}")
    res["wall_s"] = time.perf_counter() - t0
    res["rss_before_stage_mib"] = rss_before
    res["peak_rss_self_mib"] = _rss_mib()
    res["vm_hwm_mib"] = common.vm_hwm_mib()
    return res


def _render_truth_probability(mrc: Path, mapping, out: Path, diameter_px: float) -> None:
    """A probability map as a good model would produce: soft discs at the true centres."""
    import numpy as np
    from scipy import ndimage

    from samcryo_core.io.coordinates import read_coordinates
    from samcryo_core.io.mrc_write import write_mrc

    parts = read_coordinates(mrc.parents[1] / "truth" / f"{mrc.stem}.star")
    h, w = mapping.binned_shape
    xn, yn = mapping.to_normalized(parts["x"].to_numpy(), parts["y"].to_numpy())
    r = 0.5 * diameter_px / mapping.mean_scale
    yy, xx = np.mgrid[0:h, 0:w]
    prob = np.zeros((h, w), dtype=np.float32)
    for cx, cy in zip(np.atleast_1d(xn), np.atleast_1d(yn), strict=True):
        r0, r1 = int(max(0, cy - r - 2)), int(min(h, cy + r + 3))
        c0, c1 = int(max(0, cx - r - 2)), int(min(w, cx + r + 3))
        d2 = (xx[r0:r1, c0:c1] - cx) ** 2 + (yy[r0:r1, c0:c1] - cy) ** 2
        prob[r0:r1, c0:c1] = np.maximum(prob[r0:r1, c0:c1], (d2 <= r * r).astype(np.float32))
    prob = ndimage.gaussian_filter(prob, 1.0)
    write_mrc(out, prob, mapping.normalized_pixel_size_A, dtype=np.float16)


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------

def run(args: argparse.Namespace) -> dict:
    work = Path(args.work_dir)
    sizes = {k: v for k, v in SIZES.items() if k in args.sizes}
    if args.tiny:  # smoke test: same code path on a small micrograph
        sizes = {"1024x768": (768, 1024)}
    inputs = make_inputs(work, sizes, args.particles)
    result: dict = {"benchmark": "bench_stages", "machine": common.machine_info(),
                    "config": {"reps": args.reps, "threads": args.threads,
                               "model": f"{VARIANT} + prefix prompt",
                               "backbone": str(common.shipped_backbone() or "random-init"),
                               "working_scale": common.working_scale(VARIANT,
                                                                     common.shipped_backbone()).to_dict(),
                               "export_threshold": common.operating_point("samcryo"),
                               "pixel_size_A": PIXEL_SIZE_A,
                               "diameter_A": DIAMETER_A, "particles_per_micrograph": args.particles},
                    "runs": [], "summary": []}
    for tag, mrc in inputs.items():
        for rep in range(args.reps):
            out_dir = work / "runs" / tag / f"rep{rep}"
            import shutil

            shutil.rmtree(out_dir, ignore_errors=True)
            out_dir.mkdir(parents=True)
            for stage in args.stages:
                res_path = out_dir / f"{stage}.json"
                cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", stage, "--mrc",
                       str(mrc), "--out-dir", str(out_dir), "--threads", str(args.threads),
                       "--result", str(res_path)]
                env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
                m = common.run_measured(cmd, env=env, log_path=out_dir / f"{stage}.log")
                if m["rc"] != 0:
                    log = out_dir / f"{stage}.log"
                    raise RuntimeError(f"{tag} {stage} failed (rc {m['rc']}), see {log}")
                w = json.loads(res_path.read_text())
                row = {"size": tag, "rep": rep, **w, "process_wall_s": m["wall_s"],
                       "peak_rss_mib": m["peak_rss_mib"]}
                result["runs"].append(row)
                print(f"{tag} rep {rep} {stage:9s} {w['wall_s']:7.3f}s  peak {m['peak_rss_mib']:7.1f} MiB "
                      f"(process {m['wall_s']:.1f}s)", flush=True)
        result["summary"] += summarise([r for r in result["runs"] if r["size"] == tag], tag)
    return result


MEDIAN_KEYS = ("wall_s", "process_wall_s", "peak_rss_mib", "read_s", "compute_s", "write_s",
               "model_build_s", "model_forward_s", "io_pre_post_s", "tiles", "n_picks", "n_exported")


def summarise(runs: list[dict], tag: str) -> list[dict]:
    """Median per stage plus the ratios users ask for (LoG vs samcryo picking, model share of segment)."""
    out = []
    by_stage: dict[str, list[dict]] = {}
    for r in runs:
        by_stage.setdefault(r["stage"], []).append(r)
    for stage, rs in by_stage.items():
        row: dict = {"size": tag, "stage": stage, "n_reps": len(rs)}
        for k in MEDIAN_KEYS:
            vals = [r[k] for r in rs if r.get(k) is not None]
            if vals:
                row[k] = statistics.median(vals)
        out.append(row)
    med = {r["stage"]: r for r in out}
    idle = med.get("idle", {}).get("peak_rss_mib")
    for r in out:
        if idle is not None and r["stage"] != "idle":
            r["peak_minus_idle_mib"] = r["peak_rss_mib"] - idle
    if {"segment", "extract", "pick_log"} <= med.keys():
        samcryo_pick = med["segment"]["wall_s"] + med["extract"]["wall_s"]
        out.append({"size": tag, "stage": "ratio",
                    "log_over_samcryo_pick": med["pick_log"]["wall_s"] / samcryo_pick,
                    "model_share_of_segment": med["segment"]["model_forward_s"] / med["segment"]["wall_s"],
                    "samcryo_pick_s": samcryo_pick})
    total = sum(med[s]["wall_s"] for s in ("ingest", "normalize", "segment", "extract", "export") if s in med)
    out.append({"size": tag, "stage": "total_per_micrograph", "wall_s": total,
                "note": "ingest+normalize+segment+extract+export, model build excluded (once per chunk)"})
    return out


def write_outputs(result: dict, prefix: Path) -> None:
    from samcryo_core.io.atomic import atomic_write_text

    common.write_json(prefix.with_suffix(".json"), result)
    rows = [r for r in result["summary"] if r["stage"] not in ("ratio", "total_per_micrograph")]
    cfg = result["config"]
    md = [f"# Stage benchmark (median of {cfg['reps']} runs, {cfg['threads']} thread)\n\n",
          f"Machine: {common.machine_line(result['machine'])}\n\n",
          common.markdown_table(rows, ["size", "stage", "wall_s", "model_forward_s", "io_pre_post_s",
                                       "model_build_s", "peak_rss_mib", "peak_minus_idle_mib",
                                       "process_wall_s"]),
          "\n"]
    extra = [r for r in result["summary"] if r["stage"] in ("ratio", "total_per_micrograph")]
    md.append(common.markdown_table(extra, ["size", "stage", "wall_s", "samcryo_pick_s",
                                            "log_over_samcryo_pick", "model_share_of_segment"]))
    atomic_write_text(prefix.with_suffix(".md"), "".join(md))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--particles", type=int, default=300, help="particles per simulated micrograph")
    ap.add_argument("--work-dir", default=str(RESULTS / "tmp" / "stages"))
    ap.add_argument("--out-prefix", default=str(RESULTS / "stages"))
    ap.add_argument("--tiny", action="store_true", help="one small micrograph (smoke test)")
    ap.add_argument("--worker", choices=STAGES, help=argparse.SUPPRESS)
    ap.add_argument("--mrc", help=argparse.SUPPRESS)
    ap.add_argument("--out-dir", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        res = worker(args.worker, Path(args.mrc), Path(args.out_dir), args.threads)
        Path(args.result).write_text(json.dumps(res))
        return 0
    result = run(args)
    write_outputs(result, Path(args.out_prefix))
    print(f"-> {args.out_prefix}.json/.md", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
