"""Split a sorted micrograph list into the chunks Snakemake runs one job per stage on.

A GPU job should load SAM once for many micrographs, and a 10,000-micrograph dataset should make
about a hundred jobs per stage, not ten thousand; so the workflow never has a per-micrograph rule.
Chunk ids depend only on the sorted list and ``chunk_size``, so the same inputs always give the
same chunks and a rerun finds its earlier outputs.
"""

from __future__ import annotations

from collections.abc import Sequence

from samcryo_core.errors import ConfigError


def chunk_id(index: int, n_chunks: int) -> str:
    """Zero-padded id (``chunk0007``): sorts like the index, at least 4 digits wide."""
    width = max(4, len(str(max(n_chunks - 1, 0))))
    return f"chunk{index:0{width}d}"


def split_into_chunks(items: Sequence, chunk_size: int) -> dict[str, list]:
    """Consecutive runs of ``chunk_size`` items keyed by chunk id (the last run may be shorter).

    Raises:
        ConfigError: ``chunk_size`` below 1 (names the config key ``chunk_size``).
    """
    if isinstance(chunk_size, bool) or int(chunk_size) < 1:
        raise ConfigError("chunk_size", f"must be a positive integer, got {chunk_size!r}",
                          "set chunk_size to e.g. 50 micrographs per job")
    chunk_size = int(chunk_size)
    n_chunks = (len(items) + chunk_size - 1) // chunk_size
    return {chunk_id(i, n_chunks): list(items[i * chunk_size:(i + 1) * chunk_size])
            for i in range(n_chunks)}
