"""Pre-training recipe and data: never the demo's protein, deterministic, demo-identical targets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from samcryo_core.errors import ConfigError
from samcryo_core.pretraining import PretrainConfig, draw_simulation_params, make_example
from samcryo_core.pretraining.data import TRAIN, VAL, batch_stream
from samcryo_core.pretraining.recipe import DEMO_EXCLUDED_BAND_A, DEMO_TYPE_SEED
from samcryo_core.pretraining.train import lr_factor

# Small micrographs at a coarse pixel size: the same recipe, seconds instead of minutes.
SMALL = dict(micrograph_size=256, pixel_size_A=(14.0, 18.0), val_micrographs=1)


def test_defaults_exclude_the_demo_protein():
    cfg = PretrainConfig()
    lo, hi = DEMO_EXCLUDED_BAND_A
    assert all(not lo <= d <= hi for d in cfg.diameters_A)
    assert DEMO_TYPE_SEED not in range(cfg.type_seed_base, cfg.type_seed_base + cfg.type_seeds)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"diameters_A": (120.0, 160.0)}, "pretrain.diameters_A"),
        ({"type_seed_base": 0}, "pretrain.type_seed_base"),
        ({"snr": (0.02, 0.01)}, "pretrain.snr"),
        ({"steps": 0}, "pretrain.steps"),
        ({"types_per_micrograph": (1, 20)}, "pretrain.types_per_micrograph"),
    ],
)
def test_config_rejects_unusable_values(change, key):
    with pytest.raises(ConfigError) as err:
        PretrainConfig(**change)
    assert err.value.key == key


def test_drawn_params_are_deterministic_and_never_the_demo_type():
    cfg = PretrainConfig()
    lo, hi = DEMO_EXCLUDED_BAND_A
    draws = [draw_simulation_params(cfg, np.random.default_rng([0, i])) for i in range(40)]
    again = [draw_simulation_params(cfg, np.random.default_rng([0, i])) for i in range(40)]
    assert draws == again
    for p in draws:
        assert p.type_seed != DEMO_TYPE_SEED and p.junk
        assert all(not lo <= d <= hi for d in p.diameters_A)
        assert cfg.snr[0] <= p.snr <= cfg.snr[1]
        assert min(p.diameters_px) >= 4
    assert len({p.snr for p in draws}) == 40  # every micrograph its own SNR
    assert len({p.diameters_A for p in draws}) > 5  # and its own mix of proteins
    fixed = draw_simulation_params(cfg, np.random.default_rng(1), snr=0.01)
    assert fixed.snr == 0.01


def test_example_is_deterministic_with_disc_targets():
    cfg = PretrainConfig(**SMALL)
    a = make_example(cfg, TRAIN, 3, 128, 32)
    b = make_example(cfg, TRAIN, 3, 128, 32)
    c = make_example(cfg, TRAIN, 4, 128, 32)
    v = make_example(cfg, VAL, 3, 128, 32)
    assert a.image.shape == (128, 128) and a.mask.shape == (32, 32)
    assert a.image.dtype == np.float32 and set(np.unique(a.mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image) and not np.array_equal(a.image, v.image)
    # a model tile of the standardized micrograph, cut at a multiple of 4 (the mask stride)
    assert a.origin[0] % 4 == 0 and a.origin[1] % 4 == 0 and np.isfinite(a.image).all()
    # a tile of the standardized field (a smooth denoised tile next to junk may vary little)
    assert 0.05 < float(a.image.std()) < 3.0 and abs(float(a.image.mean())) < 3.0
    # the whole validation micrograph is standardized: median 0, IQR / 1.349 = 1
    q25, q50, q75 = np.percentile(v.image, [25, 50, 75])
    assert abs(float(q50)) < 0.05 and abs(float(q75 - q25) / 1.349 - 1.0) < 0.05
    # the target marks the particles: every particle centre inside the tile (mapped to the mask) is
    # foreground
    assert a.x.size > 0 and a.mask.mean() > 0
    xn, yn = a.mapping.to_normalized(a.x, a.y)
    xt, yt = xn - a.origin[1], yn - a.origin[0]
    inside = (xt >= 0) & (xt < 128) & (yt >= 0) & (yt < 128)
    rows = np.round((yt[inside] + 0.5) / 4 - 0.5).astype(int).clip(0, 31)
    cols = np.round((xt[inside] + 0.5) / 4 - 0.5).astype(int).clip(0, 31)
    assert inside.any() and a.mask[rows, cols].mean() > 0.9
    # the particles span the working scale (within the jitter) in the normalized frame
    d_norm = float(np.median(a.diameter_px)) / a.mapping.mean_scale
    lo, hi = min(a.mapping.extra["diameter_A"]), max(a.mapping.extra["diameter_A"])
    spread = 1.3 * np.sqrt(hi / lo)
    assert cfg.particle_px / spread * 0.95 <= d_norm <= cfg.particle_px * spread * 1.05
    # validation micrographs stay whole (segmented tile by tile like the pipeline does)
    assert v.origin == (0, 0) and v.image.shape == v.mapping.binned_shape


def test_batch_stream_is_the_same_with_and_without_prefetch():
    cfg = dataclasses.replace(PretrainConfig(**SMALL), batch_size=2)
    with_prefetch = batch_stream(cfg, 128, 32, start_step=1, prefetch=True)
    plain = batch_stream(cfg, 128, 32, start_step=1, prefetch=False)
    for _ in range(2):
        (xa, ma), (xb, mb) = next(with_prefetch), next(plain)
        assert xa.shape == (2, 1, 128, 128) and ma.shape == (2, 1, 32, 32)
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ma, mb)
    with_prefetch.close()
    # batch 1 starts at training micrograph 2
    np.testing.assert_array_equal(
        next(batch_stream(cfg, 128, 32, 1, False))[0][0, 0], make_example(cfg, TRAIN, 2, 128, 32).image
    )


def test_lr_schedule_warms_up_then_decays():
    cfg = PretrainConfig(steps=100, warmup_steps=10, min_lr_fraction=0.1)
    f = [lr_factor(s, cfg) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[10:], f[11:], strict=False))
    assert f[-1] >= 0.1 and f[-1] < 0.2
