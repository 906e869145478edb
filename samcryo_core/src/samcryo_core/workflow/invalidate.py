"""Delete a chunk's per-micrograph outputs that a rerun must not reuse.

Chunk jobs skip micrographs whose outputs already exist, so a job rerun after a crash redoes only
what is missing. But Snakemake also reruns a job when its *inputs or settings* changed -- a
retrained ``prompt.pt``, another checkpoint, renormalized images -- and then the outputs on disk
are stale, yet would be skipped as "done". Snakemake only knows the chunk manifest, not the
per-micrograph files, so the rule calls this first:

* an output older than any ``--newer-than`` file (e.g. the prompt file) or than its own input
  (``--inputs-dir``/<micrograph><suffix>, the normalized image) is deleted (Snakemake's mtime rule,
  per micrograph);
* if ``--settings`` (a fingerprint of what the outputs depend on besides files: variant,
  checkpoint, seed ...) differs from the one recorded for this chunk at the last run, every
  output of the chunk is deleted. The fingerprint is recorded in ``--stamp``.

    python -m samcryo_core.workflow.invalidate --outputs-dir DIR --suffix .mrc --stamp STAMP
        [--settings TEXT] [--inputs-dir DIR] [--newer-than FILE ...] --names NAME ...
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from samcryo_core.io.atomic import atomic_write_text

log = logging.getLogger("samcryo.workflow.invalidate")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return None


def invalidate(outputs_dir: str | Path, names: Sequence[str], *, suffix: str, stamp: str | Path,
               settings: str = "", inputs_dir: str | Path | None = None,
               newer_than: Sequence[str | Path] = ()) -> list[Path]:
    """Delete stale outputs ``outputs_dir/<name><suffix>``; record ``settings``; return deleted."""
    outputs_dir, stamp = Path(outputs_dir), Path(stamp)
    previous = stamp.read_text(encoding="utf-8") if stamp.is_file() else None
    settings_changed = previous is not None and previous != settings
    refs = [t for t in (_mtime(Path(p)) for p in newer_than) if t is not None]
    newest_ref = max(refs) if refs else None
    deleted = []
    for name in names:
        out = outputs_dir / f"{name}{suffix}"
        t_out = _mtime(out)
        if t_out is None:
            continue
        t_in = _mtime(Path(inputs_dir) / f"{name}{suffix}") if inputs_dir is not None else None
        stale = (settings_changed or (newest_ref is not None and t_out < newest_ref)
                 or (t_in is not None and t_out < t_in))
        if stale:
            out.unlink()
            deleted.append(out)
    if previous != settings:
        atomic_write_text(stamp, settings)
    if deleted:
        why = "settings changed" if settings_changed else "older than their inputs"
        log.info("deleted %d stale output(s) in %s (%s)", len(deleted), outputs_dir, why)
    return deleted


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m samcryo_core.workflow.invalidate",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--names", nargs="*", default=[], metavar="NAME",
                    help="micrograph names of the chunk")
    ap.add_argument("--outputs-dir", required=True)
    ap.add_argument("--suffix", required=True, help="output file suffix, e.g. .mrc")
    ap.add_argument("--stamp", required=True, help="file recording the settings fingerprint")
    ap.add_argument("--settings", default="", help="fingerprint of the non-file settings")
    ap.add_argument("--inputs-dir", default=None, help="folder of the per-micrograph inputs")
    ap.add_argument("--newer-than", nargs="*", default=[], metavar="FILE",
                    help="outputs older than any of these files are stale")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    invalidate(args.outputs_dir, args.names, suffix=args.suffix, stamp=args.stamp,
               settings=args.settings, inputs_dir=args.inputs_dir, newer_than=args.newer_than)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
