"""The extract stage: one chunk's probability maps -> per-micrograph candidate CSVs.

Thin on purpose: the picking is :func:`~samcryo_core.particles.extraction.extract_particles`, the
chunk bookkeeping (stamps, rejections, manifest rows) is
:func:`~samcryo_core.particles.chunk.run_picking_chunk`, shared with the LoG picker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from samcryo_core.frame import FrameMapping
from samcryo_core.particles.chunk import resolve_diameter_px, run_picking_chunk
from samcryo_core.particles.diameter import Diameter
from samcryo_core.particles.extraction import CANDIDATE_FLOOR, extract_particles

STAGE = "extract"


@dataclass(frozen=True)
class ExtractSettings:
    """Options of ``samcryo extract`` (all of them go into each output's stamp)."""

    diameter_A: Diameter | None = None
    diameter_px: Diameter | None = None
    floor: float = CANDIDATE_FLOOR
    area_range: tuple[float, float] = (0.3, 2.5)
    min_circularity: float = 0.5
    edge_margin_px: float = 0.0
    min_distance_fraction: float = 0.5
    split_touching: bool = True


def extract_chunk(rows: list[dict], out_dir: str | Path, settings: ExtractSettings, *,
                  manifest_path: str | Path = "manifest") -> list[dict]:
    """Candidates of every ``ok`` row of a segment manifest; returns the picks-manifest rows."""
    from samcryo_core.io.micrograph import read_micrograph

    lo, hi = settings.area_range

    def pick_one(row: dict):
        mapping = FrameMapping.read(row["sidecar"])
        diameter = resolve_diameter_px(mapping, row["sidecar"], diameter_px=settings.diameter_px,
                                       diameter_A=settings.diameter_A)
        prob = read_micrograph(row["probability"]).data
        return extract_particles(
            prob, mapping, diameter_px=diameter, floor=settings.floor, min_area_fraction=lo,
            max_area_fraction=hi, min_circularity=settings.min_circularity,
            edge_margin_px=settings.edge_margin_px, min_distance_fraction=settings.min_distance_fraction,
            split_touching=settings.split_touching,
        )

    return run_picking_chunk(rows, out_dir, pick_one, stage=STAGE, settings=asdict(settings),
                             manifest_path=manifest_path)
