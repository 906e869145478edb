"""A small STAR writer that produces exactly the text RELION writes for coordinate tables.

``starfile.write`` adds a timestamped comment and gives no control over the ``# version`` line,
which RELION 5 uses to tell its own files apart, so the exported text would change on every run
and could not be pinned by a golden-file test. The subset needed here (one loop block per file,
numbers and path strings) is small: this module writes it, and the tests read every file back with
``starfile`` to prove that the text is valid STAR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# RELION's "# version" header per major release we target; 3.1 and 4.x share 30001.
RELION_STAR_VERSIONS: dict[str, int] = {"3.1": 30001, "4": 30001, "5": 50001}


def star_version(relion_version: str | int) -> int:
    """The ``# version`` number for a RELION release (``"4"`` -> 30001, ``"5"`` -> 50001)."""
    key = str(relion_version)
    if key not in RELION_STAR_VERSIONS:
        raise ValueError(f"unknown RELION version {relion_version!r}; "
                         f"use one of {sorted(RELION_STAR_VERSIONS)}")
    return RELION_STAR_VERSIONS[key]


def format_value(value: object) -> str:
    """One STAR cell: ints as ints, floats with 6 decimals (RELION's precision), strings verbatim.

    Strings must be single tokens: RELION's tokenizer splits on whitespace and has no quoting.
    """
    if isinstance(value, bool):
        raise TypeError("booleans have no STAR representation")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite value {value!r} cannot go into a STAR file")
        return f"{value:.6f}"
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"STAR value {text!r} is empty or contains whitespace; RELION cannot read it")
    return text


def loop_block_text(
    block: str,
    labels: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    version: int | None = 30001,
) -> str:
    """Text of a STAR file with one loop block.

    Layout (what RELION itself writes, without its trailing spaces)::

        # version 30001
        <blank>
        data_<block>
        <blank>
        loop_
        _rlnLabel1 #1
        ...
        value value ...
        <blank>
    """
    lines: list[str] = []
    if version is not None:
        lines += [f"# version {version}", ""]
    lines += [f"data_{block}", "", "loop_"]
    lines += [f"_{label} #{i}" for i, label in enumerate(labels, start=1)]
    for row in rows:
        if len(row) != len(labels):
            raise ValueError(f"row has {len(row)} values for {len(labels)} labels")
        lines.append(" ".join(format_value(v) for v in row))
    lines.append("")
    return "\n".join(lines) + "\n"
