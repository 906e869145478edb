"""The segment stage: probability maps of one chunk of normalized micrographs, tile by tile.

The model is loaded once per chunk by the caller; this module streams the chunk through it:

* each ``ok`` row's normalized MRC and frame sidecar are read (a background thread reads the next
  micrograph while the model runs);
* the image is cut into overlapping ``img_size`` tiles (:mod:`samcryo_core.inference.tiling`;
  overlap from the largest particle in the sidecar), and tiles of consecutive micrographs are
  batched together (``batch_size`` tiles per forward pass: on a GPU, many micrographs' tiles
  share one pass);
* each tile's ``S/4`` logits (averaged over flips/rotations with ``tta``) are upsampled bilinearly
  to the tile, stitched with edge-down-weighting into one map of the whole micrograph, and the
  sigmoid map is written as ``DIR/<mic>.mrc`` (float16, normalized frame: the sidecar applies
  unchanged);
* a micrograph is skipped when its stamp is current (:mod:`samcryo_core.stamps`: the model, the
  prompt, TTA and tiling, and the normalized image's own stamp); one whose input is unusable
  becomes a rejected row; a failure of the machine (out of memory, full disk) stops the job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samcryo_core import stamps
from samcryo_core.errors import InputError, SamcryoError, is_environment_failure
from samcryo_core.frame import FrameMapping
from samcryo_core.inference.tiling import Stitcher, TileGrid, micrograph_grid
from samcryo_core.manifest import OK, STAMP, carry_rejected
from samcryo_core.model.device import autocast_context

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = ("micrograph", "status", "reason", "source", "sidecar", "probability", STAMP)
STAGE = "segment"


@dataclass
class SegmentStats:
    """Counts and times of one chunk (the benchmark compares ``model_s`` with ``total_s``)."""

    segmented: int = 0
    skipped: int = 0
    failed: int = 0
    carried_rejected: int = 0
    tiles: int = 0
    model_s: float = 0.0
    total_s: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)


@dataclass
class _Item:
    """One micrograph in flight: its image, grid and the stitched result so far."""

    index: int
    row: dict
    out: Path
    stamp: str
    image: np.ndarray
    mapping: FrameMapping
    grid: TileGrid
    stitcher: Stitcher


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, SamcryoError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())  # one line: it goes into a TSV cell


def read_normalized(row: dict) -> tuple[np.ndarray, FrameMapping]:
    """A normalized micrograph and its sidecar; errors name the file and the fix."""
    import mrcfile

    mrc_path = Path(row.get("normalized") or "")
    side_path = Path(row.get("sidecar") or "")
    if not row.get("normalized") or not mrc_path.is_file():
        raise InputError(mrc_path, "normalized micrograph missing",
                         "rerun 'samcryo normalize' for this chunk")
    try:
        mapping = FrameMapping.read(side_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if is_environment_failure(exc):
            raise
        raise InputError(side_path, f"cannot read frame sidecar ({exc})",
                         "rerun 'samcryo normalize'") from exc
    try:
        with mrcfile.open(mrc_path, permissive=True) as mrc:
            data = None if mrc.data is None else np.asarray(mrc.data, dtype=np.float32)
    except (ValueError, OSError) as exc:
        if is_environment_failure(exc):
            raise
        raise InputError(mrc_path, f"cannot read normalized MRC ({exc})",
                         "rerun 'samcryo normalize'") from exc
    if data is None or data.ndim != 2 or data.shape != tuple(mapping.binned_shape):
        shape = None if data is None else data.shape
        raise InputError(mrc_path, f"normalized image has shape {shape}, sidecar says "
                         f"{tuple(mapping.binned_shape)}", "rerun 'samcryo normalize' for this chunk")
    if not np.all(np.isfinite(data)):
        raise InputError(mrc_path, "normalized image holds NaN or Inf", "rerun 'samcryo normalize'")
    return data, mapping


def predict_tile_logits(model: Any, tiles: np.ndarray, device: str, tta: str = "none") -> np.ndarray:
    """Logits ``[B, S, S]`` (tile frame, float32) for tiles ``[B, S, S]``.

    The model's ``S/4`` logits are upsampled bilinearly (``align_corners=False``: pixel centres map
    as in the frame sidecar) before any sigmoid, as SAM does, so edges stay sharp; ``tta``
    (``none``, ``flips``, ``d4``) averages the logits over that many orientations first.
    """
    import torch
    import torch.nn.functional as F

    from samcryo_core.inference.tta import tta_logits

    x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32))[:, None].to(device)
    with torch.inference_mode(), autocast_context(device):
        logits = tta_logits(model, x, tta)
    size = int(tiles.shape[-1])
    up = F.interpolate(logits.float(), size=(size, size), mode="bilinear", align_corners=False)
    return up[:, 0].cpu().numpy()


def predict_batch(model: Any, tiles: np.ndarray, batch_size: int, device: str,
                  tta: str = "none") -> np.ndarray:
    """:func:`predict_tile_logits` on a batch padded with blank tiles to ``batch_size``.

    Why: some CPU kernels (oneDNN convolutions) pick their blocking by the batch's shape, so a
    tile's logits could differ in the last bits depending on how many tiles shared its forward
    pass -- and that depends on which micrographs a job happened to segment together (a rerun
    after a crash segments only the missing ones). With every pass of the same shape, a tile's
    logits depend only on the tile, the model and the thread count, not on its neighbours in the
    batch (tests/test_inference_segment.py), so a rerun gives the same maps bit for bit. The
    padding costs at most ``batch_size - 1`` blank tiles per chunk.
    """
    n = len(tiles)
    size = max(1, int(batch_size), n)
    if n < size:
        blank = np.zeros((size - n, *tiles.shape[1:]), dtype=np.float32)
        tiles = np.concatenate([np.asarray(tiles, dtype=np.float32), blank])
    return predict_tile_logits(model, tiles, device, tta)[:n]


def probability_map(model: Any, image: np.ndarray, mapping: FrameMapping, *, device: str = "cpu",
                    tta: str = "none", batch_size: int = 2) -> np.ndarray:
    """The stitched probability map of one normalized image (library use: benchmarks, ``pick``).

    Equals what ``segment`` writes for the image with the same ``batch_size`` (before float16).
    """
    grid = micrograph_grid(mapping, int(model.img_size))
    stitcher = Stitcher(grid)
    origins = grid.origins
    step = max(1, int(batch_size))
    for k in range(0, len(origins), step):
        part = origins[k : k + step]
        logits = predict_batch(model, np.stack([grid.cut(image, o) for o in part]), step, device, tta)
        for o, lg in zip(part, logits, strict=True):
            stitcher.add(o, lg)
    return _sigmoid(stitcher.logits())


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))).astype(np.float32)


def segment_chunk(
    rows: list[dict],
    out_dir: str | Path,
    model: Any,
    *,
    batch_size: int = 2,
    device: str = "cpu",
    tta: str = "none",
    model_stamp: str = "",
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict], SegmentStats]:
    """Segment the ``ok`` rows of a normalize manifest chunk; return segment-manifest rows + stats.

    ``batch_size``: tiles per forward pass (they may come from several micrographs).
    ``model_stamp``: identity of the model + prompt (part of each output's stamp).
    Output rows keep the input order and have exactly :data:`SEGMENT_COLUMNS`.
    """
    from samcryo_core.inference.tta import check_mode

    check_mode(tta)
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = SegmentStats()
    tile = int(model.img_size)
    settings = {"model": model_stamp, "tta": tta, "tile": tile}
    results: dict[int, dict] = {}
    todo: list[tuple[int, dict, str]] = []
    for i, row in enumerate(rows):
        if row.get("status") != OK:
            results[i] = carry_rejected(row, SEGMENT_COLUMNS)
            stats.carried_rejected += 1
            continue
        stamp = stamps.make_stamp(STAGE, settings, row.get(STAMP, ""))
        out = out_dir / f"{row['micrograph']}.mrc"
        if stamps.is_current(out_dir, row["micrograph"], stamp, out):
            results[i] = _ok_row(row, out, stamp)
            stats.skipped += 1
            continue
        todo.append((i, row, stamp))

    def load(entry: tuple[int, dict, str]) -> _Item | tuple[int, dict, str]:
        i, row, stamp = entry
        try:
            image, mapping = read_normalized(row)
            grid = micrograph_grid(mapping, tile)
        except Exception as exc:  # one bad micrograph must not stop the chunk
            if is_environment_failure(exc):
                raise
            return i, row, _reason(exc)
        return _Item(i, row, out_dir / f"{row['micrograph']}.mrc", stamp, image, mapping, grid,
                     Stitcher(grid))

    def tiles() -> Iterator[tuple[_Item, tuple[int, int]]]:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-read") as pool:
            pending = pool.submit(load, todo[0]) if todo else None
            for k in range(len(todo)):
                item = pending.result()
                pending = pool.submit(load, todo[k + 1]) if k + 1 < len(todo) else None
                if not isinstance(item, _Item):
                    i, row, reason = item
                    results[i] = carry_rejected(row, SEGMENT_COLUMNS, reason)
                    stats.failed += 1
                    continue
                for origin in item.grid.origins:
                    yield item, origin

    model.eval()
    batch: list[tuple[_Item, tuple[int, int]]] = []
    t_last = time.perf_counter()
    batch_size = max(1, int(batch_size))
    for entry in tiles():
        batch.append(entry)
        if len(batch) == batch_size:
            _run_batch(model, batch, batch_size, device, tta, results, stats)
            batch = []
        if progress is not None and time.perf_counter() - t_last > 10:
            t_last = time.perf_counter()
            progress(progress_line(stats.segmented + stats.failed, len(todo), stats.tiles,
                                   t_last - t_start))
    if batch:
        _run_batch(model, batch, batch_size, device, tta, results, stats)
    stats.total_s = time.perf_counter() - t_start
    return [results[i] for i in range(len(rows))], stats


def progress_line(done: int, total: int, tiles: int, seconds: float) -> str:
    """``12/50 micrographs (48 tiles), 1.9 s per micrograph, about 72 s left``."""
    line = f"{done}/{total} micrographs ({tiles} tiles)"
    if done:
        rate = seconds / done
        line += f", {rate:.1f} s per micrograph, about {rate * (total - done):.0f} s left"
    return line


def _ok_row(row: dict, out: Path, stamp: str) -> dict:
    return {"micrograph": row["micrograph"], "status": OK, "reason": "", "source": row.get("source", ""),
            "sidecar": row.get("sidecar", ""), "probability": str(out), STAMP: stamp}


def _run_batch(model: Any, batch: list[tuple[_Item, tuple[int, int]]], batch_size: int, device: str,
               tta: str, results: dict, stats: SegmentStats) -> None:
    """Predict a batch of tiles (padded to ``batch_size``: :func:`predict_batch`); on a failure
    that is not the machine's, retry tile by tile so only the micrograph whose tile fails is
    rejected."""
    live = [(it, o) for it, o in batch if it.index not in results]
    if not live:
        return
    t0 = time.perf_counter()
    try:
        tiles = np.stack([it.grid.cut(it.image, o) for it, o in live])
        logits = predict_batch(model, tiles, batch_size, device, tta)
    except Exception as exc:
        if is_environment_failure(exc):
            raise
        if len(live) == 1:
            it = live[0][0]
            results[it.index] = carry_rejected(it.row, SEGMENT_COLUMNS, _reason(exc))
            stats.failed += 1
            return
        log.warning("batch of %d tiles failed (%s); retrying one tile at a time", len(live), _reason(exc))
        for one in live:
            _run_batch(model, [one], batch_size, device, tta, results, stats)
        return
    stats.model_s += time.perf_counter() - t0
    stats.batch_sizes.append(len(live))
    stats.tiles += len(live)
    for (it, origin), lg in zip(live, logits, strict=True):
        it.stitcher.add(origin, lg)
        if it.stitcher.complete:
            _finish(it, results, stats)


def _finish(it: _Item, results: dict, stats: SegmentStats) -> None:
    from samcryo_core.io.mrc_write import write_mrc

    try:
        write_mrc(it.out, _sigmoid(it.stitcher.logits()), it.mapping.normalized_pixel_size_A,
                  dtype=np.float16)
        stamps.record(it.out.parent, it.row["micrograph"], it.stamp, STAGE, {"tiles": len(it.grid)})
    except Exception as exc:
        if is_environment_failure(exc):
            raise
        results[it.index] = carry_rejected(it.row, SEGMENT_COLUMNS, _reason(exc))
        stats.failed += 1
        return
    results[it.index] = _ok_row(it.row, it.out, it.stamp)
    stats.segmented += 1
    it.image = np.empty((0, 0), np.float32)  # free the image; the stitcher goes with the item
