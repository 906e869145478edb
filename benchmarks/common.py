"""Shared helpers of the benchmarks: machine facts, data sets, one scorer, subprocess peak memory.

Why one module: every benchmark number is only comparable to another when both came from the same
scorer, on the same micrographs, on a machine that is written down next to them. So the accuracy
benchmark and the stage benchmark (and the smoke test that keeps them from rotting) take their
data sets, their scoring and their machine description from here.

Scoring (:func:`score_picks`) is samcryo's own evaluation (:mod:`samcryo_core.evaluation.score`,
the code ``samcryo evaluate`` runs) for every picker alike: one-to-one Hungarian matching at
``0.5 x`` the true diameter -> TP/FP/FN, P/R/F1 at the picker's operating point; AP over the figure
of merit (picks pooled over micrographs); the best F1 any FOM threshold reaches ("oracle" F1, fair
to pickers whose default threshold is badly calibrated on a data set); and the papers' pixel Dice
of filled circles at 256 x 256. The operating points are the workflow's own
(:func:`operating_point`: the schema's ``export.threshold`` for samcryo's candidates).

Micrographs are binned to the backbone's working scale (:func:`working_scale`,
:func:`normalize_file`), as ``samcryo normalize`` does, and segmented tile by tile.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
#: Where the pre-trained ``cpu_small`` backbone lands when it ships (random init until then).
SHIPPED_BACKBONE_CANDIDATES = (
    REPO / "samcryo_core" / "src" / "samcryo_core" / "weights" / "cpu_small_backbone.pt",
    REPO / "samcryo_core" / "weights" / "cpu_small_backbone.pt",
)
CRYOPPP_10028 = Path("/work/shared/data/cryoppp-dev/10028")
CRYOPPP_10028_DIAMETER_PX = 56.0  # 1024 x 1024 PNG frame (CryoPPP 224 px at 4096, 4x binned)


def limit_threads(n: int) -> None:
    """Cap numpy/scipy/torch threads (the development machine has 2 cores shared by several people).

    torch is only configured when something already imported it, so a stage that does not need
    torch (ingest, normalize, extract) is not charged torch's memory in the stage benchmark.
    """
    import sys

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def shipped_backbone() -> Path | None:
    """The pre-trained ``cpu_small`` backbone if it exists, else None (random init)."""
    for p in SHIPPED_BACKBONE_CANDIDATES:
        if p.is_file():
            return p
    return None


# --------------------------------------------------------------------------------------------
# Machine facts
# --------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
        return str(getattr(mod, "__version__", "unknown"))
    except ImportError:
        return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> dict:
    """CPU model, cores, RAM, load, library versions, commit and date: printed next to every number."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "ram_gib": ram_gib(),
        "load_average_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "scipy": _version("scipy"),
        "samcryo_core": _version("samcryo_core"),
        "git_commit": git_commit(),
    }


# --------------------------------------------------------------------------------------------
# Data sets: labelled micrographs for training, test micrographs with truth
# --------------------------------------------------------------------------------------------

@dataclass
class TestMicrograph:
    """One scored micrograph: its image, true centres (original frame) and diameters."""

    name: str
    image: str
    truth_xy: np.ndarray
    truth_diameter_px: np.ndarray
    shape: tuple[int, int]


@dataclass
class LabelledSet:
    """A benchmark data set: labelled training pairs and scored test micrographs.

    Attributes:
        name: short id used in result tables (``sim_snr0.01``, ``real_10028``).
        kind: ``simulated`` or ``real``.
        diameter_px: particle diameter in original pixels (pickers are told this, as users would).
        pixel_size_A: original pixel size; with :attr:`diameter_A` it sets the binning (a set
            without a known pixel size uses 1, i.e. the diameter in pixels).
        train: ``(image path, label path)`` pairs in a fixed order; few-shot runs take a prefix.
        label_format: ``auto`` / ``star`` / ``csv`` / ``mask`` (training labels).
        flip_y: training labels count y from the bottom (CryoPPP CSV on raw MRC).
        test: micrographs scored for every picker.
        notes: facts a reader needs (label curation, SNR, ...).
    """

    name: str
    kind: str
    diameter_px: float
    pixel_size_A: float
    train: list[tuple[str, str]]
    test: list[TestMicrograph]
    label_format: str = "auto"
    flip_y: bool = False
    notes: dict = field(default_factory=dict)

    @property
    def diameter_A(self) -> float:
        """The particle diameter in Angstrom: what binning to the working scale needs."""
        return self.diameter_px * self.pixel_size_A

    def describe(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("train", "test")}
        d["diameter_A"] = self.diameter_A
        d["n_train_available"] = len(self.train)
        d["n_test"] = len(self.test)
        d["n_test_particles"] = int(sum(len(t.truth_xy) for t in self.test))
        d["test_micrographs"] = [t.name for t in self.test]
        return d


