"""Micrograph names: the key every stage uses for its per-micrograph output files.

A name is the input file's stem (``Movies/mic_0001.mrc`` -> ``mic_0001``), because that is what
RELION and cryoSPARC users recognise and what RELION's ``_autopick.star`` files are named after.

Names are used to build paths such as ``results/normalized/<name>.mrc``, so they must never be able
to point outside ``results/``: a name never contains a path separator, never starts with a dot
(no ``..``, no hidden files) and holds only ``A-Z a-z 0-9 . _ - +``; anything else (spaces,
colons, backslashes, non-ASCII) becomes ``_``. Because two different files can then share a name
(``a b.mrc`` and ``a_b.mrc``, or the same stem in two folders), :func:`check_unique` refuses such
datasets at start-up instead of letting one micrograph silently overwrite another.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import PurePath

from samcryo_core.errors import InputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


def micrograph_name(path: str | PurePath) -> str:
    """Safe, file-system-neutral name of a micrograph: its stem with unsafe characters as ``_``.

    Raises:
        InputError: when nothing usable is left (e.g. a file called ``...``).
    """
    raw = str(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    stem = PurePath(raw).stem if "." in raw.lstrip(".") else raw
    name = _UNSAFE.sub("_", stem).lstrip(".")
    if not name or set(name) <= {"_", "."}:
        raise InputError(str(path), "file name gives no usable micrograph name",
                         "rename the file to something like 'mic_0001.mrc'")
    return name


def check_unique(names: Sequence[str], paths: Sequence[str] | None = None) -> None:
    """Raise if two inputs share a micrograph name; the message lists every clash.

    Args:
        names: micrograph names, one per input.
        paths: the matching input paths (same order), quoted in the message when given.
    """
    where: dict[str, list[str]] = defaultdict(list)
    for i, n in enumerate(names):
        where[n].append(paths[i] if paths is not None else n)
    dups = {n: ps for n, ps in where.items() if len(ps) > 1}
    if not dups:
        return
    listed = "; ".join(f"'{n}' <- {', '.join(ps)}" for n, ps in sorted(dups.items()))
    raise InputError(
        "micrograph list",
        f"{len(dups)} micrograph name(s) used by more than one input: {listed}",
        "rename the files (names are file stems with unsafe characters replaced by '_') "
        "or split the dataset",
    )
