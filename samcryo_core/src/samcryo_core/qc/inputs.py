"""Gather what the QC report needs from the other stages' manifests, picks and evaluation files.

The report is the one place where a user sees every micrograph's fate, so it joins the manifests
of all stages by micrograph name instead of trusting any single one: a micrograph rejected at
ingest is listed in ``results/ingest/rejected.tsv`` *and* carried forward in later manifests, and
the first stage that rejected it is the one whose reason the user needs to read.

Nothing here draws; :mod:`samcryo_core.qc.overlay`, :mod:`samcryo_core.qc.distributions` and
:mod:`samcryo_core.qc.summary` take the :class:`QcDataset` built here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from samcryo_core.errors import InputError
from samcryo_core.frame import FrameMapping
from samcryo_core.manifest import OK, REJECTED, read_manifest
from samcryo_core.particles.picks_io import PICKS_COLUMNS, read_picks

# Metric names as the report shows them, with the spellings an evaluation file may use.
METRIC_ALIASES: dict[str, tuple[str, ...]] = {
    "precision": ("precision",),
    "recall": ("recall",),
    "F1": ("f1", "f1_score", "fscore", "f_score"),
    "AP": ("ap", "average_precision", "mean_ap"),
    "Dice": ("dice", "pixel_dice", "dice_pixel", "mean_dice"),
}


@dataclass
class MicrographRecord:
    """One micrograph's fate across the stages, as the report needs it.

    Attributes:
        name: micrograph name (unique within the dataset).
        status: ``ok`` or ``rejected`` (rejected if any stage rejected it).
        reason: the first rejecting stage's reason (empty when ok).
        stage: which stage rejected it (``ingest``, ``normalize``, ``picks``), empty when ok.
        source: path of the original micrograph.
        normalized: path of the normalized MRC (normalized frame), or empty.
        sidecar: path of the FrameMapping JSON, or empty.
        picks: path of the picks CSV (original frame + normalized columns), or empty.
        mapping: its frame sidecar, read once when the picks are loaded (None when unreadable):
            the micrograph's own pixel size and working scale for the report.
    """

    name: str
    status: str = OK
    reason: str = ""
    stage: str = ""
    source: str = ""
    normalized: str = ""
    sidecar: str = ""
    picks: str = ""
    mapping: FrameMapping | None = None

    @property
    def pixel_size_A(self) -> float | None:
        """The micrograph's own pixel size (from its frame sidecar), or None."""
        return None if self.mapping is None else self.mapping.pixel_size_A

    def reject(self, stage: str, reason: str) -> None:
        """Mark rejected, keeping the earliest stage's reason (stages are applied in order)."""
        if self.status != REJECTED:
            self.status = REJECTED
            self.reason = reason or "(no reason given)"
            self.stage = stage


