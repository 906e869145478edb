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
