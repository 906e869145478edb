"""Segment one chunk of normalized micrographs with a loaded model, in batches.

The model is loaded once per chunk by the caller; this module only streams micrographs through it:

* reads each ``ok`` row's normalized MRC (manifest column ``normalized``) and FrameMapping sidecar;
* brings the image to the model's ``img_size``: normally they are equal (the pipeline normalizes
  to the model size). If the normalized image is larger or smaller it is *resized* (area average
  when shrinking, bilinear when enlarging), not tiled: training normalizes every micrograph to
  ``img_size``, so resizing shows the model particles at the pixel scale it was trained on,
  whereas tiles would show them larger than in training;
* runs the model on batches of ``batch_size`` under ``torch.inference_mode`` (plus autocast on
  CUDA), while a background thread reads the next batch; with ``tta`` it averages the logits over
  flipped / rotated copies (:mod:`samcryo_core.inference.tta`);
* upsamples the ``S/4`` logits bilinearly to the normalized frame's size (so the sidecar applies
  to the probability map unchanged), applies the sigmoid and writes ``DIR/<mic>.mrc`` as float16
  MRC atomically, with the normalized pixel size in the header;
* skips micrographs whose output already exists with the right size (a rerun redoes only what is
  missing), carries rejected rows forward unchanged, and turns a micrograph that fails into a
  rejected row with the reason while the others continue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from samcryo_core.errors import InputError, SamcryoError
from samcryo_core.frame import FrameMapping
from samcryo_core.inference.device import autocast_context
from samcryo_core.manifest import OK, REJECTED

log = logging.getLogger(__name__)

SEGMENT_COLUMNS = ("micrograph", "status", "reason", "source", "sidecar", "probability")


@dataclass
class SegmentStats:
    """Counts and times of one chunk (the benchmark compares ``model_s`` with ``total_s``)."""

    segmented: int = 0
    skipped: int = 0
    failed: int = 0
    carried_rejected: int = 0
    model_s: float = 0.0
    total_s: float = 0.0
    batch_sizes: list[int] = field(default_factory=list)


@dataclass
class _Item:
    row: dict
    out: Path
    image: np.ndarray  # float32 [S, S] at the model's img_size
    mapping: FrameMapping


def probability_complete(path: Path, size: int) -> bool:
    """True when ``path`` is a readable MRC of ``size`` x ``size`` (atomic writes: never partial)."""
    import mrcfile

    if not path.is_file():
        return False
    try:
        with mrcfile.open(path, header_only=True, permissive=True) as mrc:
            h = mrc.header
            return int(h.nx) == size and int(h.ny) == size and int(h.nz) == 1
    except (ValueError, OSError):
        return False


def resize_to(image: np.ndarray, size: int) -> np.ndarray:
    """Square image -> ``size`` x ``size`` (area when shrinking, bilinear when enlarging)."""
    import torch
    import torch.nn.functional as F

    if image.shape == (size, size):
        return image
    t = torch.tensor(image, dtype=torch.float32)[None, None]  # a copy: inputs may be read-only maps
    if image.shape[0] >= size:
        out = F.interpolate(t, size=(size, size), mode="area")
    else:
        out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return out[0, 0].numpy()


def _reason(exc: BaseException) -> str:
    text = str(exc) if isinstance(exc, SamcryoError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())  # one line: it goes into a TSV cell


def _load_item(row: dict, out_dir: Path, img_size: int) -> _Item:
    """Read a normalized micrograph and its sidecar; errors name the file."""
    import mrcfile

    name = row["micrograph"]
    mrc_path = Path(row.get("normalized") or "")
    side_path = Path(row.get("sidecar") or "")
    if not row.get("normalized") or not mrc_path.is_file():
        raise InputError(
            mrc_path, "normalized micrograph missing", "rerun 'samcryo normalize' for this chunk"
        )
    try:
        mapping = FrameMapping.read(side_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(
            side_path, f"cannot read frame sidecar ({exc})", "rerun 'samcryo normalize'"
        ) from exc
    try:
        with mrcfile.open(mrc_path, permissive=True) as mrc:
            data = np.asarray(mrc.data, dtype=np.float32)
    except (ValueError, OSError) as exc:
        raise InputError(
            mrc_path, f"cannot read normalized MRC ({exc})", "rerun 'samcryo normalize'"
        ) from exc
    if data is None or data.ndim != 2 or data.shape != (mapping.model_size, mapping.model_size):
        shape = None if data is None else data.shape
        raise InputError(
            mrc_path,
            f"normalized image has shape {shape}, sidecar says {mapping.model_size} square",
            "rerun 'samcryo normalize' for this chunk",
        )
    if not np.all(np.isfinite(data)):
        raise InputError(mrc_path, "normalized image holds NaN or Inf", "rerun 'samcryo normalize'")
    return _Item(row, out_dir / f"{name}.mrc", resize_to(data, img_size), mapping)


def _load_batch(rows: list[dict], out_dir: Path, img_size: int) -> list[_Item | tuple[dict, str]]:
    out: list[_Item | tuple[dict, str]] = []
    for row in rows:
        try:
            out.append(_load_item(row, out_dir, img_size))
        except Exception as exc:  # one bad micrograph must not stop the chunk
            out.append((row, _reason(exc)))
    return out


def _row(row: dict, status: str, reason: str = "", probability: str = "") -> dict:
    return {
        "micrograph": row["micrograph"],
        "status": status,
        "reason": reason,
        "source": row.get("source", ""),
        "sidecar": row.get("sidecar", ""),
        "probability": probability,
    }


def predict_probabilities(
    model: Any, images: np.ndarray, sizes: list[int], device: str, tta: str = "none"
) -> list[np.ndarray]:
    """Run ``model`` on ``images [B,S,S]``; return one sigmoid probability map per requested size.

    Logits are upsampled (bilinear, ``align_corners=False``: pixel centres map as in the frame
    sidecar) before the sigmoid, as SAM does, so edges stay sharp. ``tta`` (``none``, ``flips``,
    ``d4``) averages the logits over that many orientations first.
    """
    import torch
    import torch.nn.functional as F

    from samcryo_core.inference.tta import tta_logits

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None].to(device)
    with torch.inference_mode(), autocast_context(device):
        logits = tta_logits(model, x, tta)
    logits = logits.float()
    out = []
    for i, size in enumerate(sizes):
        up = F.interpolate(logits[i : i + 1], size=(size, size), mode="bilinear", align_corners=False)
        out.append(torch.sigmoid(up)[0, 0].cpu().numpy())
    return out


def _write(item: _Item, prob: np.ndarray) -> None:
    from samcryo_core.io.mrc_write import write_mrc

    write_mrc(item.out, prob, item.mapping.normalized_pixel_size_A, dtype=np.float16)


def segment_chunk(
    rows: list[dict],
    out_dir: str | Path,
    model: Any,
    *,
    batch_size: int = 4,
    device: str = "cpu",
    tta: str = "none",
    progress: Callable[[str], None] | None = None,
) -> tuple[list[dict], SegmentStats]:
    """Segment the ``ok`` rows of a normalize manifest chunk; return segment-manifest rows + stats.

    ``tta`` is the test-time augmentation mode (:data:`samcryo_core.inference.tta.TTA_MODES`).

    Output rows keep the input order and have exactly :data:`SEGMENT_COLUMNS`.
    """
    from samcryo_core.inference.tta import check_mode

    check_mode(tta)
    t_start = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = SegmentStats()
    img_size = int(model.img_size)
    batch_size = max(1, int(batch_size))
    results: dict[int, dict] = {}
    todo: list[tuple[int, dict]] = []
    for i, row in enumerate(rows):
        if row.get("status") != OK:
            results[i] = _row(row, REJECTED, row.get("reason") or "rejected upstream")
            stats.carried_rejected += 1
            continue
        out = out_dir / f"{row['micrograph']}.mrc"
        size = _sidecar_size(row)
        if size is not None and probability_complete(out, size):
            results[i] = _row(row, OK, probability=str(out))
            stats.skipped += 1
            continue
        todo.append((i, row))

    batches = [todo[k : k + batch_size] for k in range(0, len(todo), batch_size)]
    model.eval()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="segment-read") as pool:
        pending = pool.submit(_load_batch, [r for _, r in batches[0]], out_dir, img_size) if batches else None
        for b, batch in enumerate(batches):
            loaded = pending.result()
            pending = (
                pool.submit(_load_batch, [r for _, r in batches[b + 1]], out_dir, img_size)
                if b + 1 < len(batches)
                else None
            )
            good: list[tuple[int, _Item]] = []
            for (i, _row_in), item in zip(batch, loaded, strict=True):
                if isinstance(item, _Item):
                    good.append((i, item))
                else:
                    row, reason = item
                    results[i] = _row(row, REJECTED, reason)
                    stats.failed += 1
            if good:
                _run_batch(model, good, device, tta, results, stats)
            if progress is not None:
                done = stats.segmented + stats.failed
                progress(f"batch {b + 1}/{len(batches)}: {done}/{len(todo)} micrographs")
    stats.total_s = time.perf_counter() - t_start
    return [results[i] for i in range(len(rows))], stats


def _sidecar_size(row: dict) -> int | None:
    try:
        return FrameMapping.read(row["sidecar"]).model_size
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _run_batch(
    model: Any, good: list[tuple[int, _Item]], device: str, tta: str, results: dict, stats: SegmentStats
) -> None:
    """Predict a batch; if the batch as a whole fails, retry one by one so only the culprit is rejected."""
    images = np.stack([it.image for _, it in good])
    sizes = [it.mapping.model_size for _, it in good]
    t0 = time.perf_counter()
    try:
        probs = predict_probabilities(model, images, sizes, device, tta)
    except Exception as exc:  # e.g. out of memory for the batch
        if len(good) == 1:
            i, it = good[0]
            results[i] = _row(it.row, REJECTED, _reason(exc))
            stats.failed += 1
            return
        log.warning("batch of %d failed (%s); retrying one micrograph at a time", len(good), _reason(exc))
        for one in good:
            _run_batch(model, [one], device, tta, results, stats)
        return
    stats.model_s += time.perf_counter() - t0
    stats.batch_sizes.append(len(good))
    for (i, it), prob in zip(good, probs, strict=True):
        try:
            _write(it, prob)
        except Exception as exc:
            results[i] = _row(it.row, REJECTED, _reason(exc))
            stats.failed += 1
            continue
        results[i] = _row(it.row, OK, probability=str(it.out))
        stats.segmented += 1