def read_truth_particles(path: str | Path, *, diameter_px: float | None, height: int,
                         flip_y: bool = False, fmt: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """True centres ``[N, 2]`` and diameters ``[N]`` from a STAR / CSV / .box file or a mask image.

    Coordinates are read with samcryo's coordinate reader (what training and evaluation use); a mask image
    (CryoPPP PNG) is turned into centres with :func:`centres_from_mask`.
    """
    from samcryo_core.io.coordinates import read_coordinates, with_diameters
    from samcryo_core.training.labels import MASK_SUFFIXES

    p = Path(path)
    if fmt == "mask" or (fmt == "auto" and p.suffix.lower() in MASK_SUFFIXES):
        from samcryo_core.io.micrograph import read_micrograph

        mask = read_micrograph(p).data > 0.5 * float(read_micrograph(p).data.max() or 1)
        if flip_y:
            mask = mask[::-1]
        if diameter_px is None:
            raise ValueError(f"{p}: a mask truth needs diameter_px")
        xy = centres_from_mask(mask, diameter_px)
        return xy, np.full(len(xy), float(diameter_px))
    parts = with_diameters(read_coordinates(p, fmt), override_px=diameter_px, source=p)
    x, y = parts["x"].to_numpy(np.float64), parts["y"].to_numpy(np.float64)
    y = (height - 1) - y if flip_y else y
    xy = np.stack([x, y], axis=1).reshape(-1, 2)
    return xy, parts["diameter_px"].to_numpy(np.float64)


def centres_from_mask(mask: np.ndarray, diameter_px: float) -> np.ndarray:
    """Particle centres from a filled-circle mask: maxima of the distance transform ~ a radius apart.

    Touching circles merge into one component, so components are not particles; peaks of the
    distance map at least ``0.4 x diameter`` apart and at least ``0.25 x diameter`` deep are.
    """
    from scipy import ndimage
    from skimage.feature import peak_local_max

    dist = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=max(1, int(0.4 * diameter_px)),
                           threshold_abs=max(1.0, 0.25 * diameter_px), exclude_border=False)
    return peaks[:, ::-1].astype(np.float64).reshape(-1, 2)


def simulated_set(out_dir: str | Path, *, snr: float, n_train: int, n_test: int, seed: int = 0,
                  shape: tuple[int, int] = (1024, 1024), pixel_size_A: float = 4.0,
                  diameter_A: float = 160.0, n_particles: int = 80, junk: bool = True) -> LabelledSet:
    """Simulate a training and a test set (different seeds) with junk; truth from the simulator.

    Reuses micrographs already in ``out_dir`` when their summary matches (the simulator is
    deterministic for ``(params, seed)``).
    """
    from samcryo_core.simulate import SimulationParams, simulate_dataset

    out = Path(out_dir)
    params = SimulationParams(shape=shape, pixel_size_A=pixel_size_A, diameters_A=(diameter_A,),
                              n_particles=n_particles, snr=snr, junk=junk)
    sets = {}
    for split, n, s in (("train", n_train, seed), ("test", n_test, seed + 1000)):
        d = out / split
        summary_csv = d / "truth" / "summary.csv"
        if summary_csv.is_file() and len(pd.read_csv(summary_csv)) == n:
            summary = pd.read_csv(summary_csv)
        else:
            summary = simulate_dataset(d, n, params, seed=s, prefix=f"{split}")
        sets[split] = (d, list(summary["micrograph"]))
    d_train, names = sets["train"]
    train = [(str(d_train / "micrographs" / f"{n}.mrc"), str(d_train / "truth" / f"{n}.star")) for n in names]
    d_test, names = sets["test"]
    test = []
    for n in names:
        xy, diam = read_truth_particles(d_test / "truth" / f"{n}.star", diameter_px=None, height=shape[0])
        test.append(TestMicrograph(n, str(d_test / "micrographs" / f"{n}.mrc"), xy, diam, shape))
    diameter_px = diameter_A / pixel_size_A
    return LabelledSet(
        name=f"sim_snr{snr:g}", kind="simulated", diameter_px=diameter_px, pixel_size_A=pixel_size_A,
        train=train, test=test, label_format="star",
        notes={"snr": snr, "shape": list(shape), "particles_per_micrograph": n_particles, "junk": junk,
               "seed_train": seed, "seed_test": seed + 1000},
    )


