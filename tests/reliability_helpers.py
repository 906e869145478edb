"""Fault injection for the reliability tests: bad files, workflow runs, SIGKILL, result scans.

The reliability tests (``tests/test_reliability_*.py``) prove that an unattended run on a large
dataset keeps going and loses nothing. They do it by *injecting* the faults a facility meets --
corrupt micrographs, bad STAR files, a killed job, a hostile checkpoint -- into small simulated
datasets (``samcryo simulate``) and running the real ``samcryo`` commands and the real Snakefile.
This module holds what they share, so each test reads as "inject, run, check".

Self-contained on purpose (no import from other engineers' test modules, which are still moving).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import mrcfile
import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
BIN = Path(sys.executable).parent
SAMCRYO = str(BIN / "samcryo")
SNAKEMAKE = str(BIN / "snakemake")

#: Image side of the simulated micrographs: the ingest minimum (256), so everything stays small.
SIDE = 256
PIXEL_SIZE_A = 4.0


#: A few training steps on the simulated data of these tests (160 A particles at 4 A/px).
FEW_STEPS = ("--steps", "2", "--val-every", "1", "--diameter-A", "160")


def env(**extra: str) -> dict:
    """Environment of a run: the venv's ``samcryo``/``snakemake`` first on PATH, one BLAS thread."""
    e = dict(os.environ)
    e["PATH"] = f"{BIN}{os.pathsep}{e.get('PATH', '')}"
    e.setdefault("OMP_NUM_THREADS", "1")
    e.setdefault("MKL_NUM_THREADS", "1")
    e.update(extra)
    return e


