"""Few-shot training data: labelled micrographs at the working scale, served as model tiles.

Few-shot means a handful of micrographs: they fit in memory once binned to the working scale, so
every image is read and normalized once (through the same ``read_micrograph`` +
``normalize_micrograph`` path that ``samcryo normalize`` uses, so a training PNG and a production
MRC see identical preprocessing at the same scale) and its target mask is drawn once, at a
quarter of the normalized resolution (:func:`~samcryo_core.training.labels.mask_shape`).

Training sees what ``segment`` sees: ``img_size`` tiles of the normalized micrograph. Each
training step draws ``batch_size`` random tiles (a micrograph chosen in proportion to its area,
an origin anywhere on it at a multiple of 4 so the mask window is exact, padding with 0 beyond
the image like ``segment``) and one of the 8 symmetries of the square per tile (rotations by
0/90/180/270 degrees, optionally flipped; micrographs have no preferred orientation). The draw is
a pure function of ``(seed, step)``, so a run resumed after an interruption sees exactly the
tiles the uninterrupted run would have seen. Validation uses the fixed tile grid of
:mod:`samcryo_core.inference.tiling`, without augmentation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samcryo_core.errors import InputError
from samcryo_core.io import coordinates
from samcryo_core.training.labels import (
    LABEL_FORMATS,
    MASK_STRIDE,
    MASK_SUFFIXES,
    LabelSource,
    label_to_mask,
    read_label_file,
    source_for,
)

LABEL_SUFFIXES = (".star", ".csv", ".tsv", ".box", ".cs", *MASK_SUFFIXES)


@dataclass
class Example:
    """One labelled micrograph at the working scale."""

    name: str
    image: np.ndarray  # float32 [h, w], normalized frame
    mask: np.ndarray  # float32 {0,1} [ceil(h/4), ceil(w/4)], normalized frame at mask resolution
    source: str = ""
    label: str = ""


def d4_transform(arr: np.ndarray, k: int) -> np.ndarray:
    """Apply symmetry ``k`` in 0..7 of the square: ``rot90`` by ``k % 4`` then flip if ``k >= 4``."""
    out = np.rot90(arr, k % 4, axes=(-2, -1))
    if k >= 4:
        out = np.flip(out, axis=-1)
    return np.ascontiguousarray(out)


def cut_tile(ex: Example, origin: tuple[int, int], tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Image tile ``[tile, tile]`` and mask tile ``[tile/4, tile/4]`` at ``origin`` (multiples of
    4), zero-padded beyond the micrograph."""
    r, c = origin
    img = np.zeros((tile, tile), np.float32)
    part = ex.image[r : r + tile, c : c + tile]
    img[: part.shape[0], : part.shape[1]] = part
    m = tile // MASK_STRIDE
    msk = np.zeros((m, m), np.float32)
    mpart = ex.mask[r // MASK_STRIDE : r // MASK_STRIDE + m, c // MASK_STRIDE : c // MASK_STRIDE + m]
    msk[: mpart.shape[0], : mpart.shape[1]] = mpart
    return img, msk


def _aligned(v: float) -> int:
    return int(v) // MASK_STRIDE * MASK_STRIDE


def random_origin(rng: np.random.Generator, length: int, tile: int) -> int:
    """A tile origin on a multiple of 4 from 0 to the first one reaching the far edge."""
    positions = -(-max(0, length - tile) // MASK_STRIDE) + 1
    return MASK_STRIDE * int(rng.integers(positions))


@dataclass
class TileDataset:
    """Labelled micrographs plus deterministic random-tile sampling and the validation grid.

    Attributes:
        examples: the labelled micrographs (any sizes).
        tile: the model's input size.
        augment: apply a random square symmetry per tile.
        seed: seeds the tile draws.
    """

    examples: list[Example] = field(default_factory=list)
    tile: int = 512
    augment: bool = False
    seed: int = 0

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.examples]

    def content_digest(self) -> str:
        """sha256 of every example's image and target, in order.

        The identity of what the model is trained on: it changes with the labels, the working
        scale (``particle_px``, ``diameter_A``, pixel size), the target discs and the normalization,
        so a resume state from other data is never continued (names alone would not tell).
        """
        import hashlib

        h = hashlib.sha256()
        for e in self.examples:
            for a in (e.image, e.mask):
                arr = np.ascontiguousarray(a)
                h.update(f"{e.name}:{arr.shape}:{arr.dtype}".encode())
                h.update(arr.tobytes())
        return h.hexdigest()

    def random_batch(self, step: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """``(images [B,1,S,S], masks [B,1,S/4,S/4])`` for training step ``step``."""
        rng = np.random.default_rng([self.seed, step, 23])
        areas = np.array([e.image.size for e in self.examples], dtype=np.float64)
        imgs, msks = [], []
        for _ in range(max(1, batch_size)):
            ex = self.examples[int(rng.choice(len(self.examples), p=areas / areas.sum()))]
            h, w = ex.image.shape
            origin = (random_origin(rng, h, self.tile), random_origin(rng, w, self.tile))
            img, msk = cut_tile(ex, origin, self.tile)
            if self.augment:
                k = int(rng.integers(8))
                img, msk = d4_transform(img, k), d4_transform(msk, k)
            imgs.append(img[None])
            msks.append(msk[None])
        return np.stack(imgs), np.stack(msks)

    def grid_tiles(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Every micrograph's tiles on the ``segment`` grid (origins moved to multiples of 4)."""
        from samcryo_core.inference.tiling import axis_origins

        out = []
        for ex in self.examples:
            h, w = ex.image.shape
            overlap = self.tile // 8
            for r in axis_origins(h, self.tile, overlap):
                for c in axis_origins(w, self.tile, overlap):
                    out.append(cut_tile(ex, (_aligned(r), _aligned(c)), self.tile))
        return out

    def grid_batches(self, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The validation tiles as ``(images [B,1,S,S], masks [B,1,S/4,S/4])`` batches."""
        tiles = self.grid_tiles()
        for k in range(0, len(tiles), max(1, batch_size)):
            part = tiles[k : k + batch_size]
            yield np.stack([a[None] for a, _ in part]), np.stack([b[None] for _, b in part])


def split_train_val(
    examples: Sequence[Example], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Seeded split. With at most 5 examples validation gets exactly 1 (the paper's 4+1 setting).

    A single example cannot be split: it is then used for both (reported by the caller), since
    training without any validation signal would leave no way to pick the best validation.
    """
    n = len(examples)
    if n == 0:
        raise InputError("training set", "no labelled micrographs", "give at least one image with labels")
    if n == 1:
        return list(examples), list(examples)
    if not 0.0 < val_fraction < 1.0:
        raise InputError("--val-fraction", f"{val_fraction} is not in (0, 1)", "use e.g. 0.2")
    n_val = 1 if n <= 5 else max(1, min(n - 1, int(round(n * val_fraction))))
    perm = np.random.default_rng([seed, 5]).permutation(n)
    val_idx = set(int(i) for i in perm[:n_val])
    train = [e for i, e in enumerate(examples) if i not in val_idx]
    val = [e for i, e in enumerate(examples) if i in val_idx]
    return train, val


def match_labels(
    images: Sequence[str | Path],
    labels: Sequence[str | Path] | None = None,
    labels_dir: str | Path | None = None,
    *,
    label_format: str = "auto",
) -> list[tuple[Path, LabelSource]]:
    """Pair each image with its labels by micrograph name.

    Two layouts:

    * **one file for all micrographs**: a single ``labels`` file that names each particle's
      micrograph (a RELION ``particles.star``, a cryoSPARC particles ``.cs`` or CSV, a CryoPPP CSV
      with a micrograph column) is split by micrograph, matched on the file name without folders
      and extension (:func:`~samcryo_core.io.coordinates.rows_for_micrographs`); an image without
      particles in it is an error that lists every such image;
    * **one file per micrograph**: a label matches when its stem equals the image's micrograph
      name, or starts with it followed by ``_`` or ``.`` (``mic_0001_autopick.star``,
      ``mic_0001.mrc.png``); the image file itself and files without a label suffix are never
      candidates, so images and labels may share a folder as long as the names differ in suffix.
      Explicit ``labels`` given in the same count and order as ``images`` with no name matches
      are paired by position.

    Raises:
        InputError: two images share a micrograph name (a label would silently label both), or
            an image has no labels.
    """
    from samcryo_core.ingest.naming import check_unique, micrograph_name

    names = [micrograph_name(img) for img in images]
    try:
        check_unique(names, [str(p) for p in images])
    except InputError as exc:
        raise InputError("training micrographs", exc.problem,
                         "give each training micrograph a unique file name (a label file is matched "
                         "by name, so it would label every one of them)") from None
    if labels_dir is not None:
        d = Path(labels_dir)
        if not d.is_dir():
            raise InputError(d, "labels directory not found", "check --labels-dir")
        candidates = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        candidates = [Path(p) for p in (labels or [])]
    if not candidates:
        raise InputError(
            str(labels_dir or "--labels"), "no label files given", "pass --labels or --labels-dir"
        )
    if labels_dir is None and len(candidates) == 1:
        table = read_label_file(candidates[0], label_format)
        if table is not None and coordinates.names_micrographs(table):
            rows = coordinates.rows_for_micrographs(table, names, source=candidates[0])
            return [(Path(img), LabelSource(candidates[0], rows[n]))
                    for img, n in zip(images, names, strict=True)]
    pairs: list[tuple[Path, LabelSource]] = []
    by_position = labels_dir is None and len(candidates) == len(images)
    for i, (img, name) in enumerate(zip(images, names, strict=True)):
        own = Path(img).resolve()
        mine = [c for c in candidates if c.resolve() != own and c.suffix.lower() in LABEL_SUFFIXES]
        exact = [c for c in mine if c.stem == name]
        loose = [c for c in mine if c.name.startswith(name + "_") or c.name.startswith(name + ".")]
        found = exact or loose
        if len(found) > 1:
            raise InputError(
                img,
                f"{len(found)} label files match its name: {[str(f) for f in found]}",
                "keep one label file per micrograph",
            )
        if found:
            pairs.append((Path(img), source_for(found[0], name, label_format)))
        elif by_position:
            pairs.append((Path(img), source_for(candidates[i], name, label_format)))
        else:
            raise InputError(
                img,
                f"no label file named after micrograph '{name}'",
                "name label files <micrograph>.star/.csv/.box/.png, or give one file for all "
                "micrographs that names them (e.g. a RELION particles.star)",
            )
    return pairs


def load_example(
    image_path: str | Path,
    label: LabelSource | str | Path,
    *,
    particle_px: float,
    diameter_A,
    pixel_size_A: float | None = None,
    label_format: str = "auto",
    diameter_px: float | None = None,
    flip_y: bool = False,
    disc_fraction: float = 1.0,
    normalize_options: dict | None = None,
) -> Example:
    """Read, normalize and label one micrograph exactly as ``samcryo normalize`` would.

    ``pixel_size_A`` is used when the file's header has none (PNG, JPEG); labels without a
    diameter column get ``diameter_px``, else the particle diameter (the typical one of a range)
    converted with the pixel size. ``normalize_options`` (``clip_percentiles``, ``lowpass_A``)
    must equal what ``samcryo normalize`` uses for the micrographs the prompt will segment.
    """
    from samcryo_core.ingest.naming import micrograph_name
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.particles.diameter import typical_diameter
    from samcryo_core.preprocess.normalize import normalize_micrograph

    label_path = label.path if isinstance(label, LabelSource) else Path(label)
    if label_format not in LABEL_FORMATS:
        raise InputError(label_path, f"unknown label format '{label_format}'", f"use one of {LABEL_FORMATS}")
    name = micrograph_name(image_path)
    mic = read_micrograph(image_path)
    px = mic.pixel_size_A or pixel_size_A
    image, mapping = normalize_micrograph(
        mic.data, name=name, source=str(image_path), pixel_size_A=px, diameter_A=diameter_A,
        particle_px=particle_px, **(normalize_options or {}),
    )
    mask = label_to_mask(label, mapping, fmt=label_format, diameter_px=diameter_px,
                         default_diameter_px=typical_diameter(diameter_A) / px if px else None,
                         flip_y=flip_y, disc_fraction=disc_fraction)
    return Example(name, np.asarray(image, dtype=np.float32), mask, str(image_path), str(label_path))