def _images_in(folder: str | Path) -> list[Path]:
    suffixes = {".mrc", ".png", ".tif", ".tiff", ".jpg", ".jpeg"}
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in suffixes)


def _match(name: str, folder: Path) -> Path:
    hits = sorted(p for p in folder.iterdir() if p.stem == name)
    if not hits:
        raise FileNotFoundError(f"no label/truth file named {name}.* in {folder}")
    return hits[0]


def real_set(name: str, *, train_images: list[str | Path], train_labels_dir: str | Path,
             test_images: list[str | Path], test_truth_dir: str | Path, diameter_px: float,
             pixel_size_A: float | None = None, label_format: str = "auto", truth_format: str = "auto",
             flip_y: bool = False, notes: dict | None = None) -> LabelledSet:
    """A user's labelled micrographs: images + STAR / CryoPPP CSV (``flip_y``) / mask PNGs.

    ``pixel_size_A`` defaults to the first test image's header, else 1 (the diameter in pixels
    then stands for the Angstrom the binning needs).
    """
    from samcryo_core.io.micrograph import read_micrograph

    train = [(str(p), str(_match(Path(p).stem, Path(train_labels_dir)))) for p in train_images]
    test = []
    for p in test_images:
        mic = read_micrograph(p)
        pixel_size_A = pixel_size_A or mic.pixel_size_A
        shape = tuple(int(v) for v in mic.data.shape)
        xy, diam = read_truth_particles(_match(Path(p).stem, Path(test_truth_dir)), diameter_px=diameter_px,
                                        height=shape[0], flip_y=flip_y, fmt=truth_format)
        test.append(TestMicrograph(Path(p).stem, str(p), xy, diam, shape))  # type: ignore[arg-type]
    return LabelledSet(name=name, kind="real", diameter_px=diameter_px, pixel_size_A=pixel_size_A or 1.0,
                       train=train, test=test, label_format=label_format, flip_y=flip_y, notes=notes or {})


def cryoppp_10028_set(root: str | Path = CRYOPPP_10028) -> LabelledSet:
    """The EMPIAR-10028 CryoPPP subset: train+valid (5) for training, test (5) scored.

    Training uses CryoPPP's own mask PNGs (as the SAM papers do); scoring uses the particle centres
    recovered from those masks (``coordinates/*.star``, 1024 x 1024 PNG frame, y from the top).
    """
    root = Path(root)
    train_imgs = _images_in(root / "train" / "images") + _images_in(root / "valid" / "images")
    train = [(str(p), str(p.parent.parent / "labels" / p.name)) for p in train_imgs]
    test_imgs = _images_in(root / "test" / "images")
    s = real_set("real_10028", train_images=[], train_labels_dir=root, test_images=test_imgs,
                 test_truth_dir=root / "coordinates", diameter_px=CRYOPPP_10028_DIAMETER_PX,
                 pixel_size_A=5.36, label_format="mask", truth_format="star",
                 notes={"source": str(root), "protein": "P. falciparum 80S ribosome (EMPIAR-10028)",
                        "labels": "CryoPPP curated subset: some visible particles are unlabelled, so "
                                  "precision understates every picker; recall is the steadier number",
                        "truth": "centres recovered from CryoPPP masks (approximate)"})
    s.train = train
    return s


# --------------------------------------------------------------------------------------------
# The working scale, normalization and samcryo's picks, as the workflow makes them
# --------------------------------------------------------------------------------------------

def working_scale(variant: str, checkpoint: str | Path | None = None):
    """The backbone's :class:`~samcryo_core.model.scale.WorkingScale` (checkpoint metadata, else
    the variant's), as ``model.particle_px: null`` gives it in the workflow."""
    from samcryo_core.model.scale import working_scale as library_working_scale

    return library_working_scale(variant, checkpoint)


