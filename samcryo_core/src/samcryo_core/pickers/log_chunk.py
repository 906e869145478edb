"""The pick-log stage: one chunk of normalized micrographs -> LoG picks CSVs (no model).

The same picks CSVs and manifests as ``samcryo extract`` (through
:func:`~samcryo_core.particles.chunk.run_picking_chunk`), so export and evaluation treat both
pickers alike.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from samcryo_core.frame import FrameMapping
from samcryo_core.particles.chunk import resolve_diameter_px, run_picking_chunk
from samcryo_core.particles.diameter import Diameter

STAGE = "pick-log"


@dataclass(frozen=True)
class LogSettings:
    """Options of ``samcryo pick-log`` (all of them go into each output's stamp)."""

    diameter_A: Diameter | None = None
    diameter_px: Diameter | None = None
    threshold_sd: float = 2.0
    diameter_range_fraction: tuple[float, float] = (0.8, 1.2)
    n_scales: int = 5
    edge_margin_px: float = 0.0
    min_distance_fraction: float = 0.5
    bright_particles: bool = False


def pick_log_chunk(rows: list[dict], out_dir: str | Path, settings: LogSettings, *,
                   manifest_path: str | Path = "manifest") -> list[dict]:
    """LoG picks of every ``ok`` row of a normalize manifest; returns the picks-manifest rows."""
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.pickers.log_picker import pick_log

    def pick_one(row: dict):
        mapping = FrameMapping.read(row["sidecar"])
        diameter = resolve_diameter_px(mapping, row["sidecar"], diameter_px=settings.diameter_px,
                                       diameter_A=settings.diameter_A)
        image = read_micrograph(row["normalized"]).data
        return pick_log(
            image, mapping, diameter_px=diameter, threshold_sd=settings.threshold_sd,
            diameter_range_fraction=tuple(settings.diameter_range_fraction), n_scales=settings.n_scales,
            edge_margin_px=settings.edge_margin_px, min_distance_fraction=settings.min_distance_fraction,
            bright=settings.bright_particles,
        )

    return run_picking_chunk(rows, out_dir, pick_one, stage=STAGE, settings=asdict(settings),
                             manifest_path=manifest_path)