def samcryo(*args: str, cwd: Path | None = None, timeout: int = 300,
            extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``samcryo ARGS`` and return the finished process (never raises on failure)."""
    return subprocess.run([SAMCRYO, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env(**(extra_env or {})))


def simulate(out: Path, n: int, seed: int, prefix: str, *, side: int = SIDE,
             particles: int = 10) -> list[Path]:
    """``samcryo simulate`` small micrographs (pixel size in the header) with truth STAR files."""
    proc = samcryo("simulate", "--out-dir", out, "--n", n, "--seed", seed, "--prefix", prefix,
                   "--shape", side, side, "--particles-per-micrograph", particles, "--no-junk")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return sorted((out / "micrographs").glob("*.mrc"))


# ---- bad micrographs ---------------------------------------------------------------------------

def _write(path: Path, data: np.ndarray, pixel_size: float | None = PIXEL_SIZE_A) -> Path:
    with warnings.catch_warnings(), mrcfile.new(path, overwrite=True) as mrc:
        warnings.simplefilter("ignore", RuntimeWarning)  # NaN on purpose
        mrc.set_data(data)
        if pixel_size is not None:
            mrc.voxel_size = pixel_size
    return path


def _noise(side: int = SIDE, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(side, side)).astype(np.float32)


def inject_bad_micrographs(folder: Path) -> dict[str, str]:
    """Write one micrograph per fault into ``folder``; return ``{name: words the reason must hold}``.

    Covers what a facility meets: a transfer cut short, a file that is not an MRC, an MRC mode
    nobody reads, a movie stack instead of a sum, NaN/Inf pixels, a failed (all-zero) exposure, a
    thumbnail, no pixel size anywhere, and two "unreadable" inputs that work even as root (chmod
    000 does not stop root): a directory named like a micrograph and a dangling symlink.
    """
    folder.mkdir(parents=True, exist_ok=True)
    expect: dict[str, str] = {}

    p = _write(folder / "bad_truncated.mrc", _noise())
    with open(p, "r+b") as fh:
        fh.truncate(1024 + 5000)
    expect["bad_truncated"] = "truncated MRC"

    p = _write(folder / "bad_magic.mrc", _noise())
    raw = bytearray(p.read_bytes())
    raw[208:212] = b"XXXX"
    p.write_bytes(bytes(raw))
    expect["bad_magic"] = "not an MRC file"

    p = _write(folder / "bad_mode.mrc", _noise())
    raw = bytearray(p.read_bytes())
    raw[12:16] = np.int32(99).tobytes()
    p.write_bytes(bytes(raw))
    expect["bad_mode"] = "mode"

    _write(folder / "bad_stack.mrc", np.stack([_noise(seed=i) for i in range(3)]))
    expect["bad_stack"] = "3-D stack"

    data = _noise()
    data[10, 10] = np.nan
    data[20, 20] = np.inf
    _write(folder / "bad_naninf.mrc", data)
    expect["bad_naninf"] = "1 NaN and 1 Inf"

    _write(folder / "bad_zero.mrc", np.zeros((SIDE, SIDE), np.float32))
    expect["bad_zero"] = "constant"

    _write(folder / "bad_tiny.mrc", _noise(64))
    expect["bad_tiny"] = "smaller than min_size"

    _write(folder / "bad_nopixel.mrc", _noise(), pixel_size=None)
    expect["bad_nopixel"] = "pixel size unknown"

    (folder / "bad_directory.mrc").mkdir()
    expect["bad_directory"] = "not a regular file"

    (folder / "bad_dangling.mrc").symlink_to(folder / "no_such_target.mrc")
    expect["bad_dangling"] = "does not exist"
    return expect


# ---- workflow runs -----------------------------------------------------------------------------

def write_config(root: Path, *, glob: str = "data/micrographs/*.mrc", prompt: str = "none",
                 chunk_size: int = 4, **sections) -> Path:
    """A config for the ``tiny`` SAM variant (128 px input) on ``root``; sections override keys."""
    cfg: dict = {
        "inputs": {"glob": glob},
        "chunk_size": chunk_size,
        "particle": {"diameter_A": 160},
        "model": {"variant": "tiny", "checkpoint": None},
        "prompt": prompt,
        "device": "cpu",
        "segment": {"batch_size": 1},
        "export": {"box_size_px": 40, "relion_version": "5"},
        "evaluate": {"truth_dir": None},
        "report": {"sample": 1, "compare_existing": False},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def prompt_dir(prompt: str = "none") -> str:
    return f"results/tiny/{prompt}"


def targets(prompt: str = "none") -> list[str]:
    """What the picking part of the workflow produces (no evaluation/report: keeps runs short)."""
    d = prompt_dir(prompt)
    return ["results/ingest/rejected.tsv", "results/ingest/summary.json",
            f"{d}/relion/autopick.star", f"{d}/cryosparc/particles.star"]


def snakemake_cmd(root: Path, *args: str, config: Path | None = None) -> list[str]:
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(root), "--configfile",
           str(config or root / "config.yaml")]
    return cmd + list(args)


def snakemake(root: Path, *args: str, config: Path | None = None, timeout: int = 900,
              extra_env: dict | None = None) -> subprocess.CompletedProcess:
    """Run Snakemake on ``root`` (its ``config.yaml`` unless ``config``) and return the result."""
    return subprocess.run(snakemake_cmd(root, *args, config=config), capture_output=True,
                          text=True, timeout=timeout, env=env(**(extra_env or {})))


def start_snakemake(root: Path, *args: str, log: Path, extra_env: dict | None = None) -> subprocess.Popen:
    """Start Snakemake in its own session/process group (so the whole group can be SIGKILLed)."""
    fh = open(log, "w")  # noqa: SIM115 - closed by the child's exit; kept for the test's lifetime
    return subprocess.Popen(snakemake_cmd(root, *args), stdout=fh, stderr=subprocess.STDOUT,
                            env=env(**(extra_env or {})), start_new_session=True)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             proc: subprocess.Popen | None = None, interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; fail (naming ``what``) on timeout or if ``proc`` ended first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}")
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group of ``proc`` (Snakemake and every job it started) and reap it."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (e.g. a test's work folder)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (d / "stat").read_text().split(") ", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmd and state != "Z":
            found.append(cmd.strip())
    return found


# ---- scanning results --------------------------------------------------------------------------

def temp_files(root: Path) -> list[Path]:
    """Leftovers of ``samcryo_core.io.atomic`` writes (hidden ``.<name>.<random>.tmp<suffix>``)."""
    return sorted(p for p in root.rglob(".*") if p.is_file() and ".tmp" in p.name
                  and ".snakemake" not in p.parts)


def broken_outputs(root: Path) -> list[str]:
    """Every visible MRC / STAR / CSV / TSV under ``root`` that does not read back completely."""
    import pandas as pd
    import starfile

    problems = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.startswith(".") or ".snakemake" in p.parts:
            continue
        try:
            if p.suffix == ".mrc":
                with open(os.devnull, "w") as devnull:
                    if not mrcfile.validate(str(p), print_file=devnull):
                        problems.append(f"{p}: mrcfile.validate says it is not a valid MRC2014 file")
                with mrcfile.open(p, permissive=False) as mrc:
                    if mrc.data is None or not np.all(np.isfinite(mrc.data)):
                        problems.append(f"{p}: no data or non-finite values")
            elif p.suffix == ".star":
                text = p.read_text()
                if not text.endswith("\n"):
                    problems.append(f"{p}: does not end with a newline (cut short)")
                starfile.read(p, always_dict=True)
            elif p.suffix in (".csv", ".tsv"):
                text = p.read_text()
                if text and not text.endswith("\n"):
                    problems.append(f"{p}: does not end with a newline (cut short)")
                pd.read_csv(p, sep="\t" if p.suffix == ".tsv" else ",")
        except Exception as exc:  # any failure to read back is a finding
            problems.append(f"{p}: {type(exc).__name__}: {exc}")
    return problems


def star_contents(root: Path, prompt: str = "none") -> dict[str, str]:
    """Relative path -> text of every exported STAR (RELION per-micrograph + index, cryoSPARC)."""
    base = root / prompt_dir(prompt)
    return {str(p.relative_to(base)): p.read_text()
            for p in sorted(base.glob("relion/**/*.star")) + sorted(base.glob("cryosparc/*.star"))
            if not p.name.startswith(".")}  # hidden atomic-write leftovers are not results


def picks_contents(root: Path, prompt: str = "none") -> dict[str, str]:
    base = root / prompt_dir(prompt) / "picks"
    return {p.name: p.read_text() for p in sorted(base.glob("*.csv")) if not p.name.startswith(".")}


def manifest_rows(paths: Iterable[Path]) -> list[dict]:
    from samcryo_core.manifest import read_manifests

    return read_manifests(sorted(paths))
