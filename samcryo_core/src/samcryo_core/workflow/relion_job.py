"""samcryo as a RELION *External* job: pick the job's input micrographs into its output folder.

RELION (3.1, 4, 5) runs an External job's executable in the project folder as::

    <executable> --o External/job012/ --in_mics CtfFind/job004/micrographs_ctf.star --j 4 \
        [--<param label> <value> ...]

and reads back, from the output folder, ``RELION_OUTPUT_NODES.star`` (what the job produced) and
``RELION_JOB_EXIT_SUCCESS`` or ``RELION_JOB_EXIT_FAILURE`` (how it ended). This module picks every
micrograph of ``--in_mics`` (:mod:`samcryo_core.workflow.direct`) and exports the coordinates into
the job folder exactly as ``export.relion_dir`` does, so the job's coordinates go straight into
RELION's *Particle extraction*.
"""

from __future__ import annotations

import logging
from pathlib import Path

from samcryo_core.workflow.direct import DirectSettings

log = logging.getLogger(__name__)

SUCCESS = "RELION_JOB_EXIT_SUCCESS"
FAILURE = "RELION_JOB_EXIT_FAILURE"
PIPELINE = "default_pipeline.star"


def detect_relion_version(project_dir: str | Path = ".") -> str | None:
    """``3.1``, ``4`` or ``5`` from the project's ``default_pipeline.star``; None without one.

    RELION 3.1 numbers node types (``_rlnPipeLineNodeType``), 4 and 5 label them
    (``_rlnPipeLineNodeTypeLabel``); RELION 5 writes ``# version 50001``.
    """
    path = Path(project_dir) / PIPELINE
    if not path.is_file():
        return None
    text = path.read_text(errors="replace")
    if "_rlnPipeLineNodeTypeLabel" not in text:
        return "3.1"
    return "5" if "# version 50001" in text else "4"


def run_external_job(out_dir: str | Path, in_mics: str, settings: DirectSettings, *,
                     min_fom: float | None, relion_version: str | None = None,
                     project_dir: str | Path = ".") -> None:
    """Pick ``in_mics`` into the job folder ``out_dir``; mark the job finished either way.

    The RELION version (output node format, STAR header) is the given one, else the project's,
    else 4. Any error still marks the job failed before it propagates.
    """
    from samcryo_core.export.run import ExportOptions
    from samcryo_core.io.atomic import atomic_write_text
    from samcryo_core.workflow.direct import list_micrographs, pick_and_export

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in (SUCCESS, FAILURE):
        (out / name).unlink(missing_ok=True)
    try:
        version = relion_version or detect_relion_version(project_dir) or "4"
        log.info("RELION %s project %s: picking %s into %s", version, Path(project_dir).resolve(), in_mics,
                 out)
        sources = list_micrographs(micrographs_star=in_mics, project_dir=str(project_dir))
        export = ExportOptions(relion_dir=str(out), project_dir=str(project_dir), relion_version=version,
                               micrographs_star=in_mics, min_fom=min_fom)
        pick_and_export(sources, out / "samcryo", settings, export,
                        progress=lambda line: print(f"samcryo: {line}", flush=True))
    except BaseException as exc:
        atomic_write_text(out / FAILURE, f"{type(exc).__name__}: {exc}\n")
        raise
    atomic_write_text(out / SUCCESS, "")
