"""Build the whole QC folder: overlays, plots, tables, ``summary.md`` and ``summary.html``.

Layout of ``out_dir`` (what ``samcryo report`` and ``rules/report.smk`` promise)::

    summary.md  summary.html
    overlays/<mic>.png        sample of micrographs with picks drawn
    plots/picks_per_micrograph.png  fom_histogram.png  pick_sizes.png  rejections.png
          [evaluation.png  evaluation_per_micrograph.png]      (with evaluation results)
    tables/micrographs.csv  rejected.csv  [evaluation.csv  evaluation_per_micrograph.csv]

Every plot and table is always written (with a "no picks" / "no rejections" note when empty)
except the evaluation ones, so Snakemake's report and the summary link to files that exist.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.particles.picks_io import read_picks
from samcryo_core.qc import distributions as dist
from samcryo_core.qc.inputs import QcDataset
from samcryo_core.qc.overlay import render_overlay, select_sample, truth_to_normalized

log = logging.getLogger(__name__)


@dataclass
class ReportStats:
    """The headline numbers of a run (what the summary's first table shows)."""

    n_inputs: int
    n_accepted: int
    n_rejected: int
    rejected_by_stage: dict[str, int]
    n_picks: int
    median_picks: float
    mean_picks: float
    min_picks: int
    max_picks: int
    n_without_picks: int
    median_fom: float | None
    median_diameter_px: float | None
    median_diameter_A: float | None = None


@dataclass
class ReportResult:
    """What was written, relative to ``out_dir``, for the summary renderers."""

    out_dir: Path
    stats: ReportStats
    overlays: list[tuple[str, str]] = field(default_factory=list)  # (micrograph, rel path)
    plots: list[tuple[str, str]] = field(default_factory=list)  # (title, rel path)
    tables: list[tuple[str, str]] = field(default_factory=list)  # (title, rel path)
    rejected: pd.DataFrame | None = None
    evaluation: dict[str, float] = field(default_factory=dict)
    metrics: pd.DataFrame | None = None
    threshold: float | None = None
    pixel_sizes_A: list[float] = field(default_factory=list)  # distinct, of accepted micrographs
    working_scale: WorkingScaleSummary | None = None
    title: str = "samcryo QC"


@dataclass
class WorkingScaleSummary:
    """How the micrographs were seen by the model: the scale issue's first question in any QC.

    ``particle_px`` is the backbone's working particle size (model-input pixels per particle
    diameter), ``range_px`` the sample's diameter range at that scale, and ``bin_factor_*`` the
    Fourier binning factors (original / normalized pixels) over the accepted micrographs: mixed
    pixel sizes give several factors, one working scale.
    """

    particle_px: float
    diameter_A: tuple[float, float]
    range_px: tuple[float, float]
    bin_factor_median: float
    bin_factor_min: float
    bin_factor_max: float
    n_micrographs: int
    tile_px: int | None = None


def compute_stats(ds: QcDataset) -> ReportStats:
    """Counts of micrographs and picks; medians are over accepted micrographs (zeros included)."""
    counts = ds.picks_per_micrograph()
    by_stage: dict[str, int] = {}
    for r in ds.rejected:
        by_stage[r.stage] = by_stage.get(r.stage, 0) + 1
    fom = pd.to_numeric(ds.exported["fom"], errors="coerce").dropna()
    diam = pd.to_numeric(ds.exported["diameter_px"], errors="coerce").dropna()
    diam_A = pd.to_numeric(ds.exported.get("diameter_A", pd.Series(dtype=float)), errors="coerce").dropna()
    return ReportStats(
        n_inputs=len(ds.records), n_accepted=len(ds.accepted), n_rejected=len(ds.rejected),
        rejected_by_stage=by_stage, n_picks=int(counts.sum()),
        median_picks=float(np.median(counts)) if len(counts) else 0.0,
        mean_picks=float(counts.mean()) if len(counts) else 0.0,
        min_picks=int(counts.min()) if len(counts) else 0, max_picks=int(counts.max()) if len(counts) else 0,
        n_without_picks=int((counts == 0).sum()),
        median_fom=float(fom.median()) if len(fom) else None,
        median_diameter_px=float(diam.median()) if len(diam) else None,
        median_diameter_A=float(diam_A.median()) if len(diam_A) else None,
    )


def read_truth_centres(path: Path, fmt: str, flip_y: bool, mapping: FrameMapping) -> np.ndarray:
    """Ground-truth centres ``[N, 2]`` (x, y, original frame) read as ``samcryo evaluate`` reads them.

    Uses the evaluation's reader so the crosses on an overlay are exactly the particles the
    precision and recall were computed against (same format handling, same ``flip_y``).
    """
    from samcryo_core.evaluation.score import read_truth

    # Only centres are drawn, so any diameter will do (.box files carry none).
    df = read_truth(path, fmt, mapping=mapping, diameter_px=1.0, flip_y=flip_y)
    return df[["x", "y"]].to_numpy(dtype=float)


def _pixel_sizes(ds: QcDataset) -> list[float]:
    """The distinct pixel sizes of the accepted micrographs (each from its own sidecar)."""
    return sorted({float(r.pixel_size_A) for r in ds.accepted if r.pixel_size_A})


def working_scale_summary(ds: QcDataset, tile_px: int | None = None) -> WorkingScaleSummary | None:
    """The working scale and binning factors, from the accepted micrographs' sidecars (read once,
    by :func:`samcryo_core.qc.inputs.load_dataset`)."""
    from samcryo_core.preprocess.scale import range_at_scale

    mappings = [r.mapping for r in ds.accepted
                if r.mapping is not None and {"particle_px", "diameter_A"} <= set(r.mapping.extra)]
    if not mappings:
        return None
    first = mappings[0]
    factors = [float(m.mean_scale) for m in mappings]
    particle_px = float(first.extra["particle_px"])
    diameter = tuple(float(d) for d in first.extra["diameter_A"])
    diameter = (diameter[0], diameter[-1])
    return WorkingScaleSummary(
        particle_px=particle_px, diameter_A=diameter, range_px=range_at_scale(diameter, particle_px),
        bin_factor_median=float(np.median(factors)), bin_factor_min=float(min(factors)),
        bin_factor_max=float(max(factors)), n_micrographs=len(factors), tile_px=tile_px)


def write_overlays(ds: QcDataset, out_dir: Path, sample: int | None, every: int,
                   truth_dir: Path | None, truth_format: str = "star",
                   truth_flip_y: bool = False, tile_px: int | None = None) -> list[tuple[str, str]]:
    """Overlay PNGs for a deterministic sample of accepted micrographs.

    With ``tile_px`` (the model's input size) the first overlay also shows the tile grid
    ``segment`` ran the model on (:func:`samcryo_core.inference.tiling.micrograph_grid`).
    """
    from samcryo_core.inference.tiling import micrograph_grid
    from samcryo_core.io.micrograph import read_micrograph

    chosen = set(select_sample([r.name for r in ds.accepted], sample, every))
    written = []
    for rec in ds.accepted:
        if rec.name not in chosen:
            continue
        if not rec.normalized or not rec.sidecar:
            log.warning("%s: no normalized micrograph or sidecar in the manifests; no overlay", rec.name)
            continue
        if not Path(rec.sidecar).is_file():
            raise InputError(rec.sidecar, "frame sidecar does not exist", "rerun 'samcryo normalize'")
        mapping = FrameMapping.read(rec.sidecar)
        image = read_micrograph(rec.normalized).data
        picks = read_picks(rec.picks)
        truth = None
        if truth_dir is not None:
            tpath = truth_dir / f"{rec.name}.{truth_format}"
            if tpath.is_file():
                centres = read_truth_centres(tpath, truth_format, truth_flip_y, mapping)
                truth = truth_to_normalized(centres, mapping)
        rel = f"overlays/{rec.name}.png"
        grid = None
        if tile_px and not written and "particle_px" in mapping.extra:
            grid = micrograph_grid(mapping, tile_px)
        render_overlay(image, mapping, picks, out_dir / rel, threshold=ds.threshold, truth_norm=truth,
                       tile_grid=grid)
        written.append((rec.name, rel))
    return written


def _round(value) -> float | str:
    return "" if value is None or not np.isfinite(value) else round(float(value), 1)


def build_report(ds: QcDataset, out_dir: str | Path, *, sample: int | None = 16, every: int = 1,
                 truth_dir: str | Path | None = None, truth_format: str = "star", truth_flip_y: bool = False,
                 title: str = "samcryo QC", tile_px: int | None = None) -> ReportResult:
    """Write overlays, plots and tables for ``ds`` under ``out_dir`` and return what was written."""
    out = Path(out_dir)
    for sub in ("overlays", "plots", "tables"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    res = ReportResult(out_dir=out, stats=compute_stats(ds), threshold=ds.threshold, title=title,
                       pixel_sizes_A=_pixel_sizes(ds), evaluation=dict(ds.evaluation),
                       working_scale=working_scale_summary(ds, tile_px))
    res.overlays = write_overlays(ds, out, sample, every, Path(truth_dir) if truth_dir else None,
                                  truth_format, truth_flip_y, tile_px)

    counts = ds.picks_per_micrograph()
    fom = ds.picks["fom"].to_numpy(dtype=float) if len(ds.picks) else np.array([])
    diam = ds.exported["diameter_px"].to_numpy(dtype=float) if len(ds.exported) else np.array([])
    diam_A = ds.exported["diameter_A"].to_numpy(dtype=float) if len(ds.exported) else np.array([])
    dist.plot_picks_per_micrograph(counts, out / "plots/picks_per_micrograph.png")
    res.plots.append(("Particles per micrograph", "plots/picks_per_micrograph.png"))
    dist.plot_fom_histogram(fom, out / "plots/fom_histogram.png", ds.threshold)
    res.plots.append(("Figure of merit", "plots/fom_histogram.png"))
    dist.plot_pick_sizes(diam, out / "plots/pick_sizes.png", diam_A)
    res.plots.append(("Pick size", "plots/pick_sizes.png"))
    res.rejected = dist.rejection_table(ds.records)
    dist.plot_rejection_reasons(res.rejected, out / "plots/rejections.png")
    res.plots.append(("Rejected micrographs", "plots/rejections.png"))

    exported = ds.exported
    sizes = exported.groupby("micrograph")["diameter_A"].median() if len(exported) else pd.Series(dtype=float)
    mics = pd.DataFrame([{"micrograph": r.name, "status": r.status, "stage": r.stage, "reason": r.reason,
                          "n_picks": int(counts.get(r.name, 0)) if r.status == "ok" else "",
                          "pixel_size_A": "" if r.pixel_size_A is None else r.pixel_size_A,
                          "median_diameter_A": _round(sizes.get(r.name)),
                          "source": r.source} for r in ds.records],
                        columns=["micrograph", "status", "stage", "reason", "n_picks", "pixel_size_A",
                                 "median_diameter_A", "source"])
    dist.write_table(mics, out / "tables/micrographs.csv")
    res.tables.append(("All micrographs", "tables/micrographs.csv"))
    dist.write_table(res.rejected, out / "tables/rejected.csv")
    res.tables.append(("Rejected micrographs", "tables/rejected.csv"))

    if ds.compare:
        res.metrics = dist.metrics_table(ds.compare)
        dist.plot_metrics(ds.compare, out / "plots/evaluation.png")
        res.plots.append(("Evaluation", "plots/evaluation.png"))
        dist.write_table(res.metrics, out / "tables/evaluation.csv")
        res.tables.append(("Evaluation", "tables/evaluation.csv"))
    if ds.evaluation_per_micrograph is not None:
        dist.write_table(ds.evaluation_per_micrograph, out / "tables/evaluation_per_micrograph.csv")
        res.tables.append(("Per-micrograph evaluation", "tables/evaluation_per_micrograph.csv"))
        if dist.plot_per_micrograph_metrics(ds.evaluation_per_micrograph,
                                            out / "plots/evaluation_per_micrograph.png") is not None:
            res.plots.append(("Per-micrograph evaluation", "plots/evaluation_per_micrograph.png"))
    return res
