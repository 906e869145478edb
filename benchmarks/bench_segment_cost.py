"""Cost of ``segment`` per large micrograph with ``cpu_small``: before and after the working scale.

Why: issue 13 made ``segment`` see each micrograph at the backbone's working scale, in tiles,
instead of squeezing every micrograph into one 512 px input. A 4096 x 4096 micrograph at 1.1 A/px
with 130-190 A particles now becomes about 560 x 560 px, i.e. four 512 px tiles where there was
one; the target was to stay within 2x of the old cost at the default settings, or say why not.

Method: for each checkout (``--repo`` before/after; the same micrographs), the checkout's own
workflow normalizes two simulated micrographs per frame size (``snakemake`` up to the normalized
chunk manifest), then ``samcryo segment`` (zero-shot ``none``, so no training is involved; a
prompt adds little to the model time) runs on them once per TTA mode. Reported: CPU seconds
(``ru_utime + ru_stime`` of the segment process: robust to other jobs on this shared machine)
and wall seconds per micrograph, with model loading subtracted via a run on zero micrographs,
and the after / before ratio. Torch runs on one thread.

    python benchmarks/bench_segment_cost.py --before ../before
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scale  # noqa: E402
import common  # noqa: E402

REPO = common.REPO
WORK = REPO / "benchmarks" / "results" / "tmp" / "segment_cost"
#: (name, scale data set of bench_scale, pixel size): the frame sizes the issue asks about.
FRAMES = (("4096x4096", "px1.1_4096", 1.1), ("5760x4092", "px0.8_5760x4092", 0.8))
N_MICROGRAPHS = 2


def _env(repo: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo / "samcryo_core" / "src")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"
    return env


def normalized_manifest(repo: Path, workdir: Path, images: Path, px: float) -> Path:
    """Run the checkout's workflow up to its normalized chunk manifest; return that manifest."""
    workdir.mkdir(parents=True, exist_ok=True)
    demo = repo / "config" / "demo.yaml"  # config.yaml in checkouts before the user/demo split
    cfg = yaml.safe_load((demo if demo.is_file() else repo / "config.yaml").read_text())
    cfg["inputs"].update({"glob": str(images / "*.mrc"), "project_dir": str(images.parent)})
    cfg["particle"]["diameter_A"] = list(bench_scale.DIAMETER_RANGE_A)
    cfg["prompt"] = "none"
    cfg["evaluate"]["truth_dir"] = None  # no truth: segment cost only
    cfg["train"]["truth_dir"] = None
    conf = workdir / "config.yaml"
    conf.write_text(yaml.safe_dump(cfg, sort_keys=False))
    snake = [str(Path(sys.executable).parent / "snakemake"), "-s", str(repo / "Snakefile"),
             "-d", str(workdir), "--configfile", str(conf), "--cores", "2", "-q", "--until", "normalize"]
    if not sorted(workdir.glob("results/normalized/*/chunks/*.tsv")):
        proc = subprocess.run(snake, capture_output=True, text=True, env=_env(repo))
        if proc.returncode:
            raise RuntimeError(f"{repo}: normalize failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    found = sorted(workdir.glob("results/normalized/*/chunks/*.tsv"))
    if not found:
        raise RuntimeError(f"{repo}: no normalized chunk manifest under {workdir}")
    return found[0]


def segment_cost(repo: Path, workdir: Path, manifest: Path, out: Path, tta: str) -> dict:
    """CPU and wall seconds of one ``samcryo segment`` run over the manifest's micrographs."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    weights = repo / "samcryo_core" / "src" / "samcryo_core" / "weights" / "cpu_small_backbone.pt"
    cmd = [str(Path(sys.executable).parent / "samcryo"), "segment", "--manifest", str(manifest),
           "--out-dir", str(out / "maps"), "--out", str(out / "segment.tsv"), "--variant", "cpu_small",
           "--checkpoint", str(weights), "--prompt", "none", "--tta", tta, "--batch-size", "2",
           "--device", "cpu", "--threads", "1"]
    # the manifests name files relative to the workflow's folder
    return common.run_measured(cmd, env=_env(repo), cwd=workdir, log_path=out / "segment.log")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="checkout of the code before the change")
    ap.add_argument("--tta", nargs="+", default=["none", "d4"])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "segment_cost.json")
    args = ap.parse_args(argv)
    scale_data = bench_scale.WORK / "data" / "scale"
    bench_scale.prepare_scale(scale_data)
    result: dict = {"machine": common.machine_info(), "n_micrographs": N_MICROGRAPHS, "rows": []}
    for frame, set_name, px in FRAMES:
        images = WORK / "data" / frame / "micrographs"
        if not images.is_dir():
            images.mkdir(parents=True)
            for src in sorted((scale_data / set_name / "test" / "micrographs").glob("*.mrc"))[:N_MICROGRAPHS]:
                shutil.copy2(src, images / src.name)
        for label, repo in (("before", args.before.resolve()), ("after", REPO)):
            workdir = WORK / "runs" / label / frame
            manifest = normalized_manifest(repo, workdir, images, px)
            empty = manifest.with_name("empty.tsv")
            empty.write_text(manifest.read_text().splitlines()[0] + "\n")
            for tta in args.tta:
                load = segment_cost(repo, workdir, empty, workdir / f"load_{tta}", tta)
                run = segment_cost(repo, workdir, manifest, workdir / f"seg_{tta}", tta)
                row = {"frame": frame, "pixel_size_A": px, "code": label, "tta": tta, "rc": run["rc"],
                       "cpu_s_per_micrograph": (run["cpu_s"] - load["cpu_s"]) / N_MICROGRAPHS,
                       "wall_s_per_micrograph": (run["wall_s"] - load["wall_s"]) / N_MICROGRAPHS,
                       "peak_rss_mib": run["peak_rss_mib"]}
                result["rows"].append(row)
                print(f"bench_segment_cost: {frame} {label} tta {tta}: "
                      f"{row['cpu_s_per_micrograph']:.2f} CPU s, {row['wall_s_per_micrograph']:.2f} wall s "
                      f"per micrograph (rc {run['rc']})", flush=True)
                common.write_json(args.out, result)
    by = {(r["frame"], r["code"], r["tta"]): r["cpu_s_per_micrograph"] for r in result["rows"]}
    result["ratio_after_before_cpu"] = {f"{f}/{t}": by[(f, "after", t)] / by[(f, "before", t)]
                                        for f, _, _ in FRAMES for t in args.tta
                                        if by.get((f, "before", t))}
    common.write_json(args.out, result)
    print(result["ratio_after_before_cpu"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