@dataclass
class QcDataset:
    """Everything one report is about: the micrographs, their picks and evaluation numbers.

    Attributes:
        records: micrograph records sorted by name.
        picks: all candidates of accepted micrographs (above extract's floor), columns
            ``PICKS_COLUMNS`` plus ``micrograph``, ``pixel_size_A`` (the micrograph's own) and
            ``diameter_A`` (``diameter_px`` times it; NaN where the pixel size is unknown), so sizes
            stay right in datasets that mix detectors or binnings; :attr:`exported` are those at
            the threshold.
        evaluation: overall metrics of this run (report name -> value), empty without truth.
        evaluation_per_micrograph: the evaluation's per-micrograph table, or None.
        compare: other runs' overall metrics (run name -> metric -> value), this run included
            under ``this_run_name`` when it has evaluation numbers.
        threshold: the FOM threshold the picks were cut at (drawn on the FOM histogram), or None.
    """

    records: list[MicrographRecord]
    picks: pd.DataFrame
    evaluation: dict[str, float] = field(default_factory=dict)
    evaluation_raw: dict = field(default_factory=dict)
    evaluation_per_micrograph: pd.DataFrame | None = None
    compare: dict[str, dict[str, float]] = field(default_factory=dict)
    threshold: float | None = None

    @property
    def accepted(self) -> list[MicrographRecord]:
        return [r for r in self.records if r.status == OK]

    @property
    def rejected(self) -> list[MicrographRecord]:
        return [r for r in self.records if r.status != OK]

    @property
    def exported(self) -> pd.DataFrame:
        """The picks export writes: candidates at or above ``threshold`` (all without one)."""
        if self.threshold is None or not len(self.picks):
            return self.picks
        fom = pd.to_numeric(self.picks["fom"], errors="coerce")
        return self.picks[fom.isna() | (fom >= self.threshold)]

    def picks_per_micrograph(self) -> pd.Series:
        """Number of exported picks of every accepted micrograph (zeros included), in record order."""
        names = [r.name for r in self.accepted]
        picks = self.exported
        counts = picks.groupby("micrograph").size() if len(picks) else pd.Series(dtype=int)
        return pd.Series([int(counts.get(n, 0)) for n in names], index=names, dtype=int, name="n_picks")


def _check_columns(path: str | Path, rows: list[dict], needed: Sequence[str]) -> None:
    if not rows:
        return
    missing = [c for c in needed if c not in rows[0]]
    if missing:
        raise InputError(path, f"manifest lacks the column(s) {', '.join(missing)}",
                         "pass the chunk manifest written by the matching samcryo stage")


def _read_manifest_checked(path: str | Path, needed: Sequence[str]) -> list[dict]:
    if not Path(path).is_file():
        raise InputError(path, "manifest file does not exist", "run the stage that writes it first")
    rows = read_manifest(path)
    _check_columns(path, rows, ("micrograph", "status", *needed))
    return rows


def _read_mapping(sidecar: str) -> FrameMapping | None:
    """A micrograph's frame sidecar (None when there is none to read)."""
    if not sidecar or not Path(sidecar).is_file():
        return None
    try:
        return FrameMapping.read(sidecar)
    except (ValueError, KeyError, OSError):
        return None


def _metric_key(key: str) -> str | None:
    k = key.strip().lower()
    for shown, aliases in METRIC_ALIASES.items():
        if k in aliases:
            return shown
    return None


def overall_metrics(raw: dict) -> dict[str, float]:
    """Pick the headline metrics out of an evaluation ``overall.json``.

    The known metrics (precision, recall, F1, AP, Dice) are found whatever their spelling, at the
    top level or one level down; the first occurrence is the headline. ``samcryo evaluate``
    writes ``{"micro": {tp, fp, fn, precision, recall, f1, ap}, "mean_per_micrograph":
    {precision, ..., dice}, ...}``, so the headline is the micro-averaged (pooled) precision,
    recall, F1 and AP, and Dice is the mean over micrographs (the papers' number). Every other
    number is kept under its dotted name (``mean_per_micrograph.F1``, ``micro.tp``) so nothing
    the evaluation reports is hidden.
    """
    found: dict[str, float] = {}
    extra: dict[str, float] = {}

    def visit(d: dict, prefix: str) -> None:
        for key, value in d.items():
            if isinstance(value, dict) and not prefix:
                visit(value, f"{key}.")
            elif isinstance(value, bool):
                continue
            elif isinstance(value, int | float) and math.isfinite(float(value)):
                shown = _metric_key(str(key))
                if shown is not None and shown not in found:
                    found[shown] = float(value)
                else:
                    extra[prefix + (shown or str(key))] = float(value)

    visit(raw, "")
    ordered = {k: found[k] for k in METRIC_ALIASES if k in found}
    ordered.update(extra)
    return ordered


