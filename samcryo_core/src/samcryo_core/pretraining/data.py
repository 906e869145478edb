"""Pre-training examples: simulated micrograph -> (model tile at the working scale, disc target).

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
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from samcryo_core.frame import FrameMapping
from samcryo_core.preprocess.normalize import normalize_micrograph
from samcryo_core.pretraining.recipe import PretrainConfig, draw_simulation_params
from samcryo_core.simulate import micrograph_seed, simulate_micrograph
from samcryo_core.training.labels import Particles, particles_to_mask

#: Stream tags mixed into the seed so training and validation micrographs never coincide.
TRAIN, VAL = 0, 1


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
        snr: the micrograph's SNR.
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


def make_example(
    config: PretrainConfig, split: int, index: int, img_size: int, mask_size: int, *, snr: float | None = None
) -> PretrainExample:
    """Simulate and preprocess micrograph ``index`` of stream ``split`` (TRAIN or VAL)."""
    from samcryo_core.training.dataset import Example, cut_tile, random_origin
    from samcryo_core.training.labels import mask_shape

    rng = np.random.default_rng([int(config.seed), int(split), int(index), 7])
    # Curriculum position of a training micrograph: the step that uses it over all steps.
    progress = 1.0 if split == VAL else (index // max(1, config.batch_size)) / max(1, config.steps)
    params = draw_simulation_params(config, rng, snr=snr, progress=progress)
    mic = simulate_micrograph(params, micrograph_seed(int(config.seed) * 2 + int(split), int(index)))
    name = f"pretrain_{'val' if split == VAL else 'train'}_{index:06d}"
    jitter = math.log1p(config.scale_jitter)
    particle_px = config.particle_px * (1.0 if split == VAL else math.exp(rng.uniform(-jitter, jitter)))
    image, mapping = normalize_micrograph(
        mic.image, name=name, source=f"<simulated {name}>", pixel_size_A=params.pixel_size_A,
        diameter_A=(min(params.diameters_A), max(params.diameters_A)), particle_px=particle_px,
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
    """The fixed validation micrographs (pre-training proteins at ``config.val_snr``), whole."""
    return [
        make_example(config, VAL, i, img_size, mask_size, snr=config.val_snr)
        for i in range(config.val_micrographs)
    ]


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
