"""Pick a set of micrographs in one process, without Snakemake and without a config file.

For a quick look (``samcryo pick``, like ``topaz extract`` or ``cryolo_predict.py``) and for
RELION's External job type (``samcryo relion-external``), the stages the workflow runs as
separate jobs -- ingest, normalize, segment + extract (or the LoG picker) -- run here one after
the other with the same library calls and the same per-micrograph outputs, manifests and stamps,
so a rerun after an interruption redoes only what is missing, and the picks are exactly what the
workflow would pick with the same prompt and settings.

Everything a trained prompt needs besides its tensors comes from the prompt file: the base
variant and weights (the shipped ``cpu_small`` backbone is found by itself; other bases are
named by ``checkpoint``), the working scale and the normalization it was trained with.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from samcryo_core.errors import ConfigError
from samcryo_core.ingest.sources import Source
from samcryo_core.particles.diameter import Diameter

log = logging.getLogger(__name__)

PICKERS = ("sam", "log")


@dataclass(frozen=True)
class DirectSettings:
    """How to pick (defaults as in the workflow's config).

    Attributes:
        diameter_A: particle diameter in Angstrom, or ``(smallest, largest)``.
        prompt_file: a prompt trained by ``samcryo train`` (picker ``sam``).
        picker: ``sam`` (the prompt) or ``log`` (the classical LoG picker, no model).
        checkpoint, sha256: the base SAM weights the prompt was trained on, when not the shipped
            ``cpu_small`` backbone.
        particle_px: working scale for ``log`` (``sam`` takes the prompt's).
        pixel_size_A: pixel size of micrographs whose header and list have none.
        device, batch_size, tta, threads: as for ``samcryo segment``.
    """

    diameter_A: Diameter
    prompt_file: str | None = None
    picker: str = "sam"
    checkpoint: str | None = None
    sha256: str | None = None
    particle_px: float | None = None
    pixel_size_A: float | None = None
    min_size: int | None = None
    device: str = "auto"
    batch_size: int = 2
    tta: str = "none"
    threads: int | None = None


@dataclass(frozen=True)
class PromptBase:
    """What a prompt file says about the model it needs."""

    variant: str
    checkpoint: str | None
    sha256: str | None
    particle_px: float
    normalization: dict


def prompt_base(prompt_file: str | Path, checkpoint: str | None = None,
                sha256: str | None = None) -> PromptBase:
    """The base model, working scale and normalization a prompt file was trained with.

    Raises:
        ConfigError: the prompt was trained on weights other than the shipped backbone and no
            ``checkpoint`` was given.
    """
    from samcryo_core.model.prompt_file import RANDOM_INIT, read_prompt_file
    from samcryo_core.weights import checkpoint_for, resolve_checkpoint, shipped_sha256

    checkpoint = resolve_checkpoint(checkpoint)
    _, meta = read_prompt_file(prompt_file)
    base = str(meta.get("base_sha256") or "")
    if checkpoint is None and base != RANDOM_INIT:
        shipped = checkpoint_for(None, str(meta["variant"]))  # the variant's shipped backbone, if any
        if shipped is not None and Path(shipped).is_file() and shipped_sha256(shipped) == base:
            checkpoint, sha256 = shipped, base
        else:
            raise ConfigError("--checkpoint", f"the prompt was trained on {meta.get('base_checkpoint')} "
                              f"(sha256 {base})", "pass that SAM checkpoint with --checkpoint")
    scale = (meta.get("working_scale") or {}).get("particle_px")
    if scale is None:
        from samcryo_core.model.scale import working_scale

        scale = working_scale(str(meta["variant"]), checkpoint).particle_px
    norm = dict(meta.get("normalization") or {})
    if "clip_percentiles" in norm:
        norm["clip_percentiles"] = tuple(norm["clip_percentiles"])
    return PromptBase(str(meta["variant"]), checkpoint, sha256, float(scale), norm)


def list_micrographs(paths: Sequence[str] = (), *, micrographs_star: str | None = None,
                     cryosparc_csv: str | None = None, project_dir: str | None = None) -> list[Source]:
    """Micrographs from file names or quoted globs and/or a RELION / cryoSPARC list (unique names)."""
    from samcryo_core.ingest.sources import list_sources

    return list_sources(glob=list(paths) or None, micrographs_star=micrographs_star,
                        cryosparc_csv=cryosparc_csv, project_dir=project_dir)


def pick_micrographs(sources: Sequence[Source], work_dir: str | Path, settings: DirectSettings,
                     progress: Callable[[str], None] | None = None) -> list[dict]:
    """Ingest, normalize and pick ``sources``; return the picks-manifest rows.

    ``work_dir`` receives what the workflow keeps under ``results/``: ``normalized/``,
    ``probability/``, ``picks/<mic>.csv`` and one manifest per stage (``*.tsv``).
    """
    from samcryo_core.ingest.rejections import INGEST_COLUMNS
    from samcryo_core.ingest.validate import DEFAULT_MIN_SIZE, validate_micrograph
    from samcryo_core.manifest import OK, write_manifest
    from samcryo_core.particles.chunk import PICKS_MANIFEST_COLUMNS
    from samcryo_core.preprocess.chunk import NORMALIZE_COLUMNS, NormalizeSettings, normalize_chunk

    if settings.picker not in PICKERS:
        raise ConfigError("--picker", f"unknown picker '{settings.picker}'",
                          f"use one of {', '.join(PICKERS)}")
    if settings.picker == "sam" and not settings.prompt_file:
        raise ConfigError("--prompt-file", "no prompt file", "give a prompt trained by 'samcryo train', "
                          "or --picker log")
    say = progress or (lambda _line: None)
    work = Path(work_dir)
    base = prompt_base(settings.prompt_file, settings.checkpoint, settings.sha256) \
        if settings.picker == "sam" else None
    particle_px = base.particle_px if base else _log_scale(settings.particle_px)

    rows = [validate_micrograph(s, config_pixel_size_A=settings.pixel_size_A,
                                min_size=settings.min_size or DEFAULT_MIN_SIZE).to_row() for s in sources]
    write_manifest(work / "ingest.tsv", rows, INGEST_COLUMNS)
    say(f"{sum(r['status'] == OK for r in rows)} of {len(rows)} micrographs readable")
    norm = NormalizeSettings(particle_px=particle_px, diameter_A=settings.diameter_A,
                             **(base.normalization if base else {}))
    rows = normalize_chunk(rows, work / "normalized", norm, workers=settings.threads)
    write_manifest(work / "normalized.tsv", rows, NORMALIZE_COLUMNS)
    say(f"normalized to {particle_px:g} px per particle")
    if base is None:
        from samcryo_core.pickers.log_chunk import LogSettings, pick_log_chunk

        rows = pick_log_chunk(rows, work / "picks", LogSettings(diameter_A=settings.diameter_A),
                              manifest_path=work / "normalized.tsv")
    else:
        rows = _segment(rows, work, base, settings, say)
        from samcryo_core.particles.extract_chunk import ExtractSettings, extract_chunk

        rows = extract_chunk(rows, work / "picks", ExtractSettings(diameter_A=settings.diameter_A),
                             manifest_path=work / "probability.tsv")
    write_manifest(work / "picks.tsv", rows, PICKS_MANIFEST_COLUMNS)
    n = sum(int(r.get("n_picks") or 0) for r in rows if r.get("status") == OK)
    say(f"{n} candidates in {sum(r.get('status') == OK for r in rows)} micrographs")
    return rows


def _log_scale(particle_px: float | None) -> float:
    """The LoG picker's working scale: the given one, else the shipped backbone's (the workflow's)."""
    if particle_px is not None:
        return float(particle_px)
    from samcryo_core.model.scale import working_scale
    from samcryo_core.weights import CPU_SMALL_BACKBONE

    return working_scale("cpu_small", CPU_SMALL_BACKBONE).particle_px


def _segment(rows: list[dict], work: Path, base: PromptBase, settings: DirectSettings,
             say: Callable[[str], None]) -> list[dict]:
    from samcryo_core.inference.segment import SEGMENT_COLUMNS, segment_chunk
    from samcryo_core.manifest import write_manifest
    from samcryo_core.model.build import load_model, model_stamp
    from samcryo_core.model.device import resolve_device, set_threads

    set_threads(settings.threads)
    device = resolve_device(settings.device)
    model, info = load_model(base.variant, base.checkpoint, base.sha256, prompt_file=settings.prompt_file)
    model.to(device)
    say(f"{info['variant']}/{info['prompt_type']} on {device}")
    rows, _ = segment_chunk(rows, work / "probability", model, batch_size=settings.batch_size, device=device,
                            tta=settings.tta, model_stamp=model_stamp(info, base.checkpoint), progress=say)
    write_manifest(work / "probability.tsv", rows, SEGMENT_COLUMNS)
    return rows


def pick_and_export(sources: Sequence[Source], out_dir: str | Path, settings: DirectSettings, export,
                    progress: Callable[[str], None] | None = None) -> list[dict]:
    """:func:`pick_micrographs` into ``out_dir/work`` then :func:`~samcryo_core.export.run.export_picks`.

    ``export`` is an :class:`~samcryo_core.export.run.ExportOptions`; micrographs RELION could not
    name (outside its project folder) are refused before anything is picked.
    """
    from samcryo_core.export.run import export_picks
    from samcryo_core.workflow.inputs import check_exportable

    if export.relion_dir:
        check_exportable(list(sources), export.project_dir)
    rows = pick_micrographs(sources, Path(out_dir) / "work", settings, progress)
    return export_picks(rows, export)
