"""``samcryo normalize``: bin, pad and contrast-normalize one chunk of ingested micrographs.

``samcryo normalize --manifest INGEST_CHUNK.tsv --out-dir DIR --out CHUNK.tsv --model-size N
[--clip-percentiles LO HI] [--lowpass-A X] [--dtype float16|float32] [--workers K]``

For each ``ok`` row of the ingest manifest it writes ``DIR/<mic>.mrc`` (the normalized image; MRC
pixel size = normalized pixel size, x and y separately) and ``DIR/<mic>.json`` (the
:class:`~samcryo_core.frame.FrameMapping` sidecar, written last so it marks a complete result).
Micrographs whose two outputs already exist, load, and were made with the same settings are
skipped, so a rerun after a crash redoes only what is missing. A micrograph that fails here becomes
a ``rejected`` row with its reason; rows rejected at ingest are carried forward unchanged.
Manifest columns: ``micrograph, status, reason, source, normalized, sidecar``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)

NORMALIZE_COLUMNS = ("micrograph", "status", "reason", "source", "normalized", "sidecar")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--manifest", required=True, help="ingest chunk manifest (TSV)")
    parser.add_argument("--out-dir", required=True, help="folder for <mic>.mrc and <mic>.json")
    parser.add_argument("--out", required=True, help="normalize chunk manifest (TSV) to write")
    parser.add_argument("--model-size", type=int, required=True, metavar="N",
                        help="side of the square model input in pixels (e.g. 1024)")
    parser.add_argument("--clip-percentiles", type=float, nargs=2, default=(0.5, 99.5),
                        metavar=("LO", "HI"), help="percentile clipping before standardization "
                        "(default 0.5 99.5)")
    parser.add_argument("--lowpass-A", type=float, default=None, metavar="X",
                        help="Gaussian low-pass at X Angstrom (default: none)")
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float32",
                        help="MRC data type of the normalized images (default float32)")
    parser.add_argument("--workers", type=int, default=1, help="FFT threads (default 1)")


def outputs_complete(mrc_path: Path, json_path: Path, name: str, model_size: int, settings: dict) -> bool:
    """True if both outputs exist, load, and match the micrograph, size and settings."""
    import mrcfile

    from samcryo_core.frame import FrameMapping

    if not (mrc_path.is_file() and json_path.is_file()):
        return False
    try:
        m = FrameMapping.read(json_path)
        with mrcfile.mmap(str(mrc_path), mode="r", permissive=False) as mrc:
            shape = tuple(mrc.data.shape)
    except Exception as exc:  # any unreadable leftover means: redo it
        log.info("%s: existing outputs unusable (%s); redoing", name, exc)
        return False
    return (m.micrograph == name and m.model_size == model_size and shape == (model_size, model_size)
            and all(m.extra.get(k) == v for k, v in settings.items()))


def _normalize_one(row: dict, args: argparse.Namespace, out_dir: Path, settings: dict) -> dict:
    from samcryo_core.errors import InputError
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.io.mrc_write import write_mrc
    from samcryo_core.manifest import OK, REJECTED
    from samcryo_core.preprocess.normalize import normalize_micrograph

    name, source = row["micrograph"], row.get("source", "")
    mrc_path, json_path = out_dir / f"{name}.mrc", out_dir / f"{name}.json"
    done = {"micrograph": name, "status": OK, "reason": "", "source": source,
            "normalized": str(mrc_path), "sidecar": str(json_path)}
    if outputs_complete(mrc_path, json_path, name, args.model_size, settings):
        log.info("%s: outputs exist, skipping", name)
        return done
    px_text = (row.get("pixel_size_A") or "").strip()
    try:
        mic = read_micrograph(source)
        img, mapping = normalize_micrograph(
            mic.data, args.model_size, name=name, source=source,
            pixel_size_A=float(px_text) if px_text else None,
            pixel_size_source=(row.get("pixel_size_source") or None),
            clip_percentiles=tuple(args.clip_percentiles), lowpass_A=args.lowpass_A,
            workers=args.workers,
        )
        write_mrc(mrc_path, img, mapping.normalized_pixel_size_A, dtype=args.dtype)
        mapping.write(json_path)  # last: its presence marks a complete result
    except (InputError, OSError, ValueError, MemoryError) as exc:
        from samcryo_core.ingest.validate import one_line

        reason = str(exc) if isinstance(exc, InputError) else f"{source}: normalize failed ({exc})"
        log.warning("rejected %s: %s", name, reason)
        return {"micrograph": name, "status": REJECTED, "reason": one_line(reason), "source": source,
                "normalized": "", "sidecar": ""}
    return done


def run(args: argparse.Namespace) -> int:
    from samcryo_core.manifest import OK, read_manifest, write_manifest

    if args.model_size < 16:
        print("samcryo normalize: usage error: --model-size must be at least 16", file=sys.stderr)
        return 2
    lo, hi = args.clip_percentiles
    if not 0 <= lo < hi <= 100:
        print("samcryo normalize: usage error: --clip-percentiles needs 0 <= LO < HI <= 100",
              file=sys.stderr)
        return 2
    if args.lowpass_A is not None and not args.lowpass_A > 0:
        print("samcryo normalize: usage error: --lowpass-A must be positive", file=sys.stderr)
        return 2
    rows_in = read_manifest(args.manifest)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    settings = {"clip_percentiles": [float(lo), float(hi)],
                "lowpass_A": None if args.lowpass_A is None else float(args.lowpass_A)}
    rows_out = []
    for row in rows_in:
        if row.get("status") == OK:
            rows_out.append(_normalize_one(row, args, out_dir, settings))
        else:  # rejected earlier: carried forward unchanged
            rows_out.append({"micrograph": row["micrograph"], "status": row.get("status", ""),
                             "reason": row.get("reason", ""), "source": row.get("source", ""),
                             "normalized": "", "sidecar": ""})
    write_manifest(args.out, rows_out, NORMALIZE_COLUMNS)
    n_ok = sum(1 for r in rows_out if r["status"] == OK)
    log.info("normalize: %d ok, %d rejected -> %s", n_ok, len(rows_out) - n_ok, args.out)
    return 0
