"""A small in-memory dataset of (normalized image, target mask) pairs for few-shot training.

Few-shot means 5-20 micrographs: they fit in memory at model size, so every image is read and
normalized once (through the same ``read_micrograph`` + ``normalize_micrograph`` path that
inference uses, so a training PNG and a production MRC see identical preprocessing) and batches
are sliced from tensors without a DataLoader.

Augmentation draws one of the 8 symmetries of the square (rotations by 0/90/180/270 degrees,
each optionally flipped left-right) and applies the *same* transform to the image and its mask.
Cryo-EM micrographs have no preferred orientation, so these are label-preserving. The transform
and the batch order are a pure function of ``(seed, epoch, index)`` -- not of a running random
state -- so a training run resumed after an interruption sees exactly the batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from samcryo_core.errors import InputError
from samcryo_core.training.labels import LABEL_FORMATS, MASK_SUFFIXES, label_to_mask

LABEL_SUFFIXES = (".star", ".csv", ".tsv", ".box", *MASK_SUFFIXES)


@dataclass
class Example:
    """One labelled micrograph at model resolution."""

    name: str
    image: np.ndarray  # float32 [S, S], normalized frame
    mask: np.ndarray  # float32 {0,1} [S/4, S/4], normalized frame at mask resolution
    source: str = ""
    label: str = ""


def d4_transform(arr: np.ndarray, k: int) -> np.ndarray:
    """Apply symmetry ``k`` in 0..7 of the square: ``rot90`` by ``k % 4`` then flip if ``k >= 4``."""
    out = np.rot90(arr, k % 4, axes=(-2, -1))
    if k >= 4:
        out = np.flip(out, axis=-1)
    return np.ascontiguousarray(out)


@dataclass
class SegmentationDataset:
    """Labelled examples plus deterministic augmentation and batching.

    Attributes:
        examples: the pairs, all with the same image and mask sizes.
        augment: apply a random square symmetry per item per epoch.
        seed: seeds the per-epoch shuffle and the augmentation choice.
    """

    examples: list[Example] = field(default_factory=list)
    augment: bool = False
    seed: int = 0

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.examples]

    def item(self, index: int, epoch: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``(image [1,S,S], mask [1,S/4,S/4])`` float32 for ``index``, augmented for ``epoch``."""
        ex = self.examples[index]
        img, msk = ex.image[None], ex.mask[None]
        if self.augment:
            k = int(np.random.default_rng([self.seed, epoch, index, 17]).integers(8))
            img, msk = d4_transform(img, k), d4_transform(msk, k)
        return np.ascontiguousarray(img, dtype=np.float32), np.ascontiguousarray(msk, dtype=np.float32)

    def order(self, epoch: int, shuffle: bool = True) -> np.ndarray:
        """Item order for ``epoch`` (a permutation seeded by ``(seed, epoch)``)."""
        n = len(self.examples)
        if not shuffle:
            return np.arange(n)
        return np.random.default_rng([self.seed, epoch, 3]).permutation(n)

    def batches(
        self, epoch: int, batch_size: int, shuffle: bool = True
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield stacked ``(images [B,1,S,S], masks [B,1,S/4,S/4])`` numpy batches."""
        idx = self.order(epoch, shuffle)
        for start in range(0, len(idx), max(1, batch_size)):
            items = [self.item(int(i), epoch) for i in idx[start : start + batch_size]]
            yield np.stack([a for a, _ in items]), np.stack([b for _, b in items])


def split_train_val(
    examples: Sequence[Example], val_fraction: float = 0.2, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Seeded split. With at most 5 examples validation gets exactly 1 (the paper's 4+1 setting).

    A single example cannot be split: it is then used for both (reported by the caller), since
    training without any validation signal would leave no way to pick the best epoch.
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
) -> list[tuple[Path, Path]]:
    """Pair each image with its label file by micrograph name.

    A label matches when its stem equals the image's micrograph name, or starts with it followed
    by ``_`` or ``.`` (``mic_0001_autopick.star``, ``mic_0001.mrc.png``); the image file itself
    and files without a label suffix are never candidates, so images and labels may share a folder
    as long as the names differ in suffix. Explicit ``labels`` given
    in the same count and order as ``images`` with no name matches are paired by position.
    """
    from samcryo_core.ingest.naming import micrograph_name

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
    pairs: list[tuple[Path, Path]] = []
    by_position = labels_dir is None and len(candidates) == len(images)
    for i, img in enumerate(images):
        name = micrograph_name(img)
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
            pairs.append((Path(img), found[0]))
        elif by_position:
            pairs.append((Path(img), candidates[i]))
        else:
            raise InputError(
                img,
                f"no label file named after micrograph '{name}'",
                "name label files <micrograph>.star/.csv/.box/.png",
            )
    return pairs


def load_example(
    image_path: str | Path,
    label_path: str | Path,
    img_size: int,
    mask_size: int,
    *,
    label_format: str = "auto",
    diameter_px: float | None = None,
    flip_y: bool = False,
    normalize_options: dict | None = None,
) -> Example:
    """Read, normalize and label one micrograph exactly as inference will preprocess it.

    ``normalize_options`` (``clip_percentiles``, ``lowpass_A``) must equal what ``samcryo
    normalize`` uses for the micrographs the prompt will segment; the defaults are the same.
    """
    from samcryo_core.ingest.naming import micrograph_name
    from samcryo_core.io.micrograph import read_micrograph
    from samcryo_core.preprocess.normalize import normalize_micrograph

    if label_format not in LABEL_FORMATS:
        raise InputError(label_path, f"unknown label format '{label_format}'", f"use one of {LABEL_FORMATS}")
    name = micrograph_name(image_path)
    mic = read_micrograph(image_path)
    image, mapping = normalize_micrograph(
        mic.data,
        img_size,
        name=name,
        source=str(image_path),
        pixel_size_A=mic.pixel_size_A,
        **(normalize_options or {}),
    )
    mask = label_to_mask(
        label_path, mapping, mask_size, fmt=label_format, diameter_px=diameter_px, flip_y=flip_y
    )
    return Example(name, np.asarray(image, dtype=np.float32), mask, str(image_path), str(label_path))
