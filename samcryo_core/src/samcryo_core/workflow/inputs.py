"""The workflow's input listing: config ``inputs`` -> sorted sources -> chunks, at parse time.

Snakemake must know every chunk before it builds the DAG, so the listing runs when the Snakefile is
parsed. It only lists (glob, or read one STAR / cryoSPARC table) and never opens a micrograph:
10,000 micrographs are listed in well under a second, and bad files are found by the ingest jobs,
which reject them with a reason instead of stopping the whole run. Duplicate micrograph names stop
the run here, at start-up (``samcryo_core.ingest.naming.check_unique``).
"""

from __future__ import annotations

from dataclasses import dataclass

from samcryo_core.ingest.sources import Source, list_sources
from samcryo_core.workflow.chunks import split_into_chunks


@dataclass(frozen=True)
class Listing:
    """The dataset as the workflow sees it: sources sorted by name, and their chunks."""

    sources: list[Source]
    chunks: dict[str, list[Source]]

    @property
    def chunk_ids(self) -> list[str]:
        return list(self.chunks)

    @property
    def mics_by_chunk(self) -> dict[str, list[str]]:
        return {cid: [s.micrograph for s in srcs] for cid, srcs in self.chunks.items()}

    def paths(self, chunk: str) -> list[str]:
        """Input paths of one chunk, in order (the PATH arguments of ``samcryo ingest``)."""
        return [s.path for s in self.chunks[chunk]]


def list_inputs(inputs: dict, chunk_size: int) -> Listing:
    """List the configured inputs and split them into chunks.

    Raises:
        InputError: nothing matched, an unreadable STAR/cryoSPARC list, or duplicate names.
    """
    sources = list_sources(
        glob=inputs.get("glob"),
        micrographs_star=inputs.get("micrographs_star"),
        cryosparc_csv=inputs.get("cryosparc_csv"),
        project_dir=inputs.get("project_dir"),
    )
    return Listing(sources, split_into_chunks(sources, chunk_size))
