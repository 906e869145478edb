"""Pre-training examples: simulated or real micrograph -> (model tile at the working scale, disc target).

Why the pipeline's own code path: the image goes through
:func:`samcryo_core.preprocess.normalize.normalize_micrograph` (binned so the particle spans the
backbone's working size, times a random factor within ``scale_jitter``), the target through
:func:`samcryo_core.training.labels.particles_to_mask`, and a random model tile is cut with
:func:`samcryo_core.training.dataset.cut_tile` -- exactly what ``samcryo normalize``, ``samcryo
train`` and ``segment`` do -- so the backbone is pre-trained on the input statistics, scale and
target geometry (discs of the particle diameter, junk = background) it meets later. Validation
micrographs are kept whole and segmented tile by tile, as ``segment`` does.

Why generated on the fly: every step sees new micrographs (no memorisation of 300 images), and
a micrograph is a pure function of ``(seed, split, index)``, so a run is reproducible without a
cache and a background thread can make the next batch while the model trains on this one.

Real examples (:mod:`samcryo_core.pretraining.real`, when the recipe names ``real_root``): a
``real_fraction`` share of the training examples, decided per example from its own seed stream
(so the simulated examples stay the same whatever the share), are random tiles of the real sets'
``train`` micrographs at the jittered working scale, in one of the 8 symmetries of the square.
The real sets' ``valid`` micrographs are validated on beside the simulated ones (their metrics
carry the set's name); sets in ``leave_out`` are never read.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.normalize import normalize_micrograph
from samcryo_core.preprocess.scale import bin_factor
from samcryo_core.pretraining.real import RealMicrograph, normalize_real, real_micrographs, real_sets
from samcryo_core.pretraining.recipe import PretrainConfig, draw_simulation_params
from samcryo_core.simulate import micrograph_seed, simulate_micrograph
from samcryo_core.training.labels import Particles, particles_to_mask

#: Stream tags mixed into the seed so training and validation micrographs never coincide.
TRAIN, VAL = 0, 1
#: Seed-stream tags of the real-or-simulated decision and real tile draw, and of the recipe-v2
#: simulation parameters (apart, so the v1 draws of a micrograph stay what they were).
_REAL_STREAM = 11
_V2_STREAM = 13
#: Smallest simulated field side (px) with ``tile_field``.
_MIN_FIELD = 128


@dataclass
class PretrainExample:
    """One simulated micrograph at the working scale with its truth.

    Attributes:
        name: ``pretrain_<split>_<index>``.
        image: float32 normalized image: a ``[S, S]`` model tile (training) or the whole
            normalized micrograph (validation).
        mask: float32 {0, 1} filled discs of the particle diameters at a quarter of ``image``.
        mapping: the FrameMapping of the whole normalized micrograph (original <-> normalized).
        origin: ``(row, col)`` of ``image`` in the normalized micrograph.
        x, y, diameter_px: particle centres and diameters, original frame.
        snr: the micrograph's SNR (NaN for real micrographs).
        source: ``sim``, or the real data set's name.
    """

    name: str
    image: np.ndarray
    mask: np.ndarray
    mapping: FrameMapping
    x: np.ndarray
    y: np.ndarray
    diameter_px: np.ndarray
    snr: float
    origin: tuple[int, int] = (0, 0)
    source: str = "sim"


def _field_side(config: PretrainConfig, pixel_size_A: float, diameters_A: tuple[float, ...],
                particle_px: float, img_size: int) -> int:
    """Side of the simulated field one model tile needs (``tile_field``), a multiple of 16."""
    f = bin_factor(pixel_size_A, (min(diameters_A), max(diameters_A)), particle_px)
    side = int(math.ceil(img_size * f / 16.0)) * 16 + 16
    need = int(math.ceil(2.0 * max(diameters_A) / pixel_size_A)) + 16  # simulator: particle <= half
    return int(min(config.micrograph_size, max(side, need, _MIN_FIELD)))


def _real_example(config: PretrainConfig, index: int, img_size: int, rng: np.random.Generator,
                  pool: list[RealMicrograph]) -> PretrainExample:
    """A random tile of a real ``train`` micrograph (set uniform, then micrograph, jitter, symmetry)."""
    from samcryo_core.training.dataset import Example, cut_tile, d4_transform, random_origin

    sets = sorted({m.dataset for m in pool})
    dataset = sets[int(rng.integers(len(sets)))]
    mics = [m for m in pool if m.dataset == dataset]
    mic = mics[int(rng.integers(len(mics)))]
    jitter = math.log1p(config.scale_jitter)
    image, mapping, mask = normalize_real(mic, config.particle_px * math.exp(rng.uniform(-jitter, jitter)))
    origin = (random_origin(rng, image.shape[0], img_size), random_origin(rng, image.shape[1], img_size))
    tile, tmask = cut_tile(Example(mic.name, image, mask), origin, img_size)
    k = int(rng.integers(8))
    return PretrainExample(f"pretrain_train_{index:06d}_{dataset}_{mic.name}", d4_transform(tile, k),
                           d4_transform(tmask, k), mapping, mic.x, mic.y, mic.diameter_px, float("nan"),
                           origin, source=dataset)


def make_example(
    config: PretrainConfig, split: int, index: int, img_size: int, mask_size: int, *, snr: float | None = None
) -> PretrainExample:
    """Simulate (or, for a ``real_fraction`` share of training examples, cut from a real
    micrograph) and preprocess example ``index`` of stream ``split`` (TRAIN or VAL)."""
    from samcryo_core.training.dataset import Example, cut_tile, random_origin
    from samcryo_core.training.labels import mask_shape

    if split == TRAIN and config.real_fraction > 0 and real_sets(config):
        real_rng = np.random.default_rng([int(config.seed), int(split), int(index), _REAL_STREAM])
        if real_rng.uniform() < config.real_fraction:
            return _real_example(config, index, img_size, real_rng, real_micrographs(config, "train"))
    rng = np.random.default_rng([int(config.seed), int(split), int(index), 7])
    # Curriculum position of a training micrograph: the step that uses it over all steps.
    progress = 1.0 if split == VAL else (index // max(1, config.batch_size)) / max(1, config.steps)
    v2_rng = np.random.default_rng([int(config.seed), int(split), int(index), _V2_STREAM])
    params = draw_simulation_params(config, rng, snr=snr, progress=progress, v2_rng=v2_rng)
    name = f"pretrain_{'val' if split == VAL else 'train'}_{index:06d}"
    jitter = math.log1p(config.scale_jitter)
    particle_px = config.particle_px * (1.0 if split == VAL else math.exp(rng.uniform(-jitter, jitter)))
    if config.tile_field and split != VAL:
        side = _field_side(config, params.pixel_size_A, params.diameters_A, particle_px, img_size)
        params = dataclasses.replace(params, shape=(side, side))
    mic = simulate_micrograph(params, micrograph_seed(int(config.seed) * 2 + int(split), int(index)))
    image, mapping = normalize_micrograph(
        np.asarray(mic.image, np.float32), name=name, source=f"<simulated {name}>",
        pixel_size_A=params.pixel_size_A, diameter_A=(min(params.diameters_A), max(params.diameters_A)),
        particle_px=particle_px,
    )
    if mic.n_particles:
        mask = particles_to_mask(Particles(mic.x, mic.y, mic.diameter_px), mapping, path=name)
    else:
        mask = np.zeros(mask_shape(mapping), np.float32)
    origin = (0, 0)
    if split != VAL:  # one random model tile, as training on labelled micrographs draws them
        origin = (random_origin(rng, image.shape[0], img_size), random_origin(rng, image.shape[1], img_size))
        image, mask = cut_tile(Example(name, image, mask), origin, img_size)
    return PretrainExample(name, image.astype(np.float32, copy=False), mask, mapping, mic.x, mic.y,
                           mic.diameter_px, float(params.snr), origin)


def validation_set(config: PretrainConfig, img_size: int, mask_size: int) -> list[PretrainExample]:
    """The fixed validation micrographs, whole: simulated (pre-training proteins at
    ``config.val_snr``) and the real sets' ``valid`` micrographs (source = the set's name)."""
    sim = [
        make_example(config, VAL, i, img_size, mask_size, snr=config.val_snr)
        for i in range(config.val_micrographs)
    ]
    real = []
    for mic in real_micrographs(config, "valid"):
        image, mapping, mask = normalize_real(mic, config.particle_px)
        real.append(PretrainExample(f"pretrain_val_{mic.dataset}_{mic.name}", image, mask, mapping, mic.x,
                                    mic.y, mic.diameter_px, float("nan"), source=mic.dataset))
    return sim + real


def batch_stream(
    config: PretrainConfig, img_size: int, mask_size: int, start_step: int = 0, prefetch: bool = True
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(images [B,1,S,S], masks [B,1,S/4,S/4])`` for steps ``start_step, ...``.

    Batch ``s`` holds training micrographs ``s * B ... s * B + B - 1``. With ``prefetch`` the next
    batch is simulated in a background thread (NumPy/SciPy FFTs release the GIL) while the
    caller trains on the current one; the content does not depend on timing.
    """
    B = int(config.batch_size)

    def build(step: int) -> tuple[np.ndarray, np.ndarray]:
        exs = [make_example(config, TRAIN, step * B + j, img_size, mask_size) for j in range(B)]
        return (np.stack([e.image for e in exs])[:, None], np.stack([e.mask for e in exs])[:, None])

    if not prefetch:
        step = start_step
        while True:
            yield build(step)
            step += 1
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: Future = pool.submit(build, start_step)
        step = start_step
        while True:
            batch = pending.result()
            pending = pool.submit(build, step + 1)
            yield batch
            step += 1
