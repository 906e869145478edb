"""``samcryo fetch-checkpoint``: download an official SAM checkpoint and verify its sha256.

Run once on a machine with internet (compute nodes often have none); the pipeline then only reads
the file named by ``model.checkpoint``. The download is written atomically and kept only if the
checksum matches, so a broken transfer never leaves a plausible-looking ``.pth`` behind.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

OFFICIAL = ("vit_b", "vit_l", "vit_h")

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=OFFICIAL, default="vit_b", help="SAM variant (default vit_b)")
    parser.add_argument(
        "--out", required=True, type=Path,
        help="destination file, or an existing folder (the official file name is used inside it)",
    )
    parser.add_argument("--url", help="download from this URL instead of Meta's (a mirror; file:// works)")
    parser.add_argument("--sha256", help="expected sha256 (default: the recorded one of the official file)")
    parser.add_argument("--force", action="store_true", help="download even if a verified file is there")
    parser.add_argument("--timeout", type=float, default=60.0, help="network timeout in seconds (60)")


def run(args: argparse.Namespace) -> int:
    from samcryo_core.model.loading import download_checkpoint, sha256_file
    from samcryo_core.model.registry import get_variant

    spec = get_variant(args.variant)
    out: Path = args.out
    if out.is_dir():
        out = out / spec.checkpoint_file
    url = args.url or spec.url
    expected = args.sha256 or spec.sha256
    if out.is_file() and not args.force:
        if expected is not None and sha256_file(out) == expected.lower():
            print(f"{out}: already present, sha256 verified")
            return 0
        if expected is None:
            print(f"{out}: already present (no known sha256 to verify; use --force to download again)")
            return 0
        log.info("%s exists but its sha256 differs; downloading again", out)

    last = [-1]

    def progress(done: int, total: int | None) -> None:
        step = done * 10 // total if total else done >> 28
        if step != last[0]:
            last[0] = step
            size = f"/{total / 1e6:.0f}" if total else ""
            log.info("%s: %.0f%s MB", out.name, done / 1e6, size)

    digest = download_checkpoint(url, out, expected, timeout=args.timeout, progress=progress)
    verified = " (verified)" if expected else " (not verified: no known checksum)"
    print(f"{out}: downloaded from {url}, sha256 {digest}{verified}")
    print(f"set model.checkpoint: {out} and model.variant: {spec.name} in your config")
    return 0