def read_overall_json(path: str | Path) -> dict:
    """Read an evaluation ``overall.json``; raise InputError if it is missing or not a JSON object."""
    p = Path(path)
    if not p.is_file():
        raise InputError(path, "evaluation file does not exist", "run 'samcryo evaluate' first")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(path, f"not valid JSON ({exc.msg} at line {exc.lineno})",
                         "rerun 'samcryo evaluate' to rewrite it") from exc
    if not isinstance(raw, dict):
        raise InputError(path, "expected a JSON object of metrics", "rerun 'samcryo evaluate'")
    return raw


def load_dataset(
    picks_manifests: Sequence[str | Path],
    normalized_manifests: Sequence[str | Path] = (),
    rejections: str | Path | None = None,
    evaluation_json: str | Path | None = None,
    evaluation_csv: str | Path | None = None,
    compare: dict[str, str | Path] | None = None,
    threshold: float | None = None,
    this_run_name: str = "this run",
) -> QcDataset:
    """Join the stages' manifests by micrograph and read the picks of accepted micrographs.

    Micrographs are sorted by name, so the overlay sample and every table stay the same when the
    chunk size (and with it the order of the manifests) changes.
    """
    records: dict[str, MicrographRecord] = {}

    def get(name: str) -> MicrographRecord:
        if name not in records:
            records[name] = MicrographRecord(name=name)
        return records[name]

    if rejections is not None:
        for row in _read_manifest_checked(rejections, ()):
            rec = get(row["micrograph"])
            rec.source = rec.source or row.get("source", "")
            if row["status"] != OK:
                rec.reject("ingest", row.get("reason", ""))
    for path in normalized_manifests:
        for row in _read_manifest_checked(path, ("normalized", "sidecar")):
            rec = get(row["micrograph"])
            rec.source = rec.source or row.get("source", "")
            rec.normalized = row.get("normalized", "") or rec.normalized
            rec.sidecar = row.get("sidecar", "") or rec.sidecar
            if row["status"] != OK:
                rec.reject("normalize", row.get("reason", ""))
    for path in picks_manifests:
        for row in _read_manifest_checked(path, ("picks",)):
            rec = get(row["micrograph"])
            rec.source = rec.source or row.get("source", "")
            rec.sidecar = rec.sidecar or row.get("sidecar", "")
            rec.picks = row.get("picks", "") or rec.picks
            if row["status"] != OK:
                rec.reject("picks", row.get("reason", ""))

    frames = []
    for rec in records.values():
        if rec.status != OK:
            continue
        if not rec.picks:
            rec.reject("picks", "no picks file in the picks manifest")
            continue
        rec.mapping = _read_mapping(rec.sidecar)
        df = read_picks(rec.picks)[list(PICKS_COLUMNS)]
        df.insert(0, "micrograph", rec.name)
        df["pixel_size_A"] = np.nan if rec.pixel_size_A is None else rec.pixel_size_A
        df["diameter_A"] = df["diameter_px"] * df["pixel_size_A"]
        frames.append(df)
    nonempty = [f for f in frames if len(f)]
    picks = (pd.concat(nonempty, ignore_index=True) if nonempty
             else pd.DataFrame(columns=["micrograph", *PICKS_COLUMNS, "pixel_size_A", "diameter_A"]))

    ordered = sorted(records.values(), key=lambda r: r.name)
    ds = QcDataset(records=ordered, picks=picks, threshold=threshold)
    if evaluation_json is not None:
        ds.evaluation_raw = read_overall_json(evaluation_json)
        ds.evaluation = overall_metrics(ds.evaluation_raw)
        ds.compare[this_run_name] = ds.evaluation
    if evaluation_csv is not None:
        if not Path(evaluation_csv).is_file():
            raise InputError(evaluation_csv, "evaluation CSV does not exist", "run 'samcryo evaluate' first")
        ds.evaluation_per_micrograph = pd.read_csv(evaluation_csv)
    for name, path in (compare or {}).items():
        ds.compare[name] = overall_metrics(read_overall_json(path))
    return ds
