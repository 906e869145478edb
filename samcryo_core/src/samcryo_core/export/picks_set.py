"""The unit every exporter works on: one micrograph's picks plus where the micrograph lives."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass
class MicrographPicks:
    """Picks of one micrograph.

    Attributes:
        name: micrograph name (file stem, unique in the dataset).
        source: path of the original micrograph as given to samcryo (the file RELION extracts).
        picks: picks table in the original frame (``x``, ``y``, ``fom`` ...; see picks_io).
        shape: ``(H, W)`` of the original micrograph (cryoSPARC stores fractions of it), or None.
        pixel_size_A: the micrograph's pixel size, or None.
        micrograph_uid: the cryoSPARC exposure UID when the micrograph came from a cryoSPARC
            exposure list (particles must carry it to be extracted there), else None.
    """

    name: str
    source: str
    picks: pd.DataFrame
    shape: tuple[int, int] | None = None
    pixel_size_A: float | None = None
    micrograph_uid: int | None = None

    def above(self, min_fom: float | None) -> pd.DataFrame:
        """Picks with ``fom >= min_fom`` (all picks when ``min_fom`` is None)."""
        if min_fom is None:
            return self.picks
        return self.picks.loc[self.picks["fom"] >= min_fom]
