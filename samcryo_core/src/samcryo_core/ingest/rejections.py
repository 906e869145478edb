"""Gather the rejections of all ingest chunks into one report, ``results/ingest/rejected.tsv``.

Each ingest job writes its own chunk manifest; the user wants one table of what was refused and
why, plus how many micrographs go on. :func:`merge_rejections` reads the chunk manifests, writes
the rejected rows (all ingest columns, sorted by micrograph) atomically and returns the counts, so
``accepted + rejected = inputs`` can be checked and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from samcryo_core.errors import InputError
from samcryo_core.manifest import OK, REJECTED, read_manifests, write_manifest

INGEST_COLUMNS = ("micrograph", "status", "reason", "source", "pixel_size_A", "pixel_size_source",
                  "height", "width")


@dataclass(frozen=True)
class IngestCounts:
    """How many micrographs the ingest chunks saw, accepted and rejected."""

    inputs: int
    accepted: int
    rejected: int

    def to_dict(self) -> dict:
        return {"inputs": self.inputs, "accepted": self.accepted, "rejected": self.rejected}


def merge_rejections(chunks: Sequence[str | Path], out: str | Path) -> IngestCounts:
    """Write the rejected rows of ``chunks`` to ``out`` (TSV) and count the outcomes.

    Raises:
        InputError: a chunk has a status other than ``ok``/``rejected`` (not an ingest manifest).
    """
    rows = []
    for chunk in chunks:
        chunk_rows = read_manifests([chunk])
        bad = sorted({r.get("status") or "" for r in chunk_rows} - {OK, REJECTED})
        if bad:
            raise InputError(chunk, f"manifest holds unknown status values {bad}",
                             "give ingest chunk manifests written by 'samcryo ingest'")
        rows.extend(chunk_rows)
    rejected = sorted((r for r in rows if r["status"] == REJECTED), key=lambda r: r["micrograph"])
    write_manifest(out, rejected, INGEST_COLUMNS)
    return IngestCounts(len(rows), len(rows) - len(rejected), len(rejected))


def check_some_accepted(counts: IngestCounts, rejected_tsv: str | Path) -> None:
    """Stop when inputs were given and every one was rejected: a systematic problem, not bad files.

    Why: a RELION micrographs STAR whose paths do not resolve from the folder snakemake runs in
    (``inputs.project_dir``), a wrong glob onto thumbnails, a pixel size missing everywhere -- each
    rejects every micrograph, and a run that then ends with exit code 0 and empty coordinate files
    looks like a success. The message gives the most common reasons.

    Raises:
        InputError: naming the rejections file, the counts and the commonest reasons.
    """
    if not counts.inputs or counts.accepted:
        return
    from collections import Counter

    rows = read_manifests([rejected_tsv])
    reasons = Counter(_reason_kind(r.get("reason", "")) for r in rows).most_common(3)
    listed = "; ".join(f"{n} x '{text}'" for text, n in reasons)
    fix = "fix what the reasons say and rerun"
    if any("does not exist" in text for text, _ in reasons):
        fix = ("paths in a RELION STAR or cryoSPARC list are relative to inputs.project_dir (default: "
               "the folder snakemake runs in); set it to the project folder, or " + fix)
    raise InputError(rejected_tsv, f"every one of the {counts.inputs} input micrographs was rejected "
                     f"({listed})", fix)


def _reason_kind(reason: str) -> str:
    """A rejection reason without its file name (``<path>: <problem>. Fix: ...`` -> problem)."""
    text = reason.split(". Fix:", 1)[0]
    return text.split(": ", 1)[1] if ": " in text else text
