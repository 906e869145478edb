"""The workflow's input listing: config ``inputs`` -> sorted sources -> chunks, at parse time.

Snakemake must know every chunk before it builds the DAG, so the listing runs when the Snakefile is
parsed. It only lists (glob, or read one STAR / cryoSPARC table) and stats the files; it never
opens a micrograph: 10,000 micrographs are listed in well under a second, and bad files are found
by the ingest jobs, which reject them with a reason instead of stopping the whole run. Duplicate
micrograph names stop the run here, at start-up (``samcryo_core.ingest.naming.check_unique``).
Chunks keep their micrographs from run to run (:mod:`samcryo_core.workflow.chunks`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from samcryo_core.errors import InputError
from samcryo_core.ingest.sources import Source, list_sources
from samcryo_core.stamps import file_stamp
from samcryo_core.workflow.chunks import Membership, assign_chunks


@dataclass(frozen=True)
class Listing:
    """The dataset as the workflow sees it: sources sorted by name, and their chunks."""

    sources: list[Source]
    chunks: dict[str, list[Source]]
    membership: Membership

    @property
    def chunk_ids(self) -> list[str]:
        return list(self.chunks)

    @property
    def mics_by_chunk(self) -> dict[str, list[str]]:
        return {cid: [s.micrograph for s in srcs] for cid, srcs in self.chunks.items()}

    def paths(self, chunk: str) -> list[str]:
        """Input paths of one chunk, in order (the PATH arguments of ``samcryo ingest``)."""
        return [s.path for s in self.chunks[chunk]]

    def file_stamps(self, chunk: str) -> str:
        """``size:mtime`` of each input file of one chunk (:func:`samcryo_core.stamps.file_stamp`).

        A param of the ingest rule: a micrograph file that was replaced, or a copy that completed
        after the first run saw it truncated, changes it, so Snakemake reruns that chunk's ingest
        (which redoes only the changed micrograph) and everything downstream of it.
        """
        return " ".join(file_stamp(s.path) for s in self.chunks[chunk])


def list_inputs(inputs: dict, chunk_size: int, previous: Membership | None = None, *,
                known_only: bool = False) -> Listing:
    """List the configured inputs and split them into chunks, keeping ``previous`` memberships.

    ``known_only``: leave out micrographs ``previous`` does not hold (for job processes that
    re-read the workflow after the main process planned it: see :func:`assign_chunks`).

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
    membership = assign_chunks([s.micrograph for s in sources], chunk_size, previous,
                               known_only=known_only and previous is not None)
    by_name = {s.micrograph: s for s in sources}
    chunks = {cid: [by_name[n] for n in names] for cid, names in membership.chunks.items()}
    assigned = {n for names in membership.chunks.values() for n in names}
    return Listing([s for s in sources if s.micrograph in assigned], chunks, membership)


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