def normalize_file(path: str | Path, *, name: str, diameter_A: float, particle_px: float,
                   pixel_size_A: float | None = None):
    """``(image, FrameMapping)`` of one micrograph file at the working scale, as ``samcryo
    normalize`` makes it; ``pixel_size_A`` is used where the header has none (PNG)."""
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.preprocess.normalize import normalize_micrograph

    mic = read_micrograph(path)
    return normalize_micrograph(mic.data, name=name, source=str(path),
                                pixel_size_A=mic.pixel_size_A or pixel_size_A, diameter_A=diameter_A,
                                particle_px=particle_px)


def samcryo_picks(model, image: np.ndarray, mapping, diameter_px, tta: str = "none") -> pd.DataFrame:
    """Every candidate of one normalized micrograph, as ``samcryo segment`` + ``samcryo extract``
    make them with their defaults (tiled probability map, candidates above the floor)."""
    from samcryo_core.inference.segment import probability_map
    from samcryo_core.particles.extraction import extract_particles

    prob = probability_map(model, image, mapping, tta=tta)
    return extract_particles(prob, mapping, diameter_px=diameter_px)


def train_epochs(model, train: list, val: list, *, epochs: int | None, out_path: str | Path, seed: int,
                 min_steps: int = 0, lr: float | None = None, progress=None, base_meta: dict | None = None):
    """Few-shot training with the library's ``train_prompt`` (what ``samcryo train`` runs), its
    step budget given in epochs; returns ``(TrainResult, steps per epoch, epochs)``.

    An epoch is as many random tiles (batch 1, flips/rotations) as the training micrographs' tile
    grid holds: one 512 px tile per 1024 px micrograph of 40 px particles, so the benchmarks'
    budgets mean what they meant before training counted steps. ``epochs`` None: enough epochs
    for ``min_steps`` steps, at least 2 (a fixed budget per few-shot point). Validation once per
    epoch, the best kept, no early stop.
    """
    from samcryo_core.training.dataset import TileDataset
    from samcryo_core.training.trainer import train_prompt

    train_set = TileDataset(list(train), tile=model.img_size, augment=True)
    per_epoch = max(1, len(train_set.grid_tiles()))
    if epochs is None:
        epochs = max(2, math.ceil(min_steps / per_epoch))
    result = train_prompt(model, train_set, TileDataset(list(val), tile=model.img_size),
                          steps=epochs * per_epoch, val_every=per_epoch, patience=None, lr=lr,
                          batch_size=1, out_path=out_path, seed=seed, device="cpu", resume=False,
                          progress=progress, base_meta=base_meta)
    return result, per_epoch, epochs


def operating_point(picker: str) -> float:
    """The FOM threshold the workflow exports ``picker``'s picks at with the schema's defaults:
    ``export.threshold`` for samcryo, the FOM of ``pick_log.threshold_sd`` for LoG."""
    from samcryo_core.cli.common_args import config_default
    from samcryo_core.workflow.settings import fom_threshold

    config = {"export": {"threshold": config_default("export.threshold")},
              "pick_log": {"threshold_sd": config_default("pick_log.threshold_sd")}}
    return fom_threshold(config, uses_sam=picker != "log")


# --------------------------------------------------------------------------------------------
# One scorer for every picker: samcryo's evaluation
# --------------------------------------------------------------------------------------------

def scored_micrograph(t: TestMicrograph, picks: pd.DataFrame | None):
    """``t`` and its picks as the evaluation code's :class:`~samcryo_core.evaluation.score.Scored`
    (no picks: an empty table; no ``diameter_px`` column: the truth's mean size, as evaluate does)."""
    from samcryo_core.evaluation.score import Scored

    df = pd.DataFrame({"x": [], "y": [], "fom": []}) if picks is None else picks
    if "diameter_px" not in df:
        df = df.assign(diameter_px=np.nan)
    truth = pd.DataFrame({"x": t.truth_xy[:, 0], "y": t.truth_xy[:, 1], "diameter_px": t.truth_diameter_px})
    return Scored(t.name, df.astype({"x": float, "y": float, "fom": float, "diameter_px": float}), truth,
                  tuple(t.shape))


