"""Split the micrograph list into the chunks Snakemake runs one job per stage on, stably.

A GPU job should load SAM once for many micrographs, and a 10,000-micrograph dataset should make
about a hundred jobs per stage, not ten thousand; so the workflow never has a per-micrograph rule.

A first run splits the sorted list into consecutive runs of ``chunk_size``. Later runs keep every
micrograph in the chunk it was given (the *membership*, recorded in
``results/ingest/chunk_membership.json`` when a run starts: :func:`write_membership`): during live
collection new micrographs arrive all the time, and a new one that sorts before the others would
otherwise shift every chunk, so every chunk's jobs would rerun (and every segment job load the
model to segment nothing). New micrographs fill the last chunk up to ``chunk_size``, then new
chunks; a micrograph that disappeared leaves its chunk (an emptied chunk is dropped). Only a new
``chunk_size`` splits the whole list again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from samcryo_core.errors import ConfigError
from samcryo_core.io.atomic import atomic_write_text

#: Where the workflow records the membership (relative to the folder snakemake runs in).
MEMBERSHIP_FILE = "results/ingest/chunk_membership.json"
_ID = re.compile(r"^chunk(\d+)$")


def chunk_id(index: int, n_chunks: int) -> str:
    """Zero-padded id (``chunk0007``): sorts like the index, at least 4 digits wide."""
    width = max(4, len(str(max(n_chunks - 1, 0))))
    return f"chunk{index:0{width}d}"


def chunk_index(cid: str) -> int:
    """The number of a chunk id (``chunk0007`` -> 7)."""
    m = _ID.match(cid)
    if not m:
        raise ValueError(f"not a chunk id: {cid!r}")
    return int(m.group(1))


def _check_size(chunk_size) -> int:
    if isinstance(chunk_size, bool) or int(chunk_size) < 1:
        raise ConfigError("chunk_size", f"must be a positive integer, got {chunk_size!r}",
                          "set chunk_size to e.g. 50 micrographs per job")
    return int(chunk_size)


def split_into_chunks(items: Sequence, chunk_size: int) -> dict[str, list]:
    """Consecutive runs of ``chunk_size`` items keyed by chunk id (the last run may be shorter).

    Raises:
        ConfigError: ``chunk_size`` below 1 (names the config key ``chunk_size``).
    """
    chunk_size = _check_size(chunk_size)
    n_chunks = (len(items) + chunk_size - 1) // chunk_size
    return {chunk_id(i, n_chunks): list(items[i * chunk_size:(i + 1) * chunk_size])
            for i in range(n_chunks)}


@dataclass(frozen=True)
class Membership:
    """Which micrograph names each chunk holds, and the ``chunk_size`` they were split with."""

    chunk_size: int
    chunks: dict[str, list[str]]

    def to_json(self) -> str:
        return json.dumps({"chunk_size": self.chunk_size, "chunks": self.chunks}, indent=1) + "\n"


def read_membership(path: str | Path = MEMBERSHIP_FILE) -> Membership | None:
    """The recorded membership, or None when there is none (or it cannot be read: split afresh)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        chunks = {str(c): [str(n) for n in names] for c, names in data["chunks"].items()}
        for c in chunks:
            chunk_index(c)
        return Membership(int(data["chunk_size"]), chunks)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def write_membership(membership: Membership, path: str | Path = MEMBERSHIP_FILE) -> None:
    """Record the membership (atomically) unless the file already says the same."""
    path = Path(path)
    text = membership.to_json()
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def assign_chunks(names: Sequence[str], chunk_size: int, previous: Membership | None = None,
                  *, known_only: bool = False) -> Membership:
    """Chunks of ``names`` (unique, sorted), keeping ``previous`` assignments (module docstring).

    ``known_only``: leave out names ``previous`` does not hold (a job process re-reading the
    workflow must see the chunks the main process planned, not files that arrived since).

    Raises:
        ConfigError: ``chunk_size`` below 1.
    """
    chunk_size = _check_size(chunk_size)
    if previous is None or previous.chunk_size != chunk_size:
        return Membership(chunk_size, split_into_chunks(list(names), chunk_size))
    present = set(names)
    chunks = {c: [n for n in members if n in present] for c, members in previous.chunks.items()}
    placed = {n for members in chunks.values() for n in members}
    chunks = {c: members for c, members in chunks.items() if members}
    new = [] if known_only else [n for n in names if n not in placed]
    order = sorted(previous.chunks, key=chunk_index)
    next_index = chunk_index(order[-1]) + 1 if order else 0
    last = max(chunks, key=chunk_index) if chunks else None
    while new:
        if last is None or len(chunks[last]) >= chunk_size:
            last = chunk_id(next_index, next_index + 1)
            next_index += 1
            chunks[last] = []
        room = chunk_size - len(chunks[last])
        chunks[last].extend(new[:room])
        new = new[room:]
    return Membership(chunk_size, {c: sorted(chunks[c]) for c in sorted(chunks, key=chunk_index)})
