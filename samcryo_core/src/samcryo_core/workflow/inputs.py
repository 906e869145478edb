"""The workflow's input listing: config ``inputs`` -> sorted sources -> chunks, at parse time.

Snakemake must know every chunk before it builds the DAG, so the listing runs when the Snakefile is
parsed. It only lists (glob, or read one STAR / cryoSPARC table) and never opens a micrograph:
10,000 micrographs are listed in well under a second, and bad files are found by the ingest jobs,
which reject them with a reason instead of stopping the whole run. Duplicate micrograph names stop
the run here, at start-up (``samcryo_core.ingest.naming.check_unique``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from samcryo_core.errors import InputError
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
    check_exportable(sources, inputs.get("project_dir"))
    return Listing(sources, split_into_chunks(sources, chunk_size))


def check_exportable(sources: list[Source], project_dir: str | None) -> None:
    """Refuse, at start-up, micrographs the RELION export (the workflow's last stage) must refuse.

    RELION names every micrograph relative to its project folder, and ``samcryo export`` writes
    each coordinate file at that relative path below ``relion/``; so a micrograph outside
    ``inputs.project_dir`` (default: the folder snakemake runs in), e.g. an absolute glob onto
    another file system, cannot be exported, and a blank in the path cannot be written to a STAR
    file. Both would otherwise be found only by the export job, after every micrograph had been
    segmented. The message lists the first offenders and names the key to set.

    Raises:
        InputError: some micrographs lie outside the project folder or have blanks in their path.
    """
    proj = os.path.abspath(str(project_dir or "."))
    outside, blanks = [], []
    for s in sources:
        rel = os.path.relpath(os.path.abspath(s.path), proj)
        if rel == os.pardir or rel.startswith(os.pardir + os.sep):
            outside.append(s.path)
        elif any(c.isspace() for c in rel):
            blanks.append(s.path)
    if outside:
        raise InputError(
            "inputs", f"{len(outside)} micrograph(s) lie outside the project folder {proj}, so "
            f"RELION cannot name them relative to it: {', '.join(outside[:5])}"
            f"{' ...' if len(outside) > 5 else ''}",
            "set inputs.project_dir to the (RELION) project folder that contains the micrographs, "
            "or run snakemake from that folder",
        )
    if blanks:
        raise InputError(
            "inputs", f"{len(blanks)} micrograph path(s) contain blanks, which STAR files cannot "
            f"hold: {', '.join(repr(b) for b in blanks[:5])}{' ...' if len(blanks) > 5 else ''}",
            "rename the files or folders (or link them under names without blanks)",
        )
