"""Dataset-level QC plots and tables: how many picks, how confident, how big, what was rejected.

Overlays show a few micrographs; these plots show all of them at once, which is where the
problems of a whole dataset appear: a tail of micrographs with no picks (thick ice, empty holes),
a FOM distribution piled up at the threshold (the threshold cuts through real particles), two
peaks in the size histogram (aggregates, or a wrong pixel size), and rejections that share a
cause. With evaluation results, precision, recall and F1 of one or several prompt types are put
side by side.

Every function writes one PNG (Agg backend, atomically) or one CSV and returns its path.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.io.atomic import atomic_path, atomic_write_text
from samcryo_core.qc.inputs import MicrographRecord

# Up to this many micrographs the count plot is one bar per micrograph; above it a histogram.
MAX_BARS = 60
BAR_COLOR = "#3b6ea5"
ACCENT = "#d1495b"
METRIC_ORDER = ("precision", "recall", "F1", "AP", "Dice")


def _figure(width_in: float = 7.0, height_in: float = 4.0):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=110, layout="constrained")
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, out_path: str | Path) -> Path:
    with atomic_path(out_path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(out_path)


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_picks_per_micrograph(counts: pd.Series, out_path: str | Path) -> Path:
    """Particles per accepted micrograph: one bar each for small datasets, a histogram otherwise.

    The dashed line is the median; micrographs far below it are worth opening (empty holes,
    thick ice, contamination), far above it may be aggregation or picks on carbon.
    """
    fig, ax = _figure(max(6.0, min(14.0, 0.22 * len(counts) + 3)) if len(counts) <= MAX_BARS else 7.0)
    if len(counts) == 0:
        _empty_note(ax, "no accepted micrographs")
    elif len(counts) <= MAX_BARS:
        x = np.arange(len(counts))
        ax.bar(x, counts.to_numpy(), color=BAR_COLOR)
        ax.set_xticks(x, [str(n) for n in counts.index], rotation=90, fontsize=7 if len(counts) > 20 else 9)
        ax.set_ylabel("picks")
        ax.set_xlabel("micrograph")
        med = float(np.median(counts))
        ax.axhline(med, color=ACCENT, linestyle="--", label=f"median {med:g}")
        ax.legend(loc="upper right")
    else:
        vals = counts.to_numpy()
        bins = min(50, max(10, int(np.sqrt(len(vals)))))
        ax.hist(vals, bins=bins, color=BAR_COLOR, edgecolor="white")
        ax.set_xlabel("picks per micrograph")
        ax.set_ylabel("micrographs")
        med = float(np.median(vals))
        ax.axvline(med, color=ACCENT, linestyle="--", label=f"median {med:g}")
        ax.legend(loc="upper right")
    ax.set_title(f"Particles per micrograph ({len(counts)} accepted, {int(counts.sum())} picks)")
    return _save(fig, out_path)


def plot_fom_histogram(fom: np.ndarray, out_path: str | Path, threshold: float | None = None) -> Path:
    """Histogram of figures of merit with the threshold the picks were cut at.

    A healthy run has most picks well above the threshold; a pile-up just above it means the
    threshold cuts through the particle population and a small change will change the count a lot.
    """
    fig, ax = _figure()
    vals = np.asarray(fom, dtype=float)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        _empty_note(ax, "no picks")
    else:
        ax.hist(vals, bins=np.linspace(0, 1, 41), color=BAR_COLOR, edgecolor="white")
        ax.set_xlim(0, 1)
        ax.set_xlabel("figure of merit")
        ax.set_ylabel("picks")
        if threshold is not None:
            ax.axvline(threshold, color=ACCENT, linewidth=2, label=f"threshold {threshold:g}")
            ax.legend(loc="upper left")
    ax.set_title(f"Figure of merit ({vals.size} picks)")
    return _save(fig, out_path)


def plot_pick_sizes(diameter_px: np.ndarray, out_path: str | Path,
                    diameter_A: np.ndarray | None = None) -> Path:
    """Distribution of pick diameters: in Angstrom when every pick's micrograph has a pixel size.

    ``diameter_A`` is each pick's diameter converted with its *own* micrograph's pixel size, so
    a dataset that mixes detectors or binnings still shows one peak per particle size (in pixels
    the same particle lands at a different size on each detector). Without pixel sizes the
    histogram is in original pixels. One narrow peak near the expected particle size is what you
    want. A second peak at about twice the size means touching particles were not split; a peak
    far from the expected size points to a wrong pixel size or binning.
    """
    fig, ax = _figure()
    angstrom = diameter_A is not None and len(diameter_A) > 0 and bool(np.all(np.isfinite(diameter_A)))
    vals = np.asarray(diameter_A if angstrom else diameter_px, dtype=float)
    unit = "Å" if angstrom else "px"
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        _empty_note(ax, "no picks")
    else:
        lo, hi = float(vals.min()), float(vals.max())
        if hi - lo < 1e-6:
            lo, hi = lo - 1, hi + 1
        ax.hist(vals, bins=np.linspace(lo, hi, 31), color=BAR_COLOR, edgecolor="white")
        med = float(np.median(vals))
        ax.axvline(med, color=ACCENT, linestyle="--", label=f"median {med:.1f} {unit}")
        ax.legend(loc="upper right")
        ax.set_xlabel("pick diameter (Å, each micrograph's own pixel size)" if angstrom
                      else "pick diameter (original pixels)")
        ax.set_ylabel("picks")
    ax.set_title(f"Pick size ({vals.size} picks)")
    return _save(fig, out_path)


def rejection_table(records: Sequence[MicrographRecord]) -> pd.DataFrame:
    """Rejected micrographs with the stage that rejected them and why (one row each)."""
    rows = [{"micrograph": r.name, "stage": r.stage, "reason": r.reason, "source": r.source}
            for r in records if r.status != "ok"]
    return pd.DataFrame(rows, columns=["micrograph", "stage", "reason", "source"])


def plot_rejection_reasons(table: pd.DataFrame, out_path: str | Path) -> Path:
    """Horizontal bars: how many micrographs each distinct rejection reason removed."""
    counts = table.groupby(["stage", "reason"]).size().sort_values() if len(table) else pd.Series(dtype=int)
    fig, ax = _figure(8.0, max(2.0, 0.45 * len(counts) + 1.2))
    if len(counts) == 0:
        _empty_note(ax, "no rejected micrographs")
    else:
        labels = [_shorten(f"[{s}] {r}", 70) for s, r in counts.index]
        y = np.arange(len(counts))
        ax.barh(y, counts.to_numpy(), color=ACCENT)
        ax.set_yticks(y, labels, fontsize=8)
        ax.set_xlabel("micrographs")
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(f"Rejected micrographs ({int(counts.sum()) if len(counts) else 0})")
    return _save(fig, out_path)


def _shorten(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def metrics_table(results: dict[str, dict[str, float]]) -> pd.DataFrame:
    """One row per run (prompt type), the headline metrics as columns in a fixed order."""
    cols = [m for m in METRIC_ORDER if any(m in r for r in results.values())]
    rows = [{"run": name, **{m: r.get(m, np.nan) for m in cols}} for name, r in results.items()]
    return pd.DataFrame(rows, columns=["run", *cols])


def plot_metrics(results: dict[str, dict[str, float]], out_path: str | Path) -> Path:
    """Grouped bars of precision / recall / F1 (and AP, Dice when given) for each run.

    With CryoPPP-style curated labels precision understates a picker (unlabelled particles count
    as false positives), so compare runs on recall and F1 first.
    """
    table = metrics_table(results)
    metrics = [c for c in table.columns if c != "run"]
    fig, ax = _figure(max(6.0, 1.2 * len(metrics) * max(1, len(table)) * 0.6 + 3), 4.2)
    if table.empty or not metrics:
        _empty_note(ax, "no evaluation results")
        return _save(fig, out_path)
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    n = len(table)
    width = 0.8 / n
    x = np.arange(len(metrics))
    for i, row in enumerate(table.itertuples(index=False)):
        vals = np.array([getattr(row, m) for m in metrics], dtype=float)
        bars = ax.bar(x + (i - (n - 1) / 2) * width, np.nan_to_num(vals), width, label=str(row.run),
                      color=cmap(i % 10))
        for b, v in zip(bars, vals, strict=True):
            if np.isfinite(v):
                ax.text(b.get_x() + b.get_width() / 2, v + 0.01, f"{v:.2f}", ha="center", va="bottom",
                        fontsize=8)
    ax.set_xticks(x, metrics)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("score")
    ax.legend(loc="upper right", fontsize=8, ncols=min(n, 3))
    ax.set_title("Evaluation against ground truth")
    return _save(fig, out_path)


def plot_per_micrograph_metrics(table: pd.DataFrame, out_path: str | Path) -> Path | None:
    """Spread of per-micrograph precision / recall / F1 (box plot with the points on top).

    A wide spread with a few micrographs near zero usually means some micrographs are unlike the
    training data (other defocus, ice, contamination) rather than a uniformly weak picker.
    """
    lower = {c.lower(): c for c in table.columns}
    cols = [(m, lower[m.lower()]) for m in ("precision", "recall", "F1") if m.lower() in lower]
    if not cols:
        return None
    fig, ax = _figure()
    data = [pd.to_numeric(table[c], errors="coerce").dropna().to_numpy() for _, c in cols]
    ax.boxplot(data, tick_labels=[m for m, _ in cols], showfliers=False)
    rng = np.random.default_rng(0)  # fixed jitter: the same plot on every rerun
    for i, d in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, d.size), d, s=12, alpha=0.6, color=BAR_COLOR)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("score")
    ax.set_title(f"Per-micrograph evaluation ({len(table)} micrographs)")
    return _save(fig, out_path)


def write_table(df: pd.DataFrame, out_path: str | Path) -> Path:
    """Write a table as CSV atomically."""
    atomic_write_text(out_path, df.to_csv(index=False))
    return Path(out_path)