def score_picks(test: list[TestMicrograph], picks: dict[str, pd.DataFrame], *,
                min_fom: float | None = None, distance_fraction: float = 0.5) -> dict:
    """Score one picker on a data set with :mod:`samcryo_core.evaluation.score` (module docstring).

    Args:
        test: the scored micrographs (truth in the original frame).
        picks: micrograph name -> picks (``x``, ``y``, ``fom``, optional ``diameter_px``), original
            frame. A missing micrograph counts as no picks.
        min_fom: the picker's operating point for P/R/F1 and Dice (AP and best F1 use all picks).
        distance_fraction: match radius as a fraction of the true diameter.
    """
    from samcryo_core.evaluation.score import overall_scores, score_micrograph

    items = [scored_micrograph(t, picks.get(t.name)) for t in test]
    table = pd.DataFrame([score_micrograph(it, threshold=min_fom, distance_fraction=distance_fraction)
                          for it in items])
    overall = overall_scores(table, items, threshold=min_fom, distance_fraction=distance_fraction, skipped=[])
    m, mean = overall["micro"], overall["mean_per_micrograph"]
    return {
        "n_micrographs": len(test), "n_truth": int(table["n_truth"].sum()), "n_picks": m["tp"] + m["fp"],
        "n_picks_ranked": int(sum(len(it.picks) for it in items)),
        "tp": m["tp"], "fp": m["fp"], "fn": m["fn"], "precision": m["precision"], "recall": m["recall"],
        "f1": m["f1"], "ap": m["ap"], "best_f1": m["best_f1"], "best_f1_min_fom": m["best_f1_threshold"],
        "dice": mean["dice"], "mean_error_px": mean["mean_error_px"], "operating_point_min_fom": min_fom,
    }


# --------------------------------------------------------------------------------------------
# Subprocess time and peak memory, results files
# --------------------------------------------------------------------------------------------

#: Forks the measured command from a small process and reports the command's own rusage.
_LAUNCHER = """
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(cmd[0], cmd)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as f:
    json.dump({"rc": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - t0,
               "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024.0}, f)
"""


def run_measured(cmd: list[str], *, env: dict | None = None, cwd: str | Path | None = None,
                 log_path: str | Path | None = None) -> dict:
    """Run ``cmd``; return wall and CPU seconds, rc and the peak RSS of that command alone.

    Why a launcher: on Linux a child's ``ru_maxrss`` starts at its parent's RSS at ``fork`` time
    and survives ``execve``, so a benchmark driver holding 600 MiB would report at least 600 MiB
    for every stage it starts. A tiny ``python -S`` launcher (about 10 MiB) forks the command
    instead and reaps it with ``os.wait4``, which returns exactly that process's rusage. Output
    goes to ``log_path`` (or is discarded), so no pipe can fill up and block the child.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "rusage.json"
        sink = open(log_path, "w") if log_path else open(os.devnull, "w")  # noqa: SIM115
        try:
            rc = subprocess.call([sys.executable, "-S", "-c", _LAUNCHER, str(report), *cmd],
                                 stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        finally:
            sink.close()
        if not report.is_file():
            return {"wall_s": float("nan"), "rc": rc or 1, "peak_rss_mib": float("nan")}
        return json.loads(report.read_text())


def vm_hwm_mib() -> float | None:
    """Peak RSS of this process's current address space (``VmHWM``; fresh after ``execve``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def write_json(path: str | Path, obj: dict) -> None:
    from samcryo_core.io.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable) + "\n")


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return None if math.isnan(float(v)) else float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def fmt_num(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def markdown_table(rows: list[dict], columns: list[str], digits: int = 3) -> str:
    """A GitHub markdown table of ``rows`` restricted to ``columns`` (missing cells as '–')."""
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(fmt_num(r.get(c), digits) for c in columns) + " |\n" for r in rows)
    return head + body


def machine_line(m: dict) -> str:
    return (f"{m['cpu_model']}, {m['cpu_cores_usable']} usable cores of {m['cpu_cores']}, "
            f"{m['ram_gib']} GiB RAM, "
            f"load {m['load_average_1_5_15']}; Python {m['python']}, torch {m['torch']}, numpy {m['numpy']}, "
            f"scipy {m['scipy']}; samcryo_core {m['samcryo_core']} @ {m['git_commit']}; {m['date_utc']}")
