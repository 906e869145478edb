"""Per-chunk manifests: the record of what happened to each micrograph at each stage.

Snakemake jobs work on *chunks* of micrographs (so a GPU job loads SAM once for many of them),
but every micrograph keeps its own outputs and its own status. A manifest is a tab-separated
table with one row per micrograph and at least the columns ``micrograph``, ``status`` (``ok`` or
``rejected``) and ``reason`` (empty when ok); each stage adds the paths it produced.

Rows are never dropped: a micrograph rejected at ingest stays in every later manifest as
``rejected`` with its reason, so ``accepted + rejected = inputs`` holds at every stage.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

from samcryo_core.io.atomic import atomic_write_text

OK = "ok"
REJECTED = "rejected"
BASE_COLUMNS = ("micrograph", "status", "reason")
#: Column of every stage manifest holding the stamp of the micrograph's output
#: (:mod:`samcryo_core.stamps`): the next stage builds its own stamp on it.
STAMP = "stamp"


def carry_rejected(row: dict, columns: Sequence[str], reason: str | None = None) -> dict:
    """A row rejected upstream (or here, with ``reason``), carried into a stage's manifest.

    The stage's own columns stay empty except ``source``; rows are never dropped, so
    ``accepted + rejected = inputs`` holds at every stage.
    """
    out = {c: "" for c in columns}
    out.update(micrograph=row["micrograph"], status=REJECTED,
               reason=reason if reason is not None else (row.get("reason") or "rejected upstream"),
               source=row.get("source", ""))
    return {c: out.get(c, "") for c in columns}


def write_manifest(path: str | Path, rows: Iterable[dict], columns: Sequence[str] | None = None) -> None:
    """Write rows (dicts) as a TSV manifest atomically; ``BASE_COLUMNS`` always come first."""
    rows = list(rows)
    cols: list[str] = list(BASE_COLUMNS)
    extra = list(columns) if columns is not None else [k for r in rows for k in r]
    for c in extra:
        if c not in cols:
            cols.append(c)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, delimiter="\t", lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({c: "" if r.get(c) is None else r.get(c) for c in cols})
    atomic_write_text(path, buf.getvalue())


def read_manifest(path: str | Path) -> list[dict]:
    """Read a TSV manifest into a list of dicts (all values are strings)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def read_manifests(paths: Iterable[str | Path]) -> list[dict]:
    """Concatenate several chunk manifests, keeping their order."""
    out: list[dict] = []
    for p in paths:
        out.extend(read_manifest(p))
    return out
